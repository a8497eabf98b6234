// mobilenetv2.h: torchvision's MobileNetV2 `features` (Sandler et al., CVPR 2018), the trunk of the official
// repository's Pip_mbnetv2 (which reads `mbnet.features` and puts its heads straight on the 1280-channel map).
//
//   x [N, 3, H, W]
//   features.0      conv 3x3/2 (c0) + BN + ReLU6                      -> [N, c0, H/2, W/2]      c0 = d(32 m)
//   features.1..17  inverted residual blocks, the (t, c, n, s) table   -> [N, d(320 m), H/32, W/32]
//   features.18     conv 1x1 (1280) + BN + ReLU6                      -> [N, d(1280 max(1, m)), H/32, W/32]
//
//   t  c    n  s       an inverted residual block, hidden = round(in * t), names as torchvision's:
//   1  16   1  1         conv.0 = 1x1 expand (hidden) + BN + ReLU6    (absent when t = 1)
//   6  24   2  2         conv.1 = 3x3 depthwise (stride s on a stage's first block) + BN + ReLU6
//   6  32   3  2         conv.2 = 1x1 project (out, linear: no activation), conv.3 = BN
//   6  64   4  2       (with t = 1: conv.0 depthwise, conv.1 project, conv.2 BN)
//   6  96   3  1       x + block(x) where the stride is 1 and in == out.
//   6  160  3  2
//   6  320  1  1
// m is the width multiplier and d() torchvision's _make_divisible(v, 8): v rounded to the nearest multiple of 8, at
// least 8, and never more than 10% below v. Here m = width / 64, so `--width 64` is torchvision's 1.0 (PipConfig
// keeps one width setting for every backbone); small widths keep the golden and gradient tests small.
// The avgpool and classifier are left out. Parameter names equal torchvision's state_dict ("features.3.conv.1.0.weight").
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"

int make_divisible(double v, int divisor = 8);  // torchvision's _make_divisible

// The channels of a MobileNetV2 at width multiplier m: the stem, each block's hidden and output channels, the last.
struct MobileNetV2Channels {
  int stem;
  std::vector<int> hidden, out, stride, expand;  // per block features.1..17
  int last;
  static MobileNetV2Channels at(double m);
};

// features.1..17
class InvertedResidual : public Module {
 public:
  InvertedResidual(int in, int out, int stride, int expand, Rng& rng);
  Tensor forward(const Tensor& x) override;
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  void fold_batchnorms();
  Sequential conv;
  bool residual;
};

class MobileNetV2 : public Backbone {
 public:
  MobileNetV2(double width_mult, Rng& rng);
  Tensor forward(const Tensor& x) override { return features(x); }
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  int out_channels() const override { return out_channels_; }
  void fold_batchnorms() override;
  Sequential features;

 private:
  int out_channels_;
};
