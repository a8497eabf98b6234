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

// ---- safetensors ----------------------------------------------------------------------------------------------
TEST_CASE("safetensors: a header nested 200000 deep is an error, not a stack overflow", "[robust]") {
  const std::string arrays = std::string(200000, '[') + std::string(200000, ']');
  CHECK_THROWS_WITH(parse(safetensors(arrays, "")), Contains("t.safetensors") && Contains("nested deeper than 64"));
  std::string objects;
  for (int i = 0; i < 100000; i++) objects += "{\"a\":";
  objects += "1" + std::string(100000, '}');
  CHECK_THROWS_WITH(parse(safetensors(objects, "")), Contains("nested deeper than 64"));
  // 64 levels are fine (as metadata nesting is refused later for another reason, put them in a tensor entry)
  CHECK_THROWS_WITH(parse(safetensors("{\"x\":" + std::string(63, '[') + std::string(63, ']') + "}", "")),
                    Contains("tensor 'x': expected an object"));
}

TEST_CASE("safetensors: overlapping, gapped, out-of-range or wrongly sized data_offsets are errors", "[robust]") {
  const std::string data(16, '\x01');
  auto two = [](const char* a, const char* b) {
    return std::string("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":") + a +
           "},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" + b + "}}";
  };
  CHECK(parse(safetensors(two("[0,8]", "[8,16]"), data)).tensors.size() == 2);
  CHECK(parse(safetensors(two("[8,16]", "[0,8]"), data)).tensors.size() == 2);  // any order is fine
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[4,12]"), std::string(12, '\0'))),
                    Contains("t.safetensors: tensor 'b' data_offsets [4, 12) overlap tensor 'a'"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[0,8]"), data)), Contains("overlap"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[12,20]"), std::string(20, '\0'))), Contains("leave a gap"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[8,16]"), data + "xx")), Contains("unused bytes after the last tensor"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[8,16]"), data.substr(0, 12))), Contains("truncated"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[8,12]"), data)),
                    Contains("tensor 'b': data_offsets [8, 12) hold 4 bytes; shape [2] of F32 needs 8"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[16,8]"), data)), Contains("tensor 'b': data_offsets [16, 8) end before they begin"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[8,18446744073709551624]"), data)),
                    Contains("tensor 'b': data_offsets[1]") && Contains("out of range"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[-8,0]"), data)), Contains("data_offsets[0]"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[8]"), data)), Contains("tensor 'b': data_offsets must be two integers"));
  CHECK_THROWS_WITH(parse(safetensors(two("[0,8]", "[8,16]").replace(2, 1, "b"), data)), Contains("'b' appears twice"));
}

TEST_CASE("safetensors: shapes from the file: negative or fractional dimensions and numel overflow are errors", "[robust]") {
  auto one = [](const std::string& shape, const std::string& offsets = "[0,0]") {
    return safetensors("{\"w\":{\"dtype\":\"F32\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}", "");
  };
  CHECK_THROWS_WITH(parse(one("[-1,4]")), Contains("tensor 'w': shape[0]") && Contains("expected an integer >= 0"));
  CHECK_THROWS_WITH(parse(one("[2.5]")), Contains("shape[0]") && Contains("'2.5'"));
  CHECK_THROWS_WITH(parse(one("[\"3\"]")), Contains("shape[0]: expected a non-negative integer"));
  // 2^32 * 2^32 wraps to 0 in int64; 2^62 * 4 bytes wraps too
  CHECK_THROWS_WITH(parse(one("[4294967296,4294967296]")), Contains("tensor 'w': shape") && Contains("more than 2^60 elements"));
  CHECK_THROWS_WITH(parse(one("[4611686018427387904]")), Contains("more than 2^60"));
  CHECK_THROWS_WITH(parse(one("[1,1,1,1,1,1,1]")), Contains("7 dimensions, at most 6"));
  // a zero anywhere is an empty tensor, however big the other dimensions
  TensorFile f = parse(one("[4294967296,4294967296,0]"));
  CHECK(f.tensors.at(0).second.numel() == 0);
  CHECK(Shape{3, 4}.numel_checked("x") == 12);
  CHECK_THROWS_WITH((Shape{2, -3}.numel_checked("my.file: shape")), Contains("my.file: shape: [2, -3] has a negative dimension (1)"));
}

