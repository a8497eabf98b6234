// sgemm_versions.cu: the hand-written SGEMM versions for readers and benchmarks, numbered by technique, one file
// each; cuBLAS is "kernel 0" and stays the engine's GEMM (cuda_sgemm). Row-major C[M,N] = alpha * A[M,K] * B[K,N]
// + beta * C, any sizes (edges are guarded).
//   v1  naive: one thread per element of C, K loop over global memory                      (sgemm_v1_naive.cu)
//   v2  shared-memory tiles: a 32x32 block of C per 32x32 threads, A and B staged in smem    (sgemm_v2_smem.cu)
//   v3  register tiles: each thread an 8x8 block of C from 128x8 / 8x128 shared tiles       (sgemm_v3_regs.cu)
// Promoting a version is a change here, never a copy.
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/sgemm_versions.h"
#include "tensor/check.h"

void cuda_sgemm_version(int version, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                        float* C) {
  switch (version) {
    case 0: return cuda_sgemm(false, false, M, N, K, alpha, A, K, B, N, beta, C, N);
    case 1: return sgemm_v1_naive(M, N, K, alpha, A, B, beta, C);
    case 2: return sgemm_v2_smem(M, N, K, alpha, A, B, beta, C);
    case 3: return sgemm_v3_regs(M, N, K, alpha, A, B, beta, C);
    default: fail(__FILE__, __LINE__, "cuda_sgemm_version: no SGEMM version " + std::to_string(version));
  }
}
