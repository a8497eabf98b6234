// parse.h: numbers from text that a person or a file wrote (label files, headers, configs, command-line flags).
//
//   parse_int("68", "a.pts:2: n_points", 1, 100000)   -> 68
//   parse_double("0.25", "run.cfg:4: lr", 0, 1)        -> 0.25
//
// The whole text must be the number: no surrounding spaces, no trailing garbage ("68.7" or "12abc" is not an
// integer), no hex, no "nan"/"inf" (parse_double accepts only finite values). A leading '+' is allowed. Parsing
// is locale-independent (std::from_chars), unlike std::stod. Anything else throws Error naming `where` (the
// file and line, key or flag), the text, and what was expected, e.g.
//   "a.pts:2: n_points: expected an integer in [1, 100000], got '1e20'".
#pragma once
#include <cstdint>
#include <limits>
#include <string>

int64_t parse_int(const std::string& text, const std::string& where,
                  int64_t lo = std::numeric_limits<int64_t>::min(), int64_t hi = std::numeric_limits<int64_t>::max());
double parse_double(const std::string& text, const std::string& where,
                    double lo = -std::numeric_limits<double>::max(), double hi = std::numeric_limits<double>::max());
