// Robustness (issue #11): every parser of untrusted input on the inputs an audit found to crash it, to be
// accepted silently wrong, or to fail with a message that names nothing. Each test writes its bad files to a
// temporary folder of its own and checks that the Error names the file, the field or line, and the expectation.
// The same inputs are in the fuzz corpus (tests/fuzz/corpus), replayed under the sanitizers.
#include <stb/stb_image_write.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "data/dataset.h"
#include "tensor/parse.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {
// A folder for this test process (ctest runs each TEST_CASE in its own process, possibly in parallel).
std::string tmp(const std::string& name) {
  static std::string dir = [] {
    char t[] = "/tmp/pipnet_robust_XXXXXX";
    REQUIRE(mkdtemp(t) != nullptr);
    return std::string(t);
  }();
  static struct Cleanup { ~Cleanup() { std::error_code ec; std::filesystem::remove_all(dir, ec); } } cleanup;
  return dir + "/" + name;
}
std::string write(const std::string& name, const std::string& bytes) {
  const std::string path = tmp(name);
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}
std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
// A safetensors file from a header text and a data section.
std::string safetensors(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}
TensorFile parse(const std::string& bytes) { return parse_safetensors(bytes.data(), bytes.size(), "t.safetensors"); }
Image test_image(int w, int h) {
  Image im(w, h);
  for (size_t i = 0; i < im.px.size(); i++) im.px[i] = (uint8_t)(i * 7 % 251);
  return im;
}
using Catch::Contains;
}  // namespace

// ---- the parse helpers ----------------------------------------------------------------------------------------
TEST_CASE("parse_int / parse_double: whole text, range, and a message naming where", "[robust]") {
  CHECK(parse_int("68", "w") == 68);
  CHECK(parse_int("+7", "w") == 7);
  CHECK(parse_int("-3", "w") == -3);
  CHECK(parse_double("0.25", "w") == 0.25);
  CHECK(parse_double("-1e3", "w") == -1000);
  CHECK(parse_double("+.5", "w") == 0.5);
  CHECK_THROWS_WITH(parse_int("68.7", "a.pts:2: n_points", 1, 100000),
                    Contains("a.pts:2: n_points") && Contains("expected an integer in [1, 100000]") && Contains("'68.7'"));
  CHECK_THROWS_WITH(parse_int("1e20", "f: n", 1, 100000), Contains("f: n") && Contains("1e20"));
  CHECK_THROWS_WITH(parse_int("99999999999999999999", "f: n"), Contains("out of range"));
  CHECK_THROWS_WITH(parse_int("0", "f: n", 1), Contains("expected an integer >= 1"));
  for (const char* bad : {"", " 1", "1 ", "12abc", "0x10", "--1", "+-1", "+"}) CHECK_THROWS_AS(parse_int(bad, "w"), Error);
  for (const char* bad : {"", "nan", "NaN", "inf", "-inf", "1e999", "1.5x", "0x1p3", " 1", "++1"})
    CHECK_THROWS_WITH(parse_double(bad, "cfg:3: lr"), Contains("cfg:3: lr") && Contains("expected a finite number"));
  CHECK_THROWS_WITH(parse_double("3", "f: u", -1, 2), Contains("in [-1, 2]") && Contains("out of range"));
}
