// coordnet.h: Coord Net, the coordinate-regression baseline of the PIP paper (§4.3, "Heads": CoordNet 5.31% NME on
// 300W beside PIP's 3.52%): the trunk's stride-32 map, flattened, then three fully connected layers of 512, 512 and
// 2N outputs, batch normalisation and ReLU after the first two:
//   F [B, C, g, g]  (g = input / 32)  -> flatten [B, C*g*g]
//   fc1 [B, 8w] -> bn_fc1 -> ReLU -> fc2 [B, 8w] -> bn_fc2 -> ReLU -> fc3 [B, 2N]   (8w = 512 at width 64)
// The output is the landmarks themselves, u0 v0 u1 v1 ... in crop coordinates (the same numbers as the labels), so
// the loss is L1 (or L2) against the labels and decoding is the identity.
//
// Flatten, not global average pooling: the paper names only fully connected layers after the backbone, and a
// global pool would throw away *where* each feature is, the very thing coordinates are made of; flattening keeps
// the g x g layout for fc1 to read (the classical regression heads do the same). The cost is a large fc1:
// 512*8*8 x 512 = 16.8M weights at 256x256, more than ResNet-18's trunk.
#pragma once
#include <memory>
#include <vector>

#include "layers/module.h"

class CoordHead : public Module {
 public:
  // in_features = C*g*g of the trunk's map; hidden = 512 at full width.
  CoordHead(int64_t in_features, int hidden, int num_lms, Rng& rng);
  Tensor forward(const Tensor& f) override;  // f [B, C, g, g] -> [B, 2N]
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  std::unique_ptr<Linear> fc1, fc2, fc3;
  std::unique_ptr<BatchNorm1d> bn_fc1, bn_fc2;
};

// The labels as the regression target: [B, 2N] (u0 v0 u1 v1 ...), as they are (no clamping).
Tensor coord_targets(const std::vector<std::vector<float>>& landmarks, int N);
