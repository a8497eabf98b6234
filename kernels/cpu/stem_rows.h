// stem_rows.h: inference's stem (a convolution of few input channels, then ReLU and a max pool) computed directly,
// with no column matrix: written once with GCC's 16-float vectors (gemm_12x32.h) and compiled twice, like the GEMM
// micro-kernels: stem_avx512.cpp (-mavx512f) and stem_emul.cpp (baseline flags, any CPU; the tests run it there).
//
// Why: ResNet's 7x7/2 stem is a GEMM with M = 64 output channels, K = 147 taps and N = 16384 pixels. As im2col +
// GEMM every element of its column matrix is packed before it is used 64 times, and packing was a quarter of the
// time. Turned around, the weights are the matrix that stays (147 x 64 floats, 37 KB, in L1 for the whole image)
// and the image is read in place: one output tile is 6 pixels x 64 channels (24 vector accumulators, one vector of
// 16 channels per pixel), and each tap is 4 vector loads of weights, 6 broadcasts of input pixels and 24 FMAs.
// The pixels of a tile are `stride` floats apart in a padded copy of the input rows: nothing is packed.
//
// The tile's output is 16-channel vectors per pixel (channels last); the pool that follows reads them so and writes
// the pooled rows out channel-first, which is where the transposition happens, on a quarter of the data.
#pragma once
#include <cstdint>
#include <cstring>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/gemm_12x32.h"

namespace cpu {
namespace stem {

constexpr int kPix = kStemTilePixels;

// Output rows [0, a.rows) of the band into a.out [rows][Q][K] (channels last), bias and ReLU applied; tiles of PIX
// pixels x 16 NV channels.
template <int PIX, int NV>
static inline void conv_rows_tiles(const StemBand& a) {
  const int K = a.K, Q = a.Q, st = a.stride;
  for (int p = 0; p < a.rows; p++)
    for (int kb = 0; kb < K; kb += 16 * NV)
      for (int q0 = 0; q0 < Q; q0 += PIX) {
        const float* base = a.xp + (int64_t)p * st * a.Wp + (int64_t)q0 * st;  // tap (0, 0, 0) of pixel q0
        const int np = Q - q0 < PIX ? Q - q0 : PIX;
        v16 c[PIX][NV];
#pragma GCC unroll 16
        for (int i = 0; i < PIX; i++)
#pragma GCC unroll 4
          for (int v = 0; v < NV; v++) c[i][v] = v16{};
        const float* w = a.wt + kb;
        for (int t = 0; t < a.CRS; t++, w += K) {
          const float* x = base + a.taps[t];
          v16 b[NV];
#pragma GCC unroll 4
          for (int v = 0; v < NV; v++) b[v] = load16(w + 16 * v);
#pragma GCC unroll 16
          for (int i = 0; i < PIX; i++) {
            // one vbroadcastss from memory (the GEMM's add-and-broadcast costs two more instructions a pixel, and
            // here the loads have room)
            const float xv = x[i * st];  // (pixels past Q read the copy's spare columns; never stored)
            const v16 s = {xv, xv, xv, xv, xv, xv, xv, xv, xv, xv, xv, xv, xv, xv, xv, xv};
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) c[i][v] += s * b[v];  // one FMA each (GCC's -ffp-contract=fast)
          }
        }
        // the epilogue as the GEMM's (finish_tile), operation for operation: (sum + 0) + bias, then max(v, 0)
        v16 bias[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) bias[v] = a.bias ? load16(a.bias + kb + 16 * v) : v16{};
        float* o = a.out + ((int64_t)p * Q + q0) * K + kb;
#pragma GCC unroll 16
        for (int i = 0; i < PIX; i++, o += K)
          if (i < np)
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) {
              v16 r = (c[i][v] + v16{}) + bias[v];
              if (a.relu) r = r < v16{} ? v16{} : r;
              store16(o + 16 * v, r);
            }
      }
}
// 6 x 64: measured on Zen 5 against 12 x 32 (1.18x the time) and 6 x 32 (1.13x), stem and pool at batch 1
static inline void conv_rows(const StemBand& a) { conv_rows_tiles<kPix, 4>(a); }

