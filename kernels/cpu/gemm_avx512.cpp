// gemm_avx512.cpp: v3, the AVX-512F 12x32 micro-kernel (built with -mavx512f; called only after CPUID says so).
//
// Why 12x32: 32 zmm registers. The tile takes 24 (12 rows x 2 vectors of 16 floats), B takes 2, the broadcast
// of A one, leaving headroom so the compiler never spills. Each k step: 2 loads of B, 12 broadcasts, 24 FMAs,
// 768 flops: twice the work per instruction of the AVX2 kernel.
#include <immintrin.h>

#include "kernels/cpu/gemm.h"

namespace cpu {

void tile_avx512_12x32(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  constexpr int MR = 12;
  __m512 c[MR][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) c[i][0] = c[i][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++, A += MR, B += 32) {
    __m512 b0 = _mm512_load_ps(B), b1 = _mm512_load_ps(B + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR; i++) {
      __m512 a = _mm512_set1_ps(A[i]);
      c[i][0] = _mm512_fmadd_ps(a, b0, c[i][0]);
      c[i][1] = _mm512_fmadd_ps(a, b1, c[i][1]);
    }
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma GCC unroll 12
  for (int i = 0; i < MR; i++) {
    float* row = C + i * ldc;
    __m512 r0 = _mm512_mul_ps(va, c[i][0]), r1 = _mm512_mul_ps(va, c[i][1]);
    if (beta != 0.0f) {
      r0 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row), r0);
      r1 = _mm512_fmadd_ps(vb, _mm512_loadu_ps(row + 16), r1);
    }
    _mm512_storeu_ps(row, r0);
    _mm512_storeu_ps(row + 16, r1);
  }
}

}  // namespace cpu
