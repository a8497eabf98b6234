// cuda_kernels.cu: every op of kernels/dispatch.h on an NVIDIA GPU, float32. Same contracts and signatures as the
// reference kernels (kernels/ref/ref.h documents each formula and declares cudak::op), on device pointers; "+="
// outputs accumulate. One stream (cuda_stream()), cuBLAS for the GEMMs, every call and launch checked with file
// and line (cuda_check.h). Reductions are two-stage and ordered, scatter-adds are written as gathers: the
// same inputs give the same bits on every run, as on the CPU.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "kernels/ref/ref.h"
#include "tensor/allocator.h"
#include "tensor/check.h"

namespace {

constexpr int kThreads = 256;
int blocks_for(int64_t n) { return (int)((n + kThreads - 1) / kThreads); }

cudaStream_t g_stream = nullptr;
cublasHandle_t g_blas = nullptr;

// Scratch device memory (n elements of T) from the caching allocator, given back when it goes out of scope. On the
// one stream, a block handed out again is only touched by kernels queued after those that used it.
template <class T> struct Scratch {
  size_t bytes;
  T* p = nullptr;
  explicit Scratch(int64_t n) : bytes(sizeof(T) * (n > 0 ? n : 0)) {
    if (bytes) p = static_cast<T*>(device_alloc(Device::CUDA, bytes));
  }
  ~Scratch() { if (p) device_free(Device::CUDA, p, bytes); }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

}  // namespace

cudaStream_t cuda_stream() {
  if (!g_stream) CUDA_CHECK(cudaStreamCreate(&g_stream));
  return g_stream;
}

// ---- GEMM through cuBLAS -------------------------------------------------------------------------------
// cuBLAS is column-major; the engine is row-major. A row-major matrix X [r x c] is, read column-major, X^T [c x r].
// So the row-major product C = op(A) op(B) is computed as the column-major product C^T = op(B)^T op(A)^T: pass B
// first, A second, swap M and N, and keep each operand's own transpose flag. This is the only place that knows.
void cuda_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                float beta, float* C, int ldc) {
  if (!g_blas) {
    CUBLAS_CHECK(cublasCreate(&g_blas));
    CUBLAS_CHECK(cublasSetStream(g_blas, cuda_stream()));
    // A workspace of our own, set once: cuBLAS then never allocates inside a call, which a CUDA graph capture
    // (kernels/graph.h) needs. 32 MiB covers what NVIDIA documents for Hopper.
    constexpr size_t kWorkspace = 32u << 20;
    void* ws = nullptr;
    CUDA_CHECK(cudaMalloc(&ws, kWorkspace));
    CUBLAS_CHECK(cublasSetWorkspace(g_blas, ws, kWorkspace));
    // FP32 math, always: TF32 tensor-core products (10-bit mantissas) would need looser tolerances everywhere, and
    // nothing in the engine turns them on.
    CUBLAS_CHECK(cublasSetMathMode(g_blas, CUBLAS_DEFAULT_MATH));
  }
  CUBLAS_CHECK(cublasSgemm(g_blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, N, M, K, &alpha, B,
                           ldb, A, lda, &beta, C, ldc));
}

// ---- convolution: im2col + GEMM -------------------------------------------------------------------------
__global__ void im2col_kernel(ConvGeom g, const float* x, float* col) {
  const int64_t PQ = (int64_t)g.P * g.Q, total = (int64_t)g.C * g.R * g.S * PQ;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / PQ, pq = i % PQ;
    const int c = (int)(row / (g.R * g.S)), r = (int)(row / g.S % g.R), s = (int)(row % g.S);
    const int h = (int)(pq / g.Q) * g.stride - g.pad + r, w = (int)(pq % g.Q) * g.stride - g.pad + s;
    col[i] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[((int64_t)c * g.H + h) * g.W + w] : 0.0f;
  }
}

