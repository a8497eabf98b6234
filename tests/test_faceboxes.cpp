// FaceBoxesV2 (layers/faceboxes.h) and the detection pipeline (pipnet/detector.h): priors, NMS and the demo's box
// arithmetic by hand; then the golden test, boxes and scores against PyTorch (tests/data/faceboxes_lfw68.fbxgold,
// written by tools/faceboxes_golden.py) on real lfw68 photos and a canvas of several faces. The photos and the
// weights come from ../shared and are never stored here: without them the golden test reports skipped.
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "pipnet/detector.h"
#include "tensor/safetensors.h"
#include "test_util.h"

static double max_abs(const Tensor& t) {
  double m = 0;
  for (float v : t.to_vector()) m = std::max(m, (double)std::fabs(v));
  return m;
}

TEST_CASE("faceboxes: priors in the heads' order, densified 4x4 and 2x2", "[faceboxes]") {
  // 250x250: sources of 8x8, 4x4, 2x2 cells; 21 anchors per cell on the first, one on the others
  const std::vector<float> p = faceboxes_priors(250, 250);
  REQUIRE(p.size() == 4u * (8 * 8 * 21 + 4 * 4 + 2 * 2));
  // cell (0, 0): size 32 at x offsets 0, .25, .5, .75 of a 32-pixel step, y outer; then size 64, then 128
  CHECK(p[0] == 0.0f);
  CHECK(p[4] == Approx(8.0 / 250));                 // second anchor: x + 0.25 step
  CHECK(p[4 * 4 + 1] == Approx(8.0 / 250));         // fifth: next row of centres
  CHECK(p[4 * 16 + 2] == Approx(64.0 / 250));       // anchor 16: the first of size 64
  CHECK(p[4 * 20 + 0] == Approx(16.0 / 250));       // anchor 20: size 128 at the cell centre
  CHECK(p[4 * 21 + 0] == Approx(32.0 / 250));       // the next cell, (0, 1)
  const size_t s1 = 4 * 8 * 8 * 21;                 // the second source: step 64, size 256, cell centres
  CHECK(p[s1 + 0] == Approx(32.0 / 250));
  CHECK(p[s1 + 2] == Approx(256.0 / 250));
  // a non-square input: widths relative to W, heights to H
  const std::vector<float> q = faceboxes_priors(480, 640);
  CHECK(q.size() == 4u * (15 * 20 * 21 + 8 * 10 + 4 * 5));
  CHECK(q[2] == Approx(32.0 / 640));
  CHECK(q[3] == Approx(32.0 / 480));
}

TEST_CASE("faceboxes: NMS and the demo's face box worked by hand", "[faceboxes]") {
  // NMS, +1 convention: boxes 0 and 1 overlap 9x10 / (100 + 100 - 90) = 0.82, boxes 0 and 2 3x10 / 170 = 0.18
  std::vector<FaceBox> b = {{0, 0, 9, 9, 0.9f}, {1, 0, 10, 9, 0.8f}, {7, 0, 16, 9, 0.7f}, {50, 50, 60, 60, 0.6f}};
  CHECK(nms(b, 0.3f) == std::vector<int>{0, 2, 3});
  CHECK(nms(b, 0.1f) == std::vector<int>{0, 3});
  CHECK(nms(b, 30.0f / 170) == std::vector<int>{0, 3});  // suppressed at equality, as cpu_nms (ovr >= thresh)
  DetectOptions o;
  o.threshold = 0.65f;
  int above = 0;
  std::vector<FaceBox> shuffled = {b[2], b[0], b[3], b[1]};
  std::vector<FaceBox> kept = select_faces(shuffled, o, &above);
  CHECK(above == 3);
  REQUIRE(kept.size() == 2);
  CHECK(kept[0].score == 0.9f);
  CHECK(kept[1].score == 0.7f);
  o.keep = 1;
  CHECK(select_faces(shuffled, o).size() == 1);
  // The box of spec 6.4: w = h = 100, and "a tenth" is int(100 * (1.2 - 1) / 2) = 9 in double; the top moves down
  FaceCrop c = face_crop({20.7f, 30.2f, 120.9f, 130.5f, 0.99f}, 1000, 1000);
  CHECK(c.xmin == 20 - 9);
  CHECK(c.ymin == 30 + 9);
  CHECK(c.xmax == 20 + 100 - 1 + 9);
  CHECK(c.ymax == 30 + 100 - 1 + 9);
  CHECK(c.width() == 118);  // xmax - xmin + 1, as the demo maps landmarks
  // clipped to the image; negative corners truncate toward zero, as Python's int()
  FaceCrop e = face_crop({-3.7f, -2.5f, 57.0f, 60.0f, 0.9f}, 50, 55);
  CHECK(e.xmin == 0);
  CHECK(e.ymin == -2 + 6);  // h = 60 - (-2) = 62: int(6.2) = 6
  CHECK(e.xmax == 49);
  CHECK(e.ymax == 54);
}

