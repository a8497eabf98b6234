// dispatch.cpp: one table per op, one entry per backend (see dispatch.h). The entries unwrap tensors into raw
// pointers and sizes and call the kernel; the cpu/f64 entries instantiate the reference kernels in double.
#include "kernels/dispatch.h"

#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/cuda/cuda.h"
#include "kernels/ref/ref.h"

// The CUDA column: the kernels of kernels/cuda when nvcc built them, else empty (a loud error if reached).
#ifdef PIPNET_CUDA
#define CUDA_IMPL(name, fn) {name, fn}
#else
#define CUDA_IMPL(name, fn) {nullptr, nullptr}
#endif

namespace kern {
namespace {

enum Backend { kCpuF32, kCpuF64, kCudaF32, kNumBackends };
const char* kBackendNames[kNumBackends] = {"cpu/f32", "cpu/f64", "cuda/f32"};

Backend backend_of(const Tensor& t) {
  if (t.device() == Device::CUDA) {
    CHECK_OR_FAIL(t.dtype() == DType::F32, "CUDA tensors are f32 only");
    return kCudaF32;
  }
  return t.dtype() == DType::F64 ? kCpuF64 : kCpuF32;
}

template <class Fn> struct Impl { const char* name; Fn fn; };
template <class Fn> struct OpTable { const char* op; Impl<Fn> impl[kNumBackends]; };

// Every table registers itself here so that impl_name() and dispatch_table() can list them.
struct Listing { const char* op; const char* names[kNumBackends]; };
std::vector<Listing>& listings() { static std::vector<Listing> v; return v; }
template <class Fn> const OpTable<Fn>& registered(const OpTable<Fn>& t) {
  listings().push_back({t.op, {t.impl[0].fn ? t.impl[0].name : nullptr, t.impl[1].fn ? t.impl[1].name : nullptr,
                               t.impl[2].fn ? t.impl[2].name : nullptr}});
  return t;
}

template <class Fn> Fn pick(const OpTable<Fn>& t, const Tensor& x) {
  Backend b = backend_of(x);
  if (!t.impl[b].fn)
    fail(__FILE__, __LINE__, std::string("no ") + kBackendNames[b] + " implementation of " + t.op +
                                 (b == kCudaF32 ? " (the CUDA kernels are not written yet)" : ""));
  return t.impl[b].fn;
}

template <class T> T* ptr(const Tensor& t) { return t.data<T>(); }
template <class T> T* ptr_or_null(const Tensor* t) { return t ? t->data<T>() : nullptr; }

// A convolution workspace from the caching allocator, returned when it goes out of scope.
struct Workspace {
  Tensor t;
  explicit Workspace(int64_t floats) : t(Tensor::empty({floats > 0 ? floats : 1})) {}
  float* get() { return t.data<float>(); }
};

int hw_of(const Tensor& x) { return (int)(x.numel() / (x.size(0) * x.size(1))); }

// ---- convolution ------------------------------------------------------------------------------
using ConvFwdFn = void (*)(const ConvGeom&, const Tensor&, const Tensor&, const Tensor*, Tensor&);
const OpTable<ConvFwdFn> conv_fwd = registered(OpTable<ConvFwdFn>{"conv2d_forward", {
    {"im2col + sgemm", [](const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
       cpu::conv2d_forward(g, ptr<float>(x), ptr<float>(w), ptr_or_null<float>(b), ptr<float>(y));
     }},
    {"ref direct loops", [](const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
       ref::conv2d_forward<double>(g, ptr<double>(x), ptr<double>(w), ptr_or_null<double>(b), ptr<double>(y));
     }},
    CUDA_IMPL("im2col + cuBLAS", cudak::conv2d_forward)}});

using ConvBwdInFn = void (*)(const ConvGeom&, const Tensor&, const Tensor&, Tensor&);
const OpTable<ConvBwdInFn> conv_bwd_in = registered(OpTable<ConvBwdInFn>{"conv2d_backward_input", {
    {"sgemm + col2im (stride 1: dy convolved with the turned-around weights)", [](const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
       Workspace col(cpu::conv2d_col_floats(g));
       cpu::conv2d_backward_input(g, ptr<float>(dy), ptr<float>(w), ptr<float>(dx), col.get());
     }},
    {"ref direct loops", [](const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
       ref::conv2d_backward_input<double>(g, ptr<double>(dy), ptr<double>(w), ptr<double>(dx));
     }},
    CUDA_IMPL("cuBLAS + col2im gather", cudak::conv2d_backward_input)}});

using ConvBwdWFn = void (*)(const ConvGeom&, const Tensor&, const Tensor&, Tensor&, Tensor*);
const OpTable<ConvBwdWFn> conv_bwd_w = registered(OpTable<ConvBwdWFn>{"conv2d_backward_weight", {
    {"im2col + sgemm", [](const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
       Workspace partial(cpu::conv2d_partial_floats(g));
       cpu::conv2d_backward_weight(g, ptr<float>(x), ptr<float>(dy), ptr<float>(dw), ptr_or_null<float>(db),
                                   partial.get());
     }},
    {"ref direct loops", [](const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
       ref::conv2d_backward_weight<double>(g, ptr<double>(x), ptr<double>(dy), ptr<double>(dw), ptr_or_null<double>(db));
     }},
    CUDA_IMPL("im2col + cuBLAS", cudak::conv2d_backward_weight)}});

// ---- batch norm -------------------------------------------------------------------------------
using BnTrainFn = void (*)(const Tensor&, const Tensor&, const Tensor&, double, double, Tensor*, Tensor*, Tensor&,
                           Tensor&, Tensor&);
const OpTable<BnTrainFn> bn_train = registered(OpTable<BnTrainFn>{"batchnorm_forward_train", {
    {"per-channel, omp", [](const Tensor& x, const Tensor& g, const Tensor& b, double eps, double mom, Tensor* rm,
                            Tensor* rv, Tensor& y, Tensor& sm, Tensor& si) {
       cpu::batchnorm_forward_train(x.size(0), x.size(1), hw_of(x), ptr<float>(x), ptr<float>(g), ptr<float>(b), eps,
                                    mom, ptr_or_null<float>(rm), ptr_or_null<float>(rv), ptr<float>(y), ptr<float>(sm),
                                    ptr<float>(si));
     }},
    {"ref loops", [](const Tensor& x, const Tensor& g, const Tensor& b, double eps, double mom, Tensor* rm, Tensor* rv,
                     Tensor& y, Tensor& sm, Tensor& si) {
       ref::batchnorm_forward_train<double>(x.size(0), x.size(1), hw_of(x), ptr<double>(x), ptr<double>(g),
                                            ptr<double>(b), eps, mom, ptr_or_null<double>(rm), ptr_or_null<double>(rv),
                                            ptr<double>(y), ptr<double>(sm), ptr<double>(si));
     }},
    CUDA_IMPL("block per channel", cudak::batchnorm_forward_train)}});

using BnEvalFn = void (*)(const Tensor&, const Tensor&, const Tensor&, double, const Tensor&, const Tensor&, Tensor&);
const OpTable<BnEvalFn> bn_eval = registered(OpTable<BnEvalFn>{"batchnorm_forward_eval", {
    {"per-channel affine, omp", [](const Tensor& x, const Tensor& g, const Tensor& b, double eps, const Tensor& rm,
                                   const Tensor& rv, Tensor& y) {
       cpu::batchnorm_forward_eval(x.size(0), x.size(1), hw_of(x), ptr<float>(x), ptr<float>(g), ptr<float>(b), eps,
                                   ptr<float>(rm), ptr<float>(rv), ptr<float>(y));
     }},
    {"ref loops", [](const Tensor& x, const Tensor& g, const Tensor& b, double eps, const Tensor& rm, const Tensor& rv,
                     Tensor& y) {
       ref::batchnorm_forward_eval<double>(x.size(0), x.size(1), hw_of(x), ptr<double>(x), ptr<double>(g),
                                           ptr<double>(b), eps, ptr<double>(rm), ptr<double>(rv), ptr<double>(y));
     }},
    CUDA_IMPL("elementwise", cudak::batchnorm_forward_eval)}});

using BnBwdFn = void (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, Tensor&, Tensor&,
                         Tensor&);
const OpTable<BnBwdFn> bn_bwd = registered(OpTable<BnBwdFn>{"batchnorm_backward", {
    {"per-channel, omp", [](const Tensor& x, const Tensor& dy, const Tensor& g, const Tensor& sm, const Tensor& si,
                            Tensor& dx, Tensor& dg, Tensor& db) {
       cpu::batchnorm_backward(x.size(0), x.size(1), hw_of(x), ptr<float>(x), ptr<float>(dy), ptr<float>(g),
                               ptr<float>(sm), ptr<float>(si), ptr<float>(dx), ptr<float>(dg), ptr<float>(db));
     }},
    {"ref loops", [](const Tensor& x, const Tensor& dy, const Tensor& g, const Tensor& sm, const Tensor& si, Tensor& dx,
                     Tensor& dg, Tensor& db) {
       ref::batchnorm_backward<double>(x.size(0), x.size(1), hw_of(x), ptr<double>(x), ptr<double>(dy), ptr<double>(g),
                                       ptr<double>(sm), ptr<double>(si), ptr<double>(dx), ptr<double>(dg),
                                       ptr<double>(db));
     }},
    CUDA_IMPL("block per channel", cudak::batchnorm_backward)}});

using BnBwdEvalFn = void (*)(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&, double,
                             Tensor&, Tensor&, Tensor&);
const OpTable<BnBwdEvalFn> bn_bwd_eval = registered(OpTable<BnBwdEvalFn>{"batchnorm_backward_eval", {
    {"per-channel, omp", [](const Tensor& x, const Tensor& dy, const Tensor& g, const Tensor& rm, const Tensor& rv,
                            double eps, Tensor& dx, Tensor& dg, Tensor& db) {
       cpu::batchnorm_backward_eval(x.size(0), x.size(1), hw_of(x), ptr<float>(x), ptr<float>(dy), ptr<float>(g),
                                    ptr<float>(rm), ptr<float>(rv), eps, ptr<float>(dx), ptr<float>(dg), ptr<float>(db));
     }},
    {"ref loops", [](const Tensor& x, const Tensor& dy, const Tensor& g, const Tensor& rm, const Tensor& rv, double eps,
                     Tensor& dx, Tensor& dg, Tensor& db) {
       ref::batchnorm_backward_eval<double>(x.size(0), x.size(1), hw_of(x), ptr<double>(x), ptr<double>(dy),
                                            ptr<double>(g), ptr<double>(rm), ptr<double>(rv), eps, ptr<double>(dx),
                                            ptr<double>(dg), ptr<double>(db));
     }},
    CUDA_IMPL("block per channel", cudak::batchnorm_backward_eval)}});

// ---- elementwise, pools -----------------------------------------------------------------------
using UnaryFn = void (*)(const Tensor&, Tensor&);
using BinaryFn = void (*)(const Tensor&, const Tensor&, Tensor&);
const OpTable<UnaryFn> relu_fwd = registered(OpTable<UnaryFn>{"relu_forward", {
    {"omp simd", [](const Tensor& x, Tensor& y) { cpu::relu_forward(x.numel(), ptr<float>(x), ptr<float>(y)); }},
    {"ref loop", [](const Tensor& x, Tensor& y) { ref::relu_forward<double>(x.numel(), ptr<double>(x), ptr<double>(y)); }},
    CUDA_IMPL("elementwise", cudak::relu_forward)}});
using ReluBwdFn = void (*)(const Tensor&, const Tensor&, Tensor&);
const OpTable<ReluBwdFn> relu_bwd = registered(OpTable<ReluBwdFn>{"relu_backward", {
    {"omp simd", [](const Tensor& y, const Tensor& dy, Tensor& dx) {
       cpu::relu_backward(y.numel(), ptr<float>(y), ptr<float>(dy), ptr<float>(dx)); }},
    {"ref loop", [](const Tensor& y, const Tensor& dy, Tensor& dx) {
       ref::relu_backward<double>(y.numel(), ptr<double>(y), ptr<double>(dy), ptr<double>(dx)); }},
    CUDA_IMPL("elementwise", cudak::relu_backward)}});
const OpTable<BinaryFn> add_tab = registered(OpTable<BinaryFn>{"add", {
    {"omp simd", [](const Tensor& a, const Tensor& b, Tensor& y) {
       cpu::add(a.numel(), ptr<float>(a), ptr<float>(b), ptr<float>(y)); }},
    {"ref loop", [](const Tensor& a, const Tensor& b, Tensor& y) {
       ref::add<double>(a.numel(), ptr<double>(a), ptr<double>(b), ptr<double>(y)); }},
    CUDA_IMPL("elementwise", cudak::add)}});
const OpTable<UnaryFn> acc_tab = registered(OpTable<UnaryFn>{"accumulate", {
    {"omp simd", [](const Tensor& x, Tensor& y) { cpu::accumulate(x.numel(), ptr<float>(x), ptr<float>(y)); }},
    {"ref loop", [](const Tensor& x, Tensor& y) { ref::accumulate<double>(x.numel(), ptr<double>(x), ptr<double>(y)); }},
    CUDA_IMPL("elementwise", cudak::accumulate)}});
using AxpyFn = void (*)(double, const Tensor&, Tensor&);
const OpTable<AxpyFn> axpy_tab = registered(OpTable<AxpyFn>{"axpy", {
    {"omp simd", [](double a, const Tensor& x, Tensor& y) { cpu::axpy(x.numel(), a, ptr<float>(x), ptr<float>(y)); }},
    {"ref loop", [](double a, const Tensor& x, Tensor& y) { ref::axpy<double>(x.numel(), a, ptr<double>(x), ptr<double>(y)); }},
    CUDA_IMPL("elementwise", cudak::axpy)}});

using PoolFwdFn = void (*)(const PoolGeom&, const Tensor&, Tensor&);
const OpTable<PoolFwdFn> maxpool_fwd = registered(OpTable<PoolFwdFn>{"maxpool_forward", {
    {"per-plane, omp", [](const PoolGeom& g, const Tensor& x, Tensor& y) { cpu::maxpool_forward(g, ptr<float>(x), ptr<float>(y)); }},
    {"ref loops", [](const PoolGeom& g, const Tensor& x, Tensor& y) { ref::maxpool_forward<double>(g, ptr<double>(x), ptr<double>(y)); }},
    CUDA_IMPL("thread per output", cudak::maxpool_forward)}});
using PoolBwdFn = void (*)(const PoolGeom&, const Tensor&, const Tensor&, Tensor&);
const OpTable<PoolBwdFn> maxpool_bwd = registered(OpTable<PoolBwdFn>{"maxpool_backward", {
    {"argmax recomputed, omp", [](const PoolGeom& g, const Tensor& x, const Tensor& dy, Tensor& dx) {
       cpu::maxpool_backward(g, ptr<float>(x), ptr<float>(dy), ptr<float>(dx)); }},
    {"ref loops", [](const PoolGeom& g, const Tensor& x, const Tensor& dy, Tensor& dx) {
       ref::maxpool_backward<double>(g, ptr<double>(x), ptr<double>(dy), ptr<double>(dx)); }},
    CUDA_IMPL("argmax gather", cudak::maxpool_backward)}});
const OpTable<UnaryFn> avgpool_fwd = registered(OpTable<UnaryFn>{"avgpool_forward", {
    {"omp", [](const Tensor& x, Tensor& y) { cpu::avgpool_forward(y.numel(), hw_of(x), ptr<float>(x), ptr<float>(y)); }},
    {"ref loops", [](const Tensor& x, Tensor& y) { ref::avgpool_forward<double>(y.numel(), hw_of(x), ptr<double>(x), ptr<double>(y)); }},
    CUDA_IMPL("thread per plane", cudak::avgpool_forward)}});
const OpTable<UnaryFn> avgpool_bwd = registered(OpTable<UnaryFn>{"avgpool_backward", {
    {"omp", [](const Tensor& dy, Tensor& dx) { cpu::avgpool_backward(dy.numel(), hw_of(dx), ptr<float>(dy), ptr<float>(dx)); }},
    {"ref loops", [](const Tensor& dy, Tensor& dx) { ref::avgpool_backward<double>(dy.numel(), hw_of(dx), ptr<double>(dy), ptr<double>(dx)); }},
    CUDA_IMPL("elementwise", cudak::avgpool_backward)}});

// ---- losses -----------------------------------------------------------------------------------
using LossFn = double (*)(const Tensor&, const Tensor&);
using LossBwdFn = void (*)(const Tensor&, const Tensor&, double, Tensor&);
const OpTable<LossFn> mse_tab = registered(OpTable<LossFn>{"mse_loss", {
    {"omp reduction", [](const Tensor& p, const Tensor& t) { return cpu::mse_loss(p.numel(), ptr<float>(p), ptr<float>(t)); }},
    {"ref loop", [](const Tensor& p, const Tensor& t) { return ref::mse_loss<double>(p.numel(), ptr<double>(p), ptr<double>(t)); }},
    CUDA_IMPL("two-stage reduction", cudak::mse_loss)}});
const OpTable<LossBwdFn> mse_bwd = registered(OpTable<LossBwdFn>{"mse_loss_backward", {
    {"omp simd", [](const Tensor& p, const Tensor& t, double d, Tensor& dp) {
       cpu::mse_loss_backward(p.numel(), ptr<float>(p), ptr<float>(t), d, ptr<float>(dp)); }},
    {"ref loop", [](const Tensor& p, const Tensor& t, double d, Tensor& dp) {
       ref::mse_loss_backward<double>(p.numel(), ptr<double>(p), ptr<double>(t), d, ptr<double>(dp)); }},
    CUDA_IMPL("elementwise", cudak::mse_loss_backward)}});
const OpTable<LossFn> l1_tab = registered(OpTable<LossFn>{"l1_loss", {
    {"omp reduction", [](const Tensor& p, const Tensor& t) { return cpu::l1_loss(p.numel(), ptr<float>(p), ptr<float>(t)); }},
    {"ref loop", [](const Tensor& p, const Tensor& t) { return ref::l1_loss<double>(p.numel(), ptr<double>(p), ptr<double>(t)); }},
    CUDA_IMPL("two-stage reduction", cudak::l1_loss)}});
const OpTable<LossBwdFn> l1_bwd = registered(OpTable<LossBwdFn>{"l1_loss_backward", {
    {"omp", [](const Tensor& p, const Tensor& t, double d, Tensor& dp) {
       cpu::l1_loss_backward(p.numel(), ptr<float>(p), ptr<float>(t), d, ptr<float>(dp)); }},
    {"ref loop", [](const Tensor& p, const Tensor& t, double d, Tensor& dp) {
       ref::l1_loss_backward<double>(p.numel(), ptr<double>(p), ptr<double>(t), d, ptr<double>(dp)); }},
    CUDA_IMPL("elementwise", cudak::l1_loss_backward)}});

using GatherFn = void (*)(const Tensor&, const Tensor&, int, Tensor&);
const OpTable<GatherFn> gather_tab = registered(OpTable<GatherFn>{"gather_cells", {
    {"ref loop <float>", [](const Tensor& x, const Tensor& cell, int rep, Tensor& y) {
       ref::gather_cells<float>(x.size(0), x.size(1), hw_of(x), rep, ptr<float>(x), ptr<int32_t>(cell), ptr<float>(y)); }},
    {"ref loop", [](const Tensor& x, const Tensor& cell, int rep, Tensor& y) {
       ref::gather_cells<double>(x.size(0), x.size(1), hw_of(x), rep, ptr<double>(x), ptr<int32_t>(cell), ptr<double>(y)); }},
    CUDA_IMPL("elementwise", cudak::gather_cells)}});
const OpTable<GatherFn> gather_bwd = registered(OpTable<GatherFn>{"gather_cells_backward", {
    {"ref loop <float>", [](const Tensor& dy, const Tensor& cell, int rep, Tensor& dx) {
       ref::gather_cells_backward<float>(dx.size(0), dx.size(1), hw_of(dx), rep, ptr<float>(dy), ptr<int32_t>(cell), ptr<float>(dx)); }},
    {"ref loop", [](const Tensor& dy, const Tensor& cell, int rep, Tensor& dx) {
       ref::gather_cells_backward<double>(dx.size(0), dx.size(1), hw_of(dx), rep, ptr<double>(dy), ptr<int32_t>(cell), ptr<double>(dx)); }},
    CUDA_IMPL("elementwise", cudak::gather_cells_backward)}});

// ---- optimizer --------------------------------------------------------------------------------
using AdamFn = void (*)(Tensor&, const Tensor&, Tensor&, Tensor&, const AdamParams&);
const OpTable<AdamFn> adam_tab = registered(OpTable<AdamFn>{"adam_step", {
    {"omp simd", [](Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamParams& a) {
       cpu::adam_step(p.numel(), ptr<float>(p), ptr<float>(g), ptr<float>(m), ptr<float>(v), a); }},
    {"ref loop", [](Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamParams& a) {
       ref::adam_step<double>(p.numel(), ptr<double>(p), ptr<double>(g), ptr<double>(m), ptr<double>(v), a); }},
    CUDA_IMPL("elementwise", cudak::adam_step)}});

using SgdFn = void (*)(Tensor&, const Tensor&, Tensor&, double, double, double, bool);
const OpTable<SgdFn> sgd_tab = registered(OpTable<SgdFn>{"sgd_step", {
    {"ref loop <float>", [](Tensor& p, const Tensor& g, Tensor& b, double lr, double mom, double wd, bool first) {
       ref::sgd_step<float>(p.numel(), ptr<float>(p), ptr<float>(g), ptr<float>(b), lr, mom, wd, first); }},
    {"ref loop", [](Tensor& p, const Tensor& g, Tensor& b, double lr, double mom, double wd, bool first) {
       ref::sgd_step<double>(p.numel(), ptr<double>(p), ptr<double>(g), ptr<double>(b), lr, mom, wd, first); }},
    CUDA_IMPL("elementwise", cudak::sgd_step)}});

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  CHECK_OR_FAIL(a.shape() == b.shape(), std::string(op) + ": shapes " + a.shape().str() + " and " + b.shape().str());
}

}  // namespace

