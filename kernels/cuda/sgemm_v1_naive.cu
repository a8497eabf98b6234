// sgemm_v1_naive.cu: v1, the SGEMM as its definition: one thread per element of C, the K loop reading A and B
// straight from global memory. Every product reloads its operands (2 loads per FMA), so it runs at memory speed;
// it is the baseline the later versions are measured against. Contract: sgemm_versions.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/sgemm_versions.h"

__global__ void sgemm_v1(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  const int i = blockIdx.y * blockDim.y + threadIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= M || j >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; k++) acc += A[(int64_t)i * K + k] * B[(int64_t)k * N + j];
  C[(int64_t)i * N + j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[(int64_t)i * N + j]);
}

void sgemm_v1_naive(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  dim3 t(16, 16), g((N + 15) / 16, (M + 15) / 16);
  sgemm_v1<<<g, t, 0, cuda_stream()>>>(M, N, K, alpha, A, B, beta, C);
  LAUNCH_CHECK();
}
