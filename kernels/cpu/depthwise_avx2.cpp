// depthwise_avx2.cpp: the plane kernels of depthwise_planes.h built with -mavx2 -mfma (used only after CPUID says so).
#include "kernels/cpu/depthwise_planes.h"

namespace cpu {
extern const DepthwisePlanes kDepthwiseAvx2 = DEPTHWISE_PLANES("avx2");
}
