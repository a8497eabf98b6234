// adam_params.h: the hyper-parameters of one Adam step, as the optimizer (layers/optim.cpp) hands them to the
// adam_step kernels (ref::adam_step documents the update).
#pragma once
#include <cstdint>

// Adam hyper-parameters for one step (t counts from 1), exactly torch.optim.Adam's.
struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  int64_t t;
};
