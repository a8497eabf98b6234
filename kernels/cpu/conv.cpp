// conv.cpp: convolution on the CPU as im2col + GEMM.
//
// Per image n (dimension legend in kernels/geom.h; CRS = C*R*S, PQ = P*Q):
//   col  [CRS, PQ]  = im2col(x[n])
//   y[n] [K, PQ]    = w [K, CRS] * col                    (+ bias per row)
//   dw   [K, CRS]  += dy[n] [K, PQ] * col^T
//   dcol [CRS, PQ]  = w^T * dy[n];  dx[n] += col2im(dcol)
// A 1x1, stride-1, unpadded convolution has col == x[n], so it calls GEMM on the image directly.
#include <omp.h>

#include <cstring>

#include "kernels/cpu/cpu.h"

namespace cpu {

// Two ways to spread a convolution over the cores:
//   - batch >= threads (training): images are split across threads, each runs its own single-threaded GEMMs with
//     its own im2col buffer; weight gradients go to per-thread partials that are summed in thread order (so the
//     result does not depend on timing). One parallel region per convolution, no barriers inside.
//   - otherwise (inference at batch 1): one image at a time, the GEMM itself is parallel.
static int conv_threads(const ConvGeom& g) {
  const int t = omp_in_parallel() ? 1 : omp_get_max_threads();
  return g.N >= t ? t : 1;
}
// Runs body(n, t) for each image n, on thread t: T threads split the images, or with T == 1 this thread runs them in
// turn and each GEMM inside uses all the threads itself. (Not one OpenMP region with if (T > 1): a parallel region
// opened inside even an inactive one is a nested team to libgomp, which creates and destroys its threads every
// time. At batch 1 that was a thread start per GEMM and a quarter of the time spent in libgomp.)
template <class F>
static void for_each_image(int N, int T, F&& body) {
  if (T == 1) {
    for (int n = 0; n < N; n++) body(n, 0);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(T)
  for (int n = 0; n < N; n++) body(n, omp_get_thread_num());
}

static int64_t col_floats(const ConvGeom& g) { return g.is_pointwise() ? 0 : (int64_t)g.C * g.R * g.S * g.P * g.Q; }

int64_t conv2d_workspace(const ConvGeom& g) {
  const int t = conv_threads(g);
  return t * col_floats(g) + (t > 1 ? (int64_t)t * g.K * g.C * g.R * g.S : 0);  // columns, weight-gradient partials
}

void im2col(const ConvGeom& g, const float* x, float* col) {
  const int rows = g.C * g.R * g.S, PQ = g.P * g.Q;
#pragma omp parallel for schedule(static) if (rows * PQ > 32768)
  for (int row = 0; row < rows; row++) {
    const int c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
    const float* xc = x + (int64_t)c * g.H * g.W;
    float* out = col + (int64_t)row * PQ;
    for (int p = 0; p < g.P; p++, out += g.Q) {
      const int h = p * g.stride - g.pad + r;
      if (h < 0 || h >= g.H) { std::memset(out, 0, g.Q * sizeof(float)); continue; }
      const float* xr = xc + (int64_t)h * g.W;
      // q range whose w = q*stride - pad + s falls inside [0, W)
      int q0 = 0, q1 = g.Q;
      while (q0 < g.Q && q0 * g.stride - g.pad + s < 0) q0++;
      while (q1 > q0 && (q1 - 1) * g.stride - g.pad + s >= g.W) q1--;
      for (int q = 0; q < q0; q++) out[q] = 0.0f;
      if (g.stride == 1) std::memcpy(out + q0, xr + q0 - g.pad + s, (q1 - q0) * sizeof(float));
      else for (int q = q0; q < q1; q++) out[q] = xr[q * g.stride - g.pad + s];
      for (int q = q1; q < g.Q; q++) out[q] = 0.0f;
    }
  }
}

void col2im(const ConvGeom& g, const float* col, float* x) {
  const int PQ = g.P * g.Q;
  // Parallel over input channels: channel c only receives from its own R*S rows, so threads never collide.
#pragma omp parallel for schedule(static) if ((int64_t)g.C * g.R * g.S * PQ > 32768)
  for (int c = 0; c < g.C; c++) {
    float* xc = x + (int64_t)c * g.H * g.W;
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        const float* in = col + ((int64_t)(c * g.R + r) * g.S + s) * PQ;
        for (int p = 0; p < g.P; p++, in += g.Q) {
          const int h = p * g.stride - g.pad + r;
          if (h < 0 || h >= g.H) continue;
          float* xr = xc + (int64_t)h * g.W;
          for (int q = 0; q < g.Q; q++) {
            const int w = q * g.stride - g.pad + s;
            if (w >= 0 && w < g.W) xr[w] += in[q];
          }
        }
      }
  }
}

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, float* col) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  for_each_image(g.N, conv_threads(g), [&](int n, int t) {
    const float* xn = x + (int64_t)n * g.C * g.H * g.W;
    float* yn = y + (int64_t)n * g.K * PQ;
    float* mycol = col + t * col_floats(g);
    const float* B = xn;
    if (!g.is_pointwise()) { im2col(g, xn, mycol); B = mycol; }
    sgemm(false, false, g.K, PQ, CRS, 1.0f, w, CRS, B, PQ, 0.0f, yn, PQ);
    if (b)
      for (int k = 0; k < g.K; k++)
        for (int i = 0; i < PQ; i++) yn[(int64_t)k * PQ + i] += b[k];
  });
}

void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx, float* col) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  for_each_image(g.N, conv_threads(g), [&](int n, int t) {
    const float* dyn = dy + (int64_t)n * g.K * PQ;
    float* dxn = dx + (int64_t)n * g.C * g.H * g.W;
    if (g.is_pointwise()) {
      sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 1.0f, dxn, PQ);  // dx += w^T dy
    } else {
      float* mycol = col + t * col_floats(g);
      sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 0.0f, mycol, PQ);
      col2im(g, mycol, dxn);
    }
  });
}

void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db, float* col) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q, T = conv_threads(g);
  float* partial = col + T * col_floats(g);  // [T][K * CRS] when T > 1
  if (T > 1) std::memset(partial, 0, sizeof(float) * T * g.K * CRS);
  for_each_image(g.N, T, [&](int n, int t) {  // static schedule: thread t always gets the same images
    float* mycol = col + t * col_floats(g);
    float* mydw = T > 1 ? partial + (int64_t)t * g.K * CRS : dw;
    const float* xn = x + (int64_t)n * g.C * g.H * g.W;
    const float* dyn = dy + (int64_t)n * g.K * PQ;
    const float* B = xn;
    if (!g.is_pointwise()) { im2col(g, xn, mycol); B = mycol; }
    sgemm(false, true, g.K, CRS, PQ, 1.0f, dyn, PQ, B, PQ, 1.0f, mydw, CRS);  // dw += dy col^T
  });
  if (T > 1)  // partials summed in thread order: the same result every run
    for (int t = 0; t < T; t++) {
      const float* p = partial + (int64_t)t * g.K * CRS;
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < (int64_t)g.K * CRS; i++) dw[i] += p[i];
    }
  if (db)
    for (int k = 0; k < g.K; k++) {
      double s = 0;
      for (int n = 0; n < g.N; n++)
        for (int i = 0; i < PQ; i++) s += dy[((int64_t)n * g.K + k) * PQ + i];
      db[k] += (float)s;
    }
}

}  // namespace cpu
