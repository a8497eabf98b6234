// sgemm_v3_regs.cu: v3, register tiles. The idea it adds to v2: each thread computes an 8x8 block of C held in
// registers, from 128x8 / 8x128 shared tiles; per k step a thread reads 8 + 8 values from shared memory and does
// 64 FMAs (v2: 2 reads per FMA), so shared-memory bandwidth stops being the limit. Contract: sgemm_versions.h.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/sgemm_versions.h"

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

void sgemm_v3_regs(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C) {
  dim3 g((N + 127) / 128, (M + 127) / 128);
  sgemm_v3<<<g, 256, 0, cuda_stream()>>>(M, N, K, alpha, A, B, beta, C);
  LAUNCH_CHECK();
}
