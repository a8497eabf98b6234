// bench_cuda_gemm: the hand-written SGEMM versions (kernels/cuda/sgemm_tiled.cu) against cuBLAS ("version 0") on
// square sizes and ResNet-18's im2col shapes, timed with CUDA events (median of 20 after warm-up), GFLOP/s and %
// of cuBLAS, one RESULT line each. Built only with nvcc; needs a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "tensor/tensor.h"

int main() {
  if (!cuda_available()) { std::printf("bench_cuda_gemm: no CUDA device\n"); return 0; }
  struct S { const char* name; int M, N, K; };
  const S shapes[] = {{"square 1024", 1024, 1024, 1024}, {"square 4096", 4096, 4096, 4096},
                      {"r18 layer1 b16", 64, 65536, 576}, {"r18 layer4 b16", 512, 1024, 4608}};
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  std::printf("%-16s %6s %6s %6s | %10s %10s %10s %10s\n", "shape", "M", "N", "K", "cuBLAS", "v1 naive", "v2 smem", "v3 regs");
  for (const S& s : shapes) {
    Tensor A = Tensor::full({s.M, s.K}, 0.01, DType::F32, Device::CUDA), B = Tensor::full({s.K, s.N}, 0.02, DType::F32, Device::CUDA);
    Tensor C = Tensor::zeros({s.M, s.N}, DType::F32, Device::CUDA);
    double gf[4];
    for (int v = 0; v < 4; v++) {
      std::vector<float> ms;
      for (int r = 0; r < 23; r++) {
        CUDA_CHECK(cudaEventRecord(e0, cuda_stream()));
        cuda_sgemm_version(v, s.M, s.N, s.K, 1.0f, A.data<float>(), B.data<float>(), 0.0f, C.data<float>());
        CUDA_CHECK(cudaEventRecord(e1, cuda_stream()));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float t;
        CUDA_CHECK(cudaEventElapsedTime(&t, e0, e1));
        if (r >= 3) ms.push_back(t);
      }
      std::sort(ms.begin(), ms.end());
      gf[v] = 2.0 * s.M * s.N * s.K / (ms[ms.size() / 2] * 1e-3) / 1e9;
    }
    std::printf("%-16s %6d %6d %6d | %10.0f %10.0f %10.0f %10.0f   GFLOP/s (v3 %.0f%% of cuBLAS)\n", s.name, s.M, s.N,
                s.K, gf[0], gf[1], gf[2], gf[3], 100 * gf[3] / gf[0]);
    std::printf("RESULT {\"bench\":\"cuda_gemm\",\"shape\":\"%s\",\"cublas\":%.1f,\"v1\":%.1f,\"v2\":%.1f,\"v3\":%.1f}\n", s.name,
                gf[0], gf[1], gf[2], gf[3]);
  }
  CUDA_CHECK(cudaEventDestroy(e0));
  CUDA_CHECK(cudaEventDestroy(e1));
  return 0;
}
