// metrics.h: evaluation as the repo does it (spec §7), in normalised crop coordinates.
//   NME(image) = mean over landmarks of |pred - gt| / norm, norm = |gt[a] - gt[b]| (or 1 for AFLW)
//   CED(t) = fraction of images with NME <= t, t = 0, 1e-4, ..., 0.1
//   FR@0.1 = 1 - CED(0.1);  AUC@0.1 = Simpson's rule of CED over [0, 0.1], divided by 0.1
#pragma once
#include <string>
#include <vector>

struct NormSpec {
  int a = -1, b = -1;  // landmark pair; a < 0: norm 1 (AFLW's box-width normalisation)
  std::string name;
};
NormSpec norm_for(int n_points);  // 68: 36-45, 98: 60-72, 29: 8-9, 106: 66-79, 19: none

struct EvalResult {
  std::vector<double> nme;     // per evaluated image
  int zero_norm = 0;           // images skipped because their normaliser is 0 (spec §7: reported, not divided)
  double mean_nme = 0, fr = 0, auc = 0;
  std::vector<double> ced;     // 1001 values
};
// pred and gt: per image [N*2]
EvalResult evaluate(const std::vector<std::vector<float>>& pred, const std::vector<std::vector<float>>& gt,
                    const NormSpec& norm, double threshold = 0.1);
