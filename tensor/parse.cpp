#include "tensor/parse.h"

#include <charconv>
#include <cmath>
#include <type_traits>

#include "tensor/check.h"

namespace {
// "[lo, hi]" with the open ends left out: "", " >= 1", " in [1, 100000]".
template <class T> std::string range_text(T lo, T hi, T min, T max) {
  auto num = [](T v) {
    if constexpr (std::is_integral_v<T>) return std::to_string(v);
    else return strf("%g", v);
  };
  if (lo == min && hi == max) return "";
  if (lo == min) return " <= " + num(hi);
  if (hi == max) return " >= " + num(lo);
  return " in [" + num(lo) + ", " + num(hi) + "]";
}
// from_chars takes no leading '+'; a '+' followed by a sign would be a second sign.
const char* skip_plus(const std::string& t) {
  return t.size() > 1 && t[0] == '+' && t[1] != '-' && t[1] != '+' ? t.data() + 1 : t.data();
}
}  // namespace

int64_t parse_int(const std::string& text, const std::string& where, int64_t lo, int64_t hi) {
  using L = std::numeric_limits<int64_t>;
  const std::string expected = "expected an integer" + range_text<int64_t>(lo, hi, L::min(), L::max());
  int64_t v = 0;
  const char *b = skip_plus(text), *e = text.data() + text.size();
  auto [end, ec] = std::from_chars(b, e, v);
  if (text.empty() || end != e || (ec != std::errc() && ec != std::errc::result_out_of_range))
    throw Error(where + ": " + expected + ", got '" + text + "'");
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw Error(where + ": " + expected + ", got " + text + " (out of range)");
  return v;
}

double parse_double(const std::string& text, const std::string& where, double lo, double hi) {
  using L = std::numeric_limits<double>;
  const std::string expected = "expected a finite number" + range_text<double>(lo, hi, -L::max(), L::max());
  double v = 0;
  const char *b = skip_plus(text), *e = text.data() + text.size();
  auto [end, ec] = std::from_chars(b, e, v, std::chars_format::general);
  if (text.empty() || end != e || (ec != std::errc() && ec != std::errc::result_out_of_range) ||
      (ec == std::errc() && !std::isfinite(v)))
    throw Error(where + ": " + expected + ", got '" + text + "'");
  if (ec == std::errc::result_out_of_range || v < lo || v > hi)
    throw Error(where + ": " + expected + ", got " + text + " (out of range)");
  return v;
}
