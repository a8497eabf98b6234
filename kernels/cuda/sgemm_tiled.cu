// sgemm_tiled.cu: hand-written SGEMM kernels for readers, numbered by technique (cuBLAS is "kernel 0" and stays
// the engine's GEMM). Row-major C[M,N] = alpha * A[M,K] * B[K,N] + beta * C, any sizes (edges are guarded).
//   v1  naive: one thread per element of C, K loop over global memory
//   v2  shared-memory tiles: a 32x32 block of C per 32x32 threads, A and B staged through shared memory
//   v3  register tiles: each thread computes a 8x8 block of C from 128x8 / 8x128 shared tiles (64 FMAs per loads)
#include <cuda_runtime.h>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"

__global__ void sgemm_v1(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  const int i = blockIdx.y * blockDim.y + threadIdx.y, j = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= M || j >= N) return;
  float acc = 0.0f;
  for (int k = 0; k < K; k++) acc += A[(int64_t)i * K + k] * B[(int64_t)k * N + j];
  C[(int64_t)i * N + j] = alpha * acc + (beta == 0.0f ? 0.0f : beta * C[(int64_t)i * N + j]);
}

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

// 256 threads compute a 128x128 block of C; each thread an 8x8 sub-block held in registers.
__global__ void __launch_bounds__(256) sgemm_v3(int M, int N, int K, float alpha, const float* A, const float* B,
                                                 float beta, float* C) {
  constexpr int BM = 128, BN = 128, BK = 8, TM = 8, TN = 8;
  __shared__ float As[BK][BM], Bs[BK][BN];  // A stored transposed so a thread reads a column of A as a row
  const int tid = threadIdx.x, trow = tid / (BN / TN), tcol = tid % (BN / TN);
  const int i0 = blockIdx.y * BM, j0 = blockIdx.x * BN;
  float acc[TM][TN] = {};
  float a[TM], b[TN];
  for (int k0 = 0; k0 < K; k0 += BK) {
    for (int e = tid; e < BM * BK; e += 256) {  // load the tiles, zero outside the matrices
      const int r = e / BK, c = e % BK;
      As[c][r] = (i0 + r < M && k0 + c < K) ? A[(int64_t)(i0 + r) * K + k0 + c] : 0.0f;
      const int rb = e / BN, cb = e % BN;
      Bs[rb][cb] = (k0 + rb < K && j0 + cb < N) ? B[(int64_t)(k0 + rb) * N + j0 + cb] : 0.0f;
    }
    __syncthreads();
#pragma unroll
    for (int k = 0; k < BK; k++) {
#pragma unroll
      for (int m = 0; m < TM; m++) a[m] = As[k][trow * TM + m];
#pragma unroll
      for (int n = 0; n < TN; n++) b[n] = Bs[k][tcol * TN + n];
#pragma unroll
      for (int m = 0; m < TM; m++)
#pragma unroll
        for (int n = 0; n < TN; n++) acc[m][n] += a[m] * b[n];
    }
    __syncthreads();
  }
  for (int m = 0; m < TM; m++)
    for (int n = 0; n < TN; n++) {
      const int i = i0 + trow * TM + m, j = j0 + tcol * TN + n;
      if (i < M && j < N) C[(int64_t)i * N + j] = alpha * acc[m][n] + (beta == 0.0f ? 0.0f : beta * C[(int64_t)i * N + j]);
    }
}

void cuda_sgemm_version(int version, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                        float* C) {
  if (version == 0) { cuda_sgemm(false, false, M, N, K, alpha, A, K, B, N, beta, C, N); return; }
  if (version == 1) {
    dim3 t(16, 16), g((N + 15) / 16, (M + 15) / 16);
    sgemm_v1<<<g, t, 0, cuda_stream()>>>(M, N, K, alpha, A, B, beta, C);
  } else if (version == 2) {
    dim3 t(32, 32), g((N + 31) / 32, (M + 31) / 32);
    sgemm_v2<32><<<g, t, 0, cuda_stream()>>>(M, N, K, alpha, A, B, beta, C);
  } else {
    dim3 g((N + 127) / 128, (M + 127) / 128);
    sgemm_v3<<<g, 256, 0, cuda_stream()>>>(M, N, K, alpha, A, B, beta, C);
  }
  LAUNCH_CHECK();
}
