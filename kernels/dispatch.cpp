// dispatch.cpp: one row per op, one implementation per backend (see dispatch.h). All three implementations of an op
// have one pointer-level signature, the reference kernel's (kernels/ref/ref.h): cpu::op and cudak::op take float
// pointers (host and device memory), ref::op<double> double pointers. So a row is {op, cpu::op, ref::op<double>,
// cudak::op} with a name for each, and the Tensor-level functions at the end unwrap tensors into sizes and
// pointers once per op for all backends: run() picks the row's function for the tensor's backend and hands the
// unwrapping code the scalar type it needs.
#include "kernels/dispatch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

#include "kernels/cpu/cpu.h"
#include "kernels/ref/ref.h"

// The CUDA column: the kernels of kernels/cuda when nvcc built them, else empty (a loud error if reached; without
// CUDA no CUDA tensor can be made in the first place).
#ifdef PIPNET_CUDA
#define CUDA_IMPL(name, fn) name, fn
#else
#define CUDA_IMPL(name, fn) nullptr, nullptr
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

// One op: its implementations' names (for impl_name and dispatch_table) and functions. F32 is the function pointer
// type of the float implementations (cpu/f32 and cuda/f32), F64 that of the reference in double (cpu/f64).
template <class F32, class F64> struct Row {
  const char* op;
  const char* names[kNumBackends];
  F32 cpu;
  F64 ref;
  F32 cuda;
};

// Every row registers itself here so that impl_name() and dispatch_table() can list them.
struct Listing { const char* op; const char* names[kNumBackends]; };
std::vector<Listing>& listings() { static std::vector<Listing> v; return v; }

template <class F32, class F64>
Row<F32, F64> row(const char* op, const char* cpu_name, F32 cpu, const char* ref_name, F64 ref,
                  const char* cuda_name, std::type_identity_t<F32> cuda) {
  listings().push_back({op, {cpu ? cpu_name : nullptr, ref ? ref_name : nullptr, cuda ? cuda_name : nullptr}});
  return {op, {cpu_name, ref_name, cuda_name}, cpu, ref, cuda};
}

// Pointers of scalar type T out of tensors (dtype-checked by Tensor::data); an absent optional tensor is nullptr.
template <class T> struct Ptr {
  T* operator()(const Tensor& t) const { return t.data<T>(); }
  T* operator()(const Tensor* t) const { return t ? t->data<T>() : nullptr; }
};

// ---- the profile (dispatch.h: profile_begin): wall time per op and shape, kept only while one is open ----------------
struct ProfileRow { double s = 0; int64_t calls = 0; };
bool g_profiling = false;
std::map<std::string, ProfileRow>& profile_rows() { static std::map<std::string, ProfileRow> m; return m; }
// op and shape, e.g. "conv2d_forward [1, 64, 64, 64] w[64, 64, 3, 3]": the layer, as far as the shapes tell it
std::string profile_key(const char* op, const Tensor& like, const Tensor* also) {
  return std::string(op) + " " + like.shape().str() + (also ? " w" + also->shape().str() : "");
}

// Calls unwrap(fn, Ptr<T>{}) with the row's function for the backend of `like` (T = float or double): the one
// place a backend is chosen. A missing implementation is a loud error naming the op and the backend. `also` names
// a second tensor whose shape the profile shows (a convolution's weights).
template <class F32, class F64, class Unwrap>
auto run(const Row<F32, F64>& r, const Tensor& like, Unwrap unwrap, const Tensor* also = nullptr) {
  const Backend b = backend_of(like);
  if (!(b == kCpuF32 ? r.cpu != nullptr : b == kCpuF64 ? r.ref != nullptr : r.cuda != nullptr))
    fail(__FILE__, __LINE__, std::string("no ") + kBackendNames[b] + " implementation of " + r.op);
  if (g_profiling && b == kCpuF32) {  // CUDA calls return before their work is done: not timed that way
    const auto t0 = std::chrono::steady_clock::now();
    auto record = [&] {
      ProfileRow& pr = profile_rows()[profile_key(r.op, like, also)];
      pr.s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      pr.calls++;
    };
    if constexpr (std::is_void_v<decltype(unwrap(r.cpu, Ptr<float>{}))>) {
      unwrap(r.cpu, Ptr<float>{});
      record();
      return;
    } else {
      auto v = unwrap(r.cpu, Ptr<float>{});
      record();
      return v;
    }
  }
  if (b == kCpuF64) return unwrap(r.ref, Ptr<double>{});
  return unwrap(b == kCpuF32 ? r.cpu : r.cuda, Ptr<float>{});
}

