#include "autograd/tape.h"

#include <vector>

namespace ag {

namespace {
thread_local bool g_grad_enabled = true;
thread_local std::vector<std::function<void()>> g_tape;
}  // namespace

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

bool any_requires_grad(std::initializer_list<const Tensor*> xs) {
  if (!g_grad_enabled) return false;
  for (const Tensor* x : xs)
    if (x && x->defined() && x->requires_grad()) return true;
  return false;
}

void record(std::function<void()> fn) { g_tape.push_back(std::move(fn)); }

void backward(const Tensor& loss, const std::function<void()>& after_step) {
  CHECK_OR_FAIL(loss.numel() == 1, "backward() needs a scalar loss, got shape " + loss.shape().str());
  CHECK_OR_FAIL(loss.requires_grad(), "backward(): the loss does not depend on anything that requires grad");
  loss.grad_or_zeros().fill_(1.0);
  // Run newest first. A closure may not record (grad mode is off while it runs).
  NoGradGuard guard;
  for (size_t i = g_tape.size(); i-- > 0;) {
    g_tape[i]();
    if (after_step) after_step();
  }
  g_tape.clear();
}

void clear_tape() { g_tape.clear(); }
size_t tape_size() { return g_tape.size(); }

}  // namespace ag