// col2im as a gather: each input pixel sums the column entries that read it (no atomics, fixed order).
__global__ void col2im_kernel(ConvGeom g, const float* col, float* x) {
  const int64_t PQ = (int64_t)g.P * g.Q, total = (int64_t)g.C * g.H * g.W;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i / ((int64_t)g.H * g.W)), h = (int)(i / g.W % g.H), w = (int)(i % g.W);
    float acc = 0.0f;
    for (int r = 0; r < g.R; r++) {
      const int ph = h + g.pad - r;
      if (ph < 0 || ph % g.stride) continue;
      const int p = ph / g.stride;
      if (p >= g.P) continue;
      for (int s = 0; s < g.S; s++) {
        const int qw = w + g.pad - s;
        if (qw < 0 || qw % g.stride) continue;
        const int q = qw / g.stride;
        if (q >= g.Q) continue;
        acc += col[((int64_t)(c * g.R + r) * g.S + s) * PQ + (int64_t)p * g.Q + q];
      }
    }
    x[i] += acc;
  }
}

__global__ void bias_kernel(int64_t total, int K, int PQ, const float* b, float* y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
    y[i] += b[(i / PQ) % K];
}

// db[k] += sum over n, p, q of dy: one block per channel, a tree in shared memory (double).
__global__ void bias_grad_kernel(int N, int K, int PQ, const float* dy, float* db) {
  __shared__ double part[kThreads];
  const int k = blockIdx.x;
  double s = 0;
  for (int64_t i = threadIdx.x; i < (int64_t)N * PQ; i += blockDim.x) s += dy[((int64_t)(i / PQ) * K + k) * PQ + i % PQ];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[k] += (float)part[0];
}

namespace cudak {

// The column matrix [CRS, PQ] of image xn: the image itself for a 1x1 stride-1 convolution, else im2col into col.
static const float* columns(const ConvGeom& g, const float* xn, float* col) {
  if (g.is_pointwise()) return xn;
  const int64_t n = (int64_t)g.C * g.R * g.S * g.P * g.Q;
  im2col_kernel<<<std::min(blocks_for(n), 65535), kThreads, 0, cuda_stream()>>>(g, xn, col);
  LAUNCH_CHECK();
  return col;
}
static int64_t col_floats(const ConvGeom& g) { return g.is_pointwise() ? 0 : (int64_t)g.C * g.R * g.S * g.P * g.Q; }

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  Scratch<float> col(col_floats(g));
  for (int n = 0; n < g.N; n++) {
    const float* B = columns(g, x + (int64_t)n * g.C * g.H * g.W, col.p);
    cuda_sgemm(false, false, g.K, PQ, CRS, 1.0f, w, CRS, B, PQ, 0.0f, y + (int64_t)n * g.K * PQ, PQ);
  }
  if (b) {
    const int64_t total = (int64_t)g.N * g.K * PQ;
    bias_kernel<<<std::min(blocks_for(total), 65535), kThreads, 0, cuda_stream()>>>(total, g.K, PQ, b, y);
    LAUNCH_CHECK();
  }
}

void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  Scratch<float> col(col_floats(g));
  for (int n = 0; n < g.N; n++) {
    const float* dyn = dy + (int64_t)n * g.K * PQ;
    float* dxn = dx + (int64_t)n * g.C * g.H * g.W;
    if (g.is_pointwise()) {
      cuda_sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 1.0f, dxn, PQ);
    } else {
      cuda_sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 0.0f, col.p, PQ);
      col2im_kernel<<<std::min(blocks_for((int64_t)g.C * g.H * g.W), 65535), kThreads, 0, cuda_stream()>>>(g, col.p, dxn);
      LAUNCH_CHECK();
    }
  }
}

void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  Scratch<float> col(col_floats(g));
  for (int n = 0; n < g.N; n++) {
    const float* B = columns(g, x + (int64_t)n * g.C * g.H * g.W, col.p);
    cuda_sgemm(false, true, g.K, CRS, PQ, 1.0f, dy + (int64_t)n * g.K * PQ, PQ, B, PQ, 1.0f, dw, CRS);
  }
  if (db) {
    bias_grad_kernel<<<g.K, kThreads, 0, cuda_stream()>>>(g.N, g.K, PQ, dy, db);
    LAUNCH_CHECK();
  }
}

}  // namespace cudak

