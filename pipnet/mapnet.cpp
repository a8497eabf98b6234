#include "pipnet/mapnet.h"

#include <cmath>

#include "pipnet/heads.h"

MapHead::MapHead(int in_channels, int channels, int deconvs, int num_lms, Rng& rng) {
  int C = in_channels;
  for (int k = 0; k < deconvs; k++) {
    auto d = std::make_unique<ConvTranspose2d>(C, channels, 4, 2, 1);
    init_normal(d->weight, rng, 0.0, 0.001);
    deconv_layers.add(std::move(d));
    deconv_layers.add(std::make_unique<BatchNorm2d>(channels));
    deconv_layers.add(std::make_unique<ReLU>());
    C = channels;
  }
  final_layer = std::make_unique<Conv2d>(C, num_lms, 1, 1, 0, true, rng);
  init_normal(final_layer->weight, rng, 0.0, 0.001);
  final_layer->bias.fill_(0.0);
  register_module("deconv_layers", &deconv_layers);
  register_module("final_layer", final_layer.get());
}

Tensor MapHead::forward(const Tensor& f) { return (*final_layer)(deconv_layers(f)); }

Shape MapHead::describe(const Shape& in, const std::string&, std::vector<LayerInfo>& rows) const {
  return final_layer->describe(deconv_layers.describe(in, "deconv_layers", rows), "final_layer", rows);
}

int map_deconvs(int net_stride) {
  for (int k = 1; k <= 5; k++)
    if (32 >> k == net_stride) return k;
  return 0;
}

double map_sigma(int net_stride) { return 4.0 / net_stride; }

Tensor map_targets(const std::vector<std::vector<float>>& lms, int N, int G, double sigma) {
  const int B = (int)lms.size();
  Tensor t = Tensor::empty({B, N, G, G});  // [B, N, G, G]
  float* h = t.data<float>();
  const double k = 1.0 / (2 * sigma * sigma);
  for (int b = 0; b < B; b++) {
    CHECK_OR_FAIL((int)lms[b].size() == 2 * N, strf("targets: sample %d has %zu coordinates, expected %d", b, lms[b].size(), 2 * N));
    for (int i = 0; i < N; i++) {
      const double mx = lms[b][2 * i] * (double)G - 0.5, my = lms[b][2 * i + 1] * (double)G - 0.5;
      for (int y = 0; y < G; y++)
        for (int x = 0; x < G; x++)
          *h++ = (float)std::exp(-((x - mx) * (x - mx) + (y - my) * (y - my)) * k);
    }
  }
  return t;
}

std::vector<Landmarks> decode_heatmaps(const Tensor& heatmaps) {
  const Tensor hm = heatmaps.to(Device::CPU);  // [B, N, G, G]
  const int B = (int)hm.size(0), N = (int)hm.size(1), G = (int)hm.size(2);
  CHECK_OR_FAIL(hm.size(3) == G, "decode: heatmaps " + hm.shape().str() + " are not square");
  auto sign = [](float d) { return d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f; };
  std::vector<Landmarks> res(B);
  for (int b = 0; b < B; b++) {
    Landmarks& L = res[b];
    L.merged.resize(2 * N);
    L.max_cls.resize(N);
    for (int i = 0; i < N; i++) {
      const float* m = hm.data<float>() + (int64_t)(b * N + i) * G * G;
      int best = 0;
      for (int k = 1; k < G * G; k++) if (m[k] > m[best]) best = k;  // first maximum on ties
      const int r = best / G, c = best % G;
      float x = (float)c, y = (float)r;
      if (c > 0 && c < G - 1) x += 0.25f * sign(m[best + 1] - m[best - 1]);
      if (r > 0 && r < G - 1) y += 0.25f * sign(m[best + G] - m[best - G]);
      L.merged[2 * i] = (x + 0.5f) / (float)G;
      L.merged[2 * i + 1] = (y + 0.5f) / (float)G;
      L.max_cls[i] = m[best];  // the peak, a confidence as PIP's max score
    }
    L.unmerged = L.merged;  // nothing to merge
  }
  return res;
}
