// ops.cpp: forward and backward of each differentiable op, side by side. A backward closure captures the tensors
// it needs (which keeps them alive until the tape is cleared) and adds into the inputs' gradients.
#include "autograd/ops.h"

#include <algorithm>
#include <cmath>

#include "kernels/dispatch.h"

namespace ag {

namespace {
Tensor like(const Tensor& x, const Shape& s) { return Tensor::empty(s, x.dtype(), x.device()); }
Tensor scalar_like(const Tensor& x, double v) { return Tensor::full(Shape{}, v, x.dtype(), x.device()); }
void check_nchw(const char* op, const Tensor& x) {
  CHECK_OR_FAIL(x.dim() == 4, std::string(op) + ": expected an NCHW tensor, got shape " + x.shape().str());
}
}  // namespace

// ---- conv2d -------------------------------------------------------------------------------------
// The geometry of x [N, C, H, W] convolved with w [K, C, R, S], or an Error naming the shapes that do not fit.
static ConvGeom conv_geometry(const Tensor& x, const Tensor& w, int stride, int pad) {
  check_nchw("conv2d", x);
  CHECK_OR_FAIL(w.dim() == 4 && w.size(1) == x.size(1),
                "conv2d: weight " + w.shape().str() + " does not fit input " + x.shape().str());
  ConvGeom g = ConvGeom::make(x.size(0), x.size(1), x.size(2), x.size(3), w.size(0), w.size(2), w.size(3), stride, pad);
  CHECK_OR_FAIL(g.P > 0 && g.Q > 0, "conv2d: input " + x.shape().str() + " is smaller than the kernel");
  return g;
}

// y = w * x + b. Backward: dx += conv^T(dy, w); dw += dy (x) windows of x; db += sum dy over n, p, q.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  const ConvGeom g = conv_geometry(x, w, stride, pad);
  Tensor y = like(x, {g.N, g.K, g.P, g.Q});
  kern::conv2d_forward(g, x, w, b.defined() ? &b : nullptr, y);
  if (any_requires_grad({&x, &w, &b})) {
    y.set_requires_grad(true);
    record([g, x, w, b, y] {
      Tensor dy = y.grad();
      if (!dy.defined()) return;
      if (x.requires_grad()) { Tensor dx = x.grad_or_zeros(); kern::conv2d_backward_input(g, dy, w, dx); }
      if (w.requires_grad() || (b.defined() && b.requires_grad())) {
        Tensor dw = w.requires_grad() ? w.grad_or_zeros() : Tensor::zeros(w.shape(), w.dtype(), w.device());
        Tensor db;
        if (b.defined() && b.requires_grad()) db = b.grad_or_zeros();
        kern::conv2d_backward_weight(g, x, dy, dw, db.defined() ? &db : nullptr);
      }
    });
  }
  return y;
}

Tensor conv2d_fused(const Tensor& x, const Tensor& w, const kern::ConvPrepared* prepared, const Tensor& b, int stride,
                    int pad, const Tensor& residual, bool relu) {
  if (any_requires_grad({&x, &w, &b, &residual})) {
    Tensor y = conv2d(x, w, b, stride, pad);
    if (residual.defined()) y = add(y, residual);
    return relu ? ag::relu(y) : y;
  }
  const ConvGeom g = conv_geometry(x, w, stride, pad);
  Tensor y = like(x, {g.N, g.K, g.P, g.Q});
  if (residual.defined())
    CHECK_OR_FAIL(residual.shape() == y.shape(), "conv2d: residual " + residual.shape().str() + ", output " + y.shape().str());
  // prepared forms are made from CPU float weights; the weights moved since (another device or dtype): not used
  const bool use = prepared && !prepared->empty() && w.device() == Device::CPU && w.dtype() == DType::F32;
  kern::conv2d_forward_fused(g, x, w, use ? prepared : nullptr, b.defined() ? &b : nullptr,
                             residual.defined() ? &residual : nullptr, relu, y);
  return y;
}