// ---- batch norm: one block per channel, double accumulators --------------------------------------------
__device__ double block_sum(double v, double* part) {
  part[threadIdx.x] = v;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if ((int)threadIdx.x < w) part[threadIdx.x] += part[threadIdx.x + w];
    __syncthreads();
  }
  const double s = part[0];
  __syncthreads();
  return s;
}

__global__ void bn_train_kernel(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                                double momentum, float* rm, float* rv, float* y, float* sm, float* si) {
  __shared__ double part[kThreads];
  const int c = blockIdx.x;
  const int64_t cnt = (int64_t)N * HW;
  double s = 0;
  for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) s += x[((int64_t)(i / HW) * C + c) * HW + i % HW];
  const double mean = block_sum(s, part) / cnt;
  double q = 0;
  for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) {
    const double d = x[((int64_t)(i / HW) * C + c) * HW + i % HW] - mean;
    q += d * d;
  }
  const double sq = block_sum(q, part), var = sq / cnt, invstd = 1.0 / sqrt(var + eps);
  const float scale = (float)(invstd * gamma[c]), shift = (float)(beta[c] - mean * invstd * gamma[c]);
  for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) {
    const int64_t o = ((int64_t)(i / HW) * C + c) * HW + i % HW;
    y[o] = x[o] * scale + shift;
  }
  if (threadIdx.x == 0) {
    sm[c] = (float)mean;
    si[c] = (float)invstd;
    if (rm) {
      rm[c] = (float)((1 - momentum) * rm[c] + momentum * mean);
      rv[c] = (float)((1 - momentum) * rv[c] + momentum * (cnt > 1 ? sq / (cnt - 1) : var));
    }
  }
}

__global__ void bn_eval_kernel(int64_t total, int C, int HW, const float* x, const float* gamma, const float* beta,
                               double eps, const float* rm, const float* rv, float* y) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
    const int c = (int)(i / HW % C);
    const float invstd = (float)(1.0 / sqrt((double)rv[c] + eps));
    y[i] = (x[i] - rm[c]) * invstd * gamma[c] + beta[c];
  }
}

// Backward, train mode (formula: ref::batchnorm_backward); eval mode when `eval` (statistics are constants).
__global__ void bn_backward_kernel(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                                   const float* mean_, const float* invstd_, bool eval, float* dx, float* dgamma,
                                   float* dbeta) {
  __shared__ double part[kThreads];
  const int c = blockIdx.x;
  const int64_t cnt = (int64_t)N * HW;
  const float mean = mean_[c], invstd = invstd_[c];
  double a = 0, b = 0;
  for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) {
    const int64_t o = ((int64_t)(i / HW) * C + c) * HW + i % HW;
    a += dy[o];
    b += (double)dy[o] * (x[o] - mean);
  }
  const double sdy = block_sum(a, part), sdyx = block_sum(b, part) * invstd;
  const float km = gamma[c] * invstd, ma = eval ? 0.0f : (float)(sdy / cnt), mb = eval ? 0.0f : (float)(sdyx / cnt * invstd);
  for (int64_t i = threadIdx.x; i < cnt; i += blockDim.x) {
    const int64_t o = ((int64_t)(i / HW) * C + c) * HW + i % HW;
    dx[o] += km * (dy[o] - ma - (x[o] - mean) * mb);
  }
  if (threadIdx.x == 0) {
    dgamma[c] += (float)sdyx;
    dbeta[c] += (float)sdy;
  }
}

__global__ void invstd_kernel(int C, const float* rv, double eps, float* out) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < C) out[c] = (float)(1.0 / sqrt((double)rv[c] + eps));
}

