#include "pipnet/heads.h"

#include <cmath>

PipLoss head_loss(const PipConfig& m, const PipOutput& out, const std::vector<std::vector<float>>& lms,
                  const Neighbors& nbr, const PipLossConfig& cfg) {
  if (m.head == "pip") return pip_loss(out, make_targets(lms, nbr, m.grid()), cfg);
  const Tensor zero = Tensor::zeros(Shape{}, DType::F32, m.head == "coord" ? out.coords.device() : out.heatmaps.device());
  PipLoss L{zero, zero, zero, zero, zero, zero};
  if (m.head == "coord") {
    CHECK_OR_FAIL(out.coords.defined(), "loss: the coord head's outputs are missing");
    const int N = (int)out.coords.size(1) / 2;
    const Tensor t = coord_targets(lms, N).to(out.coords.device());
    L.total = cfg.reg_l2 ? ag::mse_loss(out.coords, t) : ag::l1_loss(out.coords, t);
    // the mean |error| of the u's and of the v's, on the host, for the log's x and y columns
    const std::vector<float> p = out.coords.to_vector(), q = t.to_vector();
    double ex = 0, ey = 0;
    for (size_t k = 0; k < p.size(); k += 2) ex += std::fabs(p[k] - q[k]), ey += std::fabs(p[k + 1] - q[k + 1]);
    L.x = Tensor::full(Shape{}, 2 * ex / p.size());
    L.y = Tensor::full(Shape{}, 2 * ey / p.size());
    return L;
  }
  CHECK_OR_FAIL(m.head == "map" && out.heatmaps.defined(), "loss: head '" + m.head + "' has no outputs to score");
  const Tensor t = map_targets(lms, (int)out.heatmaps.size(1), (int)out.heatmaps.size(2), map_sigma(m.net_stride));
  L.score = cfg.cls_l1 ? ag::l1_loss(out.heatmaps, t.to(out.heatmaps.device())) : ag::mse_loss(out.heatmaps, t.to(out.heatmaps.device()));
  L.total = L.score;
  return L;
}
