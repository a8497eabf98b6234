#include "layers/module.h"

#include <cmath>
#include <map>

#include "kernels/dispatch.h"
#include "tensor/pth.h"
#include "tensor/safetensors.h"

// ---- Module -------------------------------------------------------------------------------------
void Module::register_parameter(const std::string& name, Tensor* t) {
  t->set_requires_grad(true);
  params_.push_back({name, t});
}
void Module::register_buffer(const std::string& name, Tensor* t) { buffers_.push_back({name, t}); }
void Module::register_module(const std::string& name, Module* m) { children_.push_back({name, m}); }

void Module::collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const {
  if (params)
    for (auto& [n, t] : params_) out.push_back({prefix + n, *t});
  if (buffers)
    for (auto& [n, t] : buffers_) out.push_back({prefix + n, *t});
  for (auto& [n, m] : children_) m->collect(n.empty() ? prefix : prefix + n + ".", params, buffers, out);
}

NamedTensors Module::named_parameters() const { NamedTensors v; collect("", true, false, v); return v; }
NamedTensors Module::named_buffers() const { NamedTensors v; collect("", false, true, v); return v; }
NamedTensors Module::state_dict() const { NamedTensors v; collect("", true, true, v); return v; }

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> v;
  for (auto& [n, t] : named_parameters()) v.push_back(t);
  return v;
}
int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& t : parameters()) n += t.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

void Module::zero_grad() {
  for (auto& t : parameters()) t.zero_grad();
}

template <class F> void Module::for_each_slot(F f) {
  for (auto& [n, t] : params_) f(*t);
  for (auto& [n, t] : buffers_) f(*t);
  for (auto& [n, m] : children_) m->for_each_slot(f);
}

void Module::to(Device d) {
  for_each_slot([d](Tensor& t) { bool r = t.requires_grad(); t = t.to(d); t.set_requires_grad(r); });
}
void Module::to(DType dt) {
  for_each_slot([dt](Tensor& t) { bool r = t.requires_grad(); t = t.to(dt).clone(); t.set_requires_grad(r); });
}

Shape Module::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  (void)in; (void)rows;
  fail(__FILE__, __LINE__, "describe() is not implemented for module " + name);
}

std::string summary(const Module& m, const Shape& input) {
  std::vector<LayerInfo> rows;
  Shape out = m.describe(input, "", rows);
  std::string s = strf("%-34s %-12s %-20s %12s %10s\n", "layer", "kind", "output", "params", "MFLOPs");
  int64_t params = 0, flops = 0;
  for (auto& r : rows) {
    s += strf("%-34s %-12s %-20s %12lld %10.1f\n", r.name.c_str(), r.kind.c_str(), r.out.str().c_str(),
              (long long)r.params, r.flops / 1e6);
    params += r.params;
    flops += r.flops;
  }
  return s + strf("total: input %s -> output %s, %lld parameters, %.3f GFLOPs forward\n", input.str().c_str(),
                  out.str().c_str(), (long long)params, flops / 1e9);
}

// ---- Conv2d -------------------------------------------------------------------------------------
Conv2d::Conv2d(int in, int out, int k, int stride_, int pad_, bool has_bias, Rng& rng, int groups_)
    : stride(stride_), pad(pad_), groups(groups_) {
  CHECK_OR_FAIL(groups == 1 || (groups == in && in == out),
                strf("Conv2d: groups %d with %d in and %d out channels (1 or depthwise only)", groups, in, out));
  weight = Tensor::empty({out, in / groups, k, k});
  init_default_conv(weight, rng);
  register_parameter("weight", &weight);
  if (has_bias) {
    bias = Tensor::empty({out});
    double bound = 1.0 / std::sqrt((double)(in / groups) * k * k);
    init_uniform(bias, rng, -bound, bound);
    register_parameter("bias", &bias);
  }
}

void Conv2d::add_bias() {
  if (bias.defined()) return;
  bias = Tensor::zeros({weight.size(0)}, weight.dtype(), weight.device());
  register_parameter("bias", &bias);
}

