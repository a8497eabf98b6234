// ops.h: the differentiable operations. Each returns a new tensor and, under grad mode, records its backward.
// Shapes: NCHW (legend in tensor/tensor.h). Backward formulas are written beside each forward in ops.cpp.
#pragma once
#include <vector>

#include "autograd/tape.h"
#include "kernels/dispatch.h"
#include "kernels/geom.h"

namespace ag {

// x [N, C, H, W], w [K, C, R, S], b [K] or undefined -> [N, K, P, Q]
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad);
// Inference's convolution, y = relu?(conv2d(x, w, b) + residual?), in one pass over y (kern::conv2d_forward_fused);
// `prepared` is kern::conv2d_prepare(w) or null, `residual` [N, K, P, Q] or undefined. When a gradient is
// wanted it is the composition of conv2d, add and relu, recorded as usual.
Tensor conv2d_fused(const Tensor& x, const Tensor& w, const kern::ConvPrepared* prepared, const Tensor& b, int stride,
                    int pad, const Tensor& residual, bool relu);
// Inference's ResNet stem, maxpool2d(relu(conv2d(x, w, b)), k, pool_stride, pool_pad), in one op
// (kern::conv2d_relu_maxpool: the convolution's output is pooled a band at a time, never written out whole). When a
// gradient is wanted it is the composition, recorded as usual.
Tensor conv2d_relu_maxpool(const Tensor& x, const Tensor& w, const kern::ConvPrepared* prepared, const Tensor& b,
                           int stride, int pad, int k, int pool_stride, int pool_pad);
// Depthwise convolution (torch.nn.Conv2d with groups = C): x [N, C, H, W], w [C, 1, R, S], b [C] or undefined
//   -> [N, C, P, Q]
Tensor depthwise_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad);
// Transposed convolution (torch.nn.ConvTranspose2d, no bias): x [N, Cin, H, W], w [Cin, Cout, R, S]
//   -> [N, Cout, (H-1)*stride - 2*pad + R, (W-1)*stride - 2*pad + S]
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, int stride, int pad);
// Training mode normalises with batch statistics and updates the running ones (if defined) in place;
// eval mode uses the running statistics.
Tensor batchnorm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                   Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// Synchronised BatchNorm (data-parallel training, pipnet/dist.h): while a hook is set on this thread, training-mode
// batchnorm2d takes its statistics over every rank's batch. The hook must sum n doubles in place across the ranks
// (an all-reduce); every rank calls it in the same order. An empty hook turns it off.
using AllReduceSum = std::function<void(double* v, int n)>;
void set_batchnorm_sync(AllReduceSum hook);
Tensor relu(const Tensor& x);
Tensor relu6(const Tensor& x);  // torch.nn.ReLU6: min(max(x, 0), 6)
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);  // torch.nn.functional.leaky_relu
Tensor add(const Tensor& a, const Tensor& b);
Tensor maxpool2d(const Tensor& x, int k, int stride, int pad);
Tensor global_avgpool(const Tensor& x);  // [N, C, H, W] -> [N, C]
// torch.nn.functional.linear: x [B, F], w [O, F], b [O] or undefined -> y [B, O] = x w^T + b.
// No kernel of its own: it is conv2d on x as [B, F, 1, 1] with w as [O, F, 1, 1] (a 1x1 convolution of a 1x1 image
// is exactly this product), so every backend, the double reference and the backward come with conv2d's dispatch row.
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b);
// torch.nn.BatchNorm1d on x [B, F]: batchnorm2d on x as [B, F, 1, 1] (the statistics run over B*1*1 = B values per
// feature, as BatchNorm1d's do), so it too has no kernel of its own.
Tensor batchnorm1d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                   Tensor& running_var, bool training, double momentum = 0.1, double eps = 1e-5);
// torch.nn.functional.avg_pool2d (count_include_pad, no ceil mode): the window's sum over k*k
Tensor avgpool2d(const Tensor& x, int k, int stride, int pad);
// torch.cat(xs, 1): NCHW tensors of one batch, height and width -> [N, sum of C, H, W]
Tensor concat_channels(const std::vector<Tensor>& xs);
Tensor reshape(const Tensor& x, const Shape& s);
// y = sum_i w_i * x_i, all x_i of one shape (a weighted sum of loss terms, for instance).
Tensor weighted_sum(const std::vector<Tensor>& xs, const std::vector<double>& ws);
// Mean-reduced losses; return a 0-d tensor. Gradients reach the target too when it requires them.
Tensor mse_loss(const Tensor& pred, const Tensor& target);
Tensor l1_loss(const Tensor& pred, const Tensor& target);
// x [B, C, H, W], cell [B, C/rep] (i32, h*W + w) -> [B, C]: y[b,c] = x[b, c, cell[b, c/rep]]
Tensor gather_cells(const Tensor& x, const Tensor& cell, int rep);

}  // namespace ag
