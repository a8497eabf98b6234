// cpu.h: the fast CPU kernels (float32, OpenMP over the cores). Every op of the dispatch table has the reference
// kernel's signature and formula (kernels/ref/ref.h declares cpu::op from ref::op<float>); "+=" outputs accumulate.
// Declared here: what the CPU has beyond that, the convolution's im2col pieces and the GEMM (gemm.h).
#pragma once
#include <cstdint>

#include "tensor/allocator.h"

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

// Narrow maps (a few output pixels: ResNet's layer4 at inputs of 128 and below, 2x2 at 64): the GEMM's N, the
// pixels, is narrower than the kernels' NR (16 to 64), so that most of each tile would be padding. Such a call runs
// transposed instead, y^T [PQ x K] = col^T w^T, with the weights packed ahead as B for narrow_gemm(PQ, K): its rows
// are the pixels (MR of 6 to 12), its NR the output channels. conv_narrow: whether a call takes that path.
bool conv_narrow(const ConvGeom& g);
const GemmKernel& narrow_gemm(int PQ, int K);
// w [K x CRS] as B [CRS x K] packed for uk (packed_b_floats(uk, CRS, K) floats)
void narrow_weights(const GemmKernel& uk, const float* w, int K, int CRS, float* out);

// Max pooling of output rows [p0, p1) of one plane (elementwise.cpp), input row h at xrows + (h - h0) * ld, with a
// row buffer rm of maxpool_row_floats(g) floats: maxpool_forward's loop, and the pooling half of
// conv2d_relu_maxpool's GEMM path, which pools the convolution's rows a band at a time while they are in cache.
int maxpool_row_floats(const PoolGeom& g);
void maxpool_plane_rows(const PoolGeom& g, const float* xrows, int h0, int64_t ld, int p0, int p1, float* y, float* rm);
// The 3x3/2 pad-1 pool's row loop: "avx512" (16 outputs at a time; the default when the GEMM kernels are
// AVX-512's) or "sse" (four; any x86-64), "auto" for the default; false if the CPU lacks it. The tests run both.
bool maxpool_force(const char* name);
// conv2d_relu_maxpool's direct path (stem_rows.h), for convolutions of few taps (C*R*S <= 512) and output channels
// a multiple of 64: one band of output rows, read from a padded copy of its input rows.
constexpr int kStemTilePixels = 6;  // output pixels of one tile of the direct stem (stem_rows.h)
struct StemBand {
  const float* xp;   // the copy: channel c's row i at xp + c * plane + i * Wp
  const int* taps;   // tap (c, r, s)'s offset from an output pixel's top-left: c * plane + r * Wp + s
  const float* wt;   // weights [C*R*S][K]
  const float* bias; // [K] or null
  float* out;        // [rows][Q][K], channels last
  int64_t plane;
  int Wp, CRS, K, Q, stride, rows;
  bool relu;
};
// Pin the path ("avx512", "emul": the direct one built for AVX-512 or for any CPU; "gemm": im2col + GEMM a band at a
// time; "auto": AVX-512's when the GEMM kernels are AVX-512's, else the GEMM); false if the CPU lacks it.
bool stem_force(const char* name);
// Whether conv2d_relu_maxpool takes this convolution (else the caller runs the two ops): the direct stem's shape
// (stem_rows.h), or its column matrix read straight from the image (stride 2 or more, output rows of 16 or more,
// AVX-512 GEMM kernels), and the pool's input its output.
bool conv_relu_maxpool_fits(const ConvGeom& g, const PoolGeom& pg);

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

// Winograd F(m x m, 3x3) for 3x3 stride-1 convolutions at inference (winograd.cpp): the weights transformed once
// into U [(m+2)^2][Cp][Kp] (C and K rounded up to 16), then y = conv(x) + bias (+ residual) (ReLU, if relu).
// The per-tile transforms (winograd_tiles.h) are built for three ISAs like the depthwise planes.
struct WinogradTiles {
  const char* name;  // "generic", "avx2", "avx512"
  void (*input2)(const float* d, int64_t rs, float* V, int64_t vs);   // F(2x2, 3x3)
  void (*output2)(const float* M, int64_t vs, float* out);
  void (*input4)(const float* d, int64_t rs, float* V, int64_t vs);   // F(4x4, 3x3)
  void (*output4)(const float* M, int64_t vs, float* out);
};
bool winograd_force(const char* name);  // as depthwise_force; PIPNET_WINOGRAD at start-up
const char* winograd_active();
bool winograd_fits(const ConvGeom& g);  // 3x3, stride 1
// m (2 or 4) of the transformed weights to make ahead for a 3x3 stride-1 layer of K outputs and C inputs, or 0 for
// none; PIPNET_WINOGRAD_M=0|2|4 overrides it for every layer.
int winograd_choice(int K, int C);
bool winograd_worth(const ConvGeom& g, int m);  // enough tiles in this call for the GEMMs to pay
// What this call runs: F(4x4) where it has enough tiles (winograd_worth), else F(2x2) where that has, else 0
// (im2col + GEMM); PIPNET_WINOGRAD_M pins m (or none) here too.
int winograd_pick(const ConvGeom& g);
// Whether a call that picks F(2x2) makes that form when its layer was prepared with F(4x4) only: layers of 64 input
// channels or more (ResNet's layer2 and layer3 on 8x8 maps, at inputs of 64 and 128: F(2x2) measured 0.5-0.6x of
// im2col's time at batch 1); narrower ones keep im2col.
bool winograd_late_f2(const ConvGeom& g);
// U holds each U[xi] packed for the GEMM micro-kernel uk (gemm.h: pack_b), winograd_gemm(K) unless a test pins
// another; conv2d_winograd must be given the same uk.
const GemmKernel& winograd_gemm(int K);
int64_t winograd_weight_floats(int m, int K, int C, const GemmKernel& uk);
void winograd_weights(int m, const float* w, int K, int C, const GemmKernel& uk, float* U);  // w [K][C][3][3] -> U (in double)
void conv2d_winograd(const ConvGeom& g, int m, const float* x, const float* U, const GemmKernel& uk, const float* bias,
                     const float* residual, bool relu, float* y);

// Scratch memory from the caching allocator (so that a loop of calls allocates it once), given back when it goes
// out of scope.
struct Workspace {
  size_t bytes;
  float* p;
  explicit Workspace(int64_t floats)
      : bytes(sizeof(float) * (floats > 0 ? floats : 1)), p(static_cast<float*>(device_alloc(Device::CPU, bytes))) {}
  ~Workspace() { device_free(Device::CPU, p, bytes); }
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
};

}  // namespace cpu
