// elementwise.cpp: the memory-bound CPU kernels (ReLU, ReLU6, leaky ReLU, add, pools, concatenation, losses, the cell
// gather, Adam, SGD), OpenMP-parallel. Formulas: the ref:: kernel of the same name. Reductions accumulate in double
// per thread.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/cpu/cpu.h"

// The AVX-512 helpers below pass vectors by value; they are inlined within this file, so GCC's note that the ABI of
// such calls differs without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"
// (and GCC 12 takes _mm512_max_ps's undefined pass-through operand for an uninitialised variable)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

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

// max over the rows of columns c .. c + 15, -inf past W (rows[r] null: a padding row)
__attribute__((target("avx512f"), always_inline)) static inline __m512 column_max(const float* const* rows, int W, int c,
                                                                                   __m512 low) {
  const int left = W - c;
  const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : left <= 0 ? (__mmask16)0 : (__mmask16)((1u << left) - 1);
  __m512 v = low;
  for (int r = 0; r < 3; r++)
    if (rows[r]) v = _mm512_max_ps(_mm512_mask_loadu_ps(low, m, rows[r] + c), v);
  return v;
}
// ResNet's 3x3/2 pool with padding 1, one output row from its (up to) three input rows, 16 outputs at a time with
// AVX-512: the rows' max down each column (masked loads past W give -inf), split into even and odd columns by two
// permutes, and output q = max(column 2q - 1, 2q, 2q + 1), column 2q - 1 being the odd column before (the last one
// of the previous 16, -inf before the first). Maxima in the order of the code below, v > m ? v : m, so the result is
// the same bit for bit, NaN included.
__attribute__((target("avx512f"))) static void pool_row_3x3s2_avx512(const float* const* rows, int W, int Q, float* y) {
  const __m512 low = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odds = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
  __m512 odd_before = low;
  for (int q = 0; q < Q; q += 16) {
    const __m512 a = column_max(rows, W, 2 * q, low), b = column_max(rows, W, 2 * q + 16, low);
    const __m512 even = _mm512_permutex2var_ps(a, evens, b), odd = _mm512_permutex2var_ps(a, odds, b);
    const __m512 prev = _mm512_castsi512_ps(_mm512_alignr_epi32(_mm512_castps_si512(odd), _mm512_castps_si512(odd_before), 15));
    const __m512 best = _mm512_max_ps(odd, _mm512_max_ps(even, _mm512_max_ps(prev, low)));
    const int left = Q - q;
    _mm512_mask_storeu_ps(y + q, left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1), best);
    odd_before = odd;
  }
}
// Which row loop the pool uses (maxpool_force): pinned, or by default the AVX-512 one above for 3x3/2 pad 1 when the
// GEMM kernels are AVX-512's (gemm.h: gemm_avx512).
enum class PoolRows { kAuto, kSse, kAvx512 };
static PoolRows& pool_rows_pin() {
  static PoolRows p = PoolRows::kAuto;
  return p;
}
static bool pool_avx512() {
  const PoolRows p = pool_rows_pin();
  return p == PoolRows::kAuto ? gemm_avx512() : p == PoolRows::kAvx512;
}
bool maxpool_force(const char* name) {
  if (!name || !std::strcmp(name, "auto")) return pool_rows_pin() = PoolRows::kAuto, true;
  if (!std::strcmp(name, "sse")) return pool_rows_pin() = PoolRows::kSse, true;
  if (!std::strcmp(name, "avx512") && cpu_has_avx512f()) return pool_rows_pin() = PoolRows::kAvx512, true;
  return false;
}

// Separable: per output row, the max over the window's input rows (contiguous, vectorised) into a row padded with
// -inf on both sides, then the max over each window's columns of that row. `v > m ? v : m` from -inf, as the
// reference, so NaN is skipped the same way and the result is the reference's bit for bit.
// Output rows [p0, p1) of one plane, y[p * Q + q]; input row h (inside the image) at xrows + (h - h0) * ld. rm holds
// maxpool_row_floats(g) floats.
int maxpool_row_floats(const PoolGeom& g) { return g.W + 2 * g.pad + g.k + 8; }  // + 8: the 3x3/2 pass reads 6 past
void maxpool_plane_rows(const PoolGeom& g, const float* xrows, int h0, int64_t ld, int p0, int p1, float* y, float* rm) {
  constexpr float kLow = -std::numeric_limits<float>::infinity();
  const bool avx512 = g.k == 3 && g.stride == 2 && g.pad == 1 && pool_avx512();
  if (!avx512)  // (the row loop below reads rm's padding; the AVX-512 one masks it)
    for (int i = 0; i < maxpool_row_floats(g); i++) rm[i] = kLow;
  float* row = rm + g.pad;  // row[w] for input column w, -inf outside [0, W)
  for (int p = p0; p < p1; p++) {
    if (avx512) {
      const float* rows[3];
      for (int r = 0; r < 3; r++) {
        const int h = 2 * p - 1 + r;
        rows[r] = h >= 0 && h < g.H ? xrows + (int64_t)(h - h0) * ld : nullptr;
      }
      pool_row_3x3s2_avx512(rows, g.W, g.Q, y + (int64_t)p * g.Q);
      continue;
    }
    for (int w = 0; w < g.W; w++) row[w] = kLow;
    for (int r = 0; r < g.k; r++) {
      const int h = p * g.stride - g.pad + r;
      if (h < 0 || h >= g.H) continue;
      const float* xr = xrows + (int64_t)(h - h0) * ld;
#pragma omp simd
      for (int w = 0; w < g.W; w++) row[w] = xr[w] > row[w] ? xr[w] : row[w];
    }
    int q = 0;
    if (g.k == 3 && g.stride == 2)  // ResNet's 3x3/2: four outputs at a time, columns split by parity (SSE)
      for (; q + 4 <= g.Q; q += 4) {
        const float* win = rm + 2 * q;
        const __m128 a = _mm_loadu_ps(win), b = _mm_loadu_ps(win + 4), c = _mm_loadu_ps(win + 2),
                     d = _mm_loadu_ps(win + 6);
        const __m128 c0 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), c1 = _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)),
                     c2 = _mm_shuffle_ps(c, d, _MM_SHUFFLE(2, 0, 2, 0));  // window columns 0, 1, 2 of outputs q..q+3
        // _mm_max_ps(v, m) is v > m ? v : m, as below: the same result bit for bit, NaN included
        const __m128 best = _mm_max_ps(c2, _mm_max_ps(c1, _mm_max_ps(c0, _mm_set1_ps(kLow))));
        _mm_storeu_ps(y + p * g.Q + q, best);
      }
    for (; q < g.Q; q++) {
      const float* win = rm + q * g.stride;  // columns q*stride - pad ..
      float best = kLow;
      for (int s = 0; s < g.k; s++) best = win[s] > best ? win[s] : best;
      y[p * g.Q + q] = best;
    }
  }
}

void maxpool_forward(const PoolGeom& g, const float* x, float* y) {
#pragma omp parallel if ((int64_t)g.N * g.C * g.P * g.Q > 32768)
  {
    std::vector<float> rm(maxpool_row_floats(g));
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++)
      maxpool_plane_rows(g, x + nc * g.H * g.W, 0, g.W, 0, g.P, y + nc * g.P * g.Q, rm.data());
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
