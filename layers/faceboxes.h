// faceboxes.h: FaceBoxesV2, the face detector of the official PIPNet demo (spec §6.4; the author's lighter variant
// of FaceBoxes, Zhang et al. 2017: plain 3x3/2 convolutions in place of FaceBoxes' CReLU 7x7 and 5x5 layers). Names
// follow its state_dict ("conv1.conv.weight", "inception2.branch3x3_2.bn.running_var", "loc.0.bias"), so
// FaceBoxesV2.pth loads unchanged. Sizes below are ceilings: every 3x3/2 convolution has pad 1.
//
//   x [1, 3, H, W]   BGR minus the mean (104, 117, 123), pixels at 0..255 scale
//   conv1..conv5     3x3/2 conv + BN + ReLU, 3 -> 8 -> 16 -> 32 -> 64 -> 128          [1, 128, H/32, W/32]
//   inception1..3    four 32-channel branches, concatenated (Inception below)        [1, 128, H/32, W/32]   source 0
//   conv6_1, conv6_2 1x1 (128) + BN + ReLU, 3x3/2 (256) + BN + ReLU                  [1, 256, H/64, W/64]   source 1
//   conv7_1, conv7_2 the same again                                                  [1, 256, H/128, W/128] source 2
//   heads            3x3 conv with bias on source i: loc.i [1, A_i*4, h, w], conf.i [1, A_i*2, h, w]
//                    A = 21, 1, 1 anchors per cell (pipnet/detector.h lays the anchors out and decodes them)
#pragma once
#include <memory>

#include "layers/module.h"

// conv (no bias) + BatchNorm + ReLU: the official BasicConv2d ("NAME.conv", "NAME.bn").
class ConvBnRelu : public Module {
 public:
  ConvBnRelu(int in, int out, int k, int stride, int pad, Rng& rng);
  Tensor forward(const Tensor& x) override { return ag::relu(bn(conv(x))); }
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  void fold() { fold_batchnorm(conv, bn); }  // inference (eval mode)
  Conv2d conv;
  BatchNorm2d bn;
};

// The inception block, x [N, 128, h, w] -> [N, 128, h, w], channels in this order:
//   branch1x1                                   1x1 (32)
//   avgpool 3x3/1 pad 1 (zeros counted), then   branch1x1_2 1x1 (32)
//   branch3x3_reduce 1x1 (24), then             branch3x3 3x3 (32)
//   branch3x3_reduce_2 1x1 (24), then           branch3x3_2 3x3 (32), branch3x3_3 3x3 (32)
class Inception : public Module {
 public:
  explicit Inception(Rng& rng);
  Tensor forward(const Tensor& x) override;
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  void fold();
  ConvBnRelu branch1x1, branch1x1_2, branch3x3_reduce, branch3x3, branch3x3_reduce_2, branch3x3_2, branch3x3_3;
};

struct FaceBoxesOutput {
  Tensor loc[3], conf[3];  // per source: [1, A*4, h, w] box regressions and [1, A*2, h, w] class scores (raw)
};

class FaceBoxesV2 : public Module {
 public:
  static constexpr int kAnchors[3] = {21, 1, 1};  // per cell of each source
  explicit FaceBoxesV2(Rng& rng);
  FaceBoxesOutput run(const Tensor& x);  // the six head maps
  Tensor forward(const Tensor& x) override;  // source 0, the inception3 map
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  void fold_batchnorms();  // inference: every BN into its convolution (the module must be in eval mode)
  Device device() const { return conv1.conv.weight.device(); }
  ConvBnRelu conv1, conv2, conv3, conv4, conv5;
  Inception inception1, inception2, inception3;
  ConvBnRelu conv6_1, conv6_2, conv7_1, conv7_2;
  Sequential loc, conf;  // three Conv2d each ("loc.0" ... "conf.2"), read by index: nothing chains them
};
