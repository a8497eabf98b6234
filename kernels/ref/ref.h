// ref.h: the reference kernels. Plain loops, no tricks, templated on the scalar type so that tests can run them in
// double. They define what every fast kernel in cpu/ and cuda/ must compute, and with which signature (FAST_VERSIONS
// at the end of this file); tests and benchmarks call them.
//
// Conventions: row-major; "+=" in a name's comment means the kernel accumulates into its output (backward passes
// accumulate into gradients, as autograd requires).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "kernels/adam_params.h"
#include "kernels/geom.h"

namespace ref {

// C[M,N] = alpha * op(A) * op(B) + beta * C, op(X) = X or X^T. A is [M,K] (or [K,M] if ta), lda its row stride.
template <class T>
void gemm(bool ta, bool tb, int M, int N, int K, T alpha, const T* A, int lda, const T* B, int ldb, T beta, T* C,
          int ldc) {
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      T acc = 0;
      for (int k = 0; k < K; k++) acc += (ta ? A[k * lda + i] : A[i * lda + k]) * (tb ? B[j * ldb + k] : B[k * ldb + j]);
      C[i * ldc + j] = alpha * acc + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
    }
}

// im2col for one image: x [C, H, W] -> col [C*R*S, P*Q]; row (c*R + r)*S + s, column p*Q + q holds
// x[c, p*stride - pad + r, q*stride - pad + s], or 0 outside the image.
template <class T> void im2col(const ConvGeom& g, const T* x, T* col) {
  for (int c = 0; c < g.C; c++)
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        T* row = col + ((int64_t)(c * g.R + r) * g.S + s) * g.P * g.Q;
        for (int p = 0; p < g.P; p++)
          for (int q = 0; q < g.Q; q++) {
            int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
            row[p * g.Q + q] = (h >= 0 && h < g.H && w >= 0 && w < g.W) ? x[((int64_t)c * g.H + h) * g.W + w] : T(0);
          }
      }
}
// col2im: the adjoint of im2col, x += scatter(col).
template <class T> void col2im(const ConvGeom& g, const T* col, T* x) {
  for (int c = 0; c < g.C; c++)
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        const T* row = col + ((int64_t)(c * g.R + r) * g.S + s) * g.P * g.Q;
        for (int p = 0; p < g.P; p++)
          for (int q = 0; q < g.Q; q++) {
            int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) x[((int64_t)c * g.H + h) * g.W + w] += row[p * g.Q + q];
          }
      }
}

// Direct convolution: y[n,k,p,q] = b[k] + sum_{c,r,s} w[k,c,r,s] * x[n, c, p*stride-pad+r, q*stride-pad+s].
template <class T> void conv2d_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  for (int n = 0; n < g.N; n++)
    for (int k = 0; k < g.K; k++)
      for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++) {
          T acc = b ? b[k] : T(0);
          for (int c = 0; c < g.C; c++)
            for (int r = 0; r < g.R; r++)
              for (int s = 0; s < g.S; s++) {
                int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                acc += w[((int64_t)(k * g.C + c) * g.R + r) * g.S + s] * x[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww];
              }
          y[(((int64_t)n * g.K + k) * g.P + p) * g.Q + q] = acc;
        }
}
// Inference's convolution with its epilogue fused: y = conv(x, w) + b (+ residual) (then ReLU, if relu). prep holds
// the CPU's prepared weights (kern::conv2d_prepare), which the other backends do not use.
template <class T>
void conv2d_forward_fused(const ConvGeom& g, const T* x, const T* w, const ConvPrep* prep, const T* b,
                          const T* residual, bool relu, T* y) {
  (void)prep;
  conv2d_forward(g, x, w, b, y);
  const int64_t n = (int64_t)g.N * g.K * g.P * g.Q;
  for (int64_t i = 0; i < n; i++) {
    T v = y[i] + (residual ? residual[i] : T(0));
    y[i] = relu && v < 0 ? T(0) : v;
  }
}
// The stem of a ResNet at inference, as one op: y = maxpool(relu(conv(x, w) + b)), pg the pool over the convolution's
// output. The CPU's version pools each band of output rows while it is in cache, so the convolution's whole output
// (4 MB for ResNet at 256x256) is never written out.
template <class T>
void conv2d_relu_maxpool(const ConvGeom& g, const PoolGeom& pg, const T* x, const T* w, const ConvPrep* prep, const T* b,
                         T* y);