Tensor conv2d_relu_maxpool(const Tensor& x, const Tensor& w, const kern::ConvPrepared* prepared, const Tensor& b,
                           int stride, int pad, int k, int pool_stride, int pool_pad) {
  if (any_requires_grad({&x, &w, &b})) return maxpool2d(relu(conv2d(x, w, b, stride, pad)), k, pool_stride, pool_pad);
  const ConvGeom g = conv_geometry(x, w, stride, pad);
  const PoolGeom pg = PoolGeom::make(g.N, g.K, g.P, g.Q, k, pool_stride, pool_pad);
  CHECK_OR_FAIL(pg.P > 0 && pg.Q > 0, "maxpool2d: a " + std::to_string(k) + "x" + std::to_string(k) +
                                          " window does not fit the convolution's " + std::to_string(g.P) + "x" +
                                          std::to_string(g.Q) + " output");
  Tensor y = like(x, {g.N, g.K, pg.P, pg.Q});
  const bool use = prepared && !prepared->empty() && w.device() == Device::CPU && w.dtype() == DType::F32;
  kern::conv2d_relu_maxpool(g, pg, x, w, use ? prepared : nullptr, b.defined() ? &b : nullptr, y);
  return y;
}

// ---- depthwise_conv2d ---------------------------------------------------------------------------
// y[n,c] = w[c] * x[n,c] + b[c], one filter per channel. Backward, per channel as conv2d's with one input and one
// output channel: dx[n,c] += conv^T(dy[n,c], w[c]); dw[c] += sum_n dy[n,c] (x) windows of x[n,c]; db[c] += sum dy.
Tensor depthwise_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int pad) {
  check_nchw("depthwise_conv2d", x);
  CHECK_OR_FAIL(w.dim() == 4 && w.size(0) == x.size(1) && w.size(1) == 1,
                "depthwise_conv2d: weight " + w.shape().str() + " does not fit input " + x.shape().str() +
                    " (expected [C, 1, R, S])");
  CHECK_OR_FAIL(!b.defined() || (b.dim() == 1 && b.size(0) == x.size(1)), "depthwise_conv2d: bias " + b.shape().str());
  ConvGeom g = ConvGeom::make(x.size(0), x.size(1), x.size(2), x.size(3), x.size(1), w.size(2), w.size(3), stride, pad);
  CHECK_OR_FAIL(g.P > 0 && g.Q > 0, "depthwise_conv2d: input " + x.shape().str() + " is smaller than the kernel");
  Tensor y = like(x, {g.N, g.C, g.P, g.Q});
  kern::depthwise_forward(g, x, w, b.defined() ? &b : nullptr, y);
  if (any_requires_grad({&x, &w, &b})) {
    y.set_requires_grad(true);
    record([g, x, w, b, y] {
      Tensor dy = y.grad();
      if (!dy.defined()) return;
      if (x.requires_grad()) { Tensor dx = x.grad_or_zeros(); kern::depthwise_backward_input(g, dy, w, dx); }
      if (w.requires_grad() || (b.defined() && b.requires_grad())) {
        Tensor dw = w.requires_grad() ? w.grad_or_zeros() : Tensor::zeros(w.shape(), w.dtype(), w.device());
        Tensor db;
        if (b.defined() && b.requires_grad()) db = b.grad_or_zeros();
        kern::depthwise_backward_weight(g, x, dy, dw, db.defined() ? &db : nullptr);
      }
    });
  }
  return y;
}

// ---- conv_transpose2d ---------------------------------------------------------------------------
// The adjoint of a convolution: take the convolution g that maps the *output* y [N, Cout, Ho, Wo] back to x's
// shape [N, Cin, H, W] with weight w read as [K = Cin, C = Cout, R, S]. Then
//   y  = g^T x          = conv2d_backward_input(g, x, w)
//   dx = g dy           = conv2d_forward(g, dy, w)
//   dw += d<dy, g^T x>/dw = conv2d_backward_weight(g, input = dy, output-grad = x)
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, int stride, int pad) {
  check_nchw("conv_transpose2d", x);
  CHECK_OR_FAIL(w.dim() == 4 && w.size(0) == x.size(1),
                "conv_transpose2d: weight " + w.shape().str() + " does not fit input " + x.shape().str());
  const int Ho = (int)(x.size(2) - 1) * stride - 2 * pad + (int)w.size(2);
  const int Wo = (int)(x.size(3) - 1) * stride - 2 * pad + (int)w.size(3);
  ConvGeom g = ConvGeom::make(x.size(0), w.size(1), Ho, Wo, w.size(0), w.size(2), w.size(3), stride, pad);
  CHECK_OR_FAIL(g.P == x.size(2) && g.Q == x.size(3), "conv_transpose2d: inconsistent geometry");
  Tensor y = Tensor::zeros({g.N, g.C, g.H, g.W}, x.dtype(), x.device());
  kern::conv2d_backward_input(g, x, w, y);
  if (any_requires_grad({&x, &w})) {
    y.set_requires_grad(true);
    record([g, x, w, y] {
      Tensor dy = y.grad();
      if (!dy.defined()) return;
      if (x.requires_grad()) {
        Tensor t = like(x, x.shape());
        kern::conv2d_forward(g, dy, w, nullptr, t);
        Tensor dx = x.grad_or_zeros();
        kern::accumulate(t, dx);
      }
      if (w.requires_grad()) { Tensor dw = w.grad_or_zeros(); kern::conv2d_backward_weight(g, dy, x, dw, nullptr); }
    });
  }
  return y;
}

