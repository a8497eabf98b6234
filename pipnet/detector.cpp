#include "pipnet/detector.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

namespace {
constexpr int kSteps[3] = {32, 64, 128};
constexpr int kMinSizes[3][3] = {{32, 64, 128}, {256, 0, 0}, {512, 0, 0}};  // 0: none
constexpr float kVariance[2] = {0.1f, 0.2f};
constexpr int kMeanBgr[3] = {104, 117, 123};
int ceil_div(int a, int b) { return (a + b - 1) / b; }
}  // namespace

// The official PriorBox: values computed in double, stored as float32.
std::vector<float> faceboxes_priors(int H, int W) {
  std::vector<float> p;
  for (int k = 0; k < 3; k++) {
    const int fh = ceil_div(H, kSteps[k]), fw = ceil_div(W, kSteps[k]);
    for (int i = 0; i < fh; i++)
      for (int j = 0; j < fw; j++)
        for (int m = 0; m < 3 && kMinSizes[k][m]; m++) {
          const int size = kMinSizes[k][m];
          const int n = size == 32 ? 4 : size == 64 ? 2 : 1;  // centres per side (densification)
          for (int dy = 0; dy < n; dy++)
            for (int dx = 0; dx < n; dx++) {
              const double oy = n == 1 ? 0.5 : (double)dy / n, ox = n == 1 ? 0.5 : (double)dx / n;
              p.push_back((float)((j + ox) * kSteps[k] / W));
              p.push_back((float)((i + oy) * kSteps[k] / H));
              p.push_back((float)((double)size / W));
              p.push_back((float)((double)size / H));
            }
        }
  }
  return p;
}

void decode_faceboxes(const FaceBoxesOutput& out, int H, int W, std::vector<FaceBox>& all) {
  const std::vector<float> pri = faceboxes_priors(H, W);
  all.resize(pri.size() / 4);
  size_t at = 0;
  for (int k = 0; k < 3; k++) {
    const Tensor& lt = out.loc[k];
    const Tensor& ct = out.conf[k];
    const int A = FaceBoxesV2::kAnchors[k], h = (int)lt.size(2), w = (int)lt.size(3);
    CHECK_OR_FAIL(lt.size(1) == 4 * A && ct.size(1) == 2 * A && h == ceil_div(H, kSteps[k]) && w == ceil_div(W, kSteps[k]),
                  strf("FaceBoxes: head maps %s / %s do not fit a %dx%d input", lt.shape().str().c_str(),
                       ct.shape().str().c_str(), W, H));
    const std::vector<float> L = lt.to_vector(), C = ct.to_vector();  // [4A, h, w], [2A, h, w]
    for (int i = 0; i < h; i++)
      for (int j = 0; j < w; j++)
        for (int a = 0; a < A; a++, at++) {
          auto l = [&](int c) { return L[((size_t)(4 * a + c) * h + i) * w + j]; };
          const float* p = &pri[4 * at];
          // decode, in PyTorch's order of float operations (box_utils.decode, then * [W, H, W, H])
          const float cx = p[0] + l(0) * kVariance[0] * p[2], cy = p[1] + l(1) * kVariance[0] * p[3];
          const float bw = p[2] * std::exp(l(2) * kVariance[1]), bh = p[3] * std::exp(l(3) * kVariance[1]);
          const float x0 = cx - bw / 2, y0 = cy - bh / 2;
          // softmax over (background, face)
          const float c0 = C[((size_t)(2 * a) * h + i) * w + j], c1 = C[((size_t)(2 * a + 1) * h + i) * w + j];
          const float m = std::max(c0, c1), e0 = std::exp(c0 - m), e1 = std::exp(c1 - m);
          all[at] = {x0 * W, y0 * H, (bw + x0) * W, (bh + y0) * H, e1 / (e0 + e1)};
        }
  }
  CHECK_OR_FAIL(at == all.size(), "FaceBoxes: priors and head maps disagree");
}

