#include "tensor/rng.h"

#include <cmath>
#include <sstream>
#include <vector>

double Rng::normal(double mean, double std) {
  // Box-Muller on two fresh uniforms; 1-u keeps the log's argument in (0, 1].
  double u1 = 1.0 - uniform(), u2 = uniform();
  return mean + std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

std::string Rng::state() const {
  std::ostringstream os;
  os << gen_;
  return os.str();
}
void Rng::set_state(const std::string& s) {
  std::istringstream is(s);
  is >> gen_;
  CHECK_OR_FAIL(!is.fail(), "corrupt random-generator state");
}

template <class F> static void fill_with(Tensor& t, F draw) {
  Tensor h = Tensor::empty(t.shape(), t.dtype());
  int64_t n = t.numel();
  if (t.dtype() == DType::F64) { double* p = h.data<double>(); for (int64_t i = 0; i < n; i++) p[i] = draw(); }
  else { float* p = h.data<float>(); for (int64_t i = 0; i < n; i++) p[i] = (float)draw(); }
  t.copy_(h);
}

void init_uniform(Tensor& t, Rng& rng, double a, double b) { fill_with(t, [&] { return rng.uniform(a, b); }); }
void init_normal(Tensor& t, Rng& rng, double mean, double std) { fill_with(t, [&] { return rng.normal(mean, std); }); }

static void fans(const Tensor& t, double& fan_in, double& fan_out) {
  CHECK_OR_FAIL(t.dim() >= 2, "fan of a tensor with fewer than 2 dimensions");
  double field = 1;
  for (int i = 2; i < t.dim(); i++) field *= t.size(i);
  fan_in = t.size(1) * field;
  fan_out = t.size(0) * field;
}

void init_kaiming_normal(Tensor& t, Rng& rng, bool fan_out) {
  double fi, fo;
  fans(t, fi, fo);
  init_normal(t, rng, 0.0, std::sqrt(2.0 / (fan_out ? fo : fi)));
}

void init_default_conv(Tensor& w, Rng& rng) {
  double fi, fo;
  fans(w, fi, fo);
  double bound = 1.0 / std::sqrt(fi);
  init_uniform(w, rng, -bound, bound);
}