// ---- batchnorm2d --------------------------------------------------------------------------------
// Train: y = (x - mean_B) / sqrt(var_B + eps) * gamma + beta; backward in ref::batchnorm_backward.
// Eval:  y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta, an affine map per channel, so dx gets
//        only the direct term dy*gamma*invstd (the statistics do not depend on x).
namespace {
thread_local AllReduceSum g_bn_sync;

Tensor host_to(const Tensor& like_t, const std::vector<double>& v) {
  Tensor h = Tensor::empty({(int64_t)v.size()}, like_t.dtype());
  for (size_t i = 0; i < v.size(); i++) {
    if (like_t.dtype() == DType::F64) h.data<double>()[i] = v[i];
    else h.data<float>()[i] = (float)v[i];
  }
  return h.to(like_t.device());
}
std::vector<double> to_host(const Tensor& t) {  // a per-channel vector, in double whatever the dtype
  if (t.dtype() != DType::F64) {
    const std::vector<float> f = t.to_vector();
    return std::vector<double>(f.begin(), f.end());
  }
  const Tensor h = t.to(Device::CPU);
  return std::vector<double>(h.data<double>(), h.data<double>() + h.numel());
}

// Synchronised training-mode BatchNorm, built from the one-process kernels:
//   1. each rank's own mean and variance (the training kernel, on its slice), combined over the ranks exactly
//      (Chan et al.): the global mean from the all-reduced sums, then the global sum of squared deviations
//      M2 = sum_r m_r * (var_r + (mean_r - mean)^2), a second all-reduce;
//   2. y = (x - mean) / sqrt(var + eps) * gamma + beta: the eval kernel with the global statistics;
//   3. backward: the eval kernel's backward gives dx's direct term dy*gamma*invstd and this rank's sums
//      sum dy and sum dy*xhat; their all-reduced totals make the statistics' terms,
//      dx += -gamma*invstd/m * (sum dy + xhat * sum dy*xhat), applied as one more eval-kernel call
//      ((x - mean) * a + b per channel). dgamma and dbeta keep this rank's sums: the gradient all-reduce averages
//      them with the other ranks' afterwards, as it does every parameter's.
Tensor batchnorm2d_sync(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                        Tensor& running_var, double momentum, double eps) {
  const int C = (int)x.size(1);
  const Shape c = {x.size(1)};
  const double m_local = (double)x.numel() / C;
  Tensor y = like(x, x.shape()), lmean = like(x, c), linv = like(x, c);
  kern::batchnorm_forward_train(x, gamma, beta, eps, 0, nullptr, nullptr, y, lmean, linv);
  const std::vector<double> mu = to_host(lmean), inv = to_host(linv);
  std::vector<double> sums(C + 1);
  for (int k = 0; k < C; k++) sums[k] = m_local * mu[k];
  sums[C] = m_local;
  g_bn_sync(sums.data(), C + 1);
  const double m = sums[C];
  std::vector<double> mean(C), m2(C), var(C);
  for (int k = 0; k < C; k++) {
    mean[k] = sums[k] / m;
    const double v = 1.0 / (inv[k] * inv[k]) - eps, d = mu[k] - mean[k];
    m2[k] = m_local * (std::max(v, 0.0) + d * d);
  }
  g_bn_sync(m2.data(), C);
  for (int k = 0; k < C; k++) var[k] = m2[k] / m;
  Tensor gmean = host_to(x, mean), gvar = host_to(x, var);
  kern::batchnorm_forward_eval(x, gamma, beta, eps, gmean, gvar, y);
  if (running_mean.defined()) {  // PyTorch: the unbiased variance moves the running one
    std::vector<double> rm = to_host(running_mean), rv = to_host(running_var);
    for (int k = 0; k < C; k++) {
      rm[k] = (1 - momentum) * rm[k] + momentum * mean[k];
      rv[k] = (1 - momentum) * rv[k] + momentum * (m > 1 ? m2[k] / (m - 1) : var[k]);
    }
    running_mean.copy_(host_to(x, rm));
    running_var.copy_(host_to(x, rv));
  }
  if (any_requires_grad({&x, &gamma, &beta})) {
    y.set_requires_grad(true);
    AllReduceSum sync = g_bn_sync;  // the hook as it was at forward time
    record([x, gamma, beta, y, gmean, gvar, eps, m, C, sync] {
      Tensor dy = y.grad();
      if (!dy.defined()) return;
      Tensor dx = x.requires_grad() ? x.grad_or_zeros() : Tensor::zeros(x.shape(), x.dtype(), x.device());
      Tensor dg = Tensor::zeros(gamma.shape(), x.dtype(), x.device()), db = Tensor::zeros(gamma.shape(), x.dtype(), x.device());
      kern::batchnorm_backward_eval(x, dy, gamma, gmean, gvar, eps, dx, dg, db);
      if (gamma.requires_grad()) { Tensor g = gamma.grad_or_zeros(); kern::accumulate(dg, g); }
      if (beta.requires_grad()) { Tensor g = beta.grad_or_zeros(); kern::accumulate(db, g); }
      std::vector<double> tot = to_host(db), sdyx = to_host(dg), g = to_host(gamma), var = to_host(gvar);
      tot.insert(tot.end(), sdyx.begin(), sdyx.end());
      sync(tot.data(), 2 * C);
      std::vector<double> a(C), b(C), one(C, 1.0);
      for (int k = 0; k < C; k++) {
        const double invstd = 1.0 / std::sqrt(var[k] + eps);
        a[k] = -g[k] * invstd * invstd * tot[C + k] / m;  // times (x - mean): the xhat * sum dy*xhat term
        b[k] = -g[k] * invstd * tot[k] / m;               // the sum dy term
      }
      if (!x.requires_grad()) return;
      Tensor corr = like(x, x.shape());
      kern::batchnorm_forward_eval(x, host_to(x, a), host_to(x, b), 0.0, gmean, host_to(x, one), corr);
      kern::accumulate(corr, dx);
    });
  }
  return y;
}
}  // namespace