// dx += conv^T(dy, w): every output gradient flows back to the inputs its window read.
template <class T> void conv2d_backward_input(const ConvGeom& g, const T* dy, const T* w, T* dx) {
  for (int n = 0; n < g.N; n++)
    for (int k = 0; k < g.K; k++)
      for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++) {
          T d = dy[(((int64_t)n * g.K + k) * g.P + p) * g.Q + q];
          for (int c = 0; c < g.C; c++)
            for (int r = 0; r < g.R; r++)
              for (int s = 0; s < g.S; s++) {
                int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                dx[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww] += d * w[((int64_t)(k * g.C + c) * g.R + r) * g.S + s];
              }
        }
}
// dw += sum_{n,p,q} dy[n,k,p,q] * x[window];  db += sum_{n,p,q} dy[n,k,p,q] (db may be null).
template <class T> void conv2d_backward_weight(const ConvGeom& g, const T* x, const T* dy, T* dw, T* db) {
  for (int n = 0; n < g.N; n++)
    for (int k = 0; k < g.K; k++)
      for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++) {
          T d = dy[(((int64_t)n * g.K + k) * g.P + p) * g.Q + q];
          if (db) db[k] += d;
          for (int c = 0; c < g.C; c++)
            for (int r = 0; r < g.R; r++)
              for (int s = 0; s < g.S; s++) {
                int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
                if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
                dw[((int64_t)(k * g.C + c) * g.R + r) * g.S + s] += d * x[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww];
              }
        }
}

// Depthwise convolution (torch.nn.Conv2d with groups = in = out channels, MobileNet's 3x3 layers): each channel is
// convolved with its own R x S filter. Geometry as conv2d with K == C; weight w [C, 1, R, S], bias b [C] or null.
//   y[n,c,p,q] = b[c] + sum_{r,s} w[c,r,s] * x[n, c, p*stride-pad+r, q*stride-pad+s]
template <class T> void depthwise_forward(const ConvGeom& g, const T* x, const T* w, const T* b, T* y) {
  for (int n = 0; n < g.N; n++)
    for (int c = 0; c < g.C; c++)
      for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++) {
          T acc = b ? b[c] : T(0);
          for (int r = 0; r < g.R; r++)
            for (int s = 0; s < g.S; s++) {
              int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
              if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
              acc += w[((int64_t)c * g.R + r) * g.S + s] * x[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww];
            }
          y[(((int64_t)n * g.C + c) * g.P + p) * g.Q + q] = acc;
        }
}
// dx[n,c,h,w] += sum of dy[n,c,p,q] * w[c,r,s] over the windows that read (h, w): the forward's adjoint.
template <class T> void depthwise_backward_input(const ConvGeom& g, const T* dy, const T* w, T* dx) {
  for (int n = 0; n < g.N; n++)
    for (int c = 0; c < g.C; c++)
      for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++) {
          T d = dy[(((int64_t)n * g.C + c) * g.P + p) * g.Q + q];
          for (int r = 0; r < g.R; r++)
            for (int s = 0; s < g.S; s++) {
              int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
              if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
              dx[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww] += d * w[((int64_t)c * g.R + r) * g.S + s];
            }
        }
}
// dw[c,r,s] += sum_{n,p,q} dy[n,c,p,q] * x[n, c, p*stride-pad+r, q*stride-pad+s];  db[c] += sum_{n,p,q} dy (db may
// be null).
template <class T> void depthwise_backward_weight(const ConvGeom& g, const T* x, const T* dy, T* dw, T* db) {
  for (int n = 0; n < g.N; n++)
    for (int c = 0; c < g.C; c++)
      for (int p = 0; p < g.P; p++)
        for (int q = 0; q < g.Q; q++) {
          T d = dy[(((int64_t)n * g.C + c) * g.P + p) * g.Q + q];
          if (db) db[c] += d;
          for (int r = 0; r < g.R; r++)
            for (int s = 0; s < g.S; s++) {
              int h = p * g.stride - g.pad + r, ww = q * g.stride - g.pad + s;
              if (h < 0 || h >= g.H || ww < 0 || ww >= g.W) continue;
              dw[((int64_t)c * g.R + r) * g.S + s] += d * x[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww];
            }
        }
}