void fold_batchnorm(Conv2d& conv, BatchNorm2d& bn) {
  CHECK_OR_FAIL(!bn.folded && !bn.is_training(), "fold_batchnorm: the BatchNorm must be in eval mode, unfolded");
  conv.add_bias();
  Tensor w = conv.weight.to(Device::CPU).to(DType::F64), b = conv.bias.to(Device::CPU).to(DType::F64);
  std::vector<float> g = bn.weight.to_vector(), be = bn.bias.to_vector(), m = bn.running_mean.to_vector(),
                     v = bn.running_var.to_vector();
  const int64_t K = w.size(0), per = w.numel() / K;
  for (int64_t k = 0; k < K; k++) {
    const double s = g[k] / std::sqrt((double)v[k] + bn.eps);
    for (int64_t i = 0; i < per; i++) w.data<double>()[k * per + i] *= s;
    b.data<double>()[k] = (b.data<double>()[k] - m[k]) * s + be[k];
  }
  conv.weight.copy_(w.to(DType::F32).to(conv.weight.device()));
  conv.bias.copy_(b.to(DType::F32).to(conv.bias.device()));
  bn.folded = true;
  conv.prepare_inference();
}

void Conv2d::prepare_inference() { prepared = groups == 1 ? kern::conv2d_prepare(weight, stride) : kern::ConvPrepared(); }

Tensor Conv2d::forward(const Tensor& x) {
  if (groups != 1) return ag::depthwise_conv2d(x, weight, bias, stride, pad);
  return !prepared.empty() ? ag::conv2d_fused(x, weight, &prepared, bias, stride, pad, Tensor(), false)
                           : ag::conv2d(x, weight, bias, stride, pad);
}
Tensor Conv2d::forward_fused(const Tensor& x, const Tensor& residual, bool relu) {
  if (groups != 1) {
    Tensor y = ag::depthwise_conv2d(x, weight, bias, stride, pad);
    if (residual.defined()) y = ag::add(y, residual);
    return relu ? ag::relu(y) : y;
  }
  return ag::conv2d_fused(x, weight, &prepared, bias, stride, pad, residual, relu);
}

Shape Conv2d::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  ConvGeom g = ConvGeom::make(in[0], in[1], in[2], in[3], weight.size(0), weight.size(2), weight.size(3), stride, pad);
  Shape out = {g.N, g.K, g.P, g.Q};
  rows.push_back({name, strf("%s%lldx%lld/%d", groups == 1 ? "conv" : "dwconv", (long long)weight.size(2),
                             (long long)weight.size(3), stride),
                  out, weight.numel() + (bias.defined() ? bias.numel() : 0), g.flops() / groups});
  return out;
}

// ---- BatchNorm2d --------------------------------------------------------------------------------
BatchNorm2d::BatchNorm2d(int c, double eps_, double momentum_) : eps(eps_), momentum(momentum_) {
  weight = Tensor::full({c}, 1.0);
  bias = Tensor::zeros({c});
  running_mean = Tensor::zeros({c});
  running_var = Tensor::full({c}, 1.0);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
  register_buffer("running_mean", &running_mean);
  register_buffer("running_var", &running_var);
}

Tensor BatchNorm2d::forward(const Tensor& x) {
  if (folded) return x;
  return ag::batchnorm2d(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
}

Shape BatchNorm2d::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  rows.push_back({name, "batchnorm", in, weight.numel() * 2, 0});
  return in;
}

Shape MaxPool2d::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  PoolGeom g = PoolGeom::make(in[0], in[1], in[2], in[3], k, stride, pad);
  Shape out = {g.N, g.C, g.P, g.Q};
  rows.push_back({name, strf("maxpool%d/%d", k, stride), out, 0, 0});
  return out;
}

Linear::Linear(int in, int out, Rng& rng) {
  weight = Tensor::empty({out, in});
  bias = Tensor::empty({out});
  const double bound = 1.0 / std::sqrt((double)in);  // kaiming_uniform(a = sqrt(5)) reduces to this, as for the bias
  init_uniform(weight, rng, -bound, bound);
  init_uniform(bias, rng, -bound, bound);
  register_parameter("weight", &weight);
  register_parameter("bias", &bias);
}

Shape Linear::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  const Shape out = {in[0], weight.size(0)};
  rows.push_back({name, "linear", out, weight.numel() + bias.numel(), 2 * in[0] * weight.numel()});
  return out;
}

