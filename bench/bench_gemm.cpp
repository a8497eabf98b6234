// bench_gemm: SGEMM GFLOP/s on square sizes and on ResNet-18's im2col GEMM shapes (256x256 input, batch 1 and 16),
// against the machine's measured FMA peak and, when built with OpenBLAS (Debian's libopenblas-dev), against
// OpenBLAS on the same shapes in the same run.
//
//   bench_gemm [--threads N] [--kernel generic|avx2|avx2_4x24|avx512|avx512_emul] [--quick]
// Without --threads it runs once single-threaded and once with all threads.
#include <omp.h>

#include <chrono>
#include <cstdio>
#include <thread>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/resnet18_shapes.h"
#include "kernels/cpu/gemm.h"
#include "tensor/tensor.h"

#ifdef HAVE_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

struct Shape3 { std::string name; int M, N, K, count; };

// Seconds per call of ours (or OpenBLAS) on each shape. Each library is timed on all the shapes in one phase, with a
// pause before it: both keep worker threads spinning for a while after a call (OpenBLAS's pthreads ~0.1 s), and on
// a 2-core machine a spinning thread of the other library halves the cores this one gets (seen: 0.01x on some
// shapes when the two were interleaved shape by shape).
std::vector<double> time_shapes(const std::vector<Shape3>& shapes, bool blas, double budget) {
  std::vector<double> t;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (const Shape3& s : shapes) {
    std::vector<float> A((size_t)s.M * s.K, 0.5f), B((size_t)s.K * s.N, 0.25f), C((size_t)s.M * s.N);
    if (!blas) {
      t.push_back(bench::time_for([&] {
        cpu::sgemm(false, false, s.M, s.N, s.K, 1.0f, A.data(), s.K, B.data(), s.N, 0.0f, C.data(), s.N);
      }, budget));
    } else {
#ifdef HAVE_OPENBLAS
      t.push_back(bench::time_for([&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.M, s.N, s.K, 1.0f, A.data(), s.K, B.data(), s.N,
                    0.0f, C.data(), s.N);
      }, budget));
#else
      t.push_back(0);
#endif
    }
  }
  return t;
}

struct Timing { double ours, blas; };  // seconds per call (blas 0 if not built)

void run(const std::vector<Shape3>& shapes, const char* group, int threads, double peak, double budget) {
  omp_set_num_threads(threads);
#ifdef HAVE_OPENBLAS
  openblas_set_num_threads(threads);
#endif
  std::printf("\n%s, %d thread%s, kernel %s, peak %.1f GFLOP/s\n", group, threads, threads > 1 ? "s" : "",
              cpu::gemm_active().name, peak);
  std::printf("%-28s %6s %6s %6s %5s %10s %7s %10s %8s\n", "shape", "M", "N", "K", "x", "GFLOP/s", "%peak",
              "OpenBLAS", "ours/OB");
  double sum_ours = 0, sum_blas = 0, flops = 0;
  const std::vector<double> t_ours = time_shapes(shapes, false, budget), t_blas = time_shapes(shapes, true, budget);
  for (size_t i = 0; i < shapes.size(); i++) {
    const Shape3& s = shapes[i];
    const Timing t{t_ours[i], t_blas[i]};
    const double f = 2.0 * s.M * s.N * s.K;
    const double g = f / t.ours / 1e9, gb = t.blas > 0 ? f / t.blas / 1e9 : 0;
    sum_ours += t.ours * s.count;
    sum_blas += t.blas * s.count;
    flops += f * s.count;
    std::printf("%-28s %6d %6d %6d %5d %10.1f %6.1f%% %10.1f %8.2f\n", s.name.c_str(), s.M, s.N, s.K, s.count, g,
                100 * g / peak, gb, gb > 0 ? g / gb : 0.0);
    bench::result_line(strf("{\"bench\":\"gemm\",\"group\":\"%s\",\"shape\":\"%s\",\"M\":%d,\"N\":%d,\"K\":%d,"
                            "\"threads\":%d,\"kernel\":\"%s\",\"gflops\":%.2f,\"pct_peak\":%.1f,\"openblas_gflops\":%.2f}",
                            group, s.name.c_str(), s.M, s.N, s.K, threads, cpu::gemm_active().name, g, 100 * g / peak, gb));
  }
  if (shapes.size() > 1 && shapes[0].count > 0) {
    std::printf("%-28s %27s %10.1f %6.1f%% %10.1f %8.2f   (sum of time x count: ours %.2f ms, OpenBLAS %.2f ms)\n",
                "TOTAL", "", flops / sum_ours / 1e9, 100 * flops / sum_ours / 1e9 / peak,
                sum_blas > 0 ? flops / sum_blas / 1e9 : 0, sum_blas > 0 ? sum_blas / sum_ours : 0, sum_ours * 1e3,
                sum_blas * 1e3);
    bench::result_line(strf("{\"bench\":\"gemm_total\",\"group\":\"%s\",\"threads\":%d,\"ours_ms\":%.3f,\"openblas_ms\":%.3f}",
                            group, threads, sum_ours * 1e3, sum_blas * 1e3));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (bench::arg_flag(argc, argv, "--help")) {
    std::printf("usage: bench_gemm [--threads N] [--kernel generic|avx2|avx2_4x24|avx512|avx512_emul] [--quick]\n");
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
  return 0;
}