std::vector<int> nms(const std::vector<FaceBox>& b, float iou) {
  std::vector<float> area(b.size());
  for (size_t i = 0; i < b.size(); i++) area[i] = (b[i].x1 - b[i].x0 + 1) * (b[i].y1 - b[i].y0 + 1);
  std::vector<int> keep;
  std::vector<char> gone(b.size(), 0);
  for (size_t i = 0; i < b.size(); i++) {
    if (gone[i]) continue;
    keep.push_back((int)i);
    for (size_t j = i + 1; j < b.size(); j++) {
      if (gone[j]) continue;
      const float w = std::max(0.0f, std::min(b[i].x1, b[j].x1) - std::max(b[i].x0, b[j].x0) + 1);
      const float h = std::max(0.0f, std::min(b[i].y1, b[j].y1) - std::max(b[i].y0, b[j].y0) + 1);
      const float inter = w * h;
      if (inter / (area[i] + area[j] - inter) >= iou) gone[j] = 1;
    }
  }
  return keep;
}

std::vector<FaceBox> select_faces(const std::vector<FaceBox>& all, const DetectOptions& o, int* above) {
  std::vector<FaceBox> cand;
  for (const FaceBox& b : all)
    if (b.score > o.threshold) cand.push_back(b);
  if (above) *above = (int)cand.size();
  std::stable_sort(cand.begin(), cand.end(), [](const FaceBox& a, const FaceBox& b) { return a.score > b.score; });
  if ((int)cand.size() > o.top_k) cand.resize(o.top_k);
  std::vector<FaceBox> out;
  for (int i : nms(cand, o.nms_iou)) {
    if ((int)out.size() >= o.keep) break;
    out.push_back(cand[i]);
  }
  return out;
}

FaceCrop face_crop(const FaceBox& b, int image_w, int image_h, double box_scale) {
  const int xmin0 = (int)b.x0, ymin0 = (int)b.y0, w = (int)b.x1 - xmin0, h = (int)b.y1 - ymin0;  // truncation, as int()
  const int dx = (int)(w * (box_scale - 1) / 2), dy = (int)(h * (box_scale - 1) / 2);
  FaceCrop c{xmin0 - dx, ymin0 + dy, xmin0 + w - 1 + dx, ymin0 + h - 1 + dy};  // the top edge moves down
  c.xmin = std::max(c.xmin, 0);
  c.ymin = std::max(c.ymin, 0);
  c.xmax = std::min(c.xmax, image_w - 1);
  c.ymax = std::min(c.ymax, image_h - 1);
  return c;
}

// ---- FaceDetector ------------------------------------------------------------------------------
FaceDetector::FaceDetector(const std::string& weights, Device dev) {
  Rng rng(0);
  net_ = std::make_unique<FaceBoxesV2>(rng);
  load_weights(*net_, weights);
  net_->eval();
  net_->fold_batchnorms();
  if (dev != Device::CPU) net_->to(dev);
}

Tensor FaceDetector::input_of(const Image& im) {
  Tensor x = Tensor::empty({1, 3, im.h, im.w});  // [1, 3, H, W] BGR - mean
  float* d = x.data<float>();
  const size_t plane = (size_t)im.w * im.h;
  for (size_t i = 0; i < plane; i++)
    for (int c = 0; c < 3; c++) d[c * plane + i] = (float)(im.px[i * 3 + (2 - c)] - kMeanBgr[c]);
  return x;
}

std::vector<FaceBox> FaceDetector::detect(const Image& im, const DetectOptions& o) {
  const auto t0 = std::chrono::steady_clock::now();
  // The official detector's own rule for large images: the short side down to 600, boxes mapped back.
  const int short_side = std::min(im.w, im.h);
  const bool scaled = o.max_short_side > 0 && short_side > o.max_short_side;
  Image small;
  if (scaled) {
    const double s = (double)o.max_short_side / short_side;
    small = resize_bilinear(im, std::max(1, (int)std::lround(im.w * s)), std::max(1, (int)std::lround(im.h * s)));
  }
  const Image& src = scaled ? small : im;
  ag::NoGradGuard ng;
  Tensor x = input_of(src);
  if (net_->device() != Device::CPU) x = x.to(net_->device());
  decode_faceboxes(net_->run(x), src.h, src.w, all_);
  std::vector<FaceBox> faces = select_faces(all_, o);
  if (scaled) {
    const float sx = (float)im.w / src.w, sy = (float)im.h / src.h;
    for (FaceBox& b : faces) b.x0 *= sx, b.x1 *= sx, b.y0 *= sy, b.y1 *= sy;
  }
  last_ms_ = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return faces;
}
