// bench_cuda_gemm: the hand-written SGEMM versions (kernels/cuda/sgemm_v*.cu) against cuBLAS ("version 0") on
// square sizes and ResNet-18's im2col shapes, GFLOP/s and % of cuBLAS, one RESULT line each. The protocol of
// bench/protocol.h: each version's result is validated first (a sample of C's elements against dot products in
// double on the host), then timed with CUDA events: 3 warm-up calls, the median and spread of 20. Built only with
// nvcc; needs a GPU.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "bench/protocol.h"
#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

namespace {

constexpr int kVersions = 4;  // 0 cuBLAS, 1 naive, 2 shared-memory tiles, 3 register tiles
const char* kNames[kVersions] = {"cuBLAS", "v1 naive", "v2 smem", "v3 regs"};

// Step 1: 64 sampled elements of C = A B (device) against dot products of the host copies in double.
bool validate_version(int v, const char* shape, int M, int N, int K, const std::vector<float>& A,
                      const std::vector<float>& B, const Tensor& C) {
  const std::vector<float> c = C.to_vector();
  Rng rng(11);
  constexpr int kSamples = 64;
  std::vector<float> got;
  std::vector<double> want;
  for (int e = 0; e < kSamples; e++) {
    const int i = (int)rng.randint(M), j = (int)rng.randint(N);
    double d = 0;
    for (int k = 0; k < K; k++) d += (double)A[(size_t)i * K + k] * B[(size_t)k * N + j];
    got.push_back(c[(size_t)i * N + j]);
    want.push_back(d);
  }
  // cuBLAS's default math is FP32 (no TF32): the float tolerance of tests/test_gemm.cpp, growing with sqrt(K).
  return bench::validate(std::string(kNames[v]) + " " + shape, got.data(), want.data(), kSamples,
                         2e-5 * std::sqrt((double)K), 1e-5);
}

}  // namespace

int main() {
  if (!cuda_available()) { std::printf("bench_cuda_gemm: no CUDA device\n"); return 0; }
  struct S { const char* name; int M, N, K; };
  const S shapes[] = {{"square 1024", 1024, 1024, 1024}, {"square 4096", 4096, 4096, 4096},
                      {"r18 layer1 b16", 64, 65536, 576}, {"r18 layer4 b16", 512, 1024, 4608}};
  cudaEvent_t e0, e1;
  CUDA_CHECK(cudaEventCreate(&e0));
  CUDA_CHECK(cudaEventCreate(&e1));
  bool all_valid = true;
  std::printf("%-16s %6s %6s %6s |", "shape", "M", "N", "K");
  for (const char* n : kNames) std::printf(" %10s %15s |", n, "spread ms");
  std::printf("\n");
  Rng rng(3);
  for (const S& s : shapes) {
    std::vector<float> a((size_t)s.M * s.K), b((size_t)s.K * s.N);
    for (float& v : a) v = (float)rng.uniform(-1, 1);
    for (float& v : b) v = (float)rng.uniform(-1, 1);
    Tensor A = Tensor::from({s.M, s.K}, a).to(Device::CUDA), B = Tensor::from({s.K, s.N}, b).to(Device::CUDA);
    Tensor C = Tensor::zeros({s.M, s.N}, DType::F32, Device::CUDA);
    bench::Timing t[kVersions];
    for (int v = 0; v < kVersions; v++) {
      auto call = [&] { cuda_sgemm_version(v, s.M, s.N, s.K, 1.0f, A.data<float>(), B.data<float>(), 0.0f, C.data<float>()); };
      C.fill_(0.0);
      call();
      if (!validate_version(v, s.name, s.M, s.N, s.K, a, b, C)) { all_valid = false; continue; }  // not timed
      for (int r = 0; r < 3; r++) call();
      std::vector<double> ms;
      for (int r = 0; r < 20; r++) {
        CUDA_CHECK(cudaEventRecord(e0, cuda_stream()));
        call();
        CUDA_CHECK(cudaEventRecord(e1, cuda_stream()));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float one;
        CUDA_CHECK(cudaEventElapsedTime(&one, e0, e1));
        ms.push_back(one);
      }
      t[v] = bench::summarize(ms);
    }
    double gf[kVersions];
    std::printf("%-16s %6d %6d %6d |", s.name, s.M, s.N, s.K);
    for (int v = 0; v < kVersions; v++) {
      gf[v] = t[v].reps ? 2.0 * s.M * s.N * s.K / t[v].median_s() / 1e9 : 0;
      std::printf(" %10.0f %15s |", gf[v], t[v].reps ? t[v].spread().c_str() : "INVALID");
    }
    std::printf("   GFLOP/s (v3 %.0f%% of cuBLAS)\n", gf[0] > 0 ? 100 * gf[3] / gf[0] : 0.0);
    std::printf("RESULT {\"bench\":\"cuda_gemm\",\"shape\":\"%s\",\"cublas\":%.1f,\"v1\":%.1f,\"v2\":%.1f,\"v3\":%.1f,"
                "\"median_ms\":[%.4g,%.4g,%.4g,%.4g],\"min_ms\":[%.4g,%.4g,%.4g,%.4g],\"max_ms\":[%.4g,%.4g,%.4g,%.4g]}\n",
                s.name, gf[0], gf[1], gf[2], gf[3], t[0].median_ms, t[1].median_ms, t[2].median_ms, t[3].median_ms,
                t[0].min_ms, t[1].min_ms, t[2].min_ms, t[3].min_ms, t[0].max_ms, t[1].max_ms, t[2].max_ms, t[3].max_ms);
  }
  CUDA_CHECK(cudaEventDestroy(e0));
  CUDA_CHECK(cudaEventDestroy(e1));
  if (!all_valid) std::printf("error: some versions computed wrong results (validate FAIL above); not timed\n");
  return all_valid ? 0 : 1;
}