namespace cudak {

void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                             double momentum, float* running_mean, float* running_var, float* y, float* save_mean,
                             float* save_invstd) {
  bn_train_kernel<<<C, kThreads, 0, cuda_stream()>>>(N, C, HW, x, gamma, beta, eps, momentum, running_mean,
                                                     running_var, y, save_mean, save_invstd);
  LAUNCH_CHECK();
}
void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                            const float* running_mean, const float* running_var, float* y) {
  const int64_t total = (int64_t)N * C * HW;
  bn_eval_kernel<<<std::min(blocks_for(total), 65535), kThreads, 0, cuda_stream()>>>(total, C, HW, x, gamma, beta, eps,
                                                                                     running_mean, running_var, y);
  LAUNCH_CHECK();
}
void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta) {
  bn_backward_kernel<<<C, kThreads, 0, cuda_stream()>>>(N, C, HW, x, dy, gamma, save_mean, save_invstd, false, dx,
                                                        dgamma, dbeta);
  LAUNCH_CHECK();
}
void batchnorm_backward_eval(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                             const float* running_mean, const float* running_var, double eps, float* dx, float* dgamma,
                             float* dbeta) {
  Scratch<float> invstd(C);
  invstd_kernel<<<blocks_for(C), kThreads, 0, cuda_stream()>>>(C, running_var, eps, invstd.p);
  LAUNCH_CHECK();
  bn_backward_kernel<<<C, kThreads, 0, cuda_stream()>>>(N, C, HW, x, dy, gamma, running_mean, invstd.p, true, dx,
                                                        dgamma, dbeta);
  LAUNCH_CHECK();
}

}  // namespace cudak