// ---- the table: one row per op ------------------------------------------------------------------------------------
// clang-format off
const auto conv_fwd = row("conv2d_forward",
    "im2col + sgemm", cpu::conv2d_forward, "ref direct loops", ref::conv2d_forward<double>,
    CUDA_IMPL("im2col + cuBLAS", cudak::conv2d_forward));
const auto conv_fwd_fused = row("conv2d_forward_fused",
    "Winograd F(m x m, 3x3) when prepared, else im2col + sgemm; epilogue fused", cpu::conv2d_forward_fused,
    "ref direct loops, then the epilogue", ref::conv2d_forward_fused<double>,
    CUDA_IMPL("im2col + cuBLAS, epilogue kernel", cudak::conv2d_forward_fused));
const auto conv_relu_pool = row("conv2d_relu_maxpool",
    "direct stem (AVX-512) or im2col + sgemm, a band of rows at a time, pooled in cache", cpu::conv2d_relu_maxpool,
    "ref conv, ReLU, then max pool", ref::conv2d_relu_maxpool<double>, nullptr, nullptr);  // CUDA: the two ops
const auto conv_bwd_in = row("conv2d_backward_input",
    "sgemm + col2im (stride 1: dy convolved with the turned-around weights)", cpu::conv2d_backward_input,
    "ref direct loops", ref::conv2d_backward_input<double>,
    CUDA_IMPL("cuBLAS + col2im gather", cudak::conv2d_backward_input));
const auto conv_bwd_w = row("conv2d_backward_weight",
    "im2col + sgemm", cpu::conv2d_backward_weight, "ref direct loops", ref::conv2d_backward_weight<double>,
    CUDA_IMPL("im2col + cuBLAS", cudak::conv2d_backward_weight));
const auto dw_fwd = row("depthwise_forward",
    "plane loops, omp over N*C", cpu::depthwise_forward, "ref direct loops", ref::depthwise_forward<double>,
    CUDA_IMPL("thread per output", cudak::depthwise_forward));
const auto dw_bwd_in = row("depthwise_backward_input",
    "plane loops, omp over N*C", cpu::depthwise_backward_input, "ref direct loops", ref::depthwise_backward_input<double>,
    CUDA_IMPL("thread per input, gather", cudak::depthwise_backward_input));
const auto dw_bwd_w = row("depthwise_backward_weight",
    "plane loops, omp over C", cpu::depthwise_backward_weight, "ref direct loops", ref::depthwise_backward_weight<double>,
    CUDA_IMPL("block per tap, reduction", cudak::depthwise_backward_weight));
const auto bn_train = row("batchnorm_forward_train",
    "per-channel, omp", cpu::batchnorm_forward_train, "ref loops", ref::batchnorm_forward_train<double>,
    CUDA_IMPL("block per channel", cudak::batchnorm_forward_train));
const auto bn_eval = row("batchnorm_forward_eval",
    "per-channel affine, omp", cpu::batchnorm_forward_eval, "ref loops", ref::batchnorm_forward_eval<double>,
    CUDA_IMPL("elementwise", cudak::batchnorm_forward_eval));
const auto bn_bwd = row("batchnorm_backward",
    "per-channel, omp", cpu::batchnorm_backward, "ref loops", ref::batchnorm_backward<double>,
    CUDA_IMPL("block per channel", cudak::batchnorm_backward));
const auto bn_bwd_eval = row("batchnorm_backward_eval",
    "per-channel, omp", cpu::batchnorm_backward_eval, "ref loops", ref::batchnorm_backward_eval<double>,
    CUDA_IMPL("block per channel", cudak::batchnorm_backward_eval));
