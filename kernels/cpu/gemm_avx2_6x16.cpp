// gemm_avx2_6x16.cpp: v2, the AVX2+FMA 6x16 micro-kernel (built with -mavx2 -mfma; called only after CPUID says so).
// The idea it adds to v1: explicit vector registers. The C tile lives in ymm registers for the whole k loop, and
// each k step is written out as loads, broadcasts and FMAs instead of left to the compiler.
//
// Why 6x16: 16 ymm registers. The 6x16 tile of C takes 12 of them (6 rows x 2 vectors of 8 floats); each k step
// loads 2 vectors of B, broadcasts 6 scalars of A and issues 12 FMAs, so loads per FMA are 8/12 and the two FMA
// ports stay busy. Per k step it reads 6 + 16 floats from L1 and does 192 flops.
#include <immintrin.h>

#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_avx2_store.h"

namespace cpu {

// The tile; with e, the convolution's epilogue applied in registers before the store (gemm.h: tile_epi).
__attribute__((always_inline)) static inline void tile_avx2_6x16_body(int kc, const float* A, const float* B, float* C,
                                                       int64_t ldc, float alpha, float beta,
                                                       const GemmEpilogue* e) {
  __m256 c00 = _mm256_setzero_ps(), c01 = _mm256_setzero_ps(), c10 = _mm256_setzero_ps(),
         c11 = _mm256_setzero_ps(), c20 = _mm256_setzero_ps(), c21 = _mm256_setzero_ps(),
         c30 = _mm256_setzero_ps(), c31 = _mm256_setzero_ps(), c40 = _mm256_setzero_ps(),
         c41 = _mm256_setzero_ps(), c50 = _mm256_setzero_ps(), c51 = _mm256_setzero_ps();
  for (int i = 0; i < 6; i++) _mm_prefetch((const char*)(C + i * ldc), _MM_HINT_T0);  // C is needed only at the end
#define STEP(k)                                                         \
  {                                                                     \
    __m256 b0 = _mm256_load_ps(B + (k) * 16), b1 = _mm256_load_ps(B + (k) * 16 + 8); \
    __m256 a = _mm256_broadcast_ss(A + (k) * 6 + 0);                    \
    c00 = _mm256_fmadd_ps(a, b0, c00); c01 = _mm256_fmadd_ps(a, b1, c01); \
    a = _mm256_broadcast_ss(A + (k) * 6 + 1);                           \
    c10 = _mm256_fmadd_ps(a, b0, c10); c11 = _mm256_fmadd_ps(a, b1, c11); \
    a = _mm256_broadcast_ss(A + (k) * 6 + 2);                           \
    c20 = _mm256_fmadd_ps(a, b0, c20); c21 = _mm256_fmadd_ps(a, b1, c21); \
    a = _mm256_broadcast_ss(A + (k) * 6 + 3);                           \
    c30 = _mm256_fmadd_ps(a, b0, c30); c31 = _mm256_fmadd_ps(a, b1, c31); \
    a = _mm256_broadcast_ss(A + (k) * 6 + 4);                           \
    c40 = _mm256_fmadd_ps(a, b0, c40); c41 = _mm256_fmadd_ps(a, b1, c41); \
    a = _mm256_broadcast_ss(A + (k) * 6 + 5);                           \
    c50 = _mm256_fmadd_ps(a, b0, c50); c51 = _mm256_fmadd_ps(a, b1, c51); \
  }
  const char* ahead = t_ahead.cur;  // the next layer's weights, a line every 4 steps (gemm.h: ahead_set)
  const char* const ahead_end = t_ahead.end;
  int k = 0;
  for (; k + 4 <= kc; k += 4, A += 24, B += 64) {
    _mm_prefetch((const char*)(B + 256), _MM_HINT_T0);
    if (ahead < ahead_end) {
      _mm_prefetch(ahead, _MM_HINT_T1);
      ahead += 64;
    }
    STEP(0) STEP(1) STEP(2) STEP(3)
  }
  for (; k < kc; k++, A += 6, B += 16) STEP(0)
#undef STEP
  t_ahead.cur = ahead;
  const __m256 rows[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  store_tile_avx2<6, 2>(rows, C, ldc, alpha, beta, e);
}

void tile_avx2_6x16(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile_avx2_6x16_body(kc, A, B, C, ldc, alpha, beta, nullptr);
}
void tile_avx2_6x16_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                        const GemmEpilogue& e) {
  tile_avx2_6x16_body(kc, A, B, C, ldc, alpha, beta, &e);
}

}  // namespace cpu
