// pip.h: what PIP does around the network: the training targets (spec §4.1), the loss (§4.2) and the decoding
// with neighbour merging (§6.1, §6.2). Landmarks are in normalised crop coordinates throughout: u = x / crop_w.
#pragma once
#include <vector>

#include "pipnet/meanface.h"
#include "pipnet/pipnet.h"

// Targets for a batch, built from landmarks [B][N*2] after augmentation. Only what the loss reads is kept: the
// one-hot score maps, and the offsets at each landmark's ground-truth cell.
struct PipTargets {
  Tensor score;  // [B, N, G, G]  1 at the landmark's cell, else 0
  Tensor cell;   // [B, N] i32   r*G + c, with c = clamp(floor(u*G), 0, G-1), r likewise from v
  Tensor off_x;  // [B, N]       u*G - c    (may leave [0,1]: see spec §11.4)
  Tensor off_y;  // [B, N]       v*G - r
  Tensor nb_x;   // [B, N*nb]    u_k*G - c for k = nb[i][j], channel i*nb + j
  Tensor nb_y;   // [B, N*nb]
};
PipTargets make_targets(const std::vector<std::vector<float>>& landmarks, const Neighbors& nbr, int G);

struct PipLossConfig {
  double cls_weight = 10.0, reg_weight = 1.0;
  bool reg_l2 = false;  // the seed paper's all-L2 variant; the repo's default is L1 for the offsets
  bool cls_l1 = false;  // the config's alternative criterion for the score maps
};
struct PipLoss {
  Tensor total, score, x, y, nb_x, nb_y;  // 0-d tensors
};
// L = w_cls * MSE(cls, score) + w_reg * (L1(x@cell, off_x) + L1(y@cell, off_y) + L1(nb_x@cell, nb_x) + L1(nb_y@cell, nb_y))
PipLoss pip_loss(const PipOutput& out, const PipTargets& t, const PipLossConfig& cfg);

struct Landmarks {
  std::vector<float> merged;    // [N*2] with neighbour merging: what the repo reports
  std::vector<float> unmerged;  // [N*2] score + own offset only (the seed paper's decoding)
  std::vector<float> max_cls;   // [N] the peak raw score, a rough confidence (issue #35 of the repo)
};
// Decodes every image of the batch (outputs in eval mode, any device). Outputs of the coord or map head are decoded
// by their own rule (heads.h); the neighbour table and the stride are PIP's.
std::vector<Landmarks> decode(const PipOutput& out, const Neighbors& nbr, int input_size, int net_stride);
