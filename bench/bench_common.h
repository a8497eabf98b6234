// bench_common.h: what the CPU bench_* programs share besides the protocol (bench/protocol.h: validate, warm up,
// median and spread of timed runs):
//   - GFLOP/s, and % of the peak that a register-only FMA loop reaches on this machine in the same run;
//   - one machine-readable line per result: "RESULT {json}";
//   - command-line arguments.
#pragma once
#include <string>

#include "bench/protocol.h"

// Debian's python3-torch lives under the system interpreter, which a pyenv or venv on PATH may hide.
#define PYTHON_FOR_TORCH "/usr/bin/python3"

namespace bench {

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
