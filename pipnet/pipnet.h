// pipnet.h: the landmark network: a ResNet or MobileNetV2 trunk and one of three heads (`head`):
//   pip    the PIP head (spec §1), below;
//   coord  Coord Net, the paper's coordinate-regression baseline: fully connected layers to 2N numbers
//          (pipnet/coordnet.h);
//   map    Map Net, the paper's heatmap baseline after Xiao et al.'s "Simple Baselines": deconvolutions up to
//          net stride 4, 2 or 1 and one heatmap per landmark (pipnet/mapnet.h).
// The PIP head: optional layers that change the net stride, and five 1x1 heads on the same feature map F [B, C, G, G],
// G = input_size / net_stride:
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
#include "pipnet/coordnet.h"
#include "pipnet/mapnet.h"

struct PipConfig {
  std::string backbone = "resnet18";  // resnet18 | resnet34 | resnet50 | resnet101 | mobilenetv2
  int width = 64;                     // 64 = torchvision: ResNet's first width; MobileNetV2's multiplier x 64
  int num_lms = 68;
  int num_nb = 10;
  int input_size = 256;
  int net_stride = 32;                // pip: 16 (resnet18 only), 32, 64, 128 (ResNets), 32 only for mobilenetv2;
                                      // map: the heatmaps' stride, 1, 2, 4, 8 or 16; coord: 32 (the trunk's own)
  std::string head = "pip";           // pip | coord | map
  int grid() const { return input_size / net_stride; }  // G: the heads' map (pip) or heatmaps (map) are G x G
};
// The rules between the fields above (stride vs backbone vs head); an Error naming the field and what it expects.
void check_config(const PipConfig& c);

// What the network computes: the five PIP maps, or a Coord Net's coordinates, or a Map Net's heatmaps.
struct PipOutput {
  Tensor cls = {}, x = {}, y = {}, nb_x = {}, nb_y = {};  // head pip
  Tensor coords = {};                                    // head coord: [B, 2N] u0 v0 u1 v1 ... in crop coordinates
  Tensor heatmaps = {};                                  // head map:   [B, N, G, G]
};

class PIPNet : public Module {
 public:
  PIPNet(const PipConfig& cfg, Rng& rng);
  PipOutput run(const Tensor& images);  // images [B, 3, input, input], ImageNet-normalised -> the head's outputs
  PipOutput operator()(const Tensor& images) { return run(images); }
  Tensor forward(const Tensor& images) override;  // the feature map F [B, C, G, G] that the head reads
  void fold_batchnorms();               // inference (eval mode): trunk and layer5/layer6 BNs into their convs
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Device device() const { return trunk->named_parameters().front().second.device(); }
  const PipConfig cfg;
  std::unique_ptr<Backbone> trunk;    // ResNet or MobileNetV2
  // stride variants (spec §1.2): S=64 adds layer5/bn5, S=128 also layer6/bn6, S=16 deconv1/bn_deconv1
  std::unique_ptr<Conv2d> layer5, layer6;
  std::unique_ptr<BatchNorm2d> bn5, bn6, bn_deconv1;
  std::unique_ptr<ConvTranspose2d> deconv1;
  std::unique_ptr<Conv2d> cls_layer, x_layer, y_layer, nb_x_layer, nb_y_layer;
  // fold_batchnorms, on the CPU: the pip head's 1x1 convolutions as one (their weights stacked: cls, x, y, nb_x, nb_y),
  // which run() uses when no gradient is wanted. Not a module: never saved, never trained.
  std::unique_ptr<Conv2d> heads_stacked;
  std::unique_ptr<CoordHead> coord_head;  // head coord: fc1, bn_fc1, fc2, bn_fc2, fc3 (no prefix)
  std::unique_ptr<MapHead> map_head;      // head map: deconv_layers.*, final_layer (no prefix)
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
