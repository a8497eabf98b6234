// test_util.h: shared helpers for the tests: seeded random data, tolerance checks that report how much of their
// budget they used, and a real "skipped" (exit code 77, registered with ctest as SKIP_RETURN_CODE).
#pragma once
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tensor/rng.h"

// Ends this test process as skipped. Every TEST_CASE runs in its own process under ctest (catch_discover_tests),
// so this skips exactly one test case.
#define SKIP_TEST(reason)                                   \
  do {                                                      \
    std::printf("SKIPPED: %s\n", std::string(reason).c_str()); \
    std::fflush(stdout);                                    \
    std::_Exit(77);                                         \
  } while (0)

inline std::vector<float> random_vec(size_t n, uint64_t seed, double lo = -1, double hi = 1) {
  Rng r(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = (float)r.uniform(lo, hi);
  return v;
}

inline Tensor random_tensor(const Shape& s, uint64_t seed, DType t = DType::F32, double lo = -1, double hi = 1) {
  Tensor x = Tensor::from(s, random_vec(s.numel(), seed, lo, hi));
  return t == DType::F32 ? x : x.to(t);
}

// Elementwise |got - want| <= atol + rtol*|want|. Reports the worst element and the fraction of the budget used.
template <class A, class B>
inline void check_close(const std::string& what, const A* got, const B* want, size_t n, double atol, double rtol) {
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    double g = got[i], w = want[i];
    double diff = std::fabs(g - w), budget = atol + rtol * std::fabs(w);
    double used = diff == 0 ? 0.0 : budget == 0 ? INFINITY : diff / budget;  // zero tolerance means bit-exact
    if (!(used <= worst)) { worst = used; at = i; }  // NaN counts as worst
  }
  INFO(what << ": worst element " << at << " got " << (n ? (double)got[at] : 0) << " want " << (n ? (double)want[at] : 0)
            << ", used " << worst * 100 << "% of the tolerance (atol " << atol << ", rtol " << rtol << ")");
  CHECK(worst <= 1.0);
}
inline void check_close(const std::string& what, const Tensor& got, const Tensor& want, double atol, double rtol) {
  REQUIRE(got.shape() == want.shape());
  std::vector<float> g = got.to_vector(), w = want.to_vector();
  check_close(what, g.data(), w.data(), g.size(), atol, rtol);
}
