// PyTorch checkpoint files read natively (tensor/pth.h): fixtures written by torch.save (tools/make_pth_fixtures.py),
// the official FaceBoxesV2 weights (legacy container, from ../shared), and hand-made bad files.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <string>

#include "pipnet/pipnet.h"
#include "tensor/pth.h"
#include "test_util.h"

static const Tensor& get(const TensorFile& f, const std::string& name) { return f.at(name); }

static void check_fixture(const std::string& path) {
  TensorFile f = read_pth(path);
  const Tensor& a = get(f, "a");
  REQUIRE(a.shape() == Shape({3, 4}));
  REQUIRE(a.dtype() == DType::F32);
  for (int i = 0; i < 12; i++) CHECK(a.data<float>()[i] == i - 5.5f);
  const Tensor& at = get(f, "a_t");  // transposed strides over the same storage
  REQUIRE(at.shape() == Shape({4, 3}));
  for (int r = 0; r < 4; r++)
    for (int c = 0; c < 3; c++) CHECK(at.data<float>()[r * 3 + c] == (c * 4 + r) - 5.5f);
  const Tensor& row = get(f, "row");  // storage offset 4
  REQUIRE(row.shape() == Shape({4}));
  for (int i = 0; i < 4; i++) CHECK(row.data<float>()[i] == (4 + i) - 5.5f);
  const Tensor& h = get(f, "h");  // float16, exactly representable values
  REQUIRE(h.shape() == Shape({2, 3}));
  for (int i = 0; i < 6; i++) CHECK(h.data<float>()[i] == i * 0.25f - 0.5f);
  const Tensor& l = get(f, "l");  // int64 -> i32
  REQUIRE(l.dtype() == DType::I32);
  for (int i = 0; i < 5; i++) CHECK(l.data<int32_t>()[i] == i * 1000 - 2000);
  const Tensor& w = get(f, "nested.w");  // float64 -> f32, in a nested dict
  CHECK(w.data<float>()[0] == 1.5f);
  CHECK(w.data<float>()[1] == -2.25f);
  CHECK(w.data<float>()[2] == 1e-3f);
  CHECK(w.data<float>()[3] == 4.0f);
  CHECK(f.metadata.at("step") == "7");
  CHECK(f.tensors[0].first == "a");  // the dict's order
}

TEST_CASE("pth: files written by torch.save, zip and legacy containers, read exactly", "[pth]") {
  for (const char* name : {"state_zip.pth", "state_legacy.pth"}) {
    INFO(name);
    check_fixture(std::string(PIPNET_TEST_DATA) + "/pth/" + name);
  }
}

TEST_CASE("pth: the official FaceBoxesV2 weights (legacy container, skipped without ../shared)", "[pth]") {
  const std::string path = std::string(PIPNET_SHARED_DIR) + "/data/faceboxes/FaceBoxesV2.pth";
  if (!std::ifstream(path)) SKIP_TEST(path + " is absent");
  TensorFile f = read_pth(path);
  CHECK(f.tensors.size() == 192);
  CHECK(f.tensors[0].first == "module.conv1.conv.weight");
  CHECK(f.tensors[0].second.shape() == Shape({8, 3, 3, 3}));
  for (auto& [n, t] : f.tensors) {
    bool finite = true;
    for (float v : t.to_vector()) finite &= std::isfinite(v);
    INFO(n);
    CHECK(finite);
  }
}

static std::string write_bytes(const std::string& name, const std::string& bytes) {
  const std::string p = "/tmp/pipnet_test_pth_" + name;
  std::ofstream(p, std::ios::binary) << bytes;
  return p;
}