// BatchNorm2d, training mode. x [N, C, HW]. Per channel: mean, biased variance var; y = (x-mean)/sqrt(var+eps)*gamma
// + beta. Saves mean and invstd = 1/sqrt(var+eps) for the backward. Running stats (if given) move by momentum with
// the *unbiased* variance, as PyTorch does: running = (1-m)*running + m*batch_stat.
template <class T>
void batchnorm_forward_train(int N, int C, int HW, const T* x, const T* gamma, const T* beta, double eps,
                             double momentum, T* running_mean, T* running_var, T* y, T* save_mean, T* save_invstd) {
  for (int c = 0; c < C; c++) {
    double sum = 0, sq = 0;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) sum += x[((int64_t)n * C + c) * HW + i];
    int64_t cnt = (int64_t)N * HW;
    double mean = sum / cnt;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) { double d = x[((int64_t)n * C + c) * HW + i] - mean; sq += d * d; }
    double var = sq / cnt, invstd = 1.0 / std::sqrt(var + eps);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int64_t o = ((int64_t)n * C + c) * HW + i;
        y[o] = T((x[o] - mean) * invstd * gamma[c] + beta[c]);
      }
    save_mean[c] = T(mean);
    save_invstd[c] = T(invstd);
    if (running_mean) {
      running_mean[c] = T((1 - momentum) * running_mean[c] + momentum * mean);
      running_var[c] = T((1 - momentum) * running_var[c] + momentum * (cnt > 1 ? sq / (cnt - 1) : var));
    }
  }
}
// Eval mode: the running statistics stand in for the batch's.
template <class T>
void batchnorm_forward_eval(int N, int C, int HW, const T* x, const T* gamma, const T* beta, double eps,
                            const T* running_mean, const T* running_var, T* y) {
  for (int c = 0; c < C; c++) {
    double invstd = 1.0 / std::sqrt((double)running_var[c] + eps);
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int64_t o = ((int64_t)n * C + c) * HW + i;
        y[o] = T((x[o] - running_mean[c]) * invstd * gamma[c] + beta[c]);
      }
  }
}
// Backward of training-mode BN. With xhat = (x-mean)*invstd, m = N*HW:
//   dbeta = sum dy,  dgamma = sum dy*xhat,
//   dx = gamma*invstd/m * (m*dy - dbeta - xhat*dgamma)      (mean and var depend on x: the last two terms)
// dx, dgamma, dbeta accumulate (+=).
template <class T>
void batchnorm_backward(int N, int C, int HW, const T* x, const T* dy, const T* gamma, const T* save_mean,
                        const T* save_invstd, T* dx, T* dgamma, T* dbeta) {
  for (int c = 0; c < C; c++) {
    double mean = save_mean[c], invstd = save_invstd[c], sdy = 0, sdyx = 0;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int64_t o = ((int64_t)n * C + c) * HW + i;
        sdy += dy[o];
        sdyx += dy[o] * (x[o] - mean) * invstd;
      }
    double m = (double)N * HW, k = gamma[c] * invstd / m;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int64_t o = ((int64_t)n * C + c) * HW + i;
        double xhat = (x[o] - mean) * invstd;
        dx[o] += T(k * (m * dy[o] - sdy - xhat * sdyx));
      }
    dgamma[c] += T(sdyx);
    dbeta[c] += T(sdy);
  }
}
// Backward of eval-mode BN (an affine map): dx += dy*gamma*invstd, dgamma += sum dy*xhat, dbeta += sum dy.
template <class T>
void batchnorm_backward_eval(int N, int C, int HW, const T* x, const T* dy, const T* gamma, const T* running_mean,
                             const T* running_var, double eps, T* dx, T* dgamma, T* dbeta) {
  for (int c = 0; c < C; c++) {
    double invstd = 1.0 / std::sqrt((double)running_var[c] + eps), sdy = 0, sdyx = 0;
    for (int n = 0; n < N; n++)
      for (int i = 0; i < HW; i++) {
        int64_t o = ((int64_t)n * C + c) * HW + i;
        sdy += dy[o];
        sdyx += dy[o] * (x[o] - running_mean[c]) * invstd;
        dx[o] += T(dy[o] * gamma[c] * invstd);
      }
    dgamma[c] += T(sdyx);
    dbeta[c] += T(sdy);
  }
}

// ReLU: y = max(x, 0). Backward: dx += dy where y > 0 (the gradient at exactly 0 is 0, as in PyTorch).
template <class T> void relu_forward(int64_t n, const T* x, T* y) { for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : T(0); }
template <class T> void relu_backward(int64_t n, const T* y, const T* dy, T* dx) { for (int64_t i = 0; i < n; i++) if (y[i] > 0) dx[i] += dy[i]; }

