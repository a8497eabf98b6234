// depthwise_avx512.cpp: the plane kernels of depthwise_planes.h built with -mavx512f -mfma and 512-bit vectors
// (used only after CPUID says so).
#include "kernels/cpu/depthwise_planes.h"

namespace cpu {
extern const DepthwisePlanes kDepthwiseAvx512 = DEPTHWISE_PLANES("avx512");
}
