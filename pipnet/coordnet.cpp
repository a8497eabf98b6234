#include "pipnet/coordnet.h"

#include "pipnet/heads.h"

CoordHead::CoordHead(int64_t in_features, int hidden, int num_lms, Rng& rng) {
  // PyTorch's defaults throughout (Linear: uniform +-1/sqrt(fan_in); BatchNorm1d: gamma 1, beta 0).
  fc1 = std::make_unique<Linear>((int)in_features, hidden, rng);
  bn_fc1 = std::make_unique<BatchNorm1d>(hidden);
  fc2 = std::make_unique<Linear>(hidden, hidden, rng);
  bn_fc2 = std::make_unique<BatchNorm1d>(hidden);
  fc3 = std::make_unique<Linear>(hidden, 2 * num_lms, rng);
  register_module("fc1", fc1.get());
  register_module("bn_fc1", bn_fc1.get());
  register_module("fc2", fc2.get());
  register_module("bn_fc2", bn_fc2.get());
  register_module("fc3", fc3.get());
}

Tensor CoordHead::forward(const Tensor& f) {
  const Tensor flat = ag::reshape(f, {f.size(0), f.numel() / f.size(0)});  // [B, C*g*g], torch.flatten(f, 1)'s order
  Tensor h = ag::relu((*bn_fc1)((*fc1)(flat)));                           // [B, hidden]
  h = ag::relu((*bn_fc2)((*fc2)(h)));                                      // [B, hidden]
  return (*fc3)(h);                                                        // [B, 2N]
}

Shape CoordHead::describe(const Shape& in, const std::string&, std::vector<LayerInfo>& rows) const {
  Shape s = {in[0], in[1] * in[2] * in[3]};
  s = bn_fc1->describe(fc1->describe(s, "fc1", rows), "bn_fc1", rows);
  s = bn_fc2->describe(fc2->describe(s, "fc2", rows), "bn_fc2", rows);
  return fc3->describe(s, "fc3", rows);
}

Tensor coord_targets(const std::vector<std::vector<float>>& lms, int N) {
  const int B = (int)lms.size();
  Tensor t = Tensor::empty({B, 2 * N});  // [B, 2N]
  for (int b = 0; b < B; b++) {
    CHECK_OR_FAIL((int)lms[b].size() == 2 * N, strf("targets: sample %d has %zu coordinates, expected %d", b, lms[b].size(), 2 * N));
    std::copy(lms[b].begin(), lms[b].end(), t.data<float>() + (int64_t)b * 2 * N);
  }
  return t;
}

std::vector<Landmarks> decode_coords(const Tensor& coords) {
  const Tensor c = coords.to(Device::CPU);  // [B, 2N]
  const int B = (int)c.size(0), N2 = (int)c.size(1);
  std::vector<Landmarks> res(B);
  for (int b = 0; b < B; b++) {
    const float* p = c.data<float>() + (int64_t)b * N2;
    res[b].merged.assign(p, p + N2);
    res[b].unmerged = res[b].merged;
    res[b].max_cls.assign(N2 / 2, 0.0f);  // a regression has no score: confidence 0 for every point
  }
  return res;
}
