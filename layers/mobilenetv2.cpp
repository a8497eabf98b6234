#include "layers/mobilenetv2.h"

#include <algorithm>
#include <cmath>

int make_divisible(double v, int divisor) {
  int n = std::max(divisor, (int)(v + divisor / 2.0) / divisor * divisor);
  if (n < 0.9 * v) n += divisor;  // rounding down may not take away more than 10%
  return n;
}

MobileNetV2Channels MobileNetV2Channels::at(double m) {
  struct Stage { int t, c, n, s; };
  const Stage table[] = {{1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2}, {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  MobileNetV2Channels ch;
  ch.stem = make_divisible(32 * m);
  int in = ch.stem;
  for (const Stage& st : table)
    for (int i = 0; i < st.n; i++) {
      const int out = make_divisible(st.c * m);
      ch.hidden.push_back((int)std::lround((double)in * st.t));
      ch.out.push_back(out);
      ch.stride.push_back(i == 0 ? st.s : 1);
      ch.expand.push_back(st.t);
      in = out;
    }
  ch.last = make_divisible(1280 * std::max(1.0, m));
  return ch;
}

// torchvision's Conv2dNormActivation: Sequential(conv, BN, ReLU6), children "0", "1", "2"; `groups` 1 or depthwise.
static std::unique_ptr<Sequential> conv_bn_relu6(int in, int out, int k, int stride, bool depthwise, Rng& rng) {
  auto s = std::make_unique<Sequential>();
  s->add(std::make_unique<Conv2d>(in, out, k, stride, (k - 1) / 2, false, rng, depthwise ? in : 1));
  s->add(std::make_unique<BatchNorm2d>(out));
  s->add(std::make_unique<ReLU6>());
  return s;
}

static std::string sub(const std::string& name, const char* child) { return name.empty() ? child : name + "." + child; }

// ---- InvertedResidual: [1x1 expand + BN + ReLU6], 3x3 depthwise + BN + ReLU6, 1x1 project + BN, [+ x] ------------
InvertedResidual::InvertedResidual(int in, int out, int stride, int expand, Rng& rng)
    : residual(stride == 1 && in == out) {
  const int hidden = (int)std::lround((double)in * expand);
  if (expand != 1) conv.add(conv_bn_relu6(in, hidden, 1, 1, false, rng));
  conv.add(conv_bn_relu6(hidden, hidden, 3, stride, true, rng));
  conv.add(std::make_unique<Conv2d>(hidden, out, 1, 1, 0, false, rng));
  conv.add(std::make_unique<BatchNorm2d>(out));
  register_module("conv", &conv);
}

Tensor InvertedResidual::forward(const Tensor& x) {
  Tensor h = conv(x);
  return residual ? ag::add(x, h) : h;
}

Shape InvertedResidual::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  return conv.describe(in, sub(name, "conv"), rows);
}

void InvertedResidual::fold_batchnorms() {
  for (size_t i = 0; i < conv.size(); i++) {
    if (auto* s = dynamic_cast<Sequential*>(&conv[i])) {  // conv + BN + ReLU6
      fold_batchnorm(dynamic_cast<Conv2d&>((*s)[0]), dynamic_cast<BatchNorm2d&>((*s)[1]));
    } else if (auto* c = dynamic_cast<Conv2d*>(&conv[i])) {  // the projection, its BN next
      fold_batchnorm(*c, dynamic_cast<BatchNorm2d&>(conv[i + 1]));
      i++;
    }
  }
}

// ---- MobileNetV2 ----------------------------------------------------------------------------------------------
MobileNetV2::MobileNetV2(double m, Rng& rng) {
  CHECK_OR_FAIL(m > 0 && m <= 64, strf("MobileNetV2: width multiplier %g", m));
  const MobileNetV2Channels ch = MobileNetV2Channels::at(m);
  features.add(conv_bn_relu6(3, ch.stem, 3, 2, false, rng));
  int in = ch.stem;
  for (size_t b = 0; b < ch.out.size(); b++) {
    features.add(std::make_unique<InvertedResidual>(in, ch.out[b], ch.stride[b], ch.expand[b], rng));
    in = ch.out[b];
  }
  features.add(conv_bn_relu6(in, ch.last, 1, 1, false, rng));
  register_module("features", &features);
  out_channels_ = ch.last;
  // torchvision's initialisation: convs kaiming_normal_(fan_out) (fan_out = out * k * k, for depthwise too, as
  // PyTorch computes it from the weight's shape), BN gamma 1 and beta 0 (already).
  for (auto& [name, t] : named_parameters())
    if (t.dim() == 4) init_kaiming_normal(t, rng, /*fan_out=*/true);
}

Shape MobileNetV2::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  return features.describe(in, sub(name, "features"), rows);
}

void MobileNetV2::fold_batchnorms() {
  for (size_t i = 0; i < features.size(); i++) {
    if (auto* b = dynamic_cast<InvertedResidual*>(&features[i])) b->fold_batchnorms();
    else if (auto* s = dynamic_cast<Sequential*>(&features[i]))
      fold_batchnorm(dynamic_cast<Conv2d&>((*s)[0]), dynamic_cast<BatchNorm2d&>((*s)[1]));
  }
}
