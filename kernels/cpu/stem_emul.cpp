// stem_emul.cpp: the same direct stem (stem_rows.h) built with baseline x86-64 flags, so that it runs on any CPU:
// the tests check its logic with it on machines without AVX-512. Never chosen automatically.
#include "kernels/cpu/stem_rows.h"

namespace cpu {

void stem_rows_emul(const StemBand& a) { stem::conv_rows(a); }
void stem_pool_emul(const PoolGeom& pg, const float* buf, int lo, int K, int p0, int p1, float* y, float* row) {
  stem::pool_rows(pg, buf, lo, K, p0, p1, y, row);
}

}  // namespace cpu
