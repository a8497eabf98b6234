// winograd_tiles.h: the per-tile transforms of Winograd's minimal filtering F(m x m, 3 x 3) (Lavin & Gray 2016), on
// 16 channels at once. winograd.cpp (baseline x86-64), winograd_avx2.cpp (-mavx2 -mfma) and winograd_avx512.cpp
// (-mavx512f) each build this file and export its functions as a WinogradTiles record; winograd.cpp picks one by
// CPUID. Like depthwise_planes.h, everything here has internal linkage, so the three builds are never merged.
//
// A 3x3 convolution computes each m x m block of outputs from an a x a block of inputs (a = m + 2) as
//   Y = A^T [ (G g G^T) .* (B^T d B) ] A
// g the 3x3 filter, d the input tile, .* elementwise. Summed over the input channels, the a*a elementwise products
// become a*a independent matrix products (winograd.cpp runs them through sgemm), so a tile costs a*a multiplies
// per channel pair instead of 9*m*m: 16 for 4 outputs (m = 2, 2.25x fewer) or 36 for 16 (m = 4, 4x fewer).
// The transforms are small sums with the constants below; they are written once as matrices, and the loops over
// them are unrolled at compile time, where zero coefficients drop out and ones become plain adds.
#pragma once
#include <cstdint>
#include <cstring>

namespace {

typedef float vf16 __attribute__((vector_size(64)));  // 16 channels; one zmm, two ymm or four xmm, by build

inline vf16 load16(const float* p) {
  vf16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, vf16 v) { std::memcpy(p, &v, sizeof v); }

// F(2x2, 3x3): interpolation points 0, 1, -1, infinity
struct F2 {
  static constexpr int m = 2, a = 4;
  static constexpr float BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr float AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
};
// F(4x4, 3x3): points 0, 1, -1, 2, -2, infinity (the G that goes with these B and A is in winograd.cpp)
struct F4 {
  static constexpr int m = 4, a = 6;
  static constexpr float BT[6][6] = {{4, 0, -5, 0, 1, 0},  {0, -4, -4, 1, 1, 0}, {0, 4, -4, -1, 1, 0},
                                     {0, -2, -1, 2, 1, 0}, {0, 2, -1, -2, 1, 0}, {0, 4, 0, -5, 0, 1}};
  static constexpr float AT[4][6] = {{1, 1, 1, 1, 1, 0}, {0, 1, -1, 2, -2, 0}, {0, 1, 1, 4, 4, 0}, {0, 1, -1, 8, -8, 1}};
};

// sum_k M[i][k] * x[k] for a row of a constant matrix; the first nonzero term starts the sum (so no 0 + ... is
// left for the compiler to keep), ones and minus ones need no multiply.
template <int K>
__attribute__((always_inline)) inline vf16 row_times(const float (&row)[K], const vf16* x) {
  vf16 s = {};
  bool first = true;
#pragma GCC unroll 8
  for (int k = 0; k < K; k++) {
    const float c = row[k];
    if (c == 0) continue;
    const vf16 t = c == 1 ? x[k] : c == -1 ? -x[k] : c * x[k];
    s = first ? t : s + t;
    first = false;
  }
  return s;
}

// y = M x for a column x of a values, M = F::BT (input) or F::AT (output). The generic form multiplies by each
// row's nonzero constants; F(4x4)'s rows share partial sums, which the specialisations below compute once (the
// rows pair up as p + q and p - q): 12 operations instead of 21 for B^T, 8 instead of 14 for A^T.
template <class F>
__attribute__((always_inline)) inline void bt_times(const vf16* x, vf16* y) {
#pragma GCC unroll 8
  for (int i = 0; i < F::a; i++) y[i] = row_times(F::BT[i], x);
}
template <class F>
__attribute__((always_inline)) inline void at_times(const vf16* x, vf16* y) {
#pragma GCC unroll 8
  for (int i = 0; i < F::m; i++) y[i] = row_times(F::AT[i], x);
}
template <>
__attribute__((always_inline)) inline void bt_times<F4>(const vf16* x, vf16* y) {
  const vf16 p1 = x[4] - 4.0f * x[2], q1 = x[3] - 4.0f * x[1];  // rows 1, 2: -4x1 - 4x2 + x3 + x4, 4x1 - 4x2 - x3 + x4
  const vf16 p3 = x[4] - x[2], q3 = 2.0f * (x[3] - x[1]);         // rows 3, 4: -2x1 - x2 + 2x3 + x4, 2x1 - x2 - 2x3 + x4
  y[0] = 4.0f * x[0] - 5.0f * x[2] + x[4];
  y[1] = p1 + q1;
  y[2] = p1 - q1;
  y[3] = p3 + q3;
  y[4] = p3 - q3;
  y[5] = 4.0f * x[1] - 5.0f * x[3] + x[5];
}
template <>
__attribute__((always_inline)) inline void at_times<F4>(const vf16* x, vf16* y) {
  const vf16 s12 = x[1] + x[2], d12 = x[1] - x[2], s34 = x[3] + x[4], d34 = x[3] - x[4];
  y[0] = x[0] + s12 + s34;
  y[1] = d12 + 2.0f * d34;
  y[2] = s12 + 4.0f * s34;
  y[3] = d12 + 8.0f * d34 + x[5];
}

// One tile of 16 channels: d points at input element (0, 0) of the tile in a [rows][cols][16] layout with row
// stride rs floats; the a*a transformed values go to V + xi * vs, xi = i*a + j.
template <class F>
void input_tile(const float* d, int64_t rs, float* V, int64_t vs) {
  constexpr int a = F::a;
  vf16 t[a][a];  // t = B^T d, stored transposed: t[j] is column j of B^T d
#pragma GCC unroll 8
  for (int j = 0; j < a; j++) {
    vf16 col[a];
#pragma GCC unroll 8
    for (int k = 0; k < a; k++) col[k] = load16(d + k * rs + j * 16);
    bt_times<F>(col, t[j]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < a; i++) {  // (B^T d) B: row i of B^T d times B, i.e. B^T times that row
    vf16 row[a], out[a];
#pragma GCC unroll 8
    for (int j = 0; j < a; j++) row[j] = t[j][i];
    bt_times<F>(row, out);
#pragma GCC unroll 8
    for (int j = 0; j < a; j++) store16(V + (i * a + j) * vs, out[j]);
  }
}

// One tile of 16 output channels: the a*a products at M + xi * vs -> the m*m outputs A^T M A, written to
// out[(i*m + j)*16 + channel].
template <class F>
void output_tile(const float* M, int64_t vs, float* out) {
  constexpr int a = F::a, m = F::m;
  vf16 s[a][m];  // A^T M, stored transposed: s[j] is column j
#pragma GCC unroll 8
  for (int j = 0; j < a; j++) {
    vf16 col[a];
#pragma GCC unroll 8
    for (int k = 0; k < a; k++) col[k] = load16(M + (k * a + j) * vs);
    at_times<F>(col, s[j]);
  }
#pragma GCC unroll 8
  for (int i = 0; i < m; i++) {
    vf16 row[a], y[m];
#pragma GCC unroll 8
    for (int j = 0; j < a; j++) row[j] = s[j][i];
    at_times<F>(row, y);
#pragma GCC unroll 8
    for (int j = 0; j < m; j++) store16(out + (i * m + j) * 16, y[j]);
  }
}

}  // namespace

#define WINOGRAD_TILES(name) \
  {name, input_tile<F2>, output_tile<F2>, input_tile<F4>, output_tile<F4>}
