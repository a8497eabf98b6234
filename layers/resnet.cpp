#include "layers/resnet.h"

ResNetConfig ResNetConfig::named(const std::string& name, int width) {
  if (name == "resnet18") return {{2, 2, 2, 2}, false, width};
  if (name == "resnet34") return {{3, 4, 6, 3}, false, width};
  if (name == "resnet50") return {{3, 4, 6, 3}, true, width};
  if (name == "resnet101") return {{3, 4, 23, 3}, true, width};
  throw Error("unknown backbone '" + name + "': expected resnet18, resnet34, resnet50 or resnet101");
}

static std::unique_ptr<Sequential> make_downsample(int inplanes, int outplanes, int stride, Rng& rng) {
  auto ds = std::make_unique<Sequential>();
  ds->add(std::make_unique<Conv2d>(inplanes, outplanes, 1, stride, 0, false, rng));
  ds->add(std::make_unique<BatchNorm2d>(outplanes));
  return ds;
}

static std::string sub(const std::string& name, const char* child) { return name.empty() ? child : name + "." + child; }

// ---- BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)) ---------------------------
BasicBlock::BasicBlock(int inplanes, int planes, int stride, bool ds, Rng& rng)
    : conv1(inplanes, planes, 3, stride, 1, false, rng), conv2(planes, planes, 3, 1, 1, false, rng), bn1(planes), bn2(planes) {
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  register_module("conv2", &conv2);
  register_module("bn2", &bn2);
  if (ds) {
    downsample = make_downsample(inplanes, planes, stride, rng);
    register_module("downsample", downsample.get());
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  if (bn1.folded && bn2.folded) {  // inference: each convolution with its bias, shortcut and ReLU in one pass
    const Tensor shortcut = downsample ? downsample->forward(x) : x;
    return conv2.forward_fused(conv1.forward_fused(x, Tensor(), true), shortcut, true);
  }
  Tensor h = ag::relu(bn1(conv1(x)));
  h = bn2(conv2(h));
  return ag::relu(ag::add(h, downsample ? downsample->forward(x) : x));
}

Shape BasicBlock::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape s = conv1.describe(in, sub(name, "conv1"), rows);
  s = bn1.describe(s, sub(name, "bn1"), rows);
  s = conv2.describe(s, sub(name, "conv2"), rows);
  s = bn2.describe(s, sub(name, "bn2"), rows);
  if (downsample) downsample->describe(in, sub(name, "downsample"), rows);
  return s;
}

// ---- Bottleneck: 1x1 reduce, 3x3 (stride here, v1.5), 1x1 expand x4 ------------------------------
Bottleneck::Bottleneck(int inplanes, int planes, int stride, bool ds, Rng& rng)
    : conv1(inplanes, planes, 1, 1, 0, false, rng), conv2(planes, planes, 3, stride, 1, false, rng),
      conv3(planes, planes * kExpansion, 1, 1, 0, false, rng), bn1(planes), bn2(planes), bn3(planes * kExpansion) {
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  register_module("conv2", &conv2);
  register_module("bn2", &bn2);
  register_module("conv3", &conv3);
  register_module("bn3", &bn3);
  if (ds) {
    downsample = make_downsample(inplanes, planes * kExpansion, stride, rng);
    register_module("downsample", downsample.get());
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  if (bn1.folded && bn2.folded && bn3.folded) {  // inference, as BasicBlock's
    const Tensor shortcut = downsample ? downsample->forward(x) : x;
    const Tensor h = conv2.forward_fused(conv1.forward_fused(x, Tensor(), true), Tensor(), true);
    return conv3.forward_fused(h, shortcut, true);
  }
  Tensor h = ag::relu(bn1(conv1(x)));
  h = ag::relu(bn2(conv2(h)));
  h = bn3(conv3(h));
  return ag::relu(ag::add(h, downsample ? downsample->forward(x) : x));
}

Shape Bottleneck::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape s = conv1.describe(in, sub(name, "conv1"), rows);
  s = bn1.describe(s, sub(name, "bn1"), rows);
  s = conv2.describe(s, sub(name, "conv2"), rows);
  s = bn2.describe(s, sub(name, "bn2"), rows);
  s = conv3.describe(s, sub(name, "conv3"), rows);
  s = bn3.describe(s, sub(name, "bn3"), rows);
  if (downsample) downsample->describe(in, sub(name, "downsample"), rows);
  return s;
}