// ReLU6 (torch.nn.ReLU6 = hardtanh(x, 0, 6), MobileNetV2's activation): y = min(max(x, 0), 6). Backward from the
// output: dx += dy where 0 < y < 6, i.e. where 0 < x < 6; the gradient is 0 at exactly 0 and at exactly 6, as
// PyTorch's hardtanh_backward (its mask is x > min_val && x < max_val; the in-place form reads the result, the same
// mask since y = x inside the open interval).
template <class T> void relu6_forward(int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? (x[i] < 6 ? x[i] : T(6)) : T(0);
}
template <class T> void relu6_backward(int64_t n, const T* y, const T* dy, T* dx) {
  for (int64_t i = 0; i < n; i++) if (y[i] > 0 && y[i] < 6) dx[i] += dy[i];
}

// Leaky ReLU (torch.nn.LeakyReLU): y = x > 0 ? x : slope*x. Backward from the input x: dx += dy * (x > 0 ? 1 : slope)
// (at exactly 0 the slope side, as PyTorch).
template <class T> void leaky_relu_forward(int64_t n, double slope, const T* x, T* y) {
  for (int64_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : T(slope) * x[i];
}
template <class T> void leaky_relu_backward(int64_t n, double slope, const T* x, const T* dy, T* dx) {
  for (int64_t i = 0; i < n; i++) dx[i] += x[i] > 0 ? dy[i] : T(slope) * dy[i];
}

// y = a + b; backward is the identity into both (the autograd op adds dy to each).
template <class T> void add(int64_t n, const T* a, const T* b, T* y) { for (int64_t i = 0; i < n; i++) y[i] = a[i] + b[i]; }
// y += a * x
template <class T> void axpy(int64_t n, double a, const T* x, T* y) { for (int64_t i = 0; i < n; i++) y[i] += T(a) * x[i]; }
// y += x (used for accumulating gradients).
template <class T> void accumulate(int64_t n, const T* x, T* y) { for (int64_t i = 0; i < n; i++) y[i] += x[i]; }

// Max pooling with implicit -inf padding. The backward recomputes each window's argmax (first maximum in
// row-major window order, as PyTorch's CPU kernel) instead of storing indices: dx[argmax] += dy.
template <class T> void maxpool_forward(const PoolGeom& g, const T* x, T* y) {
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++)
    for (int p = 0; p < g.P; p++)
      for (int q = 0; q < g.Q; q++) {
        T best = -std::numeric_limits<T>::infinity();
        for (int r = 0; r < g.k; r++)
          for (int s = 0; s < g.k; s++) {
            int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) best = std::max(best, x[(nc * g.H + h) * g.W + w]);
          }
        y[(nc * g.P + p) * g.Q + q] = best;
      }
}
template <class T>
void conv2d_relu_maxpool(const ConvGeom& g, const PoolGeom& pg, const T* x, const T* w, const ConvPrep* prep, const T* b,
                         T* y) {
  std::vector<T> h((size_t)g.N * g.K * g.P * g.Q);
  conv2d_forward_fused(g, x, w, prep, b, (const T*)nullptr, true, h.data());
  maxpool_forward(pg, h.data(), y);
}
template <class T> void maxpool_backward(const PoolGeom& g, const T* x, const T* dy, T* dx) {
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++)
    for (int p = 0; p < g.P; p++)
      for (int q = 0; q < g.Q; q++) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = -1;
        for (int r = 0; r < g.k; r++)
          for (int s = 0; s < g.k; s++) {
            int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + s;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W && (at < 0 || x[(nc * g.H + h) * g.W + w] > best)) {
              at = (nc * g.H + h) * g.W + w;
              best = x[at];
            }
          }
        if (at >= 0) dx[at] += dy[(nc * g.P + p) * g.Q + q];
      }
}