void set_batchnorm_sync(AllReduceSum hook) { g_bn_sync = std::move(hook); }

Tensor batchnorm2d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                   Tensor& running_var, bool training, double momentum, double eps) {
  CHECK_OR_FAIL(x.dim() >= 2 && x.size(1) == gamma.numel(),
                "batchnorm2d: " + std::to_string(gamma.numel()) + " channels, input " + x.shape().str());
  if (training && g_bn_sync) return batchnorm2d_sync(x, gamma, beta, running_mean, running_var, momentum, eps);
  Tensor y = like(x, x.shape());
  const Shape c = {x.size(1)};
  if (training) {
    Tensor save_mean = like(x, c), save_invstd = like(x, c);
    kern::batchnorm_forward_train(x, gamma, beta, eps, momentum, running_mean.defined() ? &running_mean : nullptr,
                                  running_var.defined() ? &running_var : nullptr, y, save_mean, save_invstd);
    if (any_requires_grad({&x, &gamma, &beta})) {
      y.set_requires_grad(true);
      record([x, gamma, beta, y, save_mean, save_invstd] {
        Tensor dy = y.grad();
        if (!dy.defined()) return;
        // the kernel writes all three; gradients not wanted go to scratch
        Tensor dx = x.requires_grad() ? x.grad_or_zeros() : Tensor::zeros(x.shape(), x.dtype(), x.device());
        Tensor dg = gamma.requires_grad() ? gamma.grad_or_zeros() : Tensor::zeros(gamma.shape(), x.dtype(), x.device());
        Tensor db = beta.requires_grad() ? beta.grad_or_zeros() : Tensor::zeros(beta.shape(), x.dtype(), x.device());
        kern::batchnorm_backward(x, dy, gamma, save_mean, save_invstd, dx, dg, db);
      });
    }
    return y;
  }
  kern::batchnorm_forward_eval(x, gamma, beta, eps, running_mean, running_var, y);
  if (any_requires_grad({&x, &gamma, &beta})) {
    y.set_requires_grad(true);
    Tensor rm = running_mean.clone(), rv = running_var.clone();  // the statistics this forward used
    record([x, gamma, beta, y, rm, rv, eps] {
      Tensor dy = y.grad();
      if (!dy.defined()) return;
      Tensor dx = x.requires_grad() ? x.grad_or_zeros() : Tensor::zeros(x.shape(), x.dtype(), x.device());
      Tensor dg = gamma.requires_grad() ? gamma.grad_or_zeros() : Tensor::zeros(gamma.shape(), x.dtype(), x.device());
      Tensor db = beta.requires_grad() ? beta.grad_or_zeros() : Tensor::zeros(beta.shape(), x.dtype(), x.device());
      kern::batchnorm_backward_eval(x, dy, gamma, rm, rv, eps, dx, dg, db);
    });
  }
  return y;
}

