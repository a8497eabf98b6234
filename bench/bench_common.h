// bench_common.h: the benchmark protocol shared by every bench_* program.
//   - warm-up runs, then the median of timed runs (steady clock);
//   - GFLOP/s, and % of the peak that a register-only FMA loop reaches on this machine in the same run;
//   - one machine-readable line per result: "RESULT {json}".
#pragma once
#include <chrono>
#include <functional>
#include <string>

// Debian's python3-torch lives under the system interpreter, which a pyenv or venv on PATH may hide.
#define PYTHON_FOR_TORCH "/usr/bin/python3"

namespace bench {

// Median seconds of `reps` timed calls after `warmup` untimed ones.
double time_median(const std::function<void()>& f, int reps, int warmup = 1);
// Run f repeatedly for about `seconds` and return the median per-call time (at least 3 calls).
double time_for(const std::function<void()>& f, double seconds);

struct Peak {
  const char* unit;   // "avx512", "avx2" or "scalar": the widest vector unit used
  double gflops_1t;   // one core
  double gflops_all;  // all OpenMP threads at once
};
Peak measure_peak();  // ~0.3 s

void result_line(const std::string& json);  // prints "RESULT " + json
int arg_int(int argc, char** argv, const char* name, int def);
bool arg_flag(int argc, char** argv, const char* name);
std::string arg_str(int argc, char** argv, const char* name, const std::string& def);

}  // namespace bench
