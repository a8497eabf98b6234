// norm.cpp: BatchNorm2d on the CPU, parallel over channels. Formulas and their derivation: ref::batchnorm_*.
// Every sum is accumulated in double, as PyTorch's CPU kernels do (their accumulate type for float is double): a
// channel of a 16x64x128x128 batch has 262,144 values, and the backward's sum of dy*(x-mean) cancels heavily.
// Measured against PyTorch in float64 (tools/check_golden_full.sh), float row sums made train-mode gradients of a
// full ResNet several times less exact than PyTorch's own.
#include <cmath>

#include "kernels/cpu/cpu.h"

namespace cpu {

void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                             double momentum, float* running_mean, float* running_var, float* y, float* save_mean,
                             float* save_invstd) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; c++) {
    double sum = 0;
    for (int n = 0; n < N; n++) {
      const float* xc = x + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) sum += xc[i];
    }
    const int64_t cnt = (int64_t)N * HW;
    const double mean = sum / cnt;
    double sq = 0;
    for (int n = 0; n < N; n++) {
      const float* xc = x + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) { const double d = xc[i] - mean; sq += d * d; }
    }
    const double var = sq / cnt, invstd = 1.0 / std::sqrt(var + eps);
    const float scale = (float)(invstd * gamma[c]), shift = (float)(beta[c] - mean * invstd * gamma[c]);
    for (int n = 0; n < N; n++) {
      const float* xc = x + ((int64_t)n * C + c) * HW;
      float* yc = y + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) yc[i] = xc[i] * scale + shift;
    }
    save_mean[c] = (float)mean;
    save_invstd[c] = (float)invstd;
    if (running_mean) {
      running_mean[c] = (float)((1 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = (float)((1 - momentum) * running_var[c] + momentum * (cnt > 1 ? sq / (cnt - 1) : var));
    }
  }
}

void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                            const float* running_mean, const float* running_var, float* y) {
#pragma omp parallel for collapse(2) schedule(static)
  for (int n = 0; n < N; n++)
    for (int c = 0; c < C; c++) {
      const double invstd = 1.0 / std::sqrt((double)running_var[c] + eps);
      const float scale = (float)(invstd * gamma[c]), shift = (float)(beta[c] - running_mean[c] * invstd * gamma[c]);
      const float* xc = x + ((int64_t)n * C + c) * HW;
      float* yc = y + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) yc[i] = xc[i] * scale + shift;
    }
}

void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; c++) {
    const float mean = save_mean[c], invstd = save_invstd[c];
    double sdy = 0, sdyx = 0;
    for (int n = 0; n < N; n++) {
      const float* xc = x + ((int64_t)n * C + c) * HW;
      const float* dc = dy + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) { sdy += dc[i]; sdyx += (double)dc[i] * (xc[i] - mean); }
    }
    sdyx *= invstd;
    const double m = (double)N * HW;
    // dx = gamma*invstd * (dy - sdy/m - xhat*sdyx/m), xhat = (x-mean)*invstd
    const float km = (float)(gamma[c] * invstd), a = (float)(sdy / m), b = (float)(sdyx / m * invstd);
    for (int n = 0; n < N; n++) {
      const float* xc = x + ((int64_t)n * C + c) * HW;
      const float* dc = dy + ((int64_t)n * C + c) * HW;
      float* o = dx + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) o[i] += km * (dc[i] - a - (xc[i] - mean) * b);
    }
    dgamma[c] += (float)sdyx;
    dbeta[c] += (float)sdy;
  }
}

void batchnorm_backward_eval(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                             const float* running_mean, const float* running_var, double eps, float* dx, float* dgamma,
                             float* dbeta) {
#pragma omp parallel for schedule(static)
  for (int c = 0; c < C; c++) {
    const float invstd = (float)(1.0 / std::sqrt((double)running_var[c] + eps)), k = gamma[c] * invstd;
    const float mean = running_mean[c];
    double sdy = 0, sdyx = 0;
    for (int n = 0; n < N; n++) {
      const float* xc = x + ((int64_t)n * C + c) * HW;
      const float* dc = dy + ((int64_t)n * C + c) * HW;
      float* o = dx + ((int64_t)n * C + c) * HW;
      for (int i = 0; i < HW; i++) { sdy += dc[i]; sdyx += (double)dc[i] * (xc[i] - mean); o[i] += k * dc[i]; }
    }
    dgamma[c] += (float)(sdyx * invstd);
    dbeta[c] += (float)sdy;
  }
}

}  // namespace cpu