// ---- relu ---------------------------------------------------------------------------------------
// y = max(x, 0); dx += dy where y > 0.
Tensor relu(const Tensor& x) {
  Tensor y = like(x, x.shape());
  kern::relu_forward(x, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([x, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::relu_backward(y, y.grad(), dx);
    });
  }
  return y;
}

// ---- relu6 --------------------------------------------------------------------------------------
// y = min(max(x, 0), 6): dy/dx = 1 where 0 < x < 6, else 0 (0 at exactly 0 and 6, PyTorch's hardtanh_backward).
// 0 < y < 6 exactly where 0 < x < 6, so the backward reads y, as relu's does: dx += dy where 0 < y < 6.
Tensor relu6(const Tensor& x) {
  Tensor y = like(x, x.shape());
  kern::relu6_forward(x, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([x, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::relu6_backward(y, y.grad(), dx);
    });
  }
  return y;
}

// ---- leaky_relu ---------------------------------------------------------------------------------
// y = x > 0 ? x : slope*x, so dy/dx = 1 where x > 0 and slope elsewhere: dx += dy * (x > 0 ? 1 : slope). The
// backward reads the input x (for a negative slope, y's sign would not tell the side; with slope 0 it is relu).
Tensor leaky_relu(const Tensor& x, double negative_slope) {
  Tensor y = like(x, x.shape());
  kern::leaky_relu_forward(negative_slope, x, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([x, y, negative_slope] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::leaky_relu_backward(negative_slope, x, y.grad(), dx);
    });
  }
  return y;
}

// ---- add ----------------------------------------------------------------------------------------
// y = a + b; da += dy, db += dy.
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor y = like(a, a.shape());
  kern::add(a, b, y);
  if (any_requires_grad({&a, &b})) {
    y.set_requires_grad(true);
    record([a, b, y] {
      if (!y.grad().defined()) return;
      if (a.requires_grad()) { Tensor da = a.grad_or_zeros(); kern::accumulate(y.grad(), da); }
      if (b.requires_grad()) { Tensor db = b.grad_or_zeros(); kern::accumulate(y.grad(), db); }
    });
  }
  return y;
}

// ---- pools --------------------------------------------------------------------------------------
// Max pool: dx[argmax of each window] += dy.
Tensor maxpool2d(const Tensor& x, int k, int stride, int pad) {
  check_nchw("maxpool2d", x);
  PoolGeom g = PoolGeom::make(x.size(0), x.size(1), x.size(2), x.size(3), k, stride, pad);
  Tensor y = like(x, {g.N, g.C, g.P, g.Q});
  kern::maxpool_forward(g, x, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([g, x, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::maxpool_backward(g, x, y.grad(), dx);
    });
  }
  return y;
}

