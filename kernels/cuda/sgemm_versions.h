// sgemm_versions.h: the launchers of the hand-written SGEMM versions, one per file (sgemm_v1_naive.cu,
// sgemm_v2_smem.cu, sgemm_v3_regs.cu), for the dispatcher cuda_sgemm_version (sgemm_versions.cu). Each launches
// its kernel on the engine's stream and checks the launch. Row-major C[M,N] = alpha * A[M,K] * B[K,N] + beta * C,
// no transposes, device pointers, any sizes (edges are guarded).
#pragma once

void sgemm_v1_naive(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C);
void sgemm_v2_smem(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C);
void sgemm_v3_regs(int M, int N, int K, float alpha, const float* A, const float* B, float beta, float* C);
