// tape.h: reverse-mode automatic differentiation with a tape.
//
// Every differentiable op (autograd/ops.cpp) computes its output and, when grad mode is on and an input needs a
// gradient, appends a closure to the tape that knows how to push the output's gradient back to its inputs.
// backward(loss) seeds d loss / d loss = 1 and runs the closures newest first; each adds (+=) into its inputs'
// .grad, so a tensor used twice receives both contributions. The tape is then cleared, freeing the activations
// the closures held. There is one tape per thread.
#pragma once
#include <functional>

#include "tensor/tensor.h"

namespace ag {

bool grad_enabled();

// Inference: no closures are recorded inside this scope, so no activations are kept.
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

// True if grad mode is on and any of the tensors requires a gradient.
bool any_requires_grad(std::initializer_list<const Tensor*> xs);
void record(std::function<void()> backward_fn);
// loss must have one element. `after_step`, when given, runs after each closure (the data-parallel gradient
// all-reduce starts a bucket there as soon as its gradients are complete: pipnet/dist.h).
void backward(const Tensor& loss, const std::function<void()>& after_step = {});
void clear_tape();                  // drop the recorded graph without running it
size_t tape_size();

}  // namespace ag
