#include "layers/optim.h"

#include "kernels/dispatch.h"

Adam::Adam(std::vector<Tensor> params, double lr, double b1, double b2, double eps, double wd)
    : params_(std::move(params)), lr_(lr), beta1_(b1), beta2_(b2), eps_(eps), wd_(wd) {
  for (auto& p : params_) {
    m_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    v_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    steps_.push_back(0);
  }
}

void Adam::step() {
  for (size_t i = 0; i < params_.size(); i++) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    AdamParams a{lr_, beta1_, beta2_, eps_, wd_, ++steps_[i]};
    kern::adam_step(params_[i], g, m_[i], v_[i], a);
  }
}

void Adam::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

std::vector<std::pair<std::string, Tensor>> Adam::state() const {
  std::vector<std::pair<std::string, Tensor>> st;
  for (size_t i = 0; i < params_.size(); i++) {
    Tensor s = Tensor::full({1}, (double)steps_[i]);
    st.push_back({std::to_string(i) + ".step", s});
    st.push_back({std::to_string(i) + ".exp_avg", m_[i]});
    st.push_back({std::to_string(i) + ".exp_avg_sq", v_[i]});
  }
  return st;
}

void Adam::load_state(const std::vector<std::pair<std::string, Tensor>>& st) {
  CHECK_OR_FAIL(st.size() == 3 * params_.size(), strf("optimizer state has %zu tensors, expected %zu", st.size(),
                                                       3 * params_.size()));
  for (size_t i = 0; i < params_.size(); i++) {
    steps_[i] = (int64_t)st[3 * i].second.item();
    m_[i].copy_(st[3 * i + 1].second);
    v_[i].copy_(st[3 * i + 2].second);
  }
}

SGD::SGD(std::vector<Tensor> params, double lr, double momentum, double wd)
    : params_(std::move(params)), lr_(lr), momentum_(momentum), wd_(wd) {
  for (auto& p : params_) {
    buf_.push_back(Tensor::zeros(p.shape(), p.dtype(), p.device()));
    started_.push_back(false);
  }
}

void SGD::step() {
  for (size_t i = 0; i < params_.size(); i++) {
    Tensor g = params_[i].grad();
    if (!g.defined()) continue;
    kern::sgd_step(params_[i], g, buf_[i], lr_, momentum_, wd_, !started_[i]);
    started_[i] = true;
  }
}

void SGD::zero_grad() {
  for (auto& p : params_) p.zero_grad();
}

double MultiStepLR::lr_at(int epoch) const {
  double lr = base_lr;
  for (int m : milestones)
    if (epoch >= m) lr *= gamma;
  return lr;
}
