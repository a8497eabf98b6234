// elementwise.cpp: the memory-bound CPU kernels (ReLU, ReLU6, leaky ReLU, add, pools, concatenation, losses, the cell
// gather, Adam, SGD), OpenMP-parallel. Formulas: the ref:: kernel of the same name. Reductions accumulate in double
// per thread.
#include <xmmintrin.h>

#include <cmath>
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu.h"

namespace cpu {

static constexpr int64_t kParallelMin = 1 << 15;  // below this many elements a fork costs more than it saves

void relu_forward(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
void relu_backward(int64_t n, const float* y, const float* dy, float* dx) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
}
void relu6_forward(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
}
void relu6_backward(int64_t n, const float* y, const float* dy, float* dx) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) dx[i] += (y[i] > 0.0f && y[i] < 6.0f) ? dy[i] : 0.0f;
}
void leaky_relu_forward(int64_t n, double slope, const float* x, float* y) {
  const float s = (float)slope;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : s * x[i];
}
void leaky_relu_backward(int64_t n, double slope, const float* x, const float* dy, float* dx) {
  const float s = (float)slope;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0.0f ? dy[i] : s * dy[i];
}
void add(int64_t n, const float* a, const float* b, float* y) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}
void accumulate(int64_t n, const float* x, float* y) {
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] += x[i];
}
void axpy(int64_t n, double a, const float* x, float* y) {
  const float af = (float)a;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) y[i] += af * x[i];
}

// Separable: per output row, the max over the window's input rows (contiguous, vectorised) into a row padded with
// -inf on both sides, then the max over each window's columns of that row. `v > m ? v : m` from -inf, as the
// reference, so NaN is skipped the same way and the result is the reference's bit for bit.
void maxpool_forward(const PoolGeom& g, const float* x, float* y) {
  const int padded = g.W + 2 * g.pad + g.k + 8;  // + 8: the 3x3/2 column pass below reads up to 6 floats past a window
#pragma omp parallel if ((int64_t)g.N * g.C * g.P * g.Q > 32768)
  {
    std::vector<float> rm(padded, -std::numeric_limits<float>::infinity());
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++) {
      const float* xp = x + nc * g.H * g.W;
      float* yp = y + nc * g.P * g.Q;
      float* row = rm.data() + g.pad;  // row[w] for input column w, -inf outside [0, W)
      for (int p = 0; p < g.P; p++) {
        for (int w = 0; w < g.W; w++) row[w] = -std::numeric_limits<float>::infinity();
        for (int r = 0; r < g.k; r++) {
          const int h = p * g.stride - g.pad + r;
          if (h < 0 || h >= g.H) continue;
          const float* xr = xp + (int64_t)h * g.W;
#pragma omp simd
          for (int w = 0; w < g.W; w++) row[w] = xr[w] > row[w] ? xr[w] : row[w];
        }
        int q = 0;
        if (g.k == 3 && g.stride == 2)  // ResNet's 3x3/2: four outputs at a time, columns split by parity (SSE)
          for (; q + 4 <= g.Q; q += 4) {
            const float* win = rm.data() + 2 * q;
            const __m128 a = _mm_loadu_ps(win), b = _mm_loadu_ps(win + 4), c = _mm_loadu_ps(win + 2),
                         d = _mm_loadu_ps(win + 6);
            const __m128 c0 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), c1 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)),
                         c2 = _mm_shuffle_ps(c, d, _MM_SHUFFLE(2, 0, 2, 0));  // window columns 0, 1, 2 of outputs q..q+3
            // _mm_max_ps(v, m) is v > m ? v : m, as below: the same result bit for bit, NaN included
            const __m128 best = _mm_max_ps(c2, _mm_max_ps(c1, _mm_max_ps(c0, _mm_set1_ps(-std::numeric_limits<float>::infinity()))));
            _mm_storeu_ps(yp + p * g.Q + q, best);
          }
        for (; q < g.Q; q++) {
          const float* win = rm.data() + q * g.stride;  // columns q*stride - pad ..
          float best = -std::numeric_limits<float>::infinity();
          for (int s = 0; s < g.k; s++) best = win[s] > best ? win[s] : best;
          yp[p * g.Q + q] = best;
        }
      }
    }
  }
}

