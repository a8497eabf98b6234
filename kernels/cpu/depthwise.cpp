// depthwise.cpp: depthwise convolution on the CPU (MobileNetV2's 3x3 layers: groups = channels, weight [C, 1, R, S]).
// Each (n, c) plane is independent: forward and the input gradient run OpenMP over the N*C planes, the weight
// gradient over the C channels (each thread owns its channels' dw and db, so no reduction across threads is
// needed, and the sum over n is in a fixed order). The per-plane loops live in depthwise_planes.h, built three times:
//   "generic"  baseline x86-64 (SSE2), this file
//   "avx2"     -mavx2 -mfma        depthwise_avx2.cpp
//   "avx512"   -mavx512f -mfma     depthwise_avx512.cpp
// The widest the CPU has is used; depthwise_force() or PIPNET_DEPTHWISE pins one, so that tests check each build.
// Memory-bound at MobileNet's sizes (9 multiply-adds per output): bench_conv reports GB/s beside GFLOP/s.
#include <cstdlib>
#include <cstring>
#include <vector>

#include "kernels/cpu/depthwise_planes.h"

namespace cpu {

extern const DepthwisePlanes kDepthwiseAvx2, kDepthwiseAvx512;
static const DepthwisePlanes kDepthwiseGeneric = DEPTHWISE_PLANES("generic");

namespace {
struct Version { const DepthwisePlanes* planes; bool (*supported)(); };
bool always() { return true; }
const Version kVersions[] = {{&kDepthwiseGeneric, always}, {&kDepthwiseAvx2, cpu_has_avx2_fma},
                             {&kDepthwiseAvx512, cpu_has_avx512f}};

const DepthwisePlanes* widest() {
  for (int i = 2; i >= 0; i--)
    if (kVersions[i].supported()) return kVersions[i].planes;
  return &kDepthwiseGeneric;
}
const DepthwisePlanes*& pinned() {
  static const DepthwisePlanes* p = [] {
    const char* env = std::getenv("PIPNET_DEPTHWISE");
    for (const Version& v : kVersions)
      if (env && std::strcmp(env, v.planes->name) == 0 && v.supported()) return v.planes;
    return (const DepthwisePlanes*)nullptr;
  }();
  return p;
}
const DepthwisePlanes& active() {
  const DepthwisePlanes* p = pinned();
  return p ? *p : *widest();
}
// floats of one thread's scratch plane (depthwise_planes.h)
size_t scratch_floats(const ConvGeom& g) { return (size_t)g.stride * dw_rows(g) * dw_cols(g); }
}  // namespace

bool depthwise_force(const char* name) {
  if (!name || std::strcmp(name, "auto") == 0) return pinned() = nullptr, true;
  for (const Version& v : kVersions)
    if (std::strcmp(name, v.planes->name) == 0) {
      if (!v.supported()) return false;
      pinned() = v.planes;
      return true;
    }
  return false;
}
const char* depthwise_active() { return active().name; }

void depthwise_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  const DepthwisePlanes& k = active();
  const int64_t planes = (int64_t)g.N * g.C, HW = (int64_t)g.H * g.W, PQ = (int64_t)g.P * g.Q, RS = g.R * g.S;
#pragma omp parallel if (planes > 1)
  {
    std::vector<float> sc(scratch_floats(g));  // per thread, once per call
#pragma omp for schedule(static)
    for (int64_t i = 0; i < planes; i++) {
      const int c = (int)(i % g.C);
      k.forward(g, x + i * HW, w + c * RS, b ? b[c] : 0.0f, y + i * PQ, sc.data());
    }
  }
}

void depthwise_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const DepthwisePlanes& k = active();
  const int64_t planes = (int64_t)g.N * g.C, HW = (int64_t)g.H * g.W, PQ = (int64_t)g.P * g.Q, RS = g.R * g.S;
#pragma omp parallel if (planes > 1)
  {
    std::vector<float> sc(scratch_floats(g));
#pragma omp for schedule(static)
    for (int64_t i = 0; i < planes; i++) k.backward_input(g, dy + i * PQ, w + (i % g.C) * RS, dx + i * HW, sc.data());
  }
}

void depthwise_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db) {
  const DepthwisePlanes& k = active();
  const int64_t HW = (int64_t)g.H * g.W, PQ = (int64_t)g.P * g.Q, RS = g.R * g.S;
#pragma omp parallel if (g.C > 1)
  {
    std::vector<float> sc(scratch_floats(g));
#pragma omp for schedule(static)
    for (int c = 0; c < g.C; c++)
      for (int n = 0; n < g.N; n++) {
        const int64_t i = (int64_t)n * g.C + c;
        k.backward_weight(g, x + i * HW, dy + i * PQ, dw + c * RS, db ? db + c : nullptr, sc.data());
      }
  }
}

}  // namespace cpu
