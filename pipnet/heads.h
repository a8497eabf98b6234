// heads.h: what differs between the three heads around the network (pipnet.h): the loss of a batch and the
// decoding of the outputs into landmarks. Training, testing, inference and distillation call these and need not
// know which head they run.
//   pip    targets and loss of spec §4 (pip.h), decoding with neighbour merging (§6);
//   coord  L1 (reg_l2: L2) between the 2N outputs and the labels; decoding is the identity (coordnet.h);
//   map    MSE (cls_l1: L1) between the heatmaps and Gaussian targets; arg-max + quarter-cell decoding (mapnet.h).
// The loss weights cls_weight / reg_weight apply to PIP's terms only: each baseline has a single term.
#pragma once
#include <vector>

#include "pipnet/pip.h"

// The loss of a batch for the network's head, with its terms for the log: pip fills all of them; coord puts its
// loss in total and the mean error of the u's and of the v's in x and y (for the log only); map puts its loss in total
// and in score. Unused terms are 0.
PipLoss head_loss(const PipConfig& model, const PipOutput& out, const std::vector<std::vector<float>>& landmarks,
                  const Neighbors& nbr, const PipLossConfig& cfg);

// The decodings of the baselines (pip.h's decode() calls them when the output is theirs): merged == unmerged.
std::vector<Landmarks> decode_coords(const Tensor& coords);      // coordnet.cpp; confidence 0 (no score)
std::vector<Landmarks> decode_heatmaps(const Tensor& heatmaps);  // mapnet.cpp; confidence = the peak's value