const auto relu_fwd = row("relu_forward",
    "omp simd", cpu::relu_forward, "ref loop", ref::relu_forward<double>, CUDA_IMPL("elementwise", cudak::relu_forward));
const auto relu_bwd = row("relu_backward",
    "omp simd", cpu::relu_backward, "ref loop", ref::relu_backward<double>, CUDA_IMPL("elementwise", cudak::relu_backward));
const auto relu6_fwd = row("relu6_forward",
    "omp simd", cpu::relu6_forward, "ref loop", ref::relu6_forward<double>, CUDA_IMPL("elementwise", cudak::relu6_forward));
const auto relu6_bwd = row("relu6_backward",
    "omp simd", cpu::relu6_backward, "ref loop", ref::relu6_backward<double>, CUDA_IMPL("elementwise", cudak::relu6_backward));
const auto leaky_fwd = row("leaky_relu_forward",
    "omp simd", cpu::leaky_relu_forward, "ref loop", ref::leaky_relu_forward<double>,
    CUDA_IMPL("elementwise", cudak::leaky_relu_forward));
const auto leaky_bwd = row("leaky_relu_backward",
    "omp simd", cpu::leaky_relu_backward, "ref loop", ref::leaky_relu_backward<double>,
    CUDA_IMPL("elementwise", cudak::leaky_relu_backward));
const auto add_row = row("add",
    "omp simd", cpu::add, "ref loop", ref::add<double>, CUDA_IMPL("elementwise", cudak::add));
const auto acc_row = row("accumulate",
    "omp simd", cpu::accumulate, "ref loop", ref::accumulate<double>, CUDA_IMPL("elementwise", cudak::accumulate));
const auto axpy_row = row("axpy",
    "omp simd", cpu::axpy, "ref loop", ref::axpy<double>, CUDA_IMPL("elementwise", cudak::axpy));
const auto maxpool_fwd = row("maxpool_forward",
    "per-plane, omp", cpu::maxpool_forward, "ref loops", ref::maxpool_forward<double>,
    CUDA_IMPL("thread per output", cudak::maxpool_forward));
const auto maxpool_bwd = row("maxpool_backward",
    "argmax recomputed, omp", cpu::maxpool_backward, "ref loops", ref::maxpool_backward<double>,
    CUDA_IMPL("argmax gather", cudak::maxpool_backward));
const auto avgpool_fwd = row("avgpool_forward",
    "omp", cpu::avgpool_forward, "ref loops", ref::avgpool_forward<double>,
    CUDA_IMPL("thread per plane", cudak::avgpool_forward));
const auto avgpool_bwd = row("avgpool_backward",
    "omp", cpu::avgpool_backward, "ref loops", ref::avgpool_backward<double>,
    CUDA_IMPL("elementwise", cudak::avgpool_backward));
const auto avgpool2d_fwd = row("avgpool2d_forward",
    "per-plane, omp", cpu::avgpool2d_forward, "ref loops", ref::avgpool2d_forward<double>,
    CUDA_IMPL("thread per output", cudak::avgpool2d_forward));
const auto avgpool2d_bwd = row("avgpool2d_backward",
    "per-plane, omp", cpu::avgpool2d_backward, "ref loops", ref::avgpool2d_backward<double>,
    CUDA_IMPL("window gather", cudak::avgpool2d_backward));
const auto concat_fwd = row("concat_channels_forward",
    "block copy, omp", cpu::concat_channels_forward, "ref loop", ref::concat_channels_forward<double>,
    CUDA_IMPL("elementwise", cudak::concat_channels_forward));
const auto concat_bwd = row("concat_channels_backward",
    "omp simd", cpu::concat_channels_backward, "ref loop", ref::concat_channels_backward<double>,
    CUDA_IMPL("elementwise", cudak::concat_channels_backward));
const auto mse_row = row("mse_loss",
    "omp reduction", cpu::mse_loss, "ref loop", ref::mse_loss<double>, CUDA_IMPL("two-stage reduction", cudak::mse_loss));
const auto mse_bwd = row("mse_loss_backward",
    "omp simd", cpu::mse_loss_backward, "ref loop", ref::mse_loss_backward<double>,
    CUDA_IMPL("elementwise", cudak::mse_loss_backward));
