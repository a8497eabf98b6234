// mapnet.h: Map Net, the heatmap-regression baseline of the PIP paper (§4.3, "Heads": MapNet at net stride 4 / 2 / 1
// gives 4.52 / 3.78 / 3.54% NME on 300W beside PIP's 3.52%), built as Xiao, Wu & Wei's "Simple Baselines for Human
// Pose Estimation" head: from the trunk's stride-32 map, k transposed convolutions (4x4, stride 2, pad 1, no bias),
// each with BatchNorm and ReLU, double the resolution k times; a 1x1 convolution then gives one heatmap per landmark.
//   F [B, C, g, g] -> k x (deconv -> BN -> ReLU) [B, 4w, g*2^k, g*2^k] -> final_layer [B, N, G, G]
//   net stride 32 / 2^k: k = 3, 4, 5 for stride 4, 2, 1 (G = input / stride); 4w = 256 channels at width 64.
// Names and initialisation follow Simple Baselines' pose_resnet.py: deconv_layers.{3i, 3i+1} (the ReLUs hold no
// weights), final_layer; deconvolution and final weights N(0, 0.001^2), final bias 0, BN gamma 1, beta 0.
//
// Targets (the one formula that targets and decoding share): cell (x, y) of the G x G map covers
// [x/G, (x+1)/G) x [y/G, (y+1)/G) of the crop, as PIP's cells do (spec §4.1), and its centre is (x + 0.5)/G. A
// landmark (u, v) sits at map position (mx, my) = (u*G - 0.5, v*G - 0.5), sub-pixel, and its heatmap is the
// untruncated Gaussian
//     H[y][x] = exp(-((x - mx)^2 + (y - my)^2) / (2 sigma^2)),   sigma = 4 / net_stride map cells
// (sigma 1, 2, 4 at stride 4, 2, 1: always 4 input pixels). Decoding (Simple Baselines' get_final_preds): the
// arg-max cell (x, y) (first maximum on ties), moved a quarter cell towards the higher of its two neighbours in x,
// and likewise in y, where both neighbours exist (0 < x < G-1; Simple Baselines asks 1 < x, which skips cell 1),
// then u = (x + 0.5)/G, v = (y + 0.5)/G.
#pragma once
#include <memory>
#include <vector>

#include "layers/module.h"

class MapHead : public Module {
 public:
  // in_channels of the trunk's map; `channels` per deconvolution (256 at full width); `deconvs` = log2(32 / stride).
  MapHead(int in_channels, int channels, int deconvs, int num_lms, Rng& rng);
  Tensor forward(const Tensor& f) override;  // f [B, C, g, g] -> [B, N, g*2^deconvs, g*2^deconvs]
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Sequential deconv_layers;
  std::unique_ptr<Conv2d> final_layer;
};

int map_deconvs(int net_stride);     // 32 / net_stride = 2^k -> k; 0 when net_stride is not 1, 2, 4, 8 or 16
double map_sigma(int net_stride);    // 4.0 / net_stride
// Gaussian heatmaps [B, N, G, G] for landmarks [B][N*2] (the formula above).
Tensor map_targets(const std::vector<std::vector<float>>& landmarks, int N, int G, double sigma);
