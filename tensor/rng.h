// rng.h: a seeded random number generator (Mersenne Twister, as PyTorch's CPU generator) and the initialisers
// that torch.nn.init provides. Same seed, same numbers, on every machine; the stream is not PyTorch's own, so
// golden tests move weights through files rather than through seeds.
#pragma once
#include <cstdint>
#include <random>
#include <string>

#include "tensor/tensor.h"

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : gen_(seed) {}
  double uniform() { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_); }  // U[0,1)
  double uniform(double a, double b) { return a + (b - a) * uniform(); }
  double normal(double mean = 0.0, double std = 1.0);
  int64_t randint(int64_t n) { return std::uniform_int_distribution<int64_t>(0, n - 1)(gen_); }  // [0, n)
  std::string state() const;         // serialised, for checkpoints
  void set_state(const std::string& s);

 private:
  std::mt19937_64 gen_;
};

// Fill a CPU (or CUDA, via a host copy) tensor in place.
void init_uniform(Tensor& t, Rng& rng, double a, double b);
void init_normal(Tensor& t, Rng& rng, double mean, double std);
// torch.nn.init.kaiming_normal_(t, mode, nonlinearity='relu'): std = sqrt(2 / fan), fan = fan_in or fan_out,
// where for a conv weight [out, in, kh, kw] fan_in = in*kh*kw and fan_out = out*kh*kw.
void init_kaiming_normal(Tensor& t, Rng& rng, bool fan_out);
// PyTorch's default Conv2d/Linear init: kaiming_uniform_(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void init_default_conv(Tensor& weight, Rng& rng);
