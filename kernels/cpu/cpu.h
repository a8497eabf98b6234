// cpu.h: the fast CPU kernels (float32, OpenMP over the cores). Every op of the dispatch table has the reference
// kernel's signature and formula (kernels/ref/ref.h declares cpu::op from ref::op<float>); "+=" outputs accumulate.
// Declared here: what the CPU has beyond that, the convolution's im2col pieces and the GEMM (gemm.h).
#pragma once
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "kernels/geom.h"
#include "kernels/ref/ref.h"

namespace cpu {

// Convolution as im2col + GEMM, one image at a time. Forward and the weight gradient never write the column matrix
// out: the GEMM asks for it a window at a time (gemm.h: BWindow), and 1x1 stride-1 pad-0 convolutions skip im2col
// altogether (the image already is the column matrix). The input gradient takes a workspace from the caching
// allocator for the column-matrix gradient it scatters back (at stride 1, for the turned-around weights it
// convolves dy with instead); the weight gradient one for per-thread sums when the batch is split across threads.

// Rows [row0, row0 + rows) and columns [j0, j0 + cols) of x's column matrix, into out with row stride ld. (The whole
// matrix is the window of all its rows and columns; only the tests ask for that.)
void im2col_window(const ConvGeom& g, const float* x, int row0, int rows, int j0, int cols, float* out, int64_t ld);
void col2im(const ConvGeom& g, const float* col, float* x);  // x += scatter(col)

// Depthwise convolution (depthwise.cpp): one (n, c) plane at a time, the plane loops of depthwise_planes.h built for
// three ISAs. A version is three plane functions (sc: the thread's scratch, depthwise_planes.h says its layout):
struct DepthwisePlanes {
  const char* name;  // "generic", "avx2", "avx512"
  void (*forward)(const ConvGeom& g, const float* x, const float* w, float b, float* y, float* sc);
  void (*backward_input)(const ConvGeom& g, const float* dy, const float* w, float* dx, float* sc);
  void (*backward_weight)(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db, float* sc);
};
// Pin a version by name (nullptr or "auto": the widest the CPU has); false if the CPU lacks it. The environment
// variable PIPNET_DEPTHWISE does the same at start-up.
bool depthwise_force(const char* name);
const char* depthwise_active();

}  // namespace cpu