ConvTranspose2d::ConvTranspose2d(int in, int out, int k, int stride_, int pad_) : stride(stride_), pad(pad_) {
  weight = Tensor::zeros({in, out, k, k});
  register_parameter("weight", &weight);
}

Shape ConvTranspose2d::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  const int64_t K = weight.size(2);
  Shape out = {in[0], weight.size(1), (in[2] - 1) * stride - 2 * pad + K, (in[3] - 1) * stride - 2 * pad + K};
  rows.push_back({name, strf("deconv%lldx%lld/%d", (long long)K, (long long)K, stride), out, weight.numel(),
                  2 * in[0] * in[1] * in[2] * in[3] * weight.size(1) * K * K});
  return out;
}

// ---- Sequential ---------------------------------------------------------------------------------
Module* Sequential::add(std::unique_ptr<Module> m) {
  register_module(std::to_string(mods_.size()), m.get());
  mods_.push_back(std::move(m));
  return mods_.back().get();
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  for (auto& m : mods_) h = m->forward(h);
  return h;
}

Shape Sequential::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape s = in;
  for (size_t i = 0; i < mods_.size(); i++) s = mods_[i]->describe(s, name + (name.empty() ? "" : ".") + std::to_string(i), rows);
  return s;
}

// ---- weights ------------------------------------------------------------------------------------
void load_state_dict(Module& m, const NamedTensors& src, const std::string& source) {
  std::map<std::string, Tensor> given;
  for (auto& [n, t] : src) given[n] = t;
  std::vector<std::string> missing, shapes, extra;
  NamedTensors mine = m.state_dict();
  std::map<std::string, bool> known;
  for (auto& [n, t] : mine) {
    known[n] = true;
    auto it = given.find(n);
    if (it == given.end()) { missing.push_back(n); continue; }
    if (it->second.shape() != t.shape())
      shapes.push_back(n + " (file " + it->second.shape().str() + ", model " + t.shape().str() + ")");
    else if (it->second.dtype() != t.dtype() && it->second.dtype() != DType::F32 && it->second.dtype() != DType::F64)
      shapes.push_back(n + " (file " + dtype_name(it->second.dtype()) + ", model " + dtype_name(t.dtype()) + ")");
  }
  for (auto& [n, t] : src) {
    const bool counter = n.size() >= 19 && n.compare(n.size() - 19, 19, "num_batches_tracked") == 0;
    if (!known.count(n) && !counter) extra.push_back(n);
  }
  auto list = [](const std::string& what, const std::vector<std::string>& names) {  // 6 names, then a count
    if (names.empty()) return std::string();
    std::string out = "; " + what + ":";
    for (size_t i = 0; i < names.size() && i < 6; i++) out += " " + names[i];
    return out + (names.size() > 6 ? strf(" and %zu more", names.size() - 6) : "");
  };
  if (!missing.empty() || !shapes.empty() || !extra.empty())
    throw Error(source + ": weights do not match the model" + list("missing", missing) +
                list("wrong shape or type", shapes) + list("unexpected", extra));
  for (auto& [n, t] : mine) {  // all checked before any is copied: a refused file leaves the module as it was
    const Tensor& g = given[n];
    if (g.dtype() == DType::I32) continue;
    const Tensor host = g.device() == Device::CPU && g.dtype() == DType::F32 ? g : g.to(Device::CPU).to(DType::F32);
    const float* p = host.data<float>();
    for (int64_t i = 0; i < host.numel(); i++)
      if (!std::isfinite(p[i])) throw Error(source + ": " + n + " holds a NaN or infinite value");
  }
  for (auto& [n, t] : mine) {
    const Tensor& g = given[n];
    Tensor dst = t;
    dst.copy_(g.dtype() == dst.dtype() ? g : g.to(dst.dtype()));
  }
}

void save_weights(const Module& m, const std::string& path) { write_safetensors(path, m.state_dict(), {{"format", "pt"}}); }

void load_weights(Module& m, const std::string& path) {
  TensorFile f = read_weights_file(path);
  load_state_dict(m, f.tensors, path);
}
