// bench_gemm: SGEMM GFLOP/s on square sizes and on ResNet-18's im2col GEMM shapes (256x256 input, batch 1 and 16),
// against the machine's measured FMA peak and, when built with OpenBLAS (Debian's libopenblas-dev), against
// OpenBLAS on the same shapes in the same run. The protocol of bench/protocol.h: each library's result is
// validated against the definition first (a sample of C's elements computed in double), then timed (warm-up,
// median of repeated calls); "spread ms" is the fastest and slowest call.
//
//   bench_gemm [--threads N] [--kernel generic|avx2|avx2_4x24|avx512|avx512_emul|avx512_8x32|avx512_8x32_emul|avx512_6x64|avx512_6x64_emul] [--quick]
// Without --threads it runs once single-threaded and once with all threads.
#include <omp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <thread>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/resnet18_shapes.h"
#include "kernels/cpu/gemm.h"
#include "tensor/rng.h"
#include "tensor/tensor.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

bool all_valid = true;  // false once any result failed its validation

struct Shape3 { std::string name; int M, N, K, count; };

// Step 1 of the protocol: 64 sampled elements of C = A B against dot products in double. Tolerances as
// tests/test_gemm.cpp: float rounding grows with the square root of K.
bool validate_shape(const char* lib, const Shape3& s, const std::vector<float>& A, const std::vector<float>& B,
                    const std::vector<float>& C) {
  Rng rng(11);
  constexpr int kSamples = 64;
  std::vector<float> got;
  std::vector<double> want;
  for (int e = 0; e < kSamples; e++) {
    const int i = (int)rng.randint(s.M), j = (int)rng.randint(s.N);
    double d = 0;
    for (int k = 0; k < s.K; k++) d += (double)A[(size_t)i * s.K + k] * B[(size_t)k * s.N + j];
    got.push_back(C[(size_t)i * s.N + j]);
    want.push_back(d);
  }
  return bench::validate(strf("%s %s", lib, s.name.c_str()), got.data(), want.data(), kSamples,
                         2e-5 * std::sqrt((double)s.K), 1e-5);
}

// Times of ours (or OpenBLAS) on each shape, each validated first (a wrong result gets reps == 0: no time). Each
// library is timed on all the shapes in one phase, with a pause before it: both keep worker threads spinning for a
// while after a call (OpenBLAS's pthreads ~0.1 s), and on a 2-core machine a spinning thread of the other library
// halves the cores this one gets (seen: 0.01x on some shapes when the two were interleaved shape by shape).
std::vector<bench::Timing> time_shapes(const std::vector<Shape3>& shapes, bool blas, double budget) {
  std::vector<bench::Timing> t;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  Rng rng(3);
  for (const Shape3& s : shapes) {
    std::vector<float> A((size_t)s.M * s.K), B((size_t)s.K * s.N), C((size_t)s.M * s.N);
    for (float& v : A) v = (float)rng.uniform(-1, 1);
    for (float& v : B) v = (float)rng.uniform(-1, 1);
    std::function<void()> call;
    if (!blas) {
      call = [&] { cpu::sgemm(false, false, s.M, s.N, s.K, 1.0f, A.data(), s.K, B.data(), s.N, 0.0f, C.data(), s.N); };
    } else {
#ifdef HAVE_OPENBLAS
      call = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.M, s.N, s.K, 1.0f, A.data(), s.K, B.data(), s.N,
                    0.0f, C.data(), s.N);
      };
#else
      t.push_back({});  // not built with OpenBLAS
      continue;
#endif
    }
    call();
    t.push_back(validate_shape(blas ? "OpenBLAS" : "ours", s, A, B, C) ? bench::time_for(call, budget) : bench::Timing{});
  }
  return t;
}