TEST_CASE("pth: bad files give one-line errors naming the file", "[pth]") {
  const std::string legacy_head = std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15);
  struct Case { const char* name; std::string bytes; const char* want; };
  const Case cases[] = {
      {"empty", "", "not a PyTorch file"},
      {"text", "hello world, not a checkpoint", "not a PyTorch file"},
      {"zip_cut", std::string("PK\x03\x04", 4) + std::string(10, '\0'), "zip archive"},
      {"legacy_cut", legacy_head.substr(0, 8), "pickle ends early"},
      {"legacy_magic", std::string("\x80\x02K\x05.", 5), "no torch.save magic"},
      {"legacy_proto", legacy_head + std::string("\x80\x02M\xe8\x03.", 6), "protocol version"},
      {"opcode", legacy_head + std::string("\x80\x02M\xe9\x03.\x80\x02}.\x80\x02\xff.", 14), "unsupported pickle opcode 0xff"},
      {"global", legacy_head + std::string("\x80\x02M\xe9\x03.\x80\x02}.", 10) + "\x80\x02" "cos\nsystem\n)R.", "unsupported callable 'os.system'"},
      {"underflow", legacy_head + std::string("\x80\x02M\xe9\x03.\x80\x02}.\x80\x02R.", 13), "stack underflow"},
      {"memo", legacy_head + std::string("\x80\x02M\xe9\x03.\x80\x02}.\x80\x02h\x05.", 15), "memo entry 5"},
      {"self", legacy_head + std::string("\x80\x02M\xe9\x03.\x80\x02}.\x80\x02]q\x00h\x00", 17) + "a.", "holds itself"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string p = write_bytes(c.name, c.bytes);
    CHECK_THROWS_WITH(read_pth(p), Catch::Contains(p) && Catch::Contains(c.want));
  }
  // deep nesting ends in an error, not a stack overflow
  std::string deep = legacy_head + std::string("\x80\x02M\xe9\x03.\x80\x02}.\x80\x02", 12);
  deep += ")";
  for (int i = 0; i < 100000; i++) deep += "\x85";  // TUPLE1 around the previous tuple
  deep += ".";
  CHECK_THROWS_WITH(read_pth(write_bytes("deep", deep)), Catch::Contains("nests deeper"));
  CHECK_THROWS_WITH(read_pth("/nonexistent/x.pth"), Catch::Contains("/nonexistent/x.pth: cannot open"));
}

TEST_CASE("pth: an official-layout PIPNet .pth gives its configuration and, bitwise, the converted weights", "[pth]") {
  const std::string dir = std::string(PIPNET_TEST_DATA) + "/pth/";
  TensorFile pth = read_weights_file(dir + "pipnet_r18_s64.pth");  // "module." names made plain
  TensorFile conv = read_weights_file(dir + "pipnet_r18_s64.safetensors");
  PipConfig c = pip_config_from_weights(pth.tensors, "pipnet_r18_s64.pth", 128);
  CHECK(c.backbone == "resnet18");
  CHECK(c.width == 4);
  CHECK(c.net_stride == 64);
  CHECK(c.num_lms == 5);
  CHECK(c.num_nb == 2);
  Rng rng(0);
  PIPNet a(c, rng), b(c, rng);
  load_state_dict(a, pth.tensors, "pth");
  load_state_dict(b, conv.tensors, "safetensors");
  auto sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  size_t same = 0;
  for (size_t i = 0; i < sa.size(); i++) same += sa[i].second.to_vector() == sb[i].second.to_vector();
  CHECK(same == sa.size());
  CHECK_THROWS_WITH(pip_config_from_weights(read_pth(dir + "state_zip.pth").tensors, "state_zip.pth"),
                    Catch::Contains("state_zip.pth: not a PIPNet state_dict"));
}

TEST_CASE("pth: a safetensors file whose header length is 128 mod 256 is not taken for a legacy pickle", "[pth]") {
  // Its first byte is 0x80, PROTO's opcode; one model file in 256 has such a header length (a tiny PIP Net did).
  std::string header = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
  header.resize(0x180, ' ');  // safetensors headers may be padded with spaces
  std::string bytes(8, '\0');
  bytes[0] = (char)0x80;
  bytes[1] = 0x01;
  const float one = 1.0f;
  bytes += header + std::string((const char*)&one, 4);
  char t[] = "/tmp/pipnet_pth_st_XXXXXX";
  const int fd = mkstemp(t);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(t, std::ios::binary) << bytes;
  CHECK_FALSE(is_pth_file(t));
  TensorFile f = read_weights_file(t);
  std::remove(t);
  REQUIRE(f.tensors.size() == 1);
  CHECK(f.tensors[0].second.to_vector()[0] == 1.0f);
}