// Global average pool: y[n,c] = mean over H*W; dx += dy / (H*W).
// Windowed average (count_include_pad): each output is the mean of its k x k window, zeros outside the image
// counted; dx += dy / (k*k) over every window a pixel belongs to.
Tensor avgpool2d(const Tensor& x, int k, int stride, int pad) {
  check_nchw("avgpool2d", x);
  CHECK_OR_FAIL(k > 0 && stride > 0 && pad >= 0 && 2 * pad <= k, "avgpool2d: kernel " + std::to_string(k) + ", stride " +
                    std::to_string(stride) + ", pad " + std::to_string(pad) + " (pad at most half the kernel)");
  PoolGeom g = PoolGeom::make(x.size(0), x.size(1), x.size(2), x.size(3), k, stride, pad);
  CHECK_OR_FAIL(g.P > 0 && g.Q > 0, "avgpool2d: input " + x.shape().str() + " is smaller than the window");
  Tensor y = like(x, {g.N, g.C, g.P, g.Q});
  kern::avgpool2d_forward(g, x, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([g, x, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::avgpool2d_backward(g, y.grad(), dx);
    });
  }
  return y;
}
Tensor global_avgpool(const Tensor& x) {
  check_nchw("global_avgpool", x);
  Tensor y = like(x, {x.size(0), x.size(1)});
  kern::avgpool_forward(x, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([x, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::avgpool_backward(y.grad(), dx);
    });
  }
  return y;
}

// ---- concat_channels ----------------------------------------------------------------------------
// y = [x_0, x_1, ...] along the channels: y's channels c_i..c_i+C_i-1 are x_i. Each x_i's gradient is its own
// slice of dy: dx_i += dy[:, c_i:c_i+C_i].
Tensor concat_channels(const std::vector<Tensor>& xs) {
  CHECK_OR_FAIL(!xs.empty(), "concat_channels: no inputs");
  int64_t C = 0;
  for (const Tensor& x : xs) {
    check_nchw("concat_channels", x);
    CHECK_OR_FAIL(x.size(0) == xs[0].size(0) && x.size(2) == xs[0].size(2) && x.size(3) == xs[0].size(3) &&
                      x.dtype() == xs[0].dtype() && x.device() == xs[0].device(),
                  "concat_channels: " + x.shape().str() + " does not fit beside " + xs[0].shape().str());
    C += x.size(1);
  }
  Tensor y = like(xs[0], {xs[0].size(0), C, xs[0].size(2), xs[0].size(3)});
  int c0 = 0;
  bool grad = false;
  for (const Tensor& x : xs) {
    kern::concat_channels_forward(c0, x, y);
    c0 += (int)x.size(1);
    grad = grad || any_requires_grad({&x});
  }
  if (grad) {
    y.set_requires_grad(true);
    record([xs, y] {
      if (!y.grad().defined()) return;
      int at = 0;
      for (const Tensor& x : xs) {
        if (x.requires_grad()) { Tensor dx = x.grad_or_zeros(); kern::concat_channels_backward(at, y.grad(), dx); }
        at += (int)x.size(1);
      }
    });
  }
  return y;
}

// ---- linear, batchnorm1d: conv2d and batchnorm2d on [B, F, 1, 1] ------------------------------
// The reshapes are views whose backward passes the gradient through unchanged, so d/dx, d/dw and d/db are
// conv2d's: dx[b,f] += sum_o dy[b,o] w[o,f], dw[o,f] += sum_b dy[b,o] x[b,f], db[o] += sum_b dy[b,o].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  CHECK_OR_FAIL(x.dim() == 2 && w.dim() == 2 && w.size(1) == x.size(1),
                "linear: weight " + w.shape().str() + " does not fit input " + x.shape().str() + " (expected [O, F] and [B, F])");
  CHECK_OR_FAIL(!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0)), "linear: bias " + b.shape().str());
  const Tensor y = conv2d(reshape(x, {x.size(0), x.size(1), 1, 1}), reshape(w, {w.size(0), w.size(1), 1, 1}), b, 1, 0);
  return reshape(y, {x.size(0), w.size(0)});
}

