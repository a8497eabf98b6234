// gemm_avx512_emul.cpp: the same 12x32 micro-kernel (gemm_12x32.h) built with baseline x86-64 flags, so that it
// runs on any CPU: the tests check v4's logic with it on machines without AVX-512. Never chosen automatically.
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/gemm_12x32.h"

namespace cpu {

void tile_avx512_emul_12x32(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<12, 2>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_emul_12x32_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                                const GemmEpilogue& e) {
  tile_epilogue<12, 2>(kc, A, B, C, ldc, alpha, beta, e);
}
void tile_avx512_emul_8x32(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<8, 2>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_emul_8x32_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                               const GemmEpilogue& e) {
  tile_epilogue<8, 2>(kc, A, B, C, ldc, alpha, beta, e);
}

void tile_avx512_emul_6x64(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<6, 4>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_emul_6x64_epi(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta,
                               const GemmEpilogue& e) {
  tile_epilogue<6, 4>(kc, A, B, C, ldc, alpha, beta, e);
}

void tile_avx512_emul_12x32_stream(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<12, 2, kStreamAhead>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_emul_8x32_stream(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<8, 2, kStreamAhead>(kc, A, B, C, ldc, alpha, beta);
}
void tile_avx512_emul_6x64_stream(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  tile<6, 4, kStreamAhead>(kc, A, B, C, ldc, alpha, beta);
}

}  // namespace cpu
