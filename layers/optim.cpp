#include "layers/optim.h"

#include <map>

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

void Adam::load_state(const std::vector<std::pair<std::string, Tensor>>& st, const std::string& source) {
  std::map<std::string, Tensor> given;
  for (auto& [n, t] : st)
    if (!given.emplace(n, t).second) throw Error(source + ": optimizer state '" + n + "' appears twice");
  auto take = [&](const std::string& name, const Shape& shape) {
    auto it = given.find(name);
    if (it == given.end()) throw Error(source + ": optimizer state '" + name + "' is missing");
    const Tensor t = it->second;
    given.erase(it);
    if (t.shape() != shape)
      throw Error(source + ": optimizer state '" + name + "' has shape " + t.shape().str() + ", expected " + shape.str());
    if (t.dtype() != DType::F32 && t.dtype() != DType::F64)
      throw Error(source + ": optimizer state '" + name + "' is " + dtype_name(t.dtype()) + ", expected f32");
    return t;
  };
  for (size_t i = 0; i < params_.size(); i++) {
    const std::string p = std::to_string(i);
    const double step = take(p + ".step", Shape{1}).item();
    if (!(step >= 0 && step <= 1e15 && step == (double)(int64_t)step))
      throw Error(source + strf(": optimizer state '%s.step' = %g, expected a whole number >= 0", p.c_str(), step));
    steps_[i] = (int64_t)step;
    const Tensor m = take(p + ".exp_avg", params_[i].shape()), v = take(p + ".exp_avg_sq", params_[i].shape());
    m_[i].copy_(m.dtype() == m_[i].dtype() ? m : m.to(m_[i].dtype()));
    v_[i].copy_(v.dtype() == v_[i].dtype() ? v : v.to(v_[i].dtype()));
  }
  if (!given.empty()) throw Error(source + ": unexpected optimizer state '" + given.begin()->first + "'");
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