TEST_CASE("safetensors: malformed numbers, types and JSON name the file and the field", "[robust]") {
  const std::string f32x1 = std::string("\0\0\x80\x3f", 4);  // 1.0f
  auto with = [](const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return "{\"w\":{\"dtype\":" + dtype + ",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}}";
  };
  CHECK(parse(safetensors(with("\"F32\"", "[1]", "[0,4]"), f32x1)).at("w").item() == 1.0);
  CHECK_THROWS_WITH(parse(safetensors(with("\"F32\"", "[1]", "[0,4e]"), f32x1)), Contains("data_offsets[1]") && Contains("'4e'"));
  CHECK_THROWS_WITH(parse(safetensors(with("\"F32\"", "[1]", "[0,1e999]"), f32x1)), Contains("data_offsets[1]"));
  CHECK_THROWS_WITH(parse(safetensors(with("\"F32\"", "[1]", "[0,--4]"), f32x1)), Contains("data_offsets[1]"));
  CHECK_THROWS_WITH(parse(safetensors(with("32", "[1]", "[0,4]"), f32x1)), Contains("tensor 'w': dtype must be a string"));
  CHECK_THROWS_WITH(parse(safetensors(with("\"BF16\"", "[1]", "[0,4]"), f32x1)), Contains("dtype BF16; supported"));
  CHECK_THROWS_WITH(parse(safetensors(with("\"F32\"", "{}", "[0,4]"), f32x1)), Contains("shape must be an array"));
  CHECK_THROWS_WITH(parse(safetensors("{\"__metadata__\":{\"k\":3}}", "")), Contains("__metadata__ 'k' must be a string"));
  CHECK_THROWS_WITH(parse(safetensors("{\"w\":1} x", "")), Contains("text after the header"));
  CHECK_THROWS_WITH(parse(safetensors(std::string("{\"w\":\0}", 7), "")), Contains("bad safetensors header"));
  CHECK_THROWS_WITH(parse(safetensors("{\"a\\q\":1}", "")), Contains("unknown escape"));
  CHECK_THROWS_WITH(parse(safetensors("{\"a\"", "")), Contains("expected ':'"));
  CHECK_THROWS_WITH(parse(std::string(7, '\0')), Contains("too short"));
  std::string huge_len(8, '\xff');
  CHECK_THROWS_WITH(parse(huge_len + "{}"), Contains("header length") && Contains("exceeds the file"));
  // \u escapes are decoded (tensor names may be any UTF-8)
  CHECK(parse(safetensors(R"({"\u00e9\ud83d\ude00":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", f32x1))
            .tensors.at(0).first == "\xc3\xa9\xf0\x9f\x98\x80");
}

TEST_CASE("safetensors: 0-byte tensors round trip / I64 values beyond I32 are errors", "[robust]") {
  const std::string path = tmp("empty.safetensors");
  write_safetensors(path, {{"e", Tensor::zeros({0, 3})}, {"x", Tensor::from({2}, {1, 2})}, {"z", Tensor::zeros({3, 0})}});
  TensorFile f = read_safetensors(path);
  CHECK(f.at("e").shape() == Shape{0, 3});
  CHECK(f.at("x").to_vector() == std::vector<float>{1, 2});
  CHECK(Tensor::from({0}, {}).numel() == 0);  // memcpy of nothing from a null vector
  std::string i64(16, '\0');
  const int64_t v[2] = {5, int64_t(1) << 40};
  std::memcpy(i64.data(), v, 16);
  CHECK_THROWS_WITH(parse(safetensors(R"({"i":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", i64)),
                    Contains("tensor 'i' (I64) element 1 = 1099511627776 does not fit the I32"));
}