void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  // Parallel over (n, c) planes: windows overlap inside a plane, never across planes.
#pragma omp parallel for schedule(static)
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++) {
    const float* xp = x + nc * g.H * g.W;
    float* dxp = dx + nc * g.H * g.W;
    for (int p = 0; p < g.P; p++)
      for (int q = 0; q < g.Q; q++) {
        int at = -1;
        for (int r = 0; r < g.k; r++) {
          const int h = p * g.stride - g.pad + r;
          if (h < 0 || h >= g.H) continue;
          for (int s = 0; s < g.k; s++) {
            const int w = q * g.stride - g.pad + s;
            if (w >= 0 && w < g.W && (at < 0 || xp[h * g.W + w] > xp[at])) at = h * g.W + w;
          }
        }
        if (at >= 0) dxp[at] += dy[nc * g.P * g.Q + p * g.Q + q];
      }
  }
}

void avgpool_forward(int64_t NC, int HW, const float* x, float* y) {
#pragma omp parallel for schedule(static) if (NC * HW > kParallelMin)
  for (int64_t i = 0; i < NC; i++) {
    double s = 0;
    for (int j = 0; j < HW; j++) s += x[i * HW + j];
    y[i] = (float)(s / HW);
  }
}
void avgpool_backward(int64_t NC, int HW, const float* dy, float* dx) {
#pragma omp parallel for schedule(static) if (NC * HW > kParallelMin)
  for (int64_t i = 0; i < NC; i++)
    for (int j = 0; j < HW; j++) dx[i * HW + j] += dy[i] / (float)HW;
}

// Windowed average pool: one plane per thread, the window clipped to the image once per output row and column.
void avgpool2d_forward(const PoolGeom& g, const float* x, float* y) {
#pragma omp parallel for schedule(static) if ((int64_t)g.N * g.C * g.P * g.Q * g.k * g.k > kParallelMin)
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++) {
    const float* xp = x + nc * g.H * g.W;
    float* yp = y + nc * g.P * g.Q;
    for (int p = 0; p < g.P; p++) {
      const int h0 = std::max(p * g.stride - g.pad, 0), h1 = std::min(p * g.stride - g.pad + g.k, g.H);
      for (int q = 0; q < g.Q; q++) {
        const int w0 = std::max(q * g.stride - g.pad, 0), w1 = std::min(q * g.stride - g.pad + g.k, g.W);
        float s = 0.0f;
        for (int h = h0; h < h1; h++)
          for (int w = w0; w < w1; w++) s += xp[h * g.W + w];
        yp[p * g.Q + q] = s / (float)(g.k * g.k);
      }
    }
  }
}
void avgpool2d_backward(const PoolGeom& g, const float* dy, float* dx) {
#pragma omp parallel for schedule(static) if ((int64_t)g.N * g.C * g.P * g.Q * g.k * g.k > kParallelMin)
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++) {
    float* xp = dx + nc * g.H * g.W;
    const float* yp = dy + nc * g.P * g.Q;
    for (int p = 0; p < g.P; p++) {
      const int h0 = std::max(p * g.stride - g.pad, 0), h1 = std::min(p * g.stride - g.pad + g.k, g.H);
      for (int q = 0; q < g.Q; q++) {
        const int w0 = std::max(q * g.stride - g.pad, 0), w1 = std::min(q * g.stride - g.pad + g.k, g.W);
        const float d = yp[p * g.Q + q] / (float)(g.k * g.k);
        for (int h = h0; h < h1; h++)
          for (int w = w0; w < w1; w++) xp[h * g.W + w] += d;
      }
    }
  }
}