// ---- elementwise -------------------------------------------------------------------------------------------
#define GRID_LOOP(i, n) for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < (n); i += (int64_t)gridDim.x * blockDim.x)
__global__ void relu_fwd_kernel(int64_t n, const float* x, float* y) { GRID_LOOP(i, n) y[i] = x[i] > 0.0f ? x[i] : 0.0f; }
__global__ void relu_bwd_kernel(int64_t n, const float* y, const float* dy, float* dx) { GRID_LOOP(i, n) if (y[i] > 0.0f) dx[i] += dy[i]; }
__global__ void leaky_relu_fwd_kernel(int64_t n, float s, const float* x, float* y) { GRID_LOOP(i, n) y[i] = x[i] > 0.0f ? x[i] : s * x[i]; }
__global__ void leaky_relu_bwd_kernel(int64_t n, float s, const float* x, const float* dy, float* dx) {
  GRID_LOOP(i, n) dx[i] += x[i] > 0.0f ? dy[i] : s * dy[i];
}
__global__ void add_kernel(int64_t n, const float* a, const float* b, float* y) { GRID_LOOP(i, n) y[i] = a[i] + b[i]; }
__global__ void epilogue_kernel(int64_t n, const float* residual, bool relu, float* y) {  // y (+ residual) (ReLU)
  GRID_LOOP(i, n) {
    const float v = y[i] + (residual ? residual[i] : 0.0f);
    y[i] = relu && v < 0.0f ? 0.0f : v;
  }
}
__global__ void axpy_kernel(int64_t n, float a, const float* x, float* y) { GRID_LOOP(i, n) y[i] += a * x[i]; }
__global__ void mse_bwd_kernel(int64_t n, const float* p, const float* t, float k, float* dp) { GRID_LOOP(i, n) dp[i] += k * (p[i] - t[i]); }
__global__ void l1_bwd_kernel(int64_t n, const float* p, const float* t, float k, float* dp) {
  GRID_LOOP(i, n) { const float d = p[i] - t[i]; dp[i] += k * (float)((d > 0) - (d < 0)); }
}
__global__ void avgpool_fwd_kernel(int64_t NC, int HW, const float* x, float* y) {
  GRID_LOOP(i, NC) { double s = 0; for (int j = 0; j < HW; j++) s += x[i * HW + j]; y[i] = (float)(s / HW); }
}
__global__ void avgpool_bwd_kernel(int64_t n, int HW, const float* dy, float* dx) { GRID_LOOP(i, n) dx[i] += dy[i / HW] / (float)HW; }
__global__ void maxpool_fwd_kernel(PoolGeom g, const float* x, float* y) {
  GRID_LOOP(i, (int64_t)g.N * g.C * g.P * g.Q) {
    const int64_t nc = i / ((int64_t)g.P * g.Q);
    const int p = (int)(i / g.Q % g.P), q = (int)(i % g.Q);
    float best = -INFINITY;
    for (int r = 0; r < g.k; r++)
      for (int s = 0; s < g.k; s++) {
        const int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
        if (h >= 0 && h < g.H && w >= 0 && w < g.W) best = fmaxf(best, x[(nc * g.H + h) * g.W + w]);
      }
    y[i] = best;
  }
}
// The window (p, q)'s argmax: first maximum in row-major order, as the CPU kernels.
__device__ int64_t window_argmax(const PoolGeom& g, const float* xp, int p, int q) {
  int64_t at = -1;
  for (int r = 0; r < g.k; r++)
    for (int s = 0; s < g.k; s++) {
      const int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
      if (h >= 0 && h < g.H && w >= 0 && w < g.W && (at < 0 || xp[h * g.W + w] > xp[at])) at = (int64_t)h * g.W + w;
    }
  return at;
}
// Backward as a gather: each input pixel collects dy of the windows whose argmax it is.
__global__ void maxpool_bwd_kernel(PoolGeom g, const float* x, const float* dy, float* dx) {
  GRID_LOOP(i, (int64_t)g.N * g.C * g.H * g.W) {
    const int64_t nc = i / ((int64_t)g.H * g.W);
    const int h = (int)(i / g.W % g.H), w = (int)(i % g.W);
    const float* xp = x + nc * g.H * g.W;
    float acc = 0.0f;
    for (int p = max(0, (h + g.pad - g.k + g.stride) / g.stride); p <= min(g.P - 1, (h + g.pad) / g.stride); p++)
      for (int q = max(0, (w + g.pad - g.k + g.stride) / g.stride); q <= min(g.Q - 1, (w + g.pad) / g.stride); q++)
        if (window_argmax(g, xp, p, q) == (int64_t)h * g.W + w) acc += dy[(nc * g.P + p) * g.Q + q];
    dx[i] += acc;
  }
}
// Windowed average pool: a thread per output; the backward a thread per input pixel, gathering the windows that
// hold it (no atomics).
__global__ void avgpool2d_fwd_kernel(PoolGeom g, const float* x, float* y) {
  GRID_LOOP(i, (int64_t)g.N * g.C * g.P * g.Q) {
    const int64_t nc = i / ((int64_t)g.P * g.Q);
    const int p = (int)(i / g.Q % g.P), q = (int)(i % g.Q);
    float s = 0.0f;
    for (int r = 0; r < g.k; r++)
      for (int c = 0; c < g.k; c++) {
        const int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + c;
        if (h >= 0 && h < g.H && w >= 0 && w < g.W) s += x[(nc * g.H + h) * g.W + w];
      }
    y[i] = s / (float)(g.k * g.k);
  }
}
__global__ void avgpool2d_bwd_kernel(PoolGeom g, const float* dy, float* dx) {
  GRID_LOOP(i, (int64_t)g.N * g.C * g.H * g.W) {
    const int64_t nc = i / ((int64_t)g.H * g.W);
    const int h = (int)(i / g.W % g.H), w = (int)(i % g.W);
    float acc = 0.0f;
    for (int p = max(0, (h + g.pad - g.k + g.stride) / g.stride); p <= min(g.P - 1, (h + g.pad) / g.stride); p++)
      for (int q = max(0, (w + g.pad - g.k + g.stride) / g.stride); q <= min(g.Q - 1, (w + g.pad) / g.stride); q++)
        acc += dy[(nc * g.P + p) * g.Q + q] / (float)(g.k * g.k);
    dx[i] += acc;
  }
}
__global__ void concat_fwd_kernel(int N, int C, int HW, int Ctot, int c0, const float* x, float* y) {
  const int64_t block = (int64_t)C * HW;
  GRID_LOOP(i, N * block) y[((i / block) * Ctot + c0) * HW + i % block] = x[i];
}
__global__ void concat_bwd_kernel(int N, int C, int HW, int Ctot, int c0, const float* dy, float* dx) {
  const int64_t block = (int64_t)C * HW;
  GRID_LOOP(i, N * block) dx[i] += dy[((i / block) * Ctot + c0) * HW + i % block];
}
__global__ void gather_kernel(int B, int C, int HW, int rep, const float* x, const int32_t* cell, float* y) {
  GRID_LOOP(i, (int64_t)B * C) { const int b = (int)(i / C), c = (int)(i % C); y[i] = x[i * HW + cell[b * (C / rep) + c / rep]]; }
}
__global__ void gather_bwd_kernel(int B, int C, int HW, int rep, const float* dy, const int32_t* cell, float* dx) {
  GRID_LOOP(i, (int64_t)B * C) { const int b = (int)(i / C), c = (int)(i % C); dx[i * HW + cell[b * (C / rep) + c / rep]] += dy[i]; }
}
__global__ void adam_kernel(int64_t n, float* p, const float* g, float* m, float* v, float step, float b1, float b2,
                            float wd, float bc2s, float eps) {
  GRID_LOOP(i, n) {
    const float gi = g[i] + wd * p[i];
    m[i] = b1 * m[i] + (1.0f - b1) * gi;
    v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
    p[i] -= step * m[i] / (sqrtf(v[i]) / bc2s + eps);
  }
}
__global__ void sgd_kernel(int64_t n, float* p, const float* g, float* buf, float lr, float mom, float wd, bool first) {
  GRID_LOOP(i, n) {
    const float d = g[i] + wd * p[i];
    buf[i] = first ? d : mom * buf[i] + d;
    p[i] -= lr * (mom != 0.0f ? buf[i] : d);
  }
}
// Loss reductions: per-block partial sums in double, then one block sums them in order.
__global__ void loss_partial_kernel(int64_t n, const float* p, const float* t, bool l1, double* part) {
  __shared__ double sh[kThreads];
  double s = 0;
  GRID_LOOP(i, n) { const double d = (double)p[i] - t[i]; s += l1 ? fabs(d) : d * d; }
  sh[threadIdx.x] = s;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if ((int)threadIdx.x < w) sh[threadIdx.x] += sh[threadIdx.x + w];
    __syncthreads();
  }
  if (threadIdx.x == 0) part[blockIdx.x] = sh[0];
}