// ---- ResNet ------------------------------------------------------------------------------------
ResNet::ResNet(const ResNetConfig& cfg, Rng& rng) : conv1(3, cfg.width, 7, 2, 3, false, rng), bn1(cfg.width) {
  register_module("conv1", &conv1);
  register_module("bn1", &bn1);
  const int expansion = cfg.bottleneck ? Bottleneck::kExpansion : BasicBlock::kExpansion;
  int inplanes = cfg.width;
  for (size_t stage = 0; stage < cfg.blocks.size(); stage++) {
    const int planes = cfg.width << stage, stride = stage == 0 ? 1 : 2;
    auto layer = std::make_unique<Sequential>();
    for (int b = 0; b < cfg.blocks[stage]; b++) {
      const int s = b == 0 ? stride : 1;
      const bool ds = b == 0 && (s != 1 || inplanes != planes * expansion);
      if (cfg.bottleneck) layer->add(std::make_unique<Bottleneck>(inplanes, planes, s, ds, rng));
      else layer->add(std::make_unique<BasicBlock>(inplanes, planes, s, ds, rng));
      inplanes = planes * expansion;
    }
    register_module("layer" + std::to_string(stage + 1), layer.get());
    layers.push_back(std::move(layer));
  }
  out_channels_ = inplanes;
  // torchvision's initialisation: convs kaiming_normal_(fan_out, relu); BN gamma 1, beta 0 (already).
  for (auto& [name, t] : named_parameters())
    if (t.dim() == 4) init_kaiming_normal(t, rng, /*fan_out=*/true);
}

Tensor ResNet::forward(const Tensor& x) {
  // with BN folded (inference), the stem is one op: its 4 MB output pooled a band at a time in cache
  Tensor h = bn1.folded ? ag::conv2d_relu_maxpool(x, conv1.weight, &conv1.prepared, conv1.bias, conv1.stride, conv1.pad,
                                                  maxpool.k, maxpool.stride, maxpool.pad)
                        : maxpool(ag::relu(bn1(conv1(x))));
  for (auto& layer : layers) h = layer->forward(h);
  return h;
}

Shape ResNet::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape s = conv1.describe(in, sub(name, "conv1"), rows);
  s = bn1.describe(s, sub(name, "bn1"), rows);
  s = maxpool.describe(s, sub(name, "maxpool"), rows);
  for (size_t i = 0; i < layers.size(); i++) s = layers[i]->describe(s, sub(name, ("layer" + std::to_string(i + 1)).c_str()), rows);
  return s;
}

void ResNet::fold_batchnorms() {
  fold_batchnorm(conv1, bn1);
  for (auto& layer : layers)
    for (size_t i = 0; i < layer->size(); i++) {
      Module& m = (*layer)[i];
      Sequential* ds = nullptr;
      if (auto* b = dynamic_cast<BasicBlock*>(&m)) {
        fold_batchnorm(b->conv1, b->bn1);
        fold_batchnorm(b->conv2, b->bn2);
        ds = b->downsample.get();
      } else if (auto* b = dynamic_cast<Bottleneck*>(&m)) {
        fold_batchnorm(b->conv1, b->bn1);
        fold_batchnorm(b->conv2, b->bn2);
        fold_batchnorm(b->conv3, b->bn3);
        ds = b->downsample.get();
      }
      if (ds) fold_batchnorm(dynamic_cast<Conv2d&>((*ds)[0]), dynamic_cast<BatchNorm2d&>((*ds)[1]));
    }
}