const auto l1_row = row("l1_loss",
    "omp reduction", cpu::l1_loss, "ref loop", ref::l1_loss<double>, CUDA_IMPL("two-stage reduction", cudak::l1_loss));
const auto l1_bwd = row("l1_loss_backward",
    "omp", cpu::l1_loss_backward, "ref loop", ref::l1_loss_backward<double>,
    CUDA_IMPL("elementwise", cudak::l1_loss_backward));
const auto gather_row = row("gather_cells",
    "ref loop <float>", cpu::gather_cells, "ref loop", ref::gather_cells<double>,
    CUDA_IMPL("elementwise", cudak::gather_cells));
const auto gather_bwd = row("gather_cells_backward",
    "ref loop <float>", cpu::gather_cells_backward, "ref loop", ref::gather_cells_backward<double>,
    CUDA_IMPL("elementwise", cudak::gather_cells_backward));
const auto adam_row = row("adam_step",
    "omp simd", cpu::adam_step, "ref loop", ref::adam_step<double>, CUDA_IMPL("elementwise", cudak::adam_step));
const auto sgd_row = row("sgd_step",
    "ref loop <float>", cpu::sgd_step, "ref loop", ref::sgd_step<double>, CUDA_IMPL("elementwise", cudak::sgd_step));
// clang-format on

// ---- adapters: one per signature kind that several ops share ------------------------------------------------------
template <class R> void unary(const R& r, const Tensor& x, Tensor& y) {  // (n, const T* x, T* y)
  run(r, x, [&](auto fn, auto p) { fn(x.numel(), p(x), p(y)); });
}
template <class R> void binary(const R& r, const Tensor& a, const Tensor& b, Tensor& y) {  // (n, a, b, T* y)
  run(r, a, [&](auto fn, auto p) { fn(a.numel(), p(a), p(b), p(y)); });
}
template <class R> void scaled_unary(const R& r, double s, const Tensor& x, Tensor& y) {  // (n, double s, x, T* y)
  run(r, x, [&](auto fn, auto p) { fn(x.numel(), s, p(x), p(y)); });
}
template <class R> double loss(const R& r, const Tensor& pred, const Tensor& target) {  // (n, p, t) -> double
  return run(r, pred, [&](auto fn, auto p) { return fn(pred.numel(), p(pred), p(target)); });
}
template <class R> void loss_backward(const R& r, const Tensor& pred, const Tensor& target, double d, Tensor& dp) {
  run(r, pred, [&](auto fn, auto p) { fn(pred.numel(), p(pred), p(target), d, p(dp)); });
}

int hw_of(const Tensor& x) { return (int)(x.numel() / (x.size(0) * x.size(1))); }  // x [N, C, ...]

void same_shape(const char* op, const Tensor& a, const Tensor& b) {
  CHECK_OR_FAIL(a.shape() == b.shape(), std::string(op) + ": shapes " + a.shape().str() + " and " + b.shape().str());
}

}  // namespace