namespace cudak {

#define GRID(n) std::min(blocks_for(n), 65535), kThreads, 0, cuda_stream()
void relu_forward(int64_t n, const float* x, float* y) { relu_fwd_kernel<<<GRID(n)>>>(n, x, y); LAUNCH_CHECK(); }
void relu_backward(int64_t n, const float* y, const float* dy, float* dx) { relu_bwd_kernel<<<GRID(n)>>>(n, y, dy, dx); LAUNCH_CHECK(); }
void leaky_relu_forward(int64_t n, double slope, const float* x, float* y) {
  leaky_relu_fwd_kernel<<<GRID(n)>>>(n, (float)slope, x, y);
  LAUNCH_CHECK();
}
void leaky_relu_backward(int64_t n, double slope, const float* x, const float* dy, float* dx) {
  leaky_relu_bwd_kernel<<<GRID(n)>>>(n, (float)slope, x, dy, dx);
  LAUNCH_CHECK();
}
void add(int64_t n, const float* a, const float* b, float* y) { add_kernel<<<GRID(n)>>>(n, a, b, y); LAUNCH_CHECK(); }
void conv2d_forward_fused(const ConvGeom& g, const float* x, const float* w, const ConvPrep*, const float* b,
                          const float* residual, bool relu, float* y) {
  conv2d_forward(g, x, w, b, y);
  if (!residual && !relu) return;
  const int64_t n = (int64_t)g.N * g.K * g.P * g.Q;
  epilogue_kernel<<<GRID(n)>>>(n, residual, relu, y);
  LAUNCH_CHECK();
}
void accumulate(int64_t n, const float* x, float* y) { axpy_kernel<<<GRID(n)>>>(n, 1.0f, x, y); LAUNCH_CHECK(); }
void axpy(int64_t n, double a, const float* x, float* y) { axpy_kernel<<<GRID(n)>>>(n, (float)a, x, y); LAUNCH_CHECK(); }
void maxpool_forward(const PoolGeom& g, const float* x, float* y) {
  maxpool_fwd_kernel<<<GRID((int64_t)g.N * g.C * g.P * g.Q)>>>(g, x, y);
  LAUNCH_CHECK();
}
void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx) {
  maxpool_bwd_kernel<<<GRID((int64_t)g.N * g.C * g.H * g.W)>>>(g, x, dy, dx);
  LAUNCH_CHECK();
}
void avgpool_forward(int64_t NC, int HW, const float* x, float* y) { avgpool_fwd_kernel<<<GRID(NC)>>>(NC, HW, x, y); LAUNCH_CHECK(); }
void avgpool_backward(int64_t NC, int HW, const float* dy, float* dx) {
  avgpool_bwd_kernel<<<GRID(NC * HW)>>>(NC * HW, HW, dy, dx);
  LAUNCH_CHECK();
}