TEST_CASE("faceboxes: the network's names, parameters and maps (random weights)", "[faceboxes]") {
  Rng rng(1);
  FaceBoxesV2 net(rng);
  net.eval();
  const NamedTensors sd = net.state_dict();
  CHECK(sd.size() == 192 - 30);  // the .pth's 192 tensors less its 30 BatchNorm counters
  CHECK(sd.front().first == "conv1.conv.weight");
  CHECK(sd.back().first == "conf.2.bias");
  CHECK(net.num_parameters() == 1025458);  // as PyTorch counts the official network
  ag::NoGradGuard ng;
  Tensor x = random_tensor({1, 3, 97, 130}, 5, DType::F32, -100, 100);
  FaceBoxesOutput out = net.run(x);
  CHECK(out.loc[0].shape() == Shape({1, 84, 4, 5}));   // ceil(97/32), ceil(130/32)
  CHECK(out.conf[0].shape() == Shape({1, 42, 4, 5}));
  CHECK(out.loc[1].shape() == Shape({1, 4, 2, 3}));
  CHECK(out.conf[2].shape() == Shape({1, 2, 1, 2}));
  std::vector<FaceBox> all;
  decode_faceboxes(out, 97, 130, all);
  CHECK(all.size() == faceboxes_priors(97, 130).size() / 4);
  // folding the BatchNorms (eval mode) leaves the output unchanged up to float rounding
  Rng rng2(1);
  FaceBoxesV2 folded(rng2);
  folded.eval();
  for (auto& [n, t] : folded.state_dict())
    if (n.find("running_var") != std::string::npos) t.copy_(random_tensor(t.shape(), 7, DType::F32, 0.5, 2));
  for (auto& [n, t] : net.state_dict())
    if (n.find("running_var") != std::string::npos) t.copy_(random_tensor(t.shape(), 7, DType::F32, 0.5, 2));
  FaceBoxesOutput a = net.run(x);
  folded.fold_batchnorms();
  FaceBoxesOutput f = folded.run(x);
  for (int k = 0; k < 3; k++) {
    check_close("folded loc", f.loc[k], a.loc[k], 1e-4 * (1 + max_abs(a.loc[k])), 1e-4);
    check_close("folded conf", f.conf[k], a.conf[k], 1e-4 * (1 + max_abs(a.conf[k])), 1e-4);
  }
  CHECK(summary(net, {1, 3, 480, 640}).find("inception3.branch3x3_3.conv") != std::string::npos);
}

// ---- the golden test ----------------------------------------------------------------------------------------------
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, sep);) out.push_back(t);
  return out;
}

// The canvas of tools/faceboxes_golden.py: a fill colour, photos pasted at (x, y), every step-th pixel.
Image compose(const std::vector<Image>& photos, const Tensor& parts, int w, int h, int fill) {
  Image c(w, h, (uint8_t)fill);
  const int32_t* p = parts.data<int32_t>();
  for (int64_t r = 0; r < parts.size(0); r++) {
    const int x0 = p[r * 4], y0 = p[r * 4 + 1], step = p[r * 4 + 2];
    const Image& src = photos.at(p[r * 4 + 3]);
    for (int y = 0; y * step < src.h; y++)
      for (int x = 0; x * step < src.w; x++) std::memcpy(c.at(x0 + x, y0 + y), src.at(x * step, y * step), 3);
  }
  return c;
}

}  // namespace

