// protocol.h: the one benchmark protocol, header-only so that any program can include it (bench_gemm, bench_conv,
// bench_cuda_gemm, and `pipnet bench`):
//   1. validate: run the code under test once and compare its result with the reference kernel (kernels/ref) by
//      |got - want| <= atol + rtol*|want|, reporting how much of the tolerance the worst element used; a benchmark
//      whose result is wrong reports no time for it;
//   2. warm up: `warmup` untimed calls (caches, the allocator, thread pools, cuBLAS handles);
//   3. time: `reps` calls, each timed on its own; report the median and the spread (min, max) in milliseconds.
// On a GPU each call is timed with CUDA events (the caller measures and hands the samples to summarize()); on the
// CPU time_it() uses the steady clock.
#pragma once
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bench {

struct Timing {
  double median_ms = 0, min_ms = 0, max_ms = 0;
  int reps = 0;
  double median_s() const { return median_ms * 1e-3; }
  std::string spread() const {  // "min-max ms", for a table column
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3g-%.3g", min_ms, max_ms);
    return buf;
  }
};

// Median, min and max of per-call times in milliseconds.
inline Timing summarize(std::vector<double> ms) {
  Timing t;
  if (ms.empty()) return t;
  std::sort(ms.begin(), ms.end());
  t.median_ms = ms.size() % 2 ? ms[ms.size() / 2] : 0.5 * (ms[ms.size() / 2 - 1] + ms[ms.size() / 2]);
  t.min_ms = ms.front();
  t.max_ms = ms.back();
  t.reps = (int)ms.size();
  return t;
}

// `warmup` untimed calls of fn, then `reps` timed ones (steady clock, one sample per call).
inline Timing time_it(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; i++) fn();
  std::vector<double> ms;
  ms.reserve(reps);
  for (int i = 0; i < reps; i++) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - a).count());
  }
  return summarize(ms);
}

// The same with the repetitions chosen to fill about `seconds`: one warm-up call, which also estimates a call's
// cost, then between 3 and 1000 timed calls.
inline Timing time_for(const std::function<void()>& fn, double seconds) {
  const auto a = std::chrono::steady_clock::now();
  fn();
  const double one = std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
  const int reps = std::max(3, std::min(1000, (int)(seconds / std::max(one, 1e-7))));
  return time_it(fn, 0, reps);
}

// Step 1: got[i] against want[i] (the reference, in double) for i < n. Prints one line naming `what` and the share
// of the tolerance the worst element used, and returns whether every element is within it (NaN never is).
template <class G, class W>
inline bool validate(const std::string& what, const G* got, const W* want, size_t n, double atol, double rtol) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    const double g = got[i], w = want[i], budget = atol + rtol * std::fabs(w);
    const double used = g == w ? 0.0 : std::fabs(g - w) / budget;
    if (!(used <= worst)) { worst = used; at = i; }  // NaN counts as worst
  }
  const bool ok = worst <= 1.0;
  std::printf("validate %-40s %s: worst element %zu used %.1f%% of the tolerance (atol %g, rtol %g)\n", what.c_str(),
              ok ? "ok  " : "FAIL", at, 100 * worst, atol, rtol);
  return ok;
}

}  // namespace bench