void avgpool2d_forward(const PoolGeom& g, const float* x, float* y) {
  avgpool2d_fwd_kernel<<<GRID((int64_t)g.N * g.C * g.P * g.Q)>>>(g, x, y);
  LAUNCH_CHECK();
}
void avgpool2d_backward(const PoolGeom& g, const float* dy, float* dx) {
  avgpool2d_bwd_kernel<<<GRID((int64_t)g.N * g.C * g.H * g.W)>>>(g, dy, dx);
  LAUNCH_CHECK();
}
void concat_channels_forward(int N, int C, int HW, int Ctot, int c0, const float* x, float* y) {
  concat_fwd_kernel<<<GRID((int64_t)N * C * HW)>>>(N, C, HW, Ctot, c0, x, y);
  LAUNCH_CHECK();
}
void concat_channels_backward(int N, int C, int HW, int Ctot, int c0, const float* dy, float* dx) {
  concat_bwd_kernel<<<GRID((int64_t)N * C * HW)>>>(N, C, HW, Ctot, c0, dy, dx);
  LAUNCH_CHECK();
}

static double loss(int64_t n, const float* p, const float* t, bool l1) {
  const int blocks = std::min(blocks_for(n), 1024);
  Scratch<double> part(blocks);
  loss_partial_kernel<<<blocks, kThreads, 0, cuda_stream()>>>(n, p, t, l1, part.p);
  LAUNCH_CHECK();
  std::vector<double> h(blocks);
  CUDA_CHECK(cudaMemcpyAsync(h.data(), part.p, blocks * sizeof(double), cudaMemcpyDeviceToHost, cuda_stream()));
  CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
  double s = 0;
  for (double v : h) s += v;
  return s / n;
}
double mse_loss(int64_t n, const float* p, const float* t) { return loss(n, p, t, false); }
double l1_loss(int64_t n, const float* p, const float* t) { return loss(n, p, t, true); }
void mse_loss_backward(int64_t n, const float* p, const float* t, double dloss, float* dp) {
  mse_bwd_kernel<<<GRID(n)>>>(n, p, t, (float)(2.0 * dloss / n), dp);
  LAUNCH_CHECK();
}
void l1_loss_backward(int64_t n, const float* p, const float* t, double dloss, float* dp) {
  l1_bwd_kernel<<<GRID(n)>>>(n, p, t, (float)(dloss / n), dp);
  LAUNCH_CHECK();
}
void gather_cells(int B, int C, int HW, int rep, const float* x, const int32_t* cell, float* y) {
  gather_kernel<<<GRID((int64_t)B * C)>>>(B, C, HW, rep, x, cell, y);
  LAUNCH_CHECK();
}
void gather_cells_backward(int B, int C, int HW, int rep, const float* dy, const int32_t* cell, float* dx) {
  gather_bwd_kernel<<<GRID((int64_t)B * C)>>>(B, C, HW, rep, dy, cell, dx);
  LAUNCH_CHECK();
}
void adam_step(int64_t n, float* p, const float* g, float* m, float* v, const AdamParams& a) {
  const double bc1 = 1 - std::pow(a.beta1, (double)a.t), bc2s = std::sqrt(1 - std::pow(a.beta2, (double)a.t));
  adam_kernel<<<GRID(n)>>>(n, p, g, m, v, (float)(a.lr / bc1), (float)a.beta1, (float)a.beta2, (float)a.weight_decay,
                           (float)bc2s, (float)a.eps);
  LAUNCH_CHECK();
}
void sgd_step(int64_t n, float* p, const float* g, float* buf, double lr, double momentum, double wd, bool first) {
  sgd_kernel<<<GRID(n)>>>(n, p, g, buf, (float)lr, (float)momentum, (float)wd, first);
  LAUNCH_CHECK();
}
#undef GRID

}  // namespace cudak
