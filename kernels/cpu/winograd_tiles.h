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

// One tile of 16 channels: d points at input element (0, 0) of the tile in a [rows][cols][16] layout with row
// stride rs floats; the a*a transformed values go to V + xi * vs, xi = i*a + j.
template <class F>
void input_tile(const float* d, int64_t rs, float* V, int64_t vs) {
  constexpr int a = F::a;
  vf16 t[a][a];  // t = B^T d, column by column
#pragma GCC unroll 8
  for (int j = 0; j < a; j++) {
    vf16 col[a];
#pragma GCC unroll 8
    for (int k = 0; k < a; k++) col[k] = load16(d + k * rs + j * 16);
#pragma GCC unroll 8
    for (int i = 0; i < a; i++) t[i][j] = row_times(F::BT[i], col);
  }
#pragma GCC unroll 8
  for (int i = 0; i < a; i++)  // (B^T d) B: row i of t times B, i.e. rows of B^T
#pragma GCC unroll 8
    for (int j = 0; j < a; j++) store16(V + (i * a + j) * vs, row_times(F::BT[j], t[i]));
}

// One tile of 16 output channels: the a*a products at M + xi * vs -> the m*m outputs A^T M A, written to
// out[(i*m + j)*16 + channel].
template <class F>
void output_tile(const float* M, int64_t vs, float* out) {
  constexpr int a = F::a, m = F::m;
  vf16 s[m][a];  // A^T M, column by column
#pragma GCC unroll 8
  for (int j = 0; j < a; j++) {
    vf16 col[a];
#pragma GCC unroll 8
    for (int k = 0; k < a; k++) col[k] = load16(M + (k * a + j) * vs);
#pragma GCC unroll 8
    for (int i = 0; i < m; i++) s[i][j] = row_times(F::AT[i], col);
  }
#pragma GCC unroll 8
  for (int i = 0; i < m; i++)
#pragma GCC unroll 8
    for (int j = 0; j < m; j++) store16(out + (i * m + j) * 16, row_times(F::AT[j], s[i]));
}

}  // namespace

#define WINOGRAD_TILES(name) \
  {name, input_tile<F2>, output_tile<F2>, input_tile<F4>, output_tile<F4>}
