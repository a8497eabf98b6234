// geom.h: the shape records that kernels take. Every kernel in ref/, cpu/ and cuda/ reads its sizes from these.
#pragma once
#include <cstdint>

// 2-D convolution (and, with the roles of x and y swapped, transposed convolution).
//   x [N, C, H, W]  ->  y [N, K, P, Q]     weight w [K, C, R, S]
//   P = (H + 2*pad - R) / stride + 1,  Q = (W + 2*pad - S) / stride + 1
// A convolution's weights made ready for the CPU's inference kernels once (kern::conv2d_prepare): Winograd's
// transformed weights (wino_m 2 or 4; 0: none) and the weights packed for the GEMM (gemm_kernel: the index of the
// kernel they were packed for, cpu::gemm_kernel; -1: none). The other backends ignore it.
struct ConvPrep {
  int wino_m = 0;
  const float* wino = nullptr;
  int wino_kernel = -1;  // the GEMM micro-kernel wino was packed for
  int gemm_kernel = -1;
  const float* packed = nullptr;
  const float* narrow = nullptr;  // the weights packed as B for cpu::conv_narrow's calls (or null)
  int narrow_kernel = -1;         // the micro-kernel they were packed for
};

struct ConvGeom {
  int N, C, H, W;   // input
  int K, R, S;      // output channels, kernel height, kernel width
  int stride, pad;
  int P, Q;         // output height, width
  static ConvGeom make(int N, int C, int H, int W, int K, int R, int S, int stride, int pad) {
    return {N, C, H, W, K, R, S, stride, pad, (H + 2 * pad - R) / stride + 1, (W + 2 * pad - S) / stride + 1};
  }
  int64_t flops() const { return 2LL * N * K * P * Q * C * R * S; }  // multiply-adds x 2, forward
  bool is_pointwise() const { return R == 1 && S == 1 && stride == 1 && pad == 0; }
};

// Pooling window (max pooling), same output-size rule as convolution, no ceil mode.
struct PoolGeom {
  int N, C, H, W;
  int k, stride, pad;
  int P, Q;
  static PoolGeom make(int N, int C, int H, int W, int k, int stride, int pad) {
    return {N, C, H, W, k, stride, pad, (H + 2 * pad - k) / stride + 1, (W + 2 * pad - k) / stride + 1};
  }
};
