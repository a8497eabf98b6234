// pipnet.h: the PIP network (spec §1): a ResNet or MobileNetV2 trunk, optional layers that change the net stride, and five 1x1
// heads on the same feature map F [B, C, G, G], G = input_size / net_stride:
//   cls_layer   [B, N,    G, G]  score of each cell holding landmark i (raw: no sigmoid anywhere)
//   x_layer     [B, N,    G, G]  x offset inside the cell, in cell units; y_layer likewise
//   nb_x_layer  [B, N*nb, G, G]  x of neighbour j of landmark i (channel i*nb + j), relative to i's cell origin
//   nb_y_layer  [B, N*nb, G, G]
// Parameter names equal the official checkpoints' (conv1, bn1, layer1..4, [layer5, bn5, layer6, bn6 |
// deconv1, bn_deconv1], cls_layer, x_layer, y_layer, nb_x_layer, nb_y_layer; MobileNetV2: features.*, then the
// heads, as Pip_mbnetv2), so they load unchanged: the trunk is registered without a prefix.
#pragma once
#include <memory>
#include <string>

#include "layers/mobilenetv2.h"
#include "layers/resnet.h"

struct PipConfig {
  std::string backbone = "resnet18";  // resnet18 | resnet34 | resnet50 | resnet101 | mobilenetv2
  int width = 64;                     // 64 = torchvision: ResNet's first width; MobileNetV2's multiplier x 64
  int num_lms = 68;
  int num_nb = 10;
  int input_size = 256;
  int net_stride = 32;                // 16 (resnet18 only), 32, 64, 128 (ResNets); 32 only for mobilenetv2
  int grid() const { return input_size / net_stride; }  // G: the heads' map is G x G
};

struct PipOutput {
  Tensor cls, x, y, nb_x, nb_y;
};

class PIPNet : public Module {
 public:
  PIPNet(const PipConfig& cfg, Rng& rng);
  PipOutput run(const Tensor& images);  // images [B, 3, input, input], ImageNet-normalised -> the five maps
  PipOutput operator()(const Tensor& images) { return run(images); }
  Tensor forward(const Tensor& images) override;  // the feature map F [B, C, G, G] that the heads read
  void fold_batchnorms();               // inference (eval mode): trunk and layer5/layer6 BNs into their convs
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Device device() const { return cls_layer->weight.device(); }
  const PipConfig cfg;
  std::unique_ptr<Backbone> trunk;    // ResNet or MobileNetV2
  // stride variants (spec §1.2): S=64 adds layer5/bn5, S=128 also layer6/bn6, S=16 deconv1/bn_deconv1
  std::unique_ptr<Conv2d> layer5, layer6;
  std::unique_ptr<BatchNorm2d> bn5, bn6, bn_deconv1;
  std::unique_ptr<ConvTranspose2d> deconv1;
  std::unique_ptr<Conv2d> cls_layer, x_layer, y_layer, nb_x_layer, nb_y_layer;
};

// ImageNet weights of a torchvision ResNet or MobileNetV2 (safetensors or .pth, PyTorch names) into the trunk; the stride layers and the
// heads keep their initialisation (the repo's --pretrained).
void load_pretrained_trunk(PIPNet& net, const std::string& path);

// The configuration an official PIPNet state_dict was trained with, read from its names and shapes: the backbone
// (Basic or Bottleneck blocks, and how many blocks layer3 has; MobileNetV2 by features.*), the width (conv1; for
// MobileNetV2 the multiplier whose channel table matches every block), the net stride (layer5 / layer6 /
// deconv1 present), the landmarks (cls_layer) and the neighbours (nb_x_layer / landmarks). The input size is not in
// the weights: `input_size` is used (256 in the official configs). An Error names `source` when it is no PIPNet.
PipConfig pip_config_from_weights(const NamedTensors& w, const std::string& source, int input_size = 256);
