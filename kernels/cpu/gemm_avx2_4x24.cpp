// gemm_avx2_4x24.cpp: v3, the AVX2+FMA 4x24 micro-kernel (built with -mavx2 -mfma; called only after CPUID says so).
//
// The idea it adds to v2: the same registers, shaped 4x24. Per k step: 3 vector loads of B, 4 broadcasts of A,
// 12 FMAs. On AMD Zen a broadcast from memory occupies an FP pipe that the FMAs also want; 4x24 needs one broadcast
// per 3 FMAs instead of 6x16's one per 2, and keeps all 16 ymm registers busy (12 accumulators, 3 of B, 1
// broadcast). The driver picks it for M = 4k with wide N (ResNet's 64-row GEMMs), v2 for M = 6k.
#include <immintrin.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_avx2_store.h"

namespace cpu {

// The tile; with e, the convolution's epilogue applied in registers before the store (gemm.h: tile_epi).
__attribute__((always_inline)) static inline void tile_avx2_4x24_body(int kc, const float* A, const float* B, float* C,
                                                       int64_t ldc, float alpha, float beta,
                                                       const GemmEpilogue* e) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c02 = _mm256_setzero_ps();
  __m256 c10 = _mm256_setzero_ps(), c11 = _mm256_setzero_ps(), c12 = _mm256_setzero_ps();
  __m256 c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(), c22 = _mm256_setzero_ps();
  __m256 c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c32 = _mm256_setzero_ps();
  for (int i = 0; i < 4; i++) {  // a row of the tile is 96 bytes: it can touch three cache lines
    _mm_prefetch((const char*)(C + i * ldc), _MM_HINT_T0);
    _mm_prefetch((const char*)(C + i * ldc + 23), _MM_HINT_T0);
    _mm_prefetch((const char*)(C + i * ldc + 12), _MM_HINT_T0);
  }
#define STEP(k)                                                                                 \
  {                                                                                             \
    __m256 b0 = _mm256_load_ps(B + (k) * 24), b1 = _mm256_load_ps(B + (k) * 24 + 8),            \
           b2 = _mm256_load_ps(B + (k) * 24 + 16);                                              \
    __m256 a = _mm256_broadcast_ss(A + (k) * 4 + 0);                                            \
    c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01); c02 = _mm256_fmadd_ps(a, b2, c02); \
    a = _mm256_broadcast_ss(A + (k) * 4 + 1);                                                   \
    c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11); c12 = _mm256_fmadd_ps(a, b2, c12); \
    a = _mm256_broadcast_ss(A + (k) * 4 + 2);                                                   \
    c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21); c22 = _mm256_fmadd_ps(a, b2, c22); \
    a = _mm256_broadcast_ss(A + (k) * 4 + 3);                                                   \
    c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31); c32 = _mm256_fmadd_ps(a, b2, c32); \
  }
  const char* ahead = t_ahead.cur;  // the next layer's weights, a line every 4 steps (gemm.h: ahead_set)
  const char* const ahead_end = t_ahead.end;
  int k = 0;
  for (; k + 4 <= kc; k += 4, A += 16, B += 96) {
    _mm_prefetch((const char*)(B + 384), _MM_HINT_T0);
    if (ahead < ahead_end) {
      _mm_prefetch(ahead, _MM_HINT_T1);
      ahead += 64;
    }
    STEP(0) STEP(1) STEP(2) STEP(3)
  }
  for (; k < kc; k++, A += 4, B += 24) STEP(0)
#undef STEP
  t_ahead.cur = ahead;
  const __m256 rows[4][3] = {{c00, c01, c02}, {c10, c11, c12}, {c20, c21, c22}, {c30, c31, c32}};
  store_tile_avx2<4, 3>(rows, C, ldc, alpha, beta, e);
}

void tile_avx2_4x24(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile_avx2_4x24_body(kc, A, B, C, ldc, alpha, beta, nullptr);
}
void tile_avx2_4x24_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                        const GemmEpilogue& e) {
  tile_avx2_4x24_body(kc, A, B, C, ldc, alpha, beta, &e);
}

}  // namespace cpu
