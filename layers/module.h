// module.h: the building blocks of networks, in the shape of torch.nn.
//
// A Module owns its parameters and buffers as Tensor members and registers them by name; children register
// themselves too. Dotted names follow PyTorch's state_dict exactly ("layer1.0.conv2.weight",
// "layer2.0.downsample.1.running_var"), so weights move between the two unchanged. The order is PyTorch's as
// well: a module's own parameters, then its own buffers, then each child in registration order.
// (PyTorch's BatchNorm also keeps `num_batches_tracked`, an int64 counter that nothing here reads; weight files
// may carry it and readers skip it.)
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "autograd/ops.h"
#include "kernels/dispatch.h"
#include "tensor/rng.h"

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// One row of a network's self-description.
struct LayerInfo {
  std::string name, kind;
  Shape out;
  int64_t params = 0;
  int64_t flops = 0;  // forward multiply-adds x 2, batch included
};

class Module {
 public:
  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x) { return forward(x); }

  // Output shape for an input shape, appending a row per leaf layer (conv, bn, pool) to `rows`.
  virtual Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const;

  NamedTensors named_parameters() const;
  NamedTensors named_buffers() const;
  NamedTensors state_dict() const;  // parameters and buffers, PyTorch's order
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad();
  // Move or convert every parameter and buffer in place (for instance to F64 for a gradient check).
  void to(Device d);
  void to(DType t);

 protected:
  void register_parameter(const std::string& name, Tensor* t);
  void register_buffer(const std::string& name, Tensor* t);
  // A child registered with an empty name lends its tensors' names to this module unprefixed (PIPNet's trunk:
  // "conv1.weight", not "trunk.conv1.weight", as the official checkpoints name them).
  void register_module(const std::string& name, Module* m);

 private:
  void collect(const std::string& prefix, bool params, bool buffers, NamedTensors& out) const;
  template <class F> void for_each_slot(F f);
  std::vector<std::pair<std::string, Tensor*>> params_, buffers_;
  std::vector<std::pair<std::string, Module*>> children_;
  bool training_ = true;
};

// Copy named tensors into the module's parameters and buffers. Every tensor of the module must be present with
// its exact shape, and nothing else may be (PyTorch's BatchNorm counters `num_batches_tracked` are skipped);
// otherwise an Error lists what is missing, extra or mis-shaped, naming `source` (usually the file).
void load_state_dict(Module& m, const NamedTensors& src, const std::string& source);
// Weights as safetensors with PyTorch's names; load_weights also reads torch.save .pth files (tensor/pth.h).
void save_weights(const Module& m, const std::string& path);
void load_weights(Module& m, const std::string& path);

// A table of the network: per leaf layer its output shape, parameters and FLOPs, then totals.
std::string summary(const Module& m, const Shape& input);

class Conv2d : public Module {
 public:
  // Weight [out, in/groups, k, k] with PyTorch's default init (uniform +-1/sqrt(fan_in)); bias likewise if `bias`.
  // groups is 1 (dense) or in == out (depthwise, torch.nn.Conv2d(groups=in): weight [C, 1, k, k]).
  Conv2d(int in, int out, int k, int stride, int pad, bool bias, Rng& rng, int groups = 1);
  void add_bias();  // a zero bias (BatchNorm folding gives bias-free convolutions one)
  // Inference: the weights in the form the backend's fastest kernel wants (kern::conv2d_prepare: Winograd's on the
  // CPU), made once the weights are final (fold_batchnorm calls it); forward uses them from then on.
  void prepare_inference();
  Tensor forward(const Tensor& x) override;
  // relu?(conv(x) + residual?) in one pass (residual may be undefined): what a ResNet block does after folding
  Tensor forward_fused(const Tensor& x, const Tensor& residual, bool relu);
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Tensor weight, bias;
  kern::ConvPrepared prepared;  // prepare_inference's, or empty
  int stride, pad;
  int groups = 1;
};

// torch.nn.ConvTranspose2d without bias; weight [in, out, k, k] (zero until initialised by the owner).
class ConvTranspose2d : public Module {
 public:
  ConvTranspose2d(int in, int out, int k, int stride, int pad);
  Tensor forward(const Tensor& x) override { return ag::conv_transpose2d(x, weight, stride, pad); }
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Tensor weight;
  int stride, pad;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(int channels, double eps = 1e-5, double momentum = 0.1);
  Tensor forward(const Tensor& x) override;
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Tensor weight, bias, running_mean, running_var;  // gamma = 1, beta = 0, mean 0, var 1
  double eps, momentum;
  bool folded = false;  // folded into the preceding convolution: forward is the identity
};

// torch.nn.Linear: weight [out, in], bias [out], PyTorch's default init (uniform +-1/sqrt(in) for both).
class Linear : public Module {
 public:
  Linear(int in, int out, Rng& rng);
  Tensor forward(const Tensor& x) override { return ag::linear(x, weight, bias); }  // [B, in] -> [B, out]
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  Tensor weight, bias;
};

// torch.nn.BatchNorm1d over [B, F] (names and defaults as BatchNorm2d's).
class BatchNorm1d : public BatchNorm2d {
 public:
  using BatchNorm2d::BatchNorm2d;
  Tensor forward(const Tensor& x) override {
    return ag::batchnorm1d(x, weight, bias, running_mean, running_var, is_training(), momentum, eps);
  }
};

// Inference: fold an eval-mode BatchNorm into the convolution before it,
//   w' = w * gamma / sqrt(var + eps),  b' = (b - mean) * gamma / sqrt(var + eps) + beta,
// after which the BatchNorm passes its input through unchanged.
void fold_batchnorm(Conv2d& conv, BatchNorm2d& bn);

class ReLU : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ag::relu(x); }
  Shape describe(const Shape& in, const std::string&, std::vector<LayerInfo>&) const override { return in; }
};

class ReLU6 : public Module {
 public:
  Tensor forward(const Tensor& x) override { return ag::relu6(x); }
  Shape describe(const Shape& in, const std::string&, std::vector<LayerInfo>&) const override { return in; }
};

class MaxPool2d : public Module {
 public:
  MaxPool2d(int k, int stride, int pad) : k(k), stride(stride), pad(pad) {}
  Tensor forward(const Tensor& x) override { return ag::maxpool2d(x, k, stride, pad); }
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  int k, stride, pad;
};

// Children named "0", "1", ... as torch.nn.Sequential.
class Sequential : public Module {
 public:
  Module* add(std::unique_ptr<Module> m);
  Tensor forward(const Tensor& x) override;
  Shape describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const override;
  size_t size() const { return mods_.size(); }
  Module& operator[](size_t i) { return *mods_[i]; }
  const Module& operator[](size_t i) const { return *mods_[i]; }

 private:
  std::vector<std::unique_ptr<Module>> mods_;
};

// A network trunk for PIP Net (ResNet, MobileNetV2): the feature map the heads read, and its channels.
class Backbone : public Module {
 public:
  virtual int out_channels() const = 0;
  virtual void fold_batchnorms() = 0;  // inference: every conv + bn pair (the module must be in eval mode)
};