// Average pooling over k x k windows (torch.nn.functional.avg_pool2d with count_include_pad, no ceil mode), zero
// padding: y = (sum of the window's pixels inside the image) / (k*k). Without ceil mode no window reaches past the
// padding, so PyTorch's divisor (the window clipped to the padded image) is always k*k. Backward: every pixel of
// a window gets dy / (k*k): dx += dy / (k*k).
template <class T> void avgpool2d_forward(const PoolGeom& g, const T* x, T* y) {
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++)
    for (int p = 0; p < g.P; p++)
      for (int q = 0; q < g.Q; q++) {
        T s = 0;
        for (int r = 0; r < g.k; r++)
          for (int c = 0; c < g.k; c++) {
            int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + c;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) s += x[(nc * g.H + h) * g.W + w];
          }
        y[(nc * g.P + p) * g.Q + q] = s / T(g.k * g.k);
      }
}
template <class T> void avgpool2d_backward(const PoolGeom& g, const T* dy, T* dx) {
  for (int64_t nc = 0; nc < (int64_t)g.N * g.C; nc++)
    for (int p = 0; p < g.P; p++)
      for (int q = 0; q < g.Q; q++)
        for (int r = 0; r < g.k; r++)
          for (int c = 0; c < g.k; c++) {
            int h = p * g.stride - g.pad + r, w = q * g.stride - g.pad + c;
            if (h >= 0 && h < g.H && w >= 0 && w < g.W) dx[(nc * g.H + h) * g.W + w] += dy[(nc * g.P + p) * g.Q + q] / T(g.k * g.k);
          }
}

// Channel concatenation (torch.cat along dim 1), one input at a time: x [N, C, HW] fills channels c0..c0+C-1 of
// y [N, Ctot, HW]. Backward: that slice of dy, added into dx.
template <class T> void concat_channels_forward(int N, int C, int HW, int Ctot, int c0, const T* x, T* y) {
  for (int n = 0; n < N; n++)
    for (int64_t i = 0; i < (int64_t)C * HW; i++) y[((int64_t)n * Ctot + c0) * HW + i] = x[(int64_t)n * C * HW + i];
}
template <class T> void concat_channels_backward(int N, int C, int HW, int Ctot, int c0, const T* dy, T* dx) {
  for (int n = 0; n < N; n++)
    for (int64_t i = 0; i < (int64_t)C * HW; i++) dx[(int64_t)n * C * HW + i] += dy[((int64_t)n * Ctot + c0) * HW + i];
}

// Global average pool: x [NC, HW] -> y [NC]; backward dx += dy / HW.
template <class T> void avgpool_forward(int64_t NC, int HW, const T* x, T* y) {
  for (int64_t i = 0; i < NC; i++) { T s = 0; for (int j = 0; j < HW; j++) s += x[i * HW + j]; y[i] = s / T(HW); }
}
template <class T> void avgpool_backward(int64_t NC, int HW, const T* dy, T* dx) {
  for (int64_t i = 0; i < NC; i++) for (int j = 0; j < HW; j++) dx[i * HW + j] += dy[i] / T(HW);
}

// Losses over n elements, mean reduction (PyTorch's default). Forward returns the loss; backward adds
// dloss * d(loss)/d(pred) into dpred. MSE: mean (p-t)^2, grad 2(p-t)/n. L1: mean |p-t|, grad sign(p-t)/n, 0 at 0.
template <class T> double mse_loss(int64_t n, const T* p, const T* t) {
  double s = 0; for (int64_t i = 0; i < n; i++) { double d = (double)p[i] - t[i]; s += d * d; } return s / n;
}
template <class T> void mse_loss_backward(int64_t n, const T* p, const T* t, double dloss, T* dp) {
  for (int64_t i = 0; i < n; i++) dp[i] += T(dloss * 2.0 * ((double)p[i] - t[i]) / n);
}
template <class T> double l1_loss(int64_t n, const T* p, const T* t) {
  double s = 0; for (int64_t i = 0; i < n; i++) s += std::fabs((double)p[i] - t[i]); return s / n;
}
template <class T> void l1_loss_backward(int64_t n, const T* p, const T* t, double dloss, T* dp) {
  for (int64_t i = 0; i < n; i++) { double d = (double)p[i] - t[i]; dp[i] += T(dloss * ((d > 0) - (d < 0)) / n); }
}

// Gather one cell per (sample, channel): x [B, C, HW], cell [B, C/rep] -> y [B, C] with
// y[b,c] = x[b, c, cell[b, c/rep]]. PIP reads its offset maps at the ground-truth cell of each landmark; the
// neighbour maps have rep = nb channels per landmark. Backward scatters: dx[b,c,cell] += dy[b,c].
template <class T> void gather_cells(int B, int C, int HW, int rep, const T* x, const int32_t* cell, T* y) {
  for (int b = 0; b < B; b++) for (int c = 0; c < C; c++) y[b * C + c] = x[((int64_t)b * C + c) * HW + cell[b * (C / rep) + c / rep]];
}
template <class T> void gather_cells_backward(int B, int C, int HW, int rep, const T* dy, const int32_t* cell, T* dx) {
  for (int b = 0; b < B; b++) for (int c = 0; c < C; c++) dx[((int64_t)b * C + c) * HW + cell[b * (C / rep) + c / rep]] += dy[b * C + c];
}

