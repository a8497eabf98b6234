// depthwise.cu: depthwise convolution (groups = channels, weight [C, 1, R, S]) and ReLU6 on the GPU, float32, with
// the reference kernels' signatures and formulas (kernels/ref/ref.h). Kept apart from cuda_kernels.cu for length.
//   forward          one thread per output, the R*S taps in a loop (the weights of a channel stay in L1)
//   backward input   one thread per input pixel, a gather over the taps that read it (no atomics: deterministic)
//   backward weight  one block per (c, r, s) tap, a tree reduction over N*P*Q in double; the bias one block per c
#include <cuda_runtime.h>

#include <algorithm>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/ref/ref.h"

namespace {

constexpr int kThreads = 256;
int grid_for(int64_t n) { return (int)std::min<int64_t>((n + kThreads - 1) / kThreads, 65535); }
#define GRID_LOOP(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)

__global__ void dw_fwd_kernel(ConvGeom g, const float* x, const float* w, const float* b, float* y) {
  const int64_t total = (int64_t)g.N * g.C * g.P * g.Q;
  GRID_LOOP(i, total) {
    const int q = (int)(i % g.Q), p = (int)(i / g.Q % g.P);
    const int64_t nc = i / ((int64_t)g.P * g.Q);
    const int c = (int)(nc % g.C);
    const float* xp = x + nc * g.H * g.W;
    const float* wc = w + (int64_t)c * g.R * g.S;
    float acc = b ? b[c] : 0.0f;
    for (int r = 0; r < g.R; r++) {
      const int h = p * g.stride - g.pad + r;
      if (h < 0 || h >= g.H) continue;
      for (int s = 0; s < g.S; s++) {
        const int ww = q * g.stride - g.pad + s;
        if (ww >= 0 && ww < g.W) acc += wc[r * g.S + s] * xp[(int64_t)h * g.W + ww];
      }
    }
    y[i] = acc;
  }
}

// dx[n,c,h,w] += sum over taps (r, s) with h = p*stride - pad + r, w = q*stride - pad + s of dy[n,c,p,q] * w[c,r,s]
__global__ void dw_bwd_in_kernel(ConvGeom g, const float* dy, const float* w, float* dx) {
  const int64_t total = (int64_t)g.N * g.C * g.H * g.W;
  GRID_LOOP(i, total) {
    const int ww = (int)(i % g.W), h = (int)(i / g.W % g.H);
    const int64_t nc = i / ((int64_t)g.H * g.W);
    const int c = (int)(nc % g.C);
    const float* dyp = dy + nc * g.P * g.Q;
    const float* wc = w + (int64_t)c * g.R * g.S;
    float acc = 0.0f;
    for (int r = 0; r < g.R; r++) {
      const int t = h + g.pad - r;
      if (t < 0 || t % g.stride) continue;
      const int p = t / g.stride;
      if (p >= g.P) continue;
      for (int s = 0; s < g.S; s++) {
        const int u = ww + g.pad - s;
        if (u < 0 || u % g.stride) continue;
        const int q = u / g.stride;
        if (q < g.Q) acc += dyp[(int64_t)p * g.Q + q] * wc[r * g.S + s];
      }
    }
    dx[i] += acc;
  }
}

// One block per tap (c, r, s): dw[c,r,s] += sum_{n,p,q} dy[n,c,p,q] * x[n,c,h,w], summed in double in a fixed order.
__global__ void dw_bwd_w_kernel(ConvGeom g, const float* x, const float* dy, float* dw) {
  __shared__ double part[kThreads];
  const int tap = blockIdx.x, c = tap / (g.R * g.S), r = tap / g.S % g.R, s = tap % g.S;
  const int64_t PQ = (int64_t)g.P * g.Q, total = (int64_t)g.N * PQ;
  double acc = 0;
  for (int64_t i = threadIdx.x; i < total; i += blockDim.x) {
    const int n = (int)(i / PQ), p = (int)(i % PQ / g.Q), q = (int)(i % g.Q);
    const int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
    if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
    const int64_t nc = (int64_t)n * g.C + c;
    acc += (double)dy[nc * PQ + (int64_t)p * g.Q + q] * x[(nc * g.H + h) * g.W + ww];
  }
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) dw[tap] += (float)part[0];
}

__global__ void dw_bwd_b_kernel(ConvGeom g, const float* dy, float* db) {
  __shared__ double part[kThreads];
  const int c = blockIdx.x;
  const int64_t PQ = (int64_t)g.P * g.Q, total = (int64_t)g.N * PQ;
  double acc = 0;
  for (int64_t i = threadIdx.x; i < total; i += blockDim.x) acc += dy[((int64_t)(i / PQ) * g.C + c) * PQ + i % PQ];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (int k = blockDim.x / 2; k > 0; k /= 2) {
    if ((int)threadIdx.x < k) part[threadIdx.x] += part[threadIdx.x + k];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[c] += (float)part[0];
}

__global__ void relu6_fwd_kernel(int64_t n, const float* x, float* y) {
  GRID_LOOP(i, n) y[i] = x[i] > 0.0f ? (x[i] < 6.0f ? x[i] : 6.0f) : 0.0f;
}
__global__ void relu6_bwd_kernel(int64_t n, const float* y, const float* dy, float* dx) {
  GRID_LOOP(i, n) if (y[i] > 0.0f && y[i] < 6.0f) dx[i] += dy[i];
}

}  // namespace

namespace cudak {

void depthwise_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const int64_t n = (int64_t)g.N * g.C * g.P * g.Q;
  dw_fwd_kernel<<<grid_for(n), kThreads, 0, cuda_stream()>>>(g, x, w, b, y);
  LAUNCH_CHECK();
}
void depthwise_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const int64_t n = (int64_t)g.N * g.C * g.H * g.W;
  dw_bwd_in_kernel<<<grid_for(n), kThreads, 0, cuda_stream()>>>(g, dy, w, dx);
  LAUNCH_CHECK();
}
void depthwise_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db) {
  dw_bwd_w_kernel<<<g.C * g.R * g.S, kThreads, 0, cuda_stream()>>>(g, x, dy, dw);
  LAUNCH_CHECK();
  if (db) {
    dw_bwd_b_kernel<<<g.C, kThreads, 0, cuda_stream()>>>(g, dy, db);
    LAUNCH_CHECK();
  }
}
void relu6_forward(int64_t n, const float* x, float* y) {
  relu6_fwd_kernel<<<grid_for(n), kThreads, 0, cuda_stream()>>>(n, x, y);
  LAUNCH_CHECK();
}
void relu6_backward(int64_t n, const float* y, const float* dy, float* dx) {
  relu6_bwd_kernel<<<grid_for(n), kThreads, 0, cuda_stream()>>>(n, y, dy, dx);
  LAUNCH_CHECK();
}

}  // namespace cudak
