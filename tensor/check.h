// check.h: how the engine fails. Every violated precondition and every piece of bad input ends in one Error.
//
//   CHECK_OR_FAIL(cond, msg)   internal checks and argument checks: throws Error(msg), remembering file:line
//   fail(__FILE__, __LINE__, msg)  the same, unconditionally
//   throw Error(msg)           user-facing errors that already name the file, field or line at fault
//
// The message is what a user reads: it names the file and the key or line, and what was expected. Where it was
// raised (file:line of the engine's source) is kept beside it, not inside it; `pipnet --verbose` prints it. The CLI
// turns any Error into one line on stderr and exit code 2; tests can REQUIRE_THROWS it.
#pragma once
#include <stdexcept>
#include <string>

struct Error : std::runtime_error {
  const char* file = nullptr;  // engine source file and line that raised it (nullptr for `throw Error(msg)`)
  int line = 0;
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
  Error(const std::string& msg, const char* f, int l) : std::runtime_error(msg), file(f), line(l) {}
};
[[noreturn]] void fail(const char* file, int line, const std::string& msg);
#define CHECK_OR_FAIL(cond, msg) \
  do { if (!(cond)) fail(__FILE__, __LINE__, std::string(msg)); } while (0)
std::string strf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