// ---- the Tensor-level ops: sizes and pointers out of tensors, once per op for every backend ----------------------
void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  run(conv_fwd, x, [&](auto fn, auto p) { fn(g, p(x), p(w), p(b), p(y)); }, &w);
}
// Learns the order of the calls (AheadLink) and names the next call's weights to the GEMM (cpu::ahead_set): this
// call's weights are the form it is about to read (Winograd's, the narrow maps', the packed, or w itself).
static std::mutex g_ahead_lock;
static thread_local std::weak_ptr<AheadLink> t_last;  // the last prepared convolution run on this thread
static void weights_ahead(const ConvPrepared& c, const ConvPrep& prep, const Tensor& w) {
  const Tensor& read = prep.wino ? c.wino->get(prep.wino_m, w) : prep.narrow ? c.narrow->B : prep.packed ? c.packed : w;
  const void* p = read.data<float>();
  const int64_t bytes = read.numel() * (int64_t)sizeof(float);
  const void* next_p = nullptr;
  int64_t next_bytes = 0;
  {
    std::lock_guard<std::mutex> lk(g_ahead_lock);
    c.ahead->p = p, c.ahead->bytes = bytes;
    if (auto last = t_last.lock(); last && last != c.ahead) last->next = c.ahead;
    t_last = c.ahead;
    if (auto nx = c.ahead->next.lock()) next_p = nx->p, next_bytes = nx->bytes;
  }
  cpu::ahead_set(next_p, next_bytes);
}
void conv2d_forward_fused(const ConvGeom& g, const Tensor& x, const Tensor& w, const ConvPrepared* prepared,
                          const Tensor* b, const Tensor* residual, bool relu, Tensor& y) {
  ConvPrep prep;
  if (prepared && backend_of(x) == kCpuF32) {
    if (prepared->wino)
      // F(2x2) where it was made ahead, or may be made now (cpu::winograd_late_f2; has(2) is read only where it
      // cannot be being made); else a layer that makes F(4x4) ahead runs im2col on maps too small for it
      if (const int m = cpu::winograd_pick(g); m == 4 || (m == 2 && (cpu::winograd_late_f2(g) || prepared->wino->has(2)))) {
        const Tensor& U = prepared->wino->get(m, w);
        prep.wino_m = m, prep.wino = U.data<float>(), prep.wino_kernel = prepared->wino->kernel[m == 4];
      }
    if (prepared->packed.defined()) prep.gemm_kernel = prepared->gemm_kernel, prep.packed = prepared->packed.data<float>();
    if (prepared->narrow && !prep.wino && cpu::conv_narrow(g)) {
      prep.narrow = prepared->narrow->get(w, g.P * g.Q).data<float>();
      prep.narrow_kernel = prepared->narrow->kernel;
    }
  }
  if (prepared && prepared->ahead && backend_of(x) == kCpuF32) weights_ahead(*prepared, prep, w);
  run(conv_fwd_fused, x, [&](auto fn, auto p) {
    fn(g, p(x), p(w), prepared ? &prep : nullptr, p(b), p(residual), relu, p(y));
  }, &w);
  cpu::ahead_set(nullptr, 0);
}
void conv2d_relu_maxpool(const ConvGeom& g, const PoolGeom& pg, const Tensor& x, const Tensor& w,
                         const ConvPrepared* prepared, const Tensor* b, Tensor& y) {
  CHECK_OR_FAIL(pg.N == g.N && pg.C == g.K && pg.H == g.P && pg.W == g.Q,
                "conv2d_relu_maxpool: a pool over " + std::to_string(pg.C) + "x" + std::to_string(pg.H) + "x" +
                    std::to_string(pg.W) + " does not follow a convolution giving " + std::to_string(g.K) + "x" +
                    std::to_string(g.P) + "x" + std::to_string(g.Q));
  const Backend be = backend_of(x);
  if (be == kCudaF32 || (be == kCpuF32 && !cpu::conv_relu_maxpool_fits(g, pg))) {
    Tensor h = Tensor::empty({g.N, g.K, g.P, g.Q}, x.dtype(), x.device());
    conv2d_forward_fused(g, x, w, prepared, b, nullptr, true, h);
    maxpool_forward(pg, h, y);
    return;
  }
  ConvPrep prep;
  if (prepared && be == kCpuF32 && prepared->packed.defined())
    prep.gemm_kernel = prepared->gemm_kernel, prep.packed = prepared->packed.data<float>();
  run(conv_relu_pool, x, [&](auto fn, auto p) { fn(g, pg, p(x), p(w), prepared ? &prep : nullptr, p(b), p(y)); }, &w);
}
ConvPrepared conv2d_prepare(const Tensor& w, int stride) {
  ConvPrepared out;
  if (w.device() != Device::CPU || w.dtype() != DType::F32 || w.dim() != 4) return out;
  const int K = (int)w.size(0), C = (int)w.size(1), CRS = (int)(w.numel() / K);
  // the GEMM's A, packed for the kernel sgemm picks for K rows (for every layer: a Winograd layer of a small map at
  // batch 1, fewer tiles than cpu::winograd_worth asks for, runs im2col)
  const cpu::GemmKernel& uk = cpu::gemm_for_rows(K);
  out.packed = Tensor::empty({cpu::packed_a_floats(uk, K, CRS)});
  cpu::pack_a(uk, K, CRS, w.data<float>(), CRS, 1, out.packed.data<float>());
  out.gemm_kernel = cpu::gemm_kernel_index(uk);
  out.narrow = std::make_shared<NarrowForm>();
  out.ahead = std::make_shared<AheadLink>();
  if (w.size(2) == 3 && w.size(3) == 3 && stride == 1) {
    out.wino = std::make_shared<WinogradForms>();
    if (const int m = cpu::winograd_choice(K, C)) out.wino->get(m, w);
  }
  return out;
}
const Tensor& NarrowForm::get(const Tensor& w, int PQ) {
  std::call_once(made, [&] {
    const int K = (int)w.size(0), CRS = (int)(w.numel() / K);
    const cpu::GemmKernel& uk = cpu::narrow_gemm(PQ, K);  // the first call's; later ones use the same
    Tensor b = Tensor::empty({cpu::packed_b_floats(uk, CRS, K)});
    cpu::narrow_weights(uk, w.data<float>(), K, CRS, b.data<float>());
    B = b;
    kernel = cpu::gemm_kernel_index(uk);
  });
  return B;
}
const Tensor& WinogradForms::get(int m, const Tensor& w) {
  const int i = m == 4;
  std::call_once(made[i], [&] {
    const int K = (int)w.size(0), C = (int)w.size(1), a = m + 2;
    const cpu::GemmKernel& wk = cpu::winograd_gemm(K);
    Tensor u = Tensor::empty({a * a, cpu::winograd_weight_floats(m, K, C, wk) / (a * a)});
    cpu::winograd_weights(m, w.data<float>(), K, C, wk, u.data<float>());
    U[i] = u;
    kernel[i] = cpu::gemm_kernel_index(wk);
  });
  return U[i];
}
void conv2d_backward_input(const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
  run(conv_bwd_in, dy, [&](auto fn, auto p) { fn(g, p(dy), p(w), p(dx)); }, &w);
}
void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  run(conv_bwd_w, x, [&](auto fn, auto p) { fn(g, p(x), p(dy), p(dw), p(db)); }, &dw);
}
void depthwise_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y) {
  CHECK_OR_FAIL(g.K == g.C, "depthwise_forward: K != C");
  run(dw_fwd, x, [&](auto fn, auto p) { fn(g, p(x), p(w), p(b), p(y)); });
}
void depthwise_backward_input(const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx) {
  CHECK_OR_FAIL(g.K == g.C, "depthwise_backward_input: K != C");
  run(dw_bwd_in, dy, [&](auto fn, auto p) { fn(g, p(dy), p(w), p(dx)); });
}
void depthwise_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db) {
  CHECK_OR_FAIL(g.K == g.C, "depthwise_backward_weight: K != C");
  run(dw_bwd_w, x, [&](auto fn, auto p) { fn(g, p(x), p(dy), p(dw), p(db)); });
}
void batchnorm_forward_train(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, double momentum,
                             Tensor* rm, Tensor* rv, Tensor& y, Tensor& sm, Tensor& si) {
  run(bn_train, x, [&](auto fn, auto p) {
    fn(x.size(0), x.size(1), hw_of(x), p(x), p(gamma), p(beta), eps, momentum, p(rm), p(rv), p(y), p(sm), p(si));
  });
}
void batchnorm_forward_eval(const Tensor& x, const Tensor& gamma, const Tensor& beta, double eps, const Tensor& rm,
                            const Tensor& rv, Tensor& y) {
  run(bn_eval, x, [&](auto fn, auto p) {
    fn(x.size(0), x.size(1), hw_of(x), p(x), p(gamma), p(beta), eps, p(rm), p(rv), p(y));
  });
}
void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& sm, const Tensor& si,
                        Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  run(bn_bwd, x, [&](auto fn, auto p) {
    fn(x.size(0), x.size(1), hw_of(x), p(x), p(dy), p(gamma), p(sm), p(si), p(dx), p(dgamma), p(dbeta));
  });
}
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor& gamma, const Tensor& rm,
                             const Tensor& rv, double eps, Tensor& dx, Tensor& dgamma, Tensor& dbeta) {
  run(bn_bwd_eval, x, [&](auto fn, auto p) {
    fn(x.size(0), x.size(1), hw_of(x), p(x), p(dy), p(gamma), p(rm), p(rv), eps, p(dx), p(dgamma), p(dbeta));
  });
}
void relu_forward(const Tensor& x, Tensor& y) { same_shape("relu", x, y); unary(relu_fwd, x, y); }
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx) { binary(relu_bwd, y, dy, dx); }
void relu6_forward(const Tensor& x, Tensor& y) { same_shape("relu6", x, y); unary(relu6_fwd, x, y); }
void relu6_backward(const Tensor& y, const Tensor& dy, Tensor& dx) { same_shape("relu6_backward", y, dx); binary(relu6_bwd, y, dy, dx); }
void leaky_relu_forward(double slope, const Tensor& x, Tensor& y) {
  same_shape("leaky_relu", x, y);
  scaled_unary(leaky_fwd, slope, x, y);
}
void leaky_relu_backward(double slope, const Tensor& x, const Tensor& dy, Tensor& dx) {
  same_shape("leaky_relu_backward", x, dx);
  run(leaky_bwd, x, [&](auto fn, auto p) { fn(x.numel(), slope, p(x), p(dy), p(dx)); });
}
void add(const Tensor& a, const Tensor& b, Tensor& y) { same_shape("add", a, b); binary(add_row, a, b, y); }
void accumulate(const Tensor& x, Tensor& y) {
  CHECK_OR_FAIL(x.numel() == y.numel(), "accumulate: sizes differ");
  unary(acc_row, x, y);
}
void axpy(double a, const Tensor& x, Tensor& y) {
  CHECK_OR_FAIL(x.numel() == y.numel(), "axpy: sizes differ");
  scaled_unary(axpy_row, a, x, y);
}
void maxpool_forward(const PoolGeom& g, const Tensor& x, Tensor& y) {
  run(maxpool_fwd, x, [&](auto fn, auto p) { fn(g, p(x), p(y)); });
}
void maxpool_backward(const PoolGeom& g, const Tensor& x, const Tensor& dy, Tensor& dx) {
  run(maxpool_bwd, x, [&](auto fn, auto p) { fn(g, p(x), p(dy), p(dx)); });
}
void avgpool_forward(const Tensor& x, Tensor& y) {
  run(avgpool_fwd, x, [&](auto fn, auto p) { fn(y.numel(), hw_of(x), p(x), p(y)); });
}
void avgpool2d_forward(const PoolGeom& g, const Tensor& x, Tensor& y) {
  run(avgpool2d_fwd, x, [&](auto fn, auto p) { fn(g, p(x), p(y)); });
}
void avgpool2d_backward(const PoolGeom& g, const Tensor& dy, Tensor& dx) {
  run(avgpool2d_bwd, dy, [&](auto fn, auto p) { fn(g, p(dy), p(dx)); });
}
void concat_channels_forward(int c0, const Tensor& x, Tensor& y) {
  CHECK_OR_FAIL(x.dim() == 4 && y.dim() == 4 && x.size(0) == y.size(0) && x.size(2) == y.size(2) &&
                    x.size(3) == y.size(3) && c0 >= 0 && c0 + x.size(1) <= y.size(1),
                "concat_channels: " + x.shape().str() + " at channel " + std::to_string(c0) + " of " + y.shape().str());
  run(concat_fwd, x, [&](auto fn, auto p) {
    fn(x.size(0), x.size(1), hw_of(x), y.size(1), c0, p(x), p(y));
  });
}
void concat_channels_backward(int c0, const Tensor& dy, Tensor& dx) {
  CHECK_OR_FAIL(dx.dim() == 4 && dy.dim() == 4 && dx.size(0) == dy.size(0) && c0 >= 0 && c0 + dx.size(1) <= dy.size(1),
                "concat_channels_backward: " + dx.shape().str() + " at channel " + std::to_string(c0) + " of " + dy.shape().str());
  run(concat_bwd, dy, [&](auto fn, auto p) {
    fn(dx.size(0), dx.size(1), hw_of(dx), dy.size(1), c0, p(dy), p(dx));
  });
}
void avgpool_backward(const Tensor& dy, Tensor& dx) {
  run(avgpool_bwd, dy, [&](auto fn, auto p) { fn(dy.numel(), hw_of(dx), p(dy), p(dx)); });
}
double mse_loss(const Tensor& p, const Tensor& t) { same_shape("mse_loss", p, t); return loss(mse_row, p, t); }
void mse_loss_backward(const Tensor& p, const Tensor& t, double d, Tensor& dp) { loss_backward(mse_bwd, p, t, d, dp); }
double l1_loss(const Tensor& p, const Tensor& t) { same_shape("l1_loss", p, t); return loss(l1_row, p, t); }
void l1_loss_backward(const Tensor& p, const Tensor& t, double d, Tensor& dp) { loss_backward(l1_bwd, p, t, d, dp); }
void gather_cells(const Tensor& x, const Tensor& cell, int rep, Tensor& y) {
  run(gather_row, x, [&](auto fn, auto p) {
    fn(x.size(0), x.size(1), hw_of(x), rep, p(x), cell.data<int32_t>(), p(y));
  });
}
void gather_cells_backward(const Tensor& dy, const Tensor& cell, int rep, Tensor& dx) {
  run(gather_bwd, dy, [&](auto fn, auto p) {
    fn(dx.size(0), dx.size(1), hw_of(dx), rep, p(dy), cell.data<int32_t>(), p(dx));
  });
}
void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamParams& a) {
  run(adam_row, p, [&](auto fn, auto ptr) { fn(p.numel(), ptr(p), ptr(g), ptr(m), ptr(v), a); });
}
void sgd_step(Tensor& p, const Tensor& g, Tensor& buf, double lr, double mom, double wd, bool first) {
  run(sgd_row, p, [&](auto fn, auto ptr) { fn(p.numel(), ptr(p), ptr(g), ptr(buf), lr, mom, wd, first); });
}

