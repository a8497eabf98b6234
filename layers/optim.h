// optim.h: torch.optim.Adam, torch.optim.SGD (momentum) and MultiStepLR, with the same update rules and defaults.
// The optimizer holds handles to the parameters (shared storage), updates them in place from their .grad, and
// skips parameters whose gradient was never created, as PyTorch does with grad None.
#pragma once
#include <string>
#include <vector>

#include "tensor/tensor.h"

class Adam {
 public:
  Adam(std::vector<Tensor> params, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
       double weight_decay = 0.0);
  void step();
  void zero_grad();
  void set_lr(double lr) { lr_ = lr; }
  double lr() const { return lr_; }
  // State for checkpoints: per parameter i its step count, m and v, named "<i>.step", "<i>.exp_avg",
  // "<i>.exp_avg_sq" as torch.optim.Adam's state_dict. load_state takes them by name, in any order; a missing,
  // extra, mis-shaped or mistyped tensor is an Error naming it and `source` (the file).
  std::vector<std::pair<std::string, Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& st, const std::string& source);

 private:
  std::vector<Tensor> params_, m_, v_;
  std::vector<int64_t> steps_;
  double lr_, beta1_, beta2_, eps_, wd_;
};

class SGD {
 public:
  SGD(std::vector<Tensor> params, double lr, double momentum = 0.0, double weight_decay = 0.0);
  void step();
  void zero_grad();
  void set_lr(double lr) { lr_ = lr; }

 private:
  std::vector<Tensor> params_, buf_;
  std::vector<bool> started_;
  double lr_, momentum_, wd_;
};

// lr(epoch) = base_lr * gamma ^ (number of milestones <= epoch); epochs count from 0.
struct MultiStepLR {
  double base_lr;
  std::vector<int> milestones;
  double gamma = 0.1;
  double lr_at(int epoch) const;
};
