// stem_avx512.cpp: the direct stem of stem_rows.h built with -mavx512f (called only after CPUID says so).
#include "kernels/cpu/stem_rows.h"

namespace cpu {

void stem_rows_avx512(const StemBand& a) { stem::conv_rows(a); }
void stem_pool_avx512(const PoolGeom& pg, const float* buf, int lo, int K, int p0, int p1, float* y, float* row) {
  stem::pool_rows(pg, buf, lo, K, p0, p1, y, row);
}

}  // namespace cpu
