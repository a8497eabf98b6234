#include "bench/bench_common.h"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm.h"

namespace bench {

// Register-only FMA loops: enough independent accumulators to cover the FMA latency on both ports; no memory.
__attribute__((target("avx2,fma"))) static double fma_loop_avx2(long iters) {
  __m256 a[12], b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
  for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], b, c);
  float s = 0;
  for (int i = 0; i < 12; i++) s += _mm256_cvtss_f32(a[i]);
  return s;
}
__attribute__((target("avx512f"))) static double fma_loop_avx512(long iters) {
  __m512 a[12], b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
  for (long it = 0; it < iters; it++)
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], b, c);
  float s = 0;
  for (int i = 0; i < 12; i++) s += _mm512_cvtss_f32(a[i]);
  return s;
}

Peak measure_peak() {
  const bool z = cpu::cpu_has_avx512f(), y = cpu::cpu_has_avx2_fma();
  if (!y) return {"scalar", 0, 0};
  const long iters = 4'000'000;
  const double flops_per_iter = 12.0 * (z ? 16 : 8) * 2;
  volatile double sink = 0;
  auto run = [&] { sink = sink + (z ? fma_loop_avx512(iters) : fma_loop_avx2(iters)); };
  double t1 = time_it(run, 1, 5).median_s();
  const int nt = omp_get_max_threads();
  double tall = time_it([&] {
#pragma omp parallel num_threads(nt)
    { double s = z ? fma_loop_avx512(iters) : fma_loop_avx2(iters); if (s == 12345.678) std::printf("."); }
  }, 1, 5).median_s();
  return {z ? "avx512" : "avx2", iters * flops_per_iter / t1 / 1e9, nt * iters * flops_per_iter / tall / 1e9};
}

void result_line(const std::string& json) { std::printf("RESULT %s\n", json.c_str()); }

int arg_int(int argc, char** argv, const char* name, int def) {
  for (int i = 1; i + 1 < argc; i++) if (!std::strcmp(argv[i], name)) return std::atoi(argv[i + 1]);
  return def;
}
bool arg_flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; i++) if (!std::strcmp(argv[i], name)) return true;
  return false;
}
std::string arg_str(int argc, char** argv, const char* name, const std::string& def) {
  for (int i = 1; i + 1 < argc; i++) if (!std::strcmp(argv[i], name)) return argv[i + 1];
  return def;
}

}  // namespace bench