void run(const std::vector<Shape3>& shapes, const char* group, int threads, double peak, double budget) {
  omp_set_num_threads(threads);
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
  std::printf("\n%s, %d thread%s, kernel %s, peak %.1f GFLOP/s\n", group, threads, threads > 1 ? "s" : "",
              cpu::gemm_active().name, peak);
  std::printf("%-28s %6s %6s %6s %5s %10s %7s %13s %10s %8s\n", "shape", "M", "N", "K", "x", "GFLOP/s", "%peak",
              "spread ms", "OpenBLAS", "ours/OB");
  double sum_ours = 0, sum_blas = 0, flops = 0;
  const std::vector<bench::Timing> t_ours = time_shapes(shapes, false, budget);
  const std::vector<bench::Timing> t_blas = time_shapes(shapes, true, budget);
  for (size_t i = 0; i < shapes.size(); i++) {
    const Shape3& s = shapes[i];
    if (t_ours[i].reps == 0) {
      all_valid = false;
      std::printf("%-28s %6d %6d %6d %5d INVALID: not timed\n", s.name.c_str(), s.M, s.N, s.K, s.count);
      continue;
    }
    const double ours = t_ours[i].median_s(), blas = t_blas[i].median_s();
    const double f = 2.0 * s.M * s.N * s.K;
    const double g = f / ours / 1e9, gb = blas > 0 ? f / blas / 1e9 : 0;
    sum_ours += ours * s.count;
    sum_blas += blas * s.count;
    flops += f * s.count;
    std::printf("%-28s %6d %6d %6d %5d %10.1f %6.1f%% %13s %10.1f %8.2f\n", s.name.c_str(), s.M, s.N, s.K, s.count, g,
                100 * g / peak, t_ours[i].spread().c_str(), gb, gb > 0 ? g / gb : 0.0);
    bench::result_line(strf("{\"bench\":\"gemm\",\"group\":\"%s\",\"shape\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,"
                            "\"threads\":%d,\"kernel\":\"%s\",\"gflops\":%.2f,\"pct_peak\":%.1f,"
                            "\"median_s\":%.6g,\"min_s\":%.6g,\"max_s\":%.6g,\"reps\":%d,\"openblas_gflops\":%.2f}",
                            group, s.name.c_str(), s.M, s.N, s.K, threads, cpu::gemm_active().name, g, 100 * g / peak,
                            ours, t_ours[i].min_ms * 1e-3, t_ours[i].max_ms * 1e-3, t_ours[i].reps, gb));
  }
  if (shapes.size() > 1 && shapes[0].count > 0) {
    std::printf("%-28s %27s %10.1f %6.1f%% %13s %10.1f %8.2f   (sum of time x count: ours %.2f ms, OpenBLAS %.2f ms)\n",
                "TOTAL", "", flops / sum_ours / 1e9, 100 * flops / sum_ours / 1e9 / peak,
                "", sum_blas > 0 ? flops / sum_blas / 1e9 : 0, sum_blas > 0 ? sum_blas / sum_ours : 0, sum_ours * 1e3,
                sum_blas * 1e3);
    bench::result_line(strf("{\"bench\":\"gemm_total\",\"group\":\"%s\",\"threads\":%d,\"ours_ms\":%.3f,\"openblas_ms\":%.3f}",
                            group, threads, sum_ours * 1e3, sum_blas * 1e3));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (bench::arg_flag(argc, argv, "--help")) {
    std::printf("usage: bench_gemm [--threads N] [--kernel generic|avx2|avx2_4x24|avx512|avx512_emul|avx512_8x32|avx512_8x32_emul|avx512_6x64|avx512_6x64_emul] [--quick]\n");
    return 0;
  }
  const std::string kernel = bench::arg_str(argc, argv, "--kernel", "auto");
  if (!cpu::gemm_force(kernel.c_str())) { std::fprintf(stderr, "error: kernel '%s' unavailable on this CPU\n", kernel.c_str()); return 2; }
  const bool quick = bench::arg_flag(argc, argv, "--quick");
  const double budget = quick ? 0.1 : 0.4;
  bench::Peak peak = bench::measure_peak();
  const int nmax = omp_get_max_threads();
  std::printf("FMA peak (%s): %.1f GFLOP/s one core, %.1f GFLOP/s %d threads\n", peak.unit, peak.gflops_1t,
              peak.gflops_all, nmax);
#ifndef HAVE_OPENBLAS
  std::printf("(built without OpenBLAS: install libopenblas-dev and rebuild for the comparison columns)\n");
#endif
  bench::result_line(strf("{\"bench\":\"peak\",\"unit\":\"%s\",\"gflops_1t\":%.2f,\"gflops_all\":%.2f,\"threads\":%d}",
                          peak.unit, peak.gflops_1t, peak.gflops_all, nmax));

  std::vector<Shape3> square;
  for (int n : quick ? std::vector<int>{256, 1024} : std::vector<int>{256, 512, 1024, 2048}) square.push_back({strf("square %d", n), n, n, n, 0});
  std::vector<Shape3> r18[2];
  const int batches[2] = {1, 16};
  for (int b = 0; b < 2; b++)
    for (const ResNetConv& c : kResNet18Convs) {
      const int P = (c.H + 2 * c.pad - c.R) / c.stride + 1;
      r18[b].push_back({c.name, c.K, batches[b] * P * P, c.C * c.R * c.R, c.count});
    }

  std::vector<int> threads = {1, nmax};
  if (int t = bench::arg_int(argc, argv, "--threads", 0)) threads = {t};
  if (nmax == 1) threads = {1};
  for (int t : threads) {
    const double pk = t == 1 ? peak.gflops_1t : peak.gflops_all;
    run(square, "square", t, pk, budget);
    run(r18[0], "resnet18 convs batch 1", t, pk, budget);
    if (!quick) run(r18[1], "resnet18 convs batch 16", t, pk, budget);
  }
  if (!all_valid) std::printf("error: some results were wrong (validate FAIL above); they were not timed\n");
  return all_valid ? 0 : 1;
}
