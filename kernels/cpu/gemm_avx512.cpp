// gemm_avx512.cpp: v4, the 12x32 micro-kernel of gemm_12x32.h built with -mavx512f (called only after CPUID says so).
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_12x32.h"

namespace cpu {

void tile_avx512_12x32(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<12, 2>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_12x32_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                           const GemmEpilogue& e) {
  tile_epilogue<12, 2>(kc, A, B, C, ldc, alpha, beta, e);
}
void tile_avx512_8x32(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<8, 2>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_8x32_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                          const GemmEpilogue& e) {
  tile_epilogue<8, 2>(kc, A, B, C, ldc, alpha, beta, e);
}

void tile_avx512_6x64(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<6, 4>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_6x64_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                          const GemmEpilogue& e) {
  tile_epilogue<6, 4>(kc, A, B, C, ldc, alpha, beta, e);
}

void tile_avx512_12x32_stream(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<12, 2, kStreamAhead>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_8x32_stream(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<8, 2, kStreamAhead>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_6x64_stream(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<6, 4, kStreamAhead>(kc, A, B, C, ldc, alpha, beta);
}

}  // namespace cpu