void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) { pick(conv_fwd, x)(g, x, w, b, y); }
void conv2d_backward_input(const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx) { pick(conv_bwd_in, dy)(g, dy, w, dx); }
void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) { pick(conv_bwd_w, x)(g, x, dy, dw, db); }
void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                             Tensor* rm, Tensor* rv, Tensor& y, Tensor& sm, Tensor& si) {
  pick(bn_train, x)(x, gamma, beta, eps, momentum, rm, rv, y, sm, si);
}
void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& rm,
                            const Tensor& rv, Tensor& y) {
  pick(bn_eval, x)(x, gamma, beta, eps, rm, rv, y);
}
void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& sm, const Tensor& si,
                        Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  pick(bn_bwd, x)(x, dy, gamma, sm, si, dx, dgamma, dbeta);
}
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& rm,
                             const Tensor& rv, double eps, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  pick(bn_bwd_eval, x)(x, dy, gamma, rm, rv, eps, dx, dgamma, dbeta);
}
void relu_forward(const Tensor& x, Tensor& y) { same_shape("relu", x, y); pick(relu_fwd, x)(x, y); }
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) { pick(relu_bwd, y)(y, dy, dx); }
void add(const Tensor& a, const Tensor& b, Tensor& y) { same_shape("add", a, b); pick(add_tab, a)(a, b, y); }
void accumulate(const Tensor& x, Tensor& y) { CHECK_OR_FAIL(x.numel() == y.numel(), "accumulate: sizes differ"); pick(acc_tab, x)(x, y); }
void axpy(double a, const Tensor& x, Tensor& y) { CHECK_OR_FAIL(x.numel() == y.numel(), "axpy: sizes differ"); pick(axpy_tab, x)(a, x, y); }
void maxpool_forward(const PoolGeom& g, const Tensor& x, Tensor& y) { pick(maxpool_fwd, x)(g, x, y); }
void maxpool_backward(const PoolGeom& g, const Tensor& x, const Tensor& dy, Tensor& dx) { pick(maxpool_bwd, x)(g, x, dy, dx); }
void avgpool_forward(const Tensor& x, Tensor& y) { pick(avgpool_fwd, x)(x, y); }
void avgpool_backward(const Tensor& dy, Tensor& dx) { pick(avgpool_bwd, dy)(dy, dx); }
double mse_loss(const Tensor& p, const Tensor& t) { same_shape("mse_loss", p, t); return pick(mse_tab, p)(p, t); }
void mse_loss_backward(const Tensor& p, const Tensor& t, double d, Tensor& dp) { pick(mse_bwd, p)(p, t, d, dp); }
double l1_loss(const Tensor& p, const Tensor& t) { same_shape("l1_loss", p, t); return pick(l1_tab, p)(p, t); }
void l1_loss_backward(const Tensor& p, const Tensor& t, double d, Tensor& dp) { pick(l1_bwd, p)(p, t, d, dp); }
void gather_cells(const Tensor& x, const Tensor& cell, int rep, Tensor& y) { pick(gather_tab, x)(x, cell, rep, y); }
void gather_cells_backward(const Tensor& dy, const Tensor& cell, int rep, Tensor& dx) { pick(gather_bwd, dy)(dy, cell, rep, dx); }
void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamParams& a) { pick(adam_tab, p)(p, g, m, v, a); }
void sgd_step(Tensor& p, const Tensor& g, Tensor& buf, double lr, double mom, double wd, bool first) {
  pick(sgd_tab, p)(p, g, buf, lr, mom, wd, first);
}

std::string impl_name(const std::string& op, const Tensor& t) {
  Backend b = backend_of(t);
  for (const Listing& l : listings())
    if (op == l.op) {
      std::string s = std::string(kBackendNames[b]) + ": " + (l.names[b] ? l.names[b] : "(none)");
      if (b == kCpuF32 && (op.rfind("conv2d", 0) == 0)) s += std::string(" [") + cpu::gemm_active().name + "]";
      return s;
    }
  return "unknown op " + op;
}

std::string dispatch_table() {
  std::string s = strf("%-26s %-28s %-20s %s\n", "op", kBackendNames[0], kBackendNames[1], kBackendNames[2]);
  for (const Listing& l : listings())
    s += strf("%-26s %-28s %-20s %s\n", l.op, l.names[0] ? l.names[0] : "-", l.names[1] ? l.names[1] : "-",
              l.names[2] ? l.names[2] : "-");
  return s + strf("sgemm micro-kernel: %s\n", cpu::gemm_active().name);
}

}  // namespace kern