typedef int v16i __attribute__((vector_size(64)));

// r[i][c] -> r[c][i] for a 16 x 16 block: at b = 8, 4, 2, 1, each 2b x 2b block swaps its off-diagonal b x b
// blocks, rows i and i + b through two two-source permutes (one vpermt2ps each with AVX-512).
template <int b>
static inline void swap_blocks(v16 r[16], v16i lo, v16i hi) {
#pragma GCC unroll 16
  for (int i = 0; i < 16; i++)
    if (!(i & b)) {
      const v16 x = r[i], y = r[i + b];
      r[i] = __builtin_shuffle(x, y, lo);
      r[i + b] = __builtin_shuffle(x, y, hi);
    }
}
static inline void transpose16(v16 r[16]) {
  swap_blocks<8>(r, v16i{0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23},
                 v16i{8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31});
  swap_blocks<4>(r, v16i{0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27},
                 v16i{4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31});
  swap_blocks<2>(r, v16i{0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29},
                 v16i{2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31});
  swap_blocks<1>(r, v16i{0, 16, 2, 18, 4, 20, 6, 22, 8, 24, 10, 26, 12, 28, 14, 30},
                 v16i{1, 17, 3, 19, 5, 21, 7, 23, 9, 25, 11, 27, 13, 29, 15, 31});
}

// Pooled rows [p0, p1) of image n's y [K][P][Q] (pg's P and Q) from the convolution's rows [lo, ...) in buf
// [row][W][K], channels last; row holds (W + Q) K floats. Separable: each column's maximum over the window's rows,
// then each window's over its columns, v > m ? v : m from -inf (vmaxps), so NaN is skipped as the reference skips it
// (as cpu::maxpool_forward). The pooled row [Q][K] is written out channel by channel, 16 x 16 blocks transposed in
// registers.
static inline void pool_rows(const PoolGeom& pg, const float* buf, int lo, int K, int p0, int p1, float* y, float* row) {
  const v16 low = v16{} - __builtin_inff();
  float* col = row + (int64_t)pg.Q * K;  // [W][K]: the max down each column
  const int64_t WK = (int64_t)pg.W * K;
  for (int p = p0; p < p1; p++) {
    const float* rows[16];  // the window's rows inside the image (k <= 16: conv_relu_maxpool_fits)
    int nr = 0;
    for (int r = 0; r < pg.k; r++) {
      const int h = p * pg.stride - pg.pad + r;
      if (h >= 0 && h < pg.H) rows[nr++] = buf + (h - lo) * WK;
    }
    for (int64_t i = 0; i < WK; i += 16) {
      v16 m = low;
      for (int j = 0; j < nr; j++) {
        const v16 v = load16(rows[j] + i);
        m = v > m ? v : m;
      }
      store16(col + i, m);
    }
    for (int q = 0; q < pg.Q; q++) {
      const int w0 = q * pg.stride - pg.pad, wa = w0 < 0 ? 0 : w0, wb = w0 + pg.k > pg.W ? pg.W : w0 + pg.k;
      for (int kb = 0; kb < K; kb += 16) {
        v16 m = low;
        for (int w = wa; w < wb; w++) {
          const v16 v = load16(col + (int64_t)w * K + kb);
          m = v > m ? v : m;
        }
        store16(row + (int64_t)q * K + kb, m);
      }
    }
    int q0 = 0;
    for (; q0 + 16 <= pg.Q; q0 += 16)
      for (int kb = 0; kb < K; kb += 16) {
        v16 r[16];
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) r[i] = load16(row + (int64_t)(q0 + i) * K + kb);
        transpose16(r);  // r[j] = channel kb + j at pixels q0..q0+15
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) store16(y + ((int64_t)(kb + j) * pg.P + p) * pg.Q + q0, r[j]);
      }
    for (int k = 0; k < K; k++) {
      float* yr = y + ((int64_t)k * pg.P + p) * pg.Q;
      for (int q = q0; q < pg.Q; q++) yr[q] = row[(int64_t)q * K + k];
    }
  }
}

}  // namespace stem
}  // namespace cpu
