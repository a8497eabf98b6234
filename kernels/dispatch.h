// dispatch.h: the one place that chooses a kernel. Every op below looks at its first tensor's device and dtype and
// calls that backend's implementation from the op's table (dispatch.cpp):
//   cpu/f32  -> kernels/cpu    (fast: AVX2/AVX-512 GEMM, OpenMP)
//   cpu/f64  -> kernels/ref    (plain loops in double: what gradient checks run)
//   cuda/f32 -> kernels/cuda
// A missing entry is a loud error naming the op and the backend, never a silent fallback.
// All tensors are contiguous; shapes follow the kernels' geometry records (kernels/geom.h).
#pragma once
#include <memory>
#include <mutex>
#include <string>

#include "kernels/adam_params.h"
#include "kernels/geom.h"
#include "tensor/tensor.h"

namespace kern {

void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y);
// The weights of a convolution made ready for conv2d_forward_fused, once, when a network is prepared for inference
// (after its weights stop changing). On the CPU: packed for the GEMM, and for 3x3 stride-1 layers transformed for
// Winograd F(m x m, 3x3); nothing (empty) on the other backends.
// Winograd's two forms: each call takes F(4x4) when it has enough of F(4x4)'s tiles for its GEMMs to pay, else
// F(2x2) (cpu::winograd_pick). The form cpu::winograd_choice names for the layer's channels is made here: F(4x4) up
// to 256 channels, F(2x2) above; the other on the first call that wants it: F(4x4) (38 MB for 512 channels) once a
// batch of 4 or more reaches layer4's 8x8 maps, F(2x2) for a map too small for F(4x4) in a layer of 64 channels or
// more (cpu::winograd_late_f2; narrower ones run im2col there).
struct WinogradForms {
  Tensor U[2];                   // F(2x2) at [0], F(4x4) at [1]: [(m+2)^2, Cp * Kp'], each packed for the GEMM
  int kernel[2] = {-1, -1};      // micro-kernel kernel[i] (Kp' rounded up to its NR)
  std::once_flag made[2];
  // form m of w's transform (w the layer's weights, unchanged since the preparation), made on first use (has(m) reads
  // without the once_flag: only for a form no call can be making, see conv2d_forward_fused)
  const Tensor& get(int m, const Tensor& w);
  bool has(int m) const { return U[m == 4].defined(); }
};
// The weights packed as B for maps narrower than the GEMM's tile (cpu::conv_narrow), made on the first such call.
struct NarrowForm {
  Tensor B;
  int kernel = -1;
  std::once_flag made;
  const Tensor& get(const Tensor& w, int PQ);
};
// The order a network's convolutions run in, learned as they run (CPU inference), so that each can have the next one's
// weights fetched while it computes (cpu::ahead_set): `next` is whichever prepared convolution ran after this one
// last time on the same thread, `p`/`bytes` the weights this one read last time. Guarded by one lock in dispatch.cpp.
struct AheadLink {
  const void* p = nullptr;
  int64_t bytes = 0;
  std::weak_ptr<AheadLink> next;
};
struct ConvPrepared {
  std::shared_ptr<WinogradForms> wino;  // 3x3 stride 1 only; shared by copies
  std::shared_ptr<AheadLink> ahead;
  std::shared_ptr<NarrowForm> narrow;
  Tensor packed;  // cpu::pack_a's panels
  int gemm_kernel = -1;
  bool empty() const { return !wino && !packed.defined(); }
};
ConvPrepared conv2d_prepare(const Tensor& w, int stride);
// Inference's convolution: y = conv(x, w) + b (+ residual) (ReLU, if relu) in one pass over y, with w's prepared
// forms (or null).
void conv2d_forward_fused(const ConvGeom& g, const Tensor& x, const Tensor& w, const ConvPrepared* prepared,
                          const Tensor* b, const Tensor* residual, bool relu, Tensor& y);
// Inference's ResNet stem in one op: y = maxpool(relu(conv(x, w) + b)), pg the pool over the convolution's output.
// On the CPU (cpu::conv_relu_maxpool_fits) each band of the convolution's rows is pooled while it is in cache;
// elsewhere, and for shapes that do not fit, it is the two ops in turn.
void conv2d_relu_maxpool(const ConvGeom& g, const PoolGeom& pg, const Tensor& x, const Tensor& w,
                         const ConvPrepared* prepared, const Tensor* b, Tensor& y);
