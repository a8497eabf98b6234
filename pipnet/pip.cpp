#include "pipnet/pip.h"

#include <cmath>

#include "pipnet/heads.h"

PipTargets make_targets(const std::vector<std::vector<float>>& lms, const Neighbors& nbr, int G) {
  const int B = (int)lms.size(), N = nbr.N, nb = nbr.nb;
  PipTargets t;
  t.score = Tensor::zeros({B, N, G, G});
  t.cell = Tensor::zeros({B, N}, DType::I32);
  t.off_x = Tensor::zeros({B, N});
  t.off_y = Tensor::zeros({B, N});
  t.nb_x = Tensor::zeros({B, N * nb});
  t.nb_y = Tensor::zeros({B, N * nb});
  for (int b = 0; b < B; b++) {
    CHECK_OR_FAIL((int)lms[b].size() == 2 * N, strf("targets: sample %d has %zu coordinates, expected %d", b, lms[b].size(), 2 * N));
    const float* p = lms[b].data();
    for (int i = 0; i < N; i++) {
      // in double, as the repo's numpy code: floor, then clamp into the grid
      const double u = p[2 * i] * (double)G, v = p[2 * i + 1] * (double)G;
      const int c = std::min(std::max((int)std::floor(u), 0), G - 1);
      const int r = std::min(std::max((int)std::floor(v), 0), G - 1);
      t.score.data<float>()[((int64_t)(b * N + i) * G + r) * G + c] = 1.0f;
      t.cell.data<int32_t>()[b * N + i] = r * G + c;
      t.off_x.data<float>()[b * N + i] = (float)(u - c);
      t.off_y.data<float>()[b * N + i] = (float)(v - r);
      for (int j = 0; j < nb; j++) {
        const int k = nbr.idx[i * nb + j];
        t.nb_x.data<float>()[(b * N + i) * nb + j] = (float)(p[2 * k] * (double)G - c);
        t.nb_y.data<float>()[(b * N + i) * nb + j] = (float)(p[2 * k + 1] * (double)G - r);
      }
    }
  }
  return t;
}

PipLoss pip_loss(const PipOutput& out, const PipTargets& t, const PipLossConfig& cfg) {
  const int nb = out.nb_x.defined() ? (int)(out.nb_x.size(1) / out.x.size(1)) : 0;
  auto reg = [&](const Tensor& p, const Tensor& target) {
    return cfg.reg_l2 ? ag::mse_loss(p, target) : ag::l1_loss(p, target);
  };
  Tensor cell = t.cell.to(out.x.device());
  PipLoss L;
  L.score = cfg.cls_l1 ? ag::l1_loss(out.cls, t.score.to(out.cls.device())) : ag::mse_loss(out.cls, t.score.to(out.cls.device()));
  L.x = reg(ag::gather_cells(out.x, cell, 1), t.off_x.to(out.x.device()));
  L.y = reg(ag::gather_cells(out.y, cell, 1), t.off_y.to(out.x.device()));
  if (nb == 0) {  // the seed paper's head: score and offsets only; the neighbour terms read as 0 in the log
    L.nb_x = Tensor::zeros(Shape{}, out.x.dtype(), out.x.device());
    L.nb_y = Tensor::zeros(Shape{}, out.x.dtype(), out.x.device());
    L.total = ag::weighted_sum({L.score, L.x, L.y}, {cfg.cls_weight, cfg.reg_weight, cfg.reg_weight});
    return L;
  }
  L.nb_x = reg(ag::gather_cells(out.nb_x, cell, nb), t.nb_x.to(out.x.device()));
  L.nb_y = reg(ag::gather_cells(out.nb_y, cell, nb), t.nb_y.to(out.x.device()));
  L.total = ag::weighted_sum({L.score, L.x, L.y, L.nb_x, L.nb_y},
                             {cfg.cls_weight, cfg.reg_weight, cfg.reg_weight, cfg.reg_weight, cfg.reg_weight});
  return L;
}

std::vector<Landmarks> decode(const PipOutput& out, const Neighbors& nbr, int input_size, int net_stride) {
  if (out.coords.defined()) return decode_coords(out.coords);  // the baselines (heads.h)
  if (out.heatmaps.defined()) return decode_heatmaps(out.heatmaps);
  Tensor cls = out.cls.to(Device::CPU), X = out.x.to(Device::CPU), Y = out.y.to(Device::CPU);
  const int B = cls.size(0), N = cls.size(1), G = cls.size(2), HW = G * cls.size(3), nb = nbr.nb, M = nbr.M;
  CHECK_OR_FAIL(N == nbr.N && (nb == 0 ? !out.nb_x.defined() : out.nb_x.defined() && out.nb_x.size(1) == (int64_t)N * nb),
                "decode: outputs do not match the neighbour table");
  Tensor NX = nb ? out.nb_x.to(Device::CPU) : Tensor(), NY = nb ? out.nb_y.to(Device::CPU) : Tensor();
  const float div = (float)(1.0 * input_size / net_stride);  // the repo divides by the float 256/S
  std::vector<Landmarks> res(B);
  for (int b = 0; b < B; b++) {
    Landmarks& L = res[b];
    L.unmerged.resize(2 * N);
    L.max_cls.resize(N);
    std::vector<float> nx((size_t)N * nb), ny((size_t)N * nb);
    for (int i = 0; i < N; i++) {
      const float* s = cls.data<float>() + (int64_t)(b * N + i) * HW;
      int best = 0;
      for (int k = 1; k < HW; k++) if (s[k] > s[best]) best = k;  // first maximum on ties
      const int r = best / G, c = best % G;                        // integer floor division (repo issue #4)
      L.max_cls[i] = s[best];
      L.unmerged[2 * i] = ((float)c + X.data<float>()[(int64_t)(b * N + i) * HW + best]) / div;
      L.unmerged[2 * i + 1] = ((float)r + Y.data<float>()[(int64_t)(b * N + i) * HW + best]) / div;
      for (int j = 0; j < nb; j++) {
        const int64_t ch = (int64_t)b * N * nb + i * nb + j;
        nx[i * nb + j] = ((float)c + NX.data<float>()[ch * HW + best]) / div;
        ny[i * nb + j] = ((float)r + NY.data<float>()[ch * HW + best]) / div;
      }
    }
    // merge: landmark k = mean of its own estimate and the M (cyclically padded) estimates its neighbours made
    L.merged.resize(2 * N);
    for (int k = 0; k < N; k++) {
      float sx = L.unmerged[2 * k], sy = L.unmerged[2 * k + 1];
      for (int m = 0; m < M; m++) {
        const int at = nbr.rev_i[k * M + m] * nb + nbr.rev_j[k * M + m];
        sx += nx[at];
        sy += ny[at];
      }
      L.merged[2 * k] = sx / (float)(1 + M);
      L.merged[2 * k + 1] = sy / (float)(1 + M);
    }
  }
  return res;
}
