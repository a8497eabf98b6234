#include "pipnet/metrics.h"

#include <algorithm>
#include <cmath>

#include "tensor/tensor.h"

NormSpec norm_for(int n) {
  if (n == 68) return {36, 45, "inter-ocular (36, 45)"};
  if (n == 98) return {60, 72, "inter-ocular (60, 72)"};
  if (n == 29) return {8, 9, "COFW (8, 9)"};
  if (n == 106) return {66, 79, "LaPa (66, 79)"};
  if (n == 19) return {-1, -1, "box width (AFLW)"};
  return {-1, -1, "crop width"};
}

EvalResult evaluate(const std::vector<std::vector<float>>& pred, const std::vector<std::vector<float>>& gt,
                    const NormSpec& norm, double threshold) {
  CHECK_OR_FAIL(pred.size() == gt.size(), "evaluate: prediction and ground-truth counts differ");
  EvalResult r;
  for (size_t i = 0; i < pred.size(); i++) {
    const auto &p = pred[i], &g = gt[i];
    CHECK_OR_FAIL(p.size() == g.size() && !g.empty(), "evaluate: point counts differ");
    double d = 1.0;
    if (norm.a >= 0) d = std::hypot(g[2 * norm.a] - g[2 * norm.b], g[2 * norm.a + 1] - g[2 * norm.b + 1]);
    if (!(d > 0)) { r.zero_norm++; continue; }
    double e = 0;
    for (size_t k = 0; k < g.size(); k += 2) e += std::hypot(p[k] - g[k], p[k + 1] - g[k + 1]);
    r.nme.push_back(e / (g.size() / 2) / d);
  }
  if (r.nme.empty()) return r;
  for (double v : r.nme) r.mean_nme += v / r.nme.size();
  const int steps = 1000;
  std::vector<double> sorted = r.nme;
  std::sort(sorted.begin(), sorted.end());
  for (int k = 0; k <= steps; k++) {
    const double t = threshold * k / steps;
    r.ced.push_back((double)(std::upper_bound(sorted.begin(), sorted.end(), t) - sorted.begin()) / sorted.size());
  }
  r.fr = 1.0 - r.ced.back();
  double s = r.ced[0] + r.ced[steps];  // composite Simpson: h/3 (f0 + 4 f1 + 2 f2 + ... + 4 f999 + f1000)
  for (int k = 1; k < steps; k++) s += (k % 2 ? 4 : 2) * r.ced[k];
  r.auc = s * (threshold / steps) / 3 / threshold;
  return r;
}