void conv2d_backward_input(const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx);              // +=
void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db);  // +=
// Depthwise convolution (groups = channels): g.K == g.C, w [C, 1, R, S], b [C] or null.
void depthwise_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y);
void depthwise_backward_input(const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx);              // +=
void depthwise_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db);  // +=

// x [N, C, H, W] (any H*W). save_mean / save_invstd [C] are written for the backward.
void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                             Tensor* running_mean, Tensor* running_var, Tensor& y, Tensor& save_mean,
                             Tensor& save_invstd);
void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps,
                            const Tensor& running_mean, const Tensor& running_var, Tensor& y);
void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& save_mean,
                        const Tensor& save_invstd, Tensor& dx, Tensor& dgamma, Tensor& dbeta);  // +=
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& running_mean,
                             const Tensor& running_var, double eps, Tensor& dx, Tensor& dgamma, Tensor& dbeta);  // +=

void relu_forward(const Tensor& x, Tensor& y);
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx);  // +=
void relu6_forward(const Tensor& x, Tensor& y);
void relu6_backward(const Tensor& y, const Tensor& dy, Tensor& dx);  // +=, from the output: dy where 0 < y < 6
void leaky_relu_forward(double negative_slope, const Tensor& x, Tensor& y);
void leaky_relu_backward(double negative_slope, const Tensor& x, const Tensor& dy, Tensor& dx);  // +=, from the input
void add(const Tensor& a, const Tensor& b, Tensor& y);
void accumulate(const Tensor& x, Tensor& y);  // y += x
void axpy(double a, const Tensor& x, Tensor& y);  // y += a*x
void maxpool_forward(const PoolGeom& g, const Tensor& x, Tensor& y);
void maxpool_backward(const PoolGeom& g, const Tensor& x, const Tensor& dy, Tensor& dx);  // +=
void avgpool_forward(const Tensor& x, Tensor& y);    // x [N, C, H, W] -> y [N, C]
void avgpool_backward(const Tensor& dy, Tensor& dx);  // +=

// Average pooling over k x k windows, zero padding counted (torch's avg_pool2d, count_include_pad).
void avgpool2d_forward(const PoolGeom& g, const Tensor& x, Tensor& y);
void avgpool2d_backward(const PoolGeom& g, const Tensor& dy, Tensor& dx);  // +=
// Channel concatenation, one input at a time: x [N, C, H, W] into channels c0..c0+C-1 of y [N, Ctot, H, W].
void concat_channels_forward(int c0, const Tensor& x, Tensor& y);
void concat_channels_backward(int c0, const Tensor& dy, Tensor& dx);  // dx += dy's channels c0..c0+C-1

// Mean-reduced losses; the value comes back to the host as a double.
double mse_loss(const Tensor& pred, const Tensor& target);
void mse_loss_backward(const Tensor& pred, const Tensor& target, double dloss, Tensor& dpred);  // +=
double l1_loss(const Tensor& pred, const Tensor& target);
void l1_loss_backward(const Tensor& pred, const Tensor& target, double dloss, Tensor& dpred);  // +=
// x [B, C, H, W], cell [B, C/rep] (i32, flat index h*W+w) -> y [B, C]
void gather_cells(const Tensor& x, const Tensor& cell, int rep, Tensor& y);
void gather_cells_backward(const Tensor& dy, const Tensor& cell, int rep, Tensor& dx);  // +=

void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamParams& a);
void sgd_step(Tensor& p, const Tensor& g, Tensor& buf, double lr, double momentum, double wd, bool first);

// A profile of the cpu/f32 ops: between profile_begin() and profile_end(), every call's wall time is added up per op
// and shapes; profile_end(wall seconds of the profiled work, runs of it) returns the table, largest first, per run.
void profile_begin();
std::string profile_end(double wall_s, int runs);

// "cpu/f32: im2col + sgemm[avx2]" etc.: which implementation `op` runs for tensors like t.
std::string impl_name(const std::string& op, const Tensor& t);
// Every op and its implementation per backend, as a table (for test logs and for finding out which kernel ran).
std::string dispatch_table();

}  // namespace kern