// torch.optim.Adam, one step, for one parameter tensor (PyTorch 1.13 _single_tensor_adam):
//   g += wd*p;  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2
//   p -= (lr / (1-b1^t)) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
template <class T> void adam_step(int64_t n, T* p, const T* g, T* m, T* v, const AdamParams& a) {
  double bc1 = 1 - std::pow(a.beta1, (double)a.t), bc2s = std::sqrt(1 - std::pow(a.beta2, (double)a.t));
  double step = a.lr / bc1;
  for (int64_t i = 0; i < n; i++) {
    T gi = g[i] + T(a.weight_decay) * p[i];
    m[i] = T(a.beta1) * m[i] + T(1 - a.beta1) * gi;
    v[i] = T(a.beta2) * v[i] + T(1 - a.beta2) * gi * gi;
    T denom = std::sqrt(v[i]) / T(bc2s) + T(a.eps);
    p[i] -= T(step) * m[i] / denom;
  }
}
// torch.optim.SGD with momentum (dampening 0, no Nesterov): buf = mu*buf + (g + wd*p) (buf = g on step 1); p -= lr*buf.
template <class T> void sgd_step(int64_t n, T* p, const T* g, T* buf, double lr, double momentum, double wd, bool first) {
  for (int64_t i = 0; i < n; i++) {
    T d = g[i] + T(wd) * p[i];
    buf[i] = first ? d : T(momentum) * buf[i] + d;
    p[i] -= T(lr) * (momentum != 0 ? buf[i] : d);
  }
}

}  // namespace ref

// ---- the fast versions: one signature per op -------------------------------------------------------------------
// Every op the dispatch table (kernels/dispatch.cpp) serves has two fast versions with the reference's own
// signature at float: cpu::op (kernels/cpu, host pointers) and cudak::op (kernels/cuda, device pointers; defined
// only when nvcc built them). FAST_VERSIONS declares both from ref::op<float>, so a version whose signature drifts
// from the reference's does not compile, and the table is one row per op: {op, cpu::op, ref::op<double>, cudak::op}.
#define FAST_VERSIONS(op)                          \
  namespace cpu { decltype(ref::op<float>) op; }   \
  namespace cudak { decltype(ref::op<float>) op; }
FAST_VERSIONS(conv2d_forward)
FAST_VERSIONS(conv2d_forward_fused)
FAST_VERSIONS(conv2d_relu_maxpool)
FAST_VERSIONS(conv2d_backward_input)
FAST_VERSIONS(conv2d_backward_weight)
FAST_VERSIONS(depthwise_forward)
FAST_VERSIONS(depthwise_backward_input)
FAST_VERSIONS(depthwise_backward_weight)
FAST_VERSIONS(batchnorm_forward_train)
FAST_VERSIONS(batchnorm_forward_eval)
FAST_VERSIONS(batchnorm_backward)
FAST_VERSIONS(batchnorm_backward_eval)
FAST_VERSIONS(relu_forward)
FAST_VERSIONS(relu_backward)
FAST_VERSIONS(relu6_forward)
FAST_VERSIONS(relu6_backward)
FAST_VERSIONS(leaky_relu_forward)
FAST_VERSIONS(leaky_relu_backward)
FAST_VERSIONS(add)
FAST_VERSIONS(accumulate)
FAST_VERSIONS(axpy)
FAST_VERSIONS(maxpool_forward)
FAST_VERSIONS(maxpool_backward)
FAST_VERSIONS(avgpool_forward)
FAST_VERSIONS(avgpool_backward)
FAST_VERSIONS(avgpool2d_forward)
FAST_VERSIONS(avgpool2d_backward)
FAST_VERSIONS(concat_channels_forward)
FAST_VERSIONS(concat_channels_backward)
FAST_VERSIONS(mse_loss)
FAST_VERSIONS(mse_loss_backward)
FAST_VERSIONS(l1_loss)
FAST_VERSIONS(l1_loss_backward)
FAST_VERSIONS(gather_cells)
FAST_VERSIONS(gather_cells_backward)
FAST_VERSIONS(adam_step)
FAST_VERSIONS(sgd_step)
#undef FAST_VERSIONS