std::string impl_name(const std::string& op, const Tensor& t) {
  Backend b = backend_of(t);
  for (const Listing& l : listings())
    if (op == l.op) {
      std::string s = std::string(kBackendNames[b]) + ": " + (l.names[b] ? l.names[b] : "(none)");
      if (b == kCpuF32 && (op.rfind("conv2d", 0) == 0)) s += std::string(" [") + cpu::gemm_active().name + "]";
      if (b == kCpuF32 && (op.rfind("depthwise", 0) == 0)) s += std::string(" [") + cpu::depthwise_active() + "]";
      return s;
    }
  return "unknown op " + op;
}

std::string dispatch_table() {
  std::string s = strf("%-26s %-28s %-20s %s\n", "op", kBackendNames[0], kBackendNames[1], kBackendNames[2]);
  for (const Listing& l : listings())
    s += strf("%-26s %-28s %-20s %s\n", l.op, l.names[0] ? l.names[0] : "-", l.names[1] ? l.names[1] : "-",
              l.names[2] ? l.names[2] : "-");
  return s + strf("sgemm micro-kernel: %s\ndepthwise plane loops: %s\n", cpu::gemm_active().name, cpu::depthwise_active());
}

}  // namespace kern

namespace kern {
void profile_begin() {
  profile_rows().clear();
  g_profiling = true;
}
std::string profile_end(double wall_s, int runs) {
  g_profiling = false;
  std::vector<std::pair<std::string, ProfileRow>> rows(profile_rows().begin(), profile_rows().end());
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.s > b.second.s; });
  double in_ops = 0;
  for (auto& [k, r] : rows) in_ops += r.s;
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%9s %6s %7s  %s\n", "ms/run", "%wall", "calls", "op and shapes");
  out += line;
  for (auto& [k, r] : rows) {
    std::snprintf(line, sizeof line, "%9.3f %5.1f%% %7lld  %s\n", 1e3 * r.s / runs, 100 * r.s / wall_s,
                  (long long)(r.calls / runs), k.c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "%9.3f %5.1f%%          in the ops above; %.3f ms/run outside them (tape, allocation, decoding)\n",
                1e3 * in_ops / runs, 100 * in_ops / wall_s, 1e3 * (wall_s - in_ops) / runs);
  out += line;
  profile_rows().clear();
  return out;
}
}  // namespace kern
