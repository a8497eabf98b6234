// sgemm_v2_smem.cu: v2, shared-memory tiles. The idea it adds to v1: a block of 32x32 threads computes a 32x32
// tile of C, staging 32x32 tiles of A and B through shared memory, so each value loaded from global memory is used
// 32 times instead of once. Contract: sgemm_versions.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/sgemm_versions.h"

template <int T>
__global__ void sgemm_v2(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  __shared__ float As[T][T], Bs[T][T];
  const int ty = threadIdx.y, tx = threadIdx.x, i = blockIdx.y * T + ty, j = blockIdx.x * T + tx;
  float acc = 0.0f;
  for (int k0 = 0; k0 < K; k0 += T) {
    As[ty][tx] = (i < M && k0 + tx < K) ? A[(int64_t)i * K + k0 + tx] : 0.0f;
    Bs[ty][tx] = (k0 + ty < K && j < N) ? B[(int64_t)(k0 + ty) * N + j] : 0.0f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < T; k++) acc += As[ty][k] * Bs[k][tx];
    __syncthreads();
  }
  if (i < M && j < N) C[(int64_t)i * N + j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[(int64_t)i * N + j]);
}

void sgemm_v2_smem(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  dim3 t(32, 32), g((N + 31) / 32, (M + 31) / 32);
  sgemm_v2<32><<<g, t, 0, cuda_stream()>>>(M, N, K, alpha, A, B, beta, C);
  LAUNCH_CHECK();
}
