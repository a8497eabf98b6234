// cpuid.cpp: which vector units this CPU has (and the OS saves their registers), for run-time kernel choice; and
// the floating-point mode the programs run the kernels in.
#include <cpuid.h>
#include <omp.h>
#include <xmmintrin.h>

#include "kernels/cpu/gemm.h"

namespace cpu {

static uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return ((uint64_t)hi << 32) | lo;
}

// CPUID traps to the hypervisor in a virtual machine (microseconds), and sgemm asks on every call: ask once.
static bool probe_avx2_fma() {
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28);
  if (!(fma && osxsave && avx) || (xgetbv0() & 0x6) != 0x6) return false;  // XMM and YMM state enabled
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return b & (1u << 5);
}

static bool probe_avx512f() {
  unsigned a, b, c, d;
  if (!probe_avx2_fma() || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (b & (1u << 16)) && (xgetbv0() & 0xE6) == 0xE6;  // opmask, ZMM_Hi256, Hi16_ZMM state enabled
}

bool cpu_has_avx2_fma() {
  static const bool yes = probe_avx2_fma();
  return yes;
}

bool cpu_has_avx512f() {
  static const bool yes = probe_avx512f();
  return yes;
}

void flush_denormals() {
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
#pragma omp parallel
  _mm_setcsr(_mm_getcsr() | 0x8040);
}

}  // namespace cpu