TEST_CASE("faceboxes golden: boxes and scores equal PyTorch's within 1e-4 on lfw68 photos and a several-face canvas",
          "[faceboxes]") {
  const std::string shared = PIPNET_SHARED_DIR, weights = shared + "/data/faceboxes/FaceBoxesV2.pth";
  const std::string photos_dir = shared + "/data/lfw68/test";
  if (!std::ifstream(weights) || !std::ifstream(photos_dir + "/Aaron_Patterson_0001.jpg"))
    SKIP_TEST("../shared/data (FaceBoxesV2.pth, lfw68) is absent");
  const std::string path = std::string(PIPNET_TEST_DATA) + "/faceboxes_lfw68.fbxgold";
  char head[16] = {};
  std::ifstream(path, std::ios::binary).read(head, 16);
  uint32_t version;
  std::memcpy(&version, head + 8, 4);
  REQUIRE(std::memcmp(head, "FBXGOLD\0", 8) == 0);
  REQUIRE(version == 1);
  const TensorFile g = read_safetensors(path, 16);

  std::vector<Image> photos;
  for (const std::string& n : split(g.metadata.at("images"), ',')) photos.push_back(load_image(photos_dir + "/" + n));
  std::vector<Image> cases = photos;
  cases.push_back(compose(photos, g.at("compose"), std::stoi(g.metadata.at("canvas_w")),
                          std::stoi(g.metadata.at("canvas_h")), std::stoi(g.metadata.at("canvas_fill"))));

  FaceDetector det(weights);
  DetectOptions o;
  o.threshold = std::stof(g.metadata.at("threshold"));
  o.max_short_side = 0;  // the official detector at im_scale 1, as the demo calls it
  // Relative error of a box corner or score: |ours - torch| / max(|torch|, 1), so that a corner near 0 pixels is
  // held to 1e-4 pixels rather than to nothing.
  double worst_box = 0, worst_score = 0;
  int faces = 0;
  for (size_t c = 0; c < cases.size(); c++) {
    const std::string name = c < photos.size() ? split(g.metadata.at("images"), ',')[c] : "canvas";
    INFO("case " << c << " (" << name << ")");
    ag::NoGradGuard ng;
    Tensor x = FaceDetector::input_of(cases[c]);
    FaceBoxesOutput out = det.net().run(x);
    std::vector<FaceBox> all;
    decode_faceboxes(out, cases[c].h, cases[c].w, all);
    if (c == 0) {  // every prior's regression and score, before any selection
      const std::vector<float> loc = g.at("raw.loc").to_vector(), score = g.at("raw.score").to_vector();
      REQUIRE(score.size() == all.size());
      double lmax = 0, lerr = 0, serr = 0;
      for (float v : loc) lmax = std::max(lmax, (double)std::fabs(v));
      for (size_t i = 0; i < all.size(); i++) serr = std::max(serr, (double)std::fabs(all[i].score - score[i]));
      // the regressions themselves, from the head maps in prior order
      size_t at = 0;
      for (int k = 0; k < 3; k++) {
        const std::vector<float> L = out.loc[k].to_vector();
        const int A = FaceBoxesV2::kAnchors[k], h = (int)out.loc[k].size(2), w = (int)out.loc[k].size(3);
        for (int i = 0; i < h; i++)
          for (int j = 0; j < w; j++)
            for (int a = 0; a < A; a++, at++)
              for (int q = 0; q < 4; q++)
                lerr = std::max(lerr, (double)std::fabs(L[((size_t)(4 * a + q) * h + i) * w + j] - loc[at * 4 + q]));
      }
      std::printf("faceboxes golden raw (%zu priors): loc max error %.3g of max |loc| %.3g, score max error %.3g\n",
                  all.size(), lerr, lmax, serr);
      CHECK(lerr <= 1e-4 * lmax);
      CHECK(serr <= 1e-4);
    }
    int above = 0;
    std::vector<FaceBox> got = select_faces(all, o, &above);
    CHECK(above == g.at("above." + std::to_string(c)).data<int32_t>()[0]);
    const Tensor& want = g.at("dets." + std::to_string(c));
    const Tensor& adj = g.at("adjusted." + std::to_string(c));
    REQUIRE((int64_t)got.size() == want.size(0));
    for (size_t i = 0; i < got.size(); i++) {
      const float* w = want.data<float>() + i * 5;
      const float ours[5] = {got[i].x0, got[i].y0, got[i].x1, got[i].y1, got[i].score};
      for (int q = 0; q < 5; q++) {
        const double e = std::fabs(ours[q] - w[q]) / std::max(1.0, (double)std::fabs(w[q]));
        (q < 4 ? worst_box : worst_score) = std::max(q < 4 ? worst_box : worst_score, e);
      }
      const FaceCrop fc = face_crop(got[i], cases[c].w, cases[c].h);
      const int32_t* a = adj.data<int32_t>() + i * 4;
      CHECK(fc.xmin == a[0]);
      CHECK(fc.ymin == a[1]);
      CHECK(fc.xmax == a[2]);
      CHECK(fc.ymax == a[3]);
      faces++;
    }
    // and the same through FaceDetector::detect, the path `pipnet infer` takes
    std::vector<FaceBox> d = det.detect(cases[c], o);
    REQUIRE(d.size() == got.size());
    for (size_t i = 0; i < d.size(); i++) CHECK(d[i].x0 == got[i].x0);
  }
  std::printf("faceboxes golden: %zu images, %d faces; max relative error boxes %.3g, scores %.3g (budget 1e-4)\n",
              cases.size(), faces, worst_box, worst_score);
  CHECK(faces >= (int)cases.size());
  CHECK(worst_box <= 1e-4);
  CHECK(worst_score <= 1e-4);
}
