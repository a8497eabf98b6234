// gemm_generic.cpp: v1, the portable 4x8 micro-kernel. Plain C++ over packed panels; the compiler vectorises
// the j loop. It shows the blocking on its own, and runs where AVX2 does not exist.
#include "kernels/cpu/gemm.h"

namespace cpu {

void tile_generic_4x8(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  constexpr int MR = 4, NR = 8;
  float acc[MR][NR] = {};
  for (int k = 0; k < kc; k++, A += MR, B += NR)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) acc[i][j] += A[i] * B[j];
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++)
      C[i * ldc + j] = alpha * acc[i][j] + (beta == 0.0f ? 0.0f : beta * C[i * ldc + j]);
}

}  // namespace cpu
