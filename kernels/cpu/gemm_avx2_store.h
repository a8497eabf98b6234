// gemm_avx2_store.h: how the AVX2 micro-kernels (gemm_avx2_6x16.cpp, gemm_avx2_4x24.cpp) write their tile of R x V
// vectors of 8 floats out: C = alpha * sums + beta * C (C not read when beta == 0) and, with an epilogue e (gemm.h:
// GemmKernel::tile_epi), ((C + bias) + res) then max(0, C) before the one store. Included only by files built with
// -mavx2 -mfma.
#pragma once
#include <immintrin.h>

#include "kernels/cpu/gemm.h"

namespace cpu {

template <int R, int V>
__attribute__((always_inline)) static inline void store_tile_avx2(const __m256 (&rows)[R][V], float* C, int64_t ldc,
                                                                  float alpha, float beta, const GemmEpilogue* e) {
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta), zero = _mm256_setzero_ps();
  for (int i = 0; i < R; i++) {
    const __m256 bias = _mm256_set1_ps(e && e->bias ? e->bias[i] : 0.0f);
    const float* res = e && e->res ? e->res + i * e->ldr : nullptr;
    for (int j = 0; j < V; j++) {
      float* c = C + i * ldc + 8 * j;
      __m256 r = _mm256_mul_ps(va, rows[i][j]);
      if (beta != 0.0f) r = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), r);
      if (e) {  // ((r + bias) + res), then max(0, r): std::max(r, 0.0f), -0 and NaN passing through
        if (e->bias) r = _mm256_add_ps(r, bias);
        if (res) r = _mm256_add_ps(r, _mm256_loadu_ps(res + 8 * j));
        if (e->relu) r = _mm256_max_ps(zero, r);
      }
      _mm256_storeu_ps(c, r);
    }
  }
}

}  // namespace cpu