Tensor batchnorm1d(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& running_mean,
                   Tensor& running_var, bool training, double momentum, double eps) {
  CHECK_OR_FAIL(x.dim() == 2, "batchnorm1d: expected [B, F], got " + x.shape().str());
  CHECK_OR_FAIL(!training || x.size(0) > 1,
                "batchnorm1d: a training batch of 1 has no variance per feature (PyTorch refuses it too): use a batch of 2 or more");
  const Tensor y = batchnorm2d(reshape(x, {x.size(0), x.size(1), 1, 1}), gamma, beta, running_mean, running_var,
                               training, momentum, eps);
  return reshape(y, x.shape());
}

// ---- reshape, weighted sum ----------------------------------------------------------------------
// A view; the gradient flows back unchanged (same elements, same order).
Tensor reshape(const Tensor& x, const Shape& s) {
  Tensor y = x.reshape(s);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([x, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::accumulate(y.grad(), dx);
    });
  }
  return y;
}

// y = sum w_i x_i; dx_i += w_i dy.
Tensor weighted_sum(const std::vector<Tensor>& xs, const std::vector<double>& ws) {
  CHECK_OR_FAIL(!xs.empty() && xs.size() == ws.size(), "weighted_sum: one weight per tensor");
  Tensor y = Tensor::zeros(xs[0].shape(), xs[0].dtype(), xs[0].device());
  bool need = false;
  for (size_t i = 0; i < xs.size(); i++) {
    CHECK_OR_FAIL(xs[i].shape() == y.shape(), "weighted_sum: shapes differ");
    kern::axpy(ws[i], xs[i], y);
    need = need || any_requires_grad({&xs[i]});
  }
  if (need) {
    y.set_requires_grad(true);
    record([xs, ws, y] {
      if (!y.grad().defined()) return;
      for (size_t i = 0; i < xs.size(); i++)
        if (xs[i].requires_grad()) { Tensor dx = xs[i].grad_or_zeros(); kern::axpy(ws[i], y.grad(), dx); }
    });
  }
  return y;
}

// ---- losses -------------------------------------------------------------------------------------
// MSE = mean (p - t)^2: dp += dL * 2 (p - t) / n.   L1 = mean |p - t|: dp += dL * sign(p - t) / n.
// Both are symmetric in (p, t), so a target that requires grad gets the same backward with the roles swapped.
template <double (*Fwd)(const Tensor&, const Tensor&), void (*Bwd)(const Tensor&, const Tensor&, double, Tensor&)>
static Tensor loss_op(const Tensor& pred, const Tensor& target) {
  Tensor y = scalar_like(pred, Fwd(pred, target));
  if (any_requires_grad({&pred, &target})) {
    y.set_requires_grad(true);
    record([pred, target, y] {
      if (!y.grad().defined()) return;
      const double dl = y.grad().item();
      if (pred.requires_grad()) { Tensor dp = pred.grad_or_zeros(); Bwd(pred, target, dl, dp); }
      if (target.requires_grad()) { Tensor dt = target.grad_or_zeros(); Bwd(target, pred, dl, dt); }
    });
  }
  return y;
}
Tensor mse_loss(const Tensor& p, const Tensor& t) { return loss_op<kern::mse_loss, kern::mse_loss_backward>(p, t); }
Tensor l1_loss(const Tensor& p, const Tensor& t) { return loss_op<kern::l1_loss, kern::l1_loss_backward>(p, t); }

// ---- gather_cells -------------------------------------------------------------------------------
// y[b,c] = x[b, c, cell[b, c/rep]]; dx[b, c, cell] += dy[b,c].
Tensor gather_cells(const Tensor& x, const Tensor& cell, int rep) {
  check_nchw("gather_cells", x);
  CHECK_OR_FAIL(cell.dtype() == DType::I32 && cell.dim() == 2 && cell.size(0) == x.size(0) &&
                    cell.size(1) * rep == x.size(1),
                "gather_cells: cell index " + cell.shape().str() + " does not fit " + x.shape().str());
  Tensor y = like(x, {x.size(0), x.size(1)});
  kern::gather_cells(x, cell, rep, y);
  if (any_requires_grad({&x})) {
    y.set_requires_grad(true);
    record([x, cell, rep, y] {
      if (!y.grad().defined()) return;
      Tensor dx = x.grad_or_zeros();
      kern::gather_cells_backward(y.grad(), cell, rep, dx);
    });
  }
  return y;
}

}  // namespace ag
