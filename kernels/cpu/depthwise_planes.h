// depthwise_planes.h: one (n, c) plane of a depthwise convolution, forward and both backwards, written so that the
// compiler vectorises every inner loop. depthwise.cpp (baseline x86-64), depthwise_avx2.cpp (-mavx2 -mfma) and
// depthwise_avx512.cpp (-mavx512f) each build this file once and export the three functions as a DepthwisePlanes
// record; depthwise.cpp chooses one by CPUID and runs it over the planes with OpenMP.
//
// Why a scratch copy: a window's row at stride 2 reads every other float, which does not vectorise. So the plane is
// first copied zero-padded and split by column phase,
//   sc[f][hp][j] = x[hp - pad][j*stride + f - pad]   (0 outside the image)   f < stride, hp < Hr, j < Wq,
// and the tap (r, s) of output row p reads sc[s % stride][p*stride + r][s / stride + q], consecutive in q, at every
// stride and pad. The copy costs H*W against the R*S*P*Q multiply-adds. The input gradient is scattered into the same
// layout (each tap's row a vector add) and gathered back into dx.
//
// Everything here has internal linkage (an anonymous namespace, no std:: templates): the three builds must not be
// merged by the linker, or a baseline caller could end up in AVX-512 code.
#pragma once
#include <cstdint>

#include "kernels/cpu/cpu.h"

namespace {

inline int dw_rows(const ConvGeom& g) { return (g.P - 1) * g.stride + g.R; }  // Hr: padded rows any window reads
inline int dw_cols(const ConvGeom& g) { return g.Q + (g.S - 1) / g.stride; }   // Wq: columns per phase

// sc [stride][Hr][Wq] from the plane x [H][W]
inline void dw_fill(const ConvGeom& g, const float* x, float* sc) {
  const int Hr = dw_rows(g), Wq = dw_cols(g);
  for (int f = 0; f < g.stride; f++)
    for (int hp = 0; hp < Hr; hp++) {
      float* row = sc + ((int64_t)f * Hr + hp) * Wq;
      const int h = hp - g.pad;
      for (int j = 0; j < Wq; j++) {
        const int w = j * g.stride + f - g.pad;
        row[j] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[(int64_t)h * g.W + w] : 0.0f;
      }
    }
}

// y [P][Q] = b + taps of x [H][W] with w [R][S]
void dw_forward_plane(const ConvGeom& g, const float* x, const float* w, float b, float* y, float* sc) {
  dw_fill(g, x, sc);
  const int Hr = dw_rows(g), Wq = dw_cols(g), Q = g.Q;
  for (int p = 0; p < g.P; p++) {
    float* __restrict yr = y + (int64_t)p * Q;
    for (int q = 0; q < Q; q++) yr[q] = b;
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        const float wv = w[r * g.S + s];
        const float* __restrict xr = sc + ((int64_t)(s % g.stride) * Hr + p * g.stride + r) * Wq + s / g.stride;
        for (int q = 0; q < Q; q++) yr[q] += wv * xr[q];
      }
  }
}

// dx [H][W] += the adjoint of the taps applied to dy [P][Q]
void dw_backward_input_plane(const ConvGeom& g, const float* dy, const float* w, float* dx, float* sc) {
  const int Hr = dw_rows(g), Wq = dw_cols(g), Q = g.Q;
  const int64_t n = (int64_t)g.stride * Hr * Wq;
  for (int64_t i = 0; i < n; i++) sc[i] = 0.0f;
  for (int p = 0; p < g.P; p++) {
    const float* __restrict dyr = dy + (int64_t)p * Q;
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        const float wv = w[r * g.S + s];
        float* __restrict acc = sc + ((int64_t)(s % g.stride) * Hr + p * g.stride + r) * Wq + s / g.stride;
        for (int q = 0; q < Q; q++) acc[q] += wv * dyr[q];
      }
  }
  // Padded positions never reach dx; rows at or past Hr and columns past Wq received nothing.
  for (int h = 0; h < g.H && h + g.pad < Hr; h++) {
    float* dxr = dx + (int64_t)h * g.W;
    for (int f = 0; f < g.stride; f++) {
      const float* row = sc + ((int64_t)f * Hr + h + g.pad) * Wq;
      for (int j = 0; j < Wq; j++) {
        const int ww = j * g.stride + f - g.pad;
        if (ww >= 0 && ww < g.W) dxr[ww] += row[j];
      }
    }
  }
}

// dw [R][S] += sum_{p,q} dy[p][q] * x[window]; db (if not null) += sum dy
void dw_backward_weight_plane(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db, float* sc) {
  dw_fill(g, x, sc);
  const int Hr = dw_rows(g), Wq = dw_cols(g), Q = g.Q;
  for (int r = 0; r < g.R; r++)
    for (int s = 0; s < g.S; s++) {
      float acc = 0.0f;
      for (int p = 0; p < g.P; p++) {
        const float* dyr = dy + (int64_t)p * Q;
        const float* xr = sc + ((int64_t)(s % g.stride) * Hr + p * g.stride + r) * Wq + s / g.stride;
#pragma omp simd reduction(+ : acc)
        for (int q = 0; q < Q; q++) acc += dyr[q] * xr[q];
      }
      dw[r * g.S + s] += acc;
    }
  if (db) {
    float acc = 0.0f;
    const int64_t n = (int64_t)g.P * Q;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) acc += dy[i];
    *db += acc;
  }
}

}  // namespace

#define DEPTHWISE_PLANES(name) {name, dw_forward_plane, dw_backward_input_plane, dw_backward_weight_plane}
