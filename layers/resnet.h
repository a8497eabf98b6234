// resnet.h: torchvision's ResNets (v1.5: in a Bottleneck the stride sits on the 3x3 conv), up to layer4.
//
//   x [N, 3, H, W]
//   conv1 7x7/2 (64)  bn1  relu  maxpool 3x3/2 pad 1           -> [N, 64,  H/4,  W/4]
//   layer1 (stride 1)                                          -> [N, 64e, H/4,  W/4]    e = 1 (Basic), 4 (Bottleneck)
//   layer2 (stride 2)                                          -> [N, 128e, H/8, W/8]
//   layer3 (stride 2)                                          -> [N, 256e, H/16, W/16]
//   layer4 (stride 2)                                          -> [N, 512e, H/32, W/32]
// avgpool and fc are left out: PIP Net and the heatmap baselines read the layer4 map. Widths scale with
// `width` (64 = torchvision); small widths make the golden and gradient tests fast.
#pragma once
#include <string>
#include <vector>

#include "layers/module.h"

struct ResNetConfig {
  std::vector<int> blocks = {2, 2, 2, 2};  // blocks per stage; fewer than 4 stages is allowed (tests)
  bool bottleneck = false;
  int width = 64;                          // channels of conv1 and layer1's planes
  static ResNetConfig named(const std::string& name, int width = 64);  // resnet18/34/50/101
};

class BasicBlock : public Module {
 public:
  static constexpr int kExpansion = 1;
  BasicBlock(int inplanes, int planes, int stride, bool downsample, Rng& rng);
  Tensor forward(const Tensor& x) override;
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Conv2d conv1, conv2;
  BatchNorm2d bn1, bn2;
  std::unique_ptr<Sequential> downsample;  // conv1x1/stride + bn, when the shape changes
};

class Bottleneck : public Module {
 public:
  static constexpr int kExpansion = 4;
  Bottleneck(int inplanes, int planes, int stride, bool downsample, Rng& rng);
  Tensor forward(const Tensor& x) override;
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Conv2d conv1, conv2, conv3;
  BatchNorm2d bn1, bn2, bn3;
  std::unique_ptr<Sequential> downsample;
};

class ResNet : public Backbone {
 public:
  ResNet(const ResNetConfig& cfg, Rng& rng);
  Tensor forward(const Tensor& x) override;  // the last stage's feature map
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  int out_channels() const override { return out_channels_; }
  void fold_batchnorms() override;  // inference: every conv + bn pair of the trunk (the module must be in eval mode)
  Conv2d conv1;
  BatchNorm2d bn1;
  MaxPool2d maxpool{3, 2, 1};
  std::vector<std::unique_ptr<Sequential>> layers;  // layer1..layer4

 private:
  int out_channels_;
};