// Channel concatenation: one contiguous block of C*HW floats per image.
void concat_channels_forward(int N, int C, int HW, int Ctot, int c0, const float* x, float* y) {
  const int64_t block = (int64_t)C * HW;
#pragma omp parallel for schedule(static) if ((int64_t)N * block > kParallelMin)
  for (int n = 0; n < N; n++) std::copy(x + n * block, x + (n + 1) * block, y + ((int64_t)n * Ctot + c0) * HW);
}
void concat_channels_backward(int N, int C, int HW, int Ctot, int c0, const float* dy, float* dx) {
  const int64_t block = (int64_t)C * HW;
#pragma omp parallel for schedule(static) if ((int64_t)N * block > kParallelMin)
  for (int n = 0; n < N; n++) {
    const float* src = dy + ((int64_t)n * Ctot + c0) * HW;
    float* dst = dx + n * block;
#pragma omp simd
    for (int64_t i = 0; i < block; i++) dst[i] += src[i];
  }
}

// Reductions in fixed chunks summed in order, so that a loss is bit-identical from run to run (OpenMP's
// reduction clause may combine thread partials in any order): resumed training must equal uninterrupted training.
template <class F> static double chunked_sum(int64_t n, F term) {
  constexpr int64_t kChunk = 4096;
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(chunks);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t c = 0; c < chunks; c++) {
    double s = 0;
    for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); i++) s += term(i);
    part[c] = s;
  }
  double s = 0;
  for (double v : part) s += v;
  return s;
}

double mse_loss(int64_t n, const float* p, const float* t) {
  return chunked_sum(n, [&](int64_t i) { double d = (double)p[i] - t[i]; return d * d; }) / n;
}
void mse_loss_backward(int64_t n, const float* p, const float* t, double dloss, float* dp) {
  const float k = (float)(2.0 * dloss / n);
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) dp[i] += k * (p[i] - t[i]);
}
double l1_loss(int64_t n, const float* p, const float* t) {
  return chunked_sum(n, [&](int64_t i) { return std::fabs((double)p[i] - t[i]); }) / n;
}
void l1_loss_backward(int64_t n, const float* p, const float* t, double dloss, float* dp) {
  const float k = (float)(dloss / n);
#pragma omp parallel for schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) { float d = p[i] - t[i]; dp[i] += k * (float)((d > 0) - (d < 0)); }
}

void adam_step(int64_t n, float* p, const float* g, float* m, float* v, const AdamParams& a) {
  const double bc1 = 1 - std::pow(a.beta1, (double)a.t), bc2s = std::sqrt(1 - std::pow(a.beta2, (double)a.t));
  const float step = (float)(a.lr / bc1), b1 = (float)a.beta1, b2 = (float)a.beta2, wd = (float)a.weight_decay;
  const float ib2s = (float)bc2s, eps = (float)a.eps;
#pragma omp parallel for simd schedule(static) if (n > kParallelMin)
  for (int64_t i = 0; i < n; i++) {
    const float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    p[i] -= step * m[i] / (std::sqrt(v[i]) / ib2s + eps);
  }
}

// The cell gather (a few thousand elements per batch) and SGD (not the optimizer PIP trains with) run the reference
// loops at float: nothing here is worth a faster version yet.
void gather_cells(int B, int C, int HW, int rep, const float* x, const int32_t* cell, float* y) {
  ref::gather_cells<float>(B, C, HW, rep, x, cell, y);
}
void gather_cells_backward(int B, int C, int HW, int rep, const float* dy, const int32_t* cell, float* dx) {
  ref::gather_cells_backward<float>(B, C, HW, rep, dy, cell, dx);
}
void sgd_step(int64_t n, float* p, const float* g, float* buf, double lr, double momentum, double wd, bool first) {
  ref::sgd_step<float>(n, p, g, buf, lr, momentum, wd, first);
}

}  // namespace cpu
