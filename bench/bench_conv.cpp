// bench_conv: each ResNet-18 convolution (256x256 input) forward, backward-input and backward-weight through the
// engine's dispatch (cpu/f32: im2col + sgemm), in GFLOP/s and % of the measured FMA peak, side by side with
// PyTorch (Debian's python3-torch, same threads, same shapes) when it is installed. The protocol of
// bench/protocol.h: each result is validated against the definition first (a sample of its elements, computed
// in double), then timed (warm-up, median of repeated calls); the "spread" columns are the fastest and slowest
// call in milliseconds.
//
// Then MobileNetV2's depthwise 3x3 layers (forward and both backwards, GFLOP/s and GB/s, ours only).
//
// Then (--winograd) inference's 3x3 stride-1 layers: im2col + GEMM against Winograd F(2x2) and F(4x4).
//
//   bench_conv [--batch N] [--threads N] [--no-torch] [--quick] [--only LAYER-NAME-PART] [--depthwise-only] [--winograd]
#include <omp.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "bench/bench_common.h"
#include "bench/resnet18_shapes.h"
#include "kernels/cpu/cpu.h"
#include "kernels/cpu/gemm.h"
#include "kernels/dispatch.h"
#include "tensor/rng.h"

namespace {

struct Times { double fwd = 0, bin = 0, bw = 0; };

Tensor random_tensor(const Shape& s, Rng& rng) {
  Tensor t = Tensor::empty(s);
  init_uniform(t, rng, -1, 1);
  return t;
}

// Step 1 of the protocol: 64 sampled elements of y, dx and dw (each computed once, from zero) against the
// definition of the convolution written per element in double (ref::conv2d_* would take seconds per layer).
// Tolerances as tests/test_kernels.cpp: float rounding grows with the square root of the reduction length.
bool validate_layer(const char* name, const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& dy) {
  Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q}), dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape());
  kern::conv2d_forward(g, x, w, nullptr, y);
  kern::conv2d_backward_input(g, dy, w, dx);
  kern::conv2d_backward_weight(g, x, dy, dw, nullptr);
  const float *X = x.data<float>(), *Wt = w.data<float>(), *DY = dy.data<float>();
  auto xat = [&](int n, int c, int h, int ww) -> double {
    return h < 0 || h >= g.H || ww < 0 || ww >= g.W ? 0.0 : X[(((int64_t)n * g.C + c) * g.H + h) * g.W + ww];
  };
  auto wat = [&](int k, int c, int r, int s) -> double { return Wt[(((int64_t)k * g.C + c) * g.R + r) * g.S + s]; };
  auto dyat = [&](int n, int k, int p, int q) -> double { return DY[(((int64_t)n * g.K + k) * g.P + p) * g.Q + q]; };
  Rng rng(7);
  constexpr int kSamples = 64;
  std::vector<float> got[3];
  std::vector<double> want[3];
  for (int i = 0; i < kSamples; i++) {
    {  // y[n,k,p,q] = sum_{c,r,s} w[k,c,r,s] x[n, c, p*stride-pad+r, q*stride-pad+s]
      const int64_t e = rng.randint(y.numel());
      const int q = e % g.Q, p = e / g.Q % g.P, k = e / ((int64_t)g.P * g.Q) % g.K, n = e / ((int64_t)g.K * g.P * g.Q);
      double s = 0;
      for (int c = 0; c < g.C; c++)
        for (int r = 0; r < g.R; r++)
          for (int t = 0; t < g.S; t++) s += wat(k, c, r, t) * xat(n, c, p * g.stride - g.pad + r, q * g.stride - g.pad + t);
      got[0].push_back(y.data<float>()[e]);
      want[0].push_back(s);
    }
    {  // dx[n,c,h,w] = sum over the outputs (k, p, q) whose window reads (h, w) through tap (r, s)
      const int64_t e = rng.randint(dx.numel());
      const int ww = e % g.W, h = e / g.W % g.H, c = e / ((int64_t)g.H * g.W) % g.C, n = e / ((int64_t)g.C * g.H * g.W);
      double s = 0;
      for (int r = 0; r < g.R; r++)
        for (int t = 0; t < g.S; t++) {
          const int ph = h + g.pad - r, qw = ww + g.pad - t;
          if (ph < 0 || qw < 0 || ph % g.stride || qw % g.stride || ph / g.stride >= g.P || qw / g.stride >= g.Q) continue;
          for (int k = 0; k < g.K; k++) s += dyat(n, k, ph / g.stride, qw / g.stride) * wat(k, c, r, t);
        }
      got[1].push_back(dx.data<float>()[e]);
      want[1].push_back(s);
    }
    {  // dw[k,c,r,s] = sum_{n,p,q} dy[n,k,p,q] x[n, c, p*stride-pad+r, q*stride-pad+s]
      const int64_t e = rng.randint(dw.numel());
      const int t = e % g.S, r = e / g.S % g.R, c = e / ((int64_t)g.R * g.S) % g.C, k = e / ((int64_t)g.C * g.R * g.S);
      double s = 0;
      for (int n = 0; n < g.N; n++)
        for (int p = 0; p < g.P; p++)
          for (int q = 0; q < g.Q; q++) s += dyat(n, k, p, q) * xat(n, c, p * g.stride - g.pad + r, q * g.stride - g.pad + t);
      got[2].push_back(dw.data<float>()[e]);
      want[2].push_back(s);
    }
  }
  const double rtol = 1e-5;
  const double atol[3] = {2e-5 * std::sqrt((double)g.C * g.R * g.S), 2e-5 * std::sqrt((double)g.K * g.R * g.S),
                          2e-5 * std::sqrt((double)g.N * g.P * g.Q)};
  const char* what[3] = {"fwd", "bwd-in", "bwd-w"};
  bool ok = true;
  for (int d = 0; d < 3; d++)
    ok &= bench::validate(strf("%s %s", name, what[d]), got[d].data(), want[d].data(), kSamples, atol[d], rtol);
  return ok;
}

// Runs tools/bench_torch_conv.py on the same layers; empty if python3 or torch is missing.
std::map<std::string, Times> torch_times(int batch, int threads, double budget) {
  std::map<std::string, Times> out;
  std::string in;
  for (const ResNetConv& c : kResNet18Convs) {
    std::string name = c.name;
    for (char& ch : name) if (ch == ' ') ch = '_';
    in += strf("%s %d %d %d %d %d %d %d\n", name.c_str(), c.C, c.H, c.W, c.K, c.R, c.stride, c.pad);
  }
  const std::string script = std::string(PIPNET_SOURCE_DIR) + "/tools/bench_torch_conv.py";
  const std::string tmp = "/tmp/pipnet_bench_conv_layers.txt";
  if (FILE* f = std::fopen(tmp.c_str(), "w")) { std::fputs(in.c_str(), f); std::fclose(f); }
  std::string cmd = strf("%s %s %d %d %g < %s 2>/dev/null", PYTHON_FOR_TORCH, script.c_str(), batch, threads, budget, tmp.c_str());
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char name[128];
  Times t;
  while (std::fscanf(p, "%127s %lf %lf %lf", name, &t.fwd, &t.bin, &t.bw) == 4) {
    std::string n = name;
    for (char& ch : n) if (ch == '_') ch = ' ';
    out[n] = t;
  }
  pclose(p);
  return out;
}

// Inference's fused convolution on ResNet-18's 3x3 stride-1 layers: im2col + GEMM against Winograd F(2x2) and
// F(4x4) (bias, shortcut and ReLU fused in all three), each validated against the im2col result first. GFLOP/s
// are "effective": the direct convolution's multiply-adds over the time, so that Winograd can pass 100% of peak.
bool bench_winograd(int batch, int threads, double budget, double peak, const std::string& only) {
  std::printf("\nWinograd vs im2col, inference (bias + shortcut + ReLU fused), batch %d, %d thread%s, transforms %s\n",
              batch, threads, threads > 1 ? "s" : "", cpu::winograd_active());
  std::printf("%-22s | %9s %7s %11s | %9s %7s %11s %6s | %9s %7s %11s %6s | chosen\n", "layer", "im2col", "%peak",
              "spread ms", "F(2x2)", "%peak", "spread ms", "speed", "F(4x4)", "%peak", "spread ms", "speed");
  bool all_valid = true;
  Rng rng(3);
  double tot[4] = {};
  for (const ResNetConv& c : kResNet18Convs) {
    if (c.R != 3 || c.stride != 1 || (!only.empty() && std::string(c.name).find(only) == std::string::npos)) continue;
    ConvGeom g = ConvGeom::make(batch, c.C, c.H, c.W, c.K, 3, 3, 1, 1);
    Tensor x = random_tensor({g.N, g.C, g.H, g.W}, rng), w = random_tensor({g.K, g.C, 3, 3}, rng);
    Tensor b = random_tensor({g.K}, rng), r = random_tensor({g.N, g.K, g.P, g.Q}, rng);
    Tensor y0 = Tensor::empty(r.shape()), y = Tensor::empty(r.shape());
    kern::conv2d_forward_fused(g, x, w, nullptr, &b, &r, true, y0);
    const double gf = g.flops() / 1e9;
    std::printf("%-22s |", c.name);
    const bench::Timing t0 = bench::time_for([&] { kern::conv2d_forward_fused(g, x, w, nullptr, &b, &r, true, y0); }, budget);
    std::printf(" %9.1f %6.1f%% %11s |", gf / t0.median_s(), 100 * gf / t0.median_s() / peak, t0.spread().c_str());
    tot[0] += t0.median_s() * c.count;
    double best = t0.median_s();
    int chosen = 0;
    for (int m : {2, 4}) {
      const int a = m + 2;
      Tensor u = Tensor::empty({a * a, cpu::winograd_weight_floats(m, g.K, g.C, cpu::winograd_gemm(g.K)) / (a * a)});
      cpu::winograd_weights(m, w.data<float>(), g.K, g.C, cpu::winograd_gemm(g.K), u.data<float>());
      cpu::conv2d_winograd(g, m, x.data<float>(), u.data<float>(), cpu::winograd_gemm(g.K), b.data<float>(), r.data<float>(), true, y.data<float>());
      const std::vector<float> got = y.to_vector(), want = y0.to_vector();
      if (!bench::validate(strf("%s F(%dx%d) vs im2col", c.name, m, m), got.data(), want.data(), got.size(),
                           (m == 2 ? 1e-6 : 2e-5) * std::sqrt(9.0 * g.C), 1e-5)) {
        all_valid = false;
        std::printf(" %37s |", "INVALID: not timed");
        continue;
      }
      const bench::Timing t = bench::time_for([&] {
        cpu::conv2d_winograd(g, m, x.data<float>(), u.data<float>(), cpu::winograd_gemm(g.K), b.data<float>(), r.data<float>(), true, y.data<float>());
      }, budget);
      std::printf(" %9.1f %6.1f%% %11s %5.2fx |", gf / t.median_s(), 100 * gf / t.median_s() / peak, t.spread().c_str(),
                  t0.median_s() / t.median_s());
      tot[m == 2 ? 1 : 2] += t.median_s() * c.count;
      if (t.median_s() < best) best = t.median_s(), chosen = m;
    }
    tot[3] += best * c.count;
    std::printf(" %s (auto: %d)\n", chosen ? strf("F(%dx%d)", chosen, chosen).c_str() : "im2col", cpu::winograd_choice(g.K, g.C));
  }
  std::printf("%-22s | %28.2f | %35.2f | %35.2f | best %.2f\n", "TOTAL ms (x count)", tot[0] * 1e3, tot[1] * 1e3,
              tot[2] * 1e3, tot[3] * 1e3);
  return all_valid;
}

// MobileNetV2's depthwise 3x3 layers at 256x256, width 1.0 (features.N.conv.1.0, or conv.0.0 in features.1): channels,
// input side, stride, and how many blocks share the shape.
struct DwLayer { const char* name; int C, H, stride, count; };
constexpr DwLayer kMobileNetV2Depthwise[] = {
    {"features.1 dw 32@128", 32, 128, 1, 1},       {"features.2 dw 96@128/2", 96, 128, 2, 1},
    {"features.3 dw 144@64", 144, 64, 1, 1},       {"features.4 dw 144@64/2", 144, 64, 2, 1},
    {"features.5-6 dw 192@32", 192, 32, 1, 2},     {"features.7 dw 192@32/2", 192, 32, 2, 1},
    {"features.8-11 dw 384@16", 384, 16, 1, 4},    {"features.12-13 dw 576@16", 576, 16, 1, 2},
    {"features.14 dw 576@16/2", 576, 16, 2, 1},    {"features.15-17 dw 960@8", 960, 8, 1, 3},
};

// The depthwise layers: validated whole against the reference kernels in double (9 multiply-adds per output make
// that cheap), then timed. Memory-bound, so GB/s (the tensors each pass must read and write once, float32) beside
// GFLOP/s. PyTorch is not run on these.
bool bench_depthwise(int batch, int threads, double budget, const std::string& only) {
  std::printf("\nMobileNetV2 depthwise 3x3 convolutions at 256x256, batch %d, %d thread%s, plane loops %s\n", batch,
              threads, threads > 1 ? "s" : "", cpu::depthwise_active());
  std::printf("%-26s %3s | %8s %7s %11s | %8s %7s %11s | %8s %7s %11s\n", "layer", "x", "fwd GF/s", "GB/s", "spread ms",
              "bwd-in", "GB/s", "spread ms", "bwd-w", "GB/s", "spread ms");
  bool all_valid = true;
  double tot[3] = {};
  Rng rng(2);
  for (const DwLayer& l : kMobileNetV2Depthwise) {
    if (!only.empty() && std::string(l.name).find(only) == std::string::npos) continue;
    ConvGeom g = ConvGeom::make(batch, l.C, l.H, l.H, l.C, 3, 3, l.stride, 1);
    Tensor x = random_tensor({g.N, g.C, g.H, g.W}, rng), w = random_tensor({g.C, 1, 3, 3}, rng);
    Tensor y = Tensor::empty({g.N, g.C, g.P, g.Q}), dy = random_tensor(y.shape(), rng);
    Tensor dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape());
    {  // validate: each result once from zero against the reference in double
      Tensor xd = x.to(DType::F64), wd = w.to(DType::F64), dyd = dy.to(DType::F64);
      Tensor yd = Tensor::empty(y.shape(), DType::F64), dxd = Tensor::zeros(x.shape(), DType::F64);
      Tensor dwd = Tensor::zeros(w.shape(), DType::F64);
      kern::depthwise_forward(g, x, w, nullptr, y);
      kern::depthwise_forward(g, xd, wd, nullptr, yd);
      kern::depthwise_backward_input(g, dy, w, dx);
      kern::depthwise_backward_input(g, dyd, wd, dxd);
      kern::depthwise_backward_weight(g, x, dy, dw, nullptr);
      kern::depthwise_backward_weight(g, xd, dyd, dwd, nullptr);
      const std::vector<float> got[3] = {y.to_vector(), dx.to_vector(), dw.to_vector()};
      const Tensor* want[3] = {&yd, &dxd, &dwd};
      const double atol[3] = {3e-6, 3e-6, 3e-7 * g.N * g.P * g.Q};  // as tests/test_kernels.cpp
      const char* what[3] = {"fwd", "bwd-in", "bwd-w"};
      bool ok = true;
      for (int d = 0; d < 3; d++)
        ok &= bench::validate(strf("%s %s", l.name, what[d]), got[d].data(), want[d]->data<double>(), got[d].size(),
                              atol[d], 1e-6);
      if (!ok) {
        all_valid = false;
        std::printf("%-26s %3d | INVALID: not timed\n", l.name, l.count);
        continue;
      }
    }
    bench::Timing t[3] = {bench::time_for([&] { kern::depthwise_forward(g, x, w, nullptr, y); }, budget),
                          bench::time_for([&] { kern::depthwise_backward_input(g, dy, w, dx); }, budget),
                          bench::time_for([&] { kern::depthwise_backward_weight(g, x, dy, dw, nullptr); }, budget)};
    const double gf = 2.0 * g.N * g.C * g.P * g.Q * 9 / 1e9;
    const double nx = (double)g.N * g.C * g.H * g.W, ny = (double)g.N * g.C * g.P * g.Q;
    const double bytes[3] = {4 * (nx + ny), 4 * (ny + 2 * nx), 4 * (nx + ny)};  // bwd-in reads and writes dx
    std::printf("%-26s %3d |", l.name, l.count);
    for (int k = 0; k < 3; k++) {
      const double sec = t[k].median_s();
      std::printf(" %8.1f %7.1f %11s |", gf / sec, bytes[k] / sec / 1e9, t[k].spread().c_str());
      tot[k] += sec * l.count;
    }
    std::printf("\n");
    bench::result_line(strf("{\"bench\":\"depthwise\",\"layer\":\"%s\",\"batch\":%d,\"threads\":%d,\"gflop\":%.4f,"
                            "\"fwd_s\":%.6g,\"bwd_in_s\":%.6g,\"bwd_w_s\":%.6g,\"fwd_gbs\":%.3f,\"bwd_in_gbs\":%.3f,"
                            "\"bwd_w_gbs\":%.3f,\"version\":\"%s\"}",
                            l.name, batch, threads, gf, t[0].median_s(), t[1].median_s(), t[2].median_s(),
                            bytes[0] / t[0].median_s() / 1e9, bytes[1] / t[1].median_s() / 1e9,
                            bytes[2] / t[2].median_s() / 1e9, cpu::depthwise_active()));
  }
  std::printf("%-30s | %28.2f | %28.2f | %28.2f |\n", "TOTAL ms (x count)", tot[0] * 1e3, tot[1] * 1e3, tot[2] * 1e3);
  return all_valid;
}

}  // namespace

int main(int argc, char** argv) {
  if (bench::arg_flag(argc, argv, "--help")) {
    std::printf("usage: bench_conv [--batch N] [--threads N] [--no-torch] [--quick] [--only LAYER-NAME-PART] [--depthwise-only] [--winograd]\n"
                "  --winograd: inference's 3x3 stride-1 layers, im2col against Winograd F(2x2) and F(4x4)\n"
                "  (PIPNET_DEPTHWISE / PIPNET_WINOGRAD=generic|avx2|avx512 pin the depthwise / Winograd build)\n");
    return 0;
  }
  const int batch = bench::arg_int(argc, argv, "--batch", 1);
  const int threads = bench::arg_int(argc, argv, "--threads", omp_get_max_threads());
  const double budget = bench::arg_flag(argc, argv, "--quick") ? 0.1 : 0.3;
  omp_set_num_threads(threads);
  bench::Peak peak = bench::measure_peak();
  const double pk = threads == 1 ? peak.gflops_1t : peak.gflops_all;
  const std::string only = bench::arg_str(argc, argv, "--only", "");
  if (bench::arg_flag(argc, argv, "--depthwise-only")) return bench_depthwise(batch, threads, budget, only) ? 0 : 1;
  if (bench::arg_flag(argc, argv, "--winograd")) return bench_winograd(batch, threads, budget, pk, only) ? 0 : 1;
  std::map<std::string, Times> torch;
  if (!bench::arg_flag(argc, argv, "--no-torch")) torch = torch_times(batch, threads, budget);
  std::printf("ResNet-18 convolutions at 256x256, batch %d, %d thread%s, sgemm %s, FMA peak %.1f GFLOP/s (%s)\n",
              batch, threads, threads > 1 ? "s" : "", cpu::gemm_active().name, pk, peak.unit);
  if (torch.empty()) std::printf("(PyTorch not found: " PYTHON_FOR_TORCH " -c 'import torch' failed; install python3-torch. Ours only)\n");
  std::printf("%-26s %3s | %8s %6s %11s %7s | %8s %6s %11s %7s | %8s %6s %11s %7s\n", "layer", "x", "fwd GF/s",
              "%peak", "spread ms", "vs torch", "bwd-in", "%peak", "spread ms", "vs torch", "bwd-w", "%peak",
              "spread ms", "vs torch");
  double tot[2][3] = {};  // [ours, torch][fwd, bin, bw], seconds x count
  bool all_valid = true;
  Rng rng(1);
  for (const ResNetConv& c : kResNet18Convs) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    ConvGeom g = ConvGeom::make(batch, c.C, c.H, c.W, c.K, c.R, c.R, c.stride, c.pad);
    Tensor x = random_tensor({g.N, g.C, g.H, g.W}, rng), w = random_tensor({g.K, g.C, g.R, g.S}, rng);
    Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q}), dy = random_tensor(y.shape(), rng);
    Tensor dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape());
    if (!validate_layer(c.name, g, x, w, dy)) {  // a wrong result gets no time
      all_valid = false;
      std::printf("%-26s %3d | INVALID: not timed\n", c.name, c.count);
      continue;
    }
    bench::Timing tf = bench::time_for([&] { kern::conv2d_forward(g, x, w, nullptr, y); }, budget);
    bench::Timing tb = bench::time_for([&] { kern::conv2d_backward_input(g, dy, w, dx); }, budget);
    bench::Timing tw = bench::time_for([&] { kern::conv2d_backward_weight(g, x, dy, dw, nullptr); }, budget);
    const Times t{tf.median_s(), tb.median_s(), tw.median_s()};
    const bench::Timing* spread[3] = {&tf, &tb, &tw};
    const double f = (double)g.flops() / 1e9;
    Times th = torch.count(c.name) ? torch[c.name] : Times{};
    double ours[3] = {t.fwd, t.bin, t.bw}, ref[3] = {th.fwd, th.bin, th.bw};
    std::printf("%-26s %3d |", c.name, c.count);
    for (int k = 0; k < 3; k++) {
      std::printf(" %8.1f %5.1f%% %11s %7s |", f / ours[k], 100 * f / ours[k] / pk, spread[k]->spread().c_str(),
                  ref[k] > 0 ? strf("%.2fx", ref[k] / ours[k]).c_str() : "-");
      tot[0][k] += ours[k] * c.count;
      tot[1][k] += ref[k] * c.count;
    }
    std::printf("\n");
    bench::result_line(strf("{\"bench\":\"conv\",\"layer\":\"%s\",\"batch\":%d,\"threads\":%d,\"gflop\":%.4f,"
                            "\"fwd_s\":%.6g,\"bwd_in_s\":%.6g,\"bwd_w_s\":%.6g,"
                            "\"fwd_min_s\":%.6g,\"fwd_max_s\":%.6g,\"bwd_in_min_s\":%.6g,\"bwd_in_max_s\":%.6g,"
                            "\"bwd_w_min_s\":%.6g,\"bwd_w_max_s\":%.6g,\"reps\":[%d,%d,%d],\"torch_fwd_s\":%.6g,"
                            "\"torch_bwd_in_s\":%.6g,\"torch_bwd_w_s\":%.6g}",
                            c.name, batch, threads, f, t.fwd, t.bin, t.bw, tf.min_ms * 1e-3, tf.max_ms * 1e-3,
                            tb.min_ms * 1e-3, tb.max_ms * 1e-3, tw.min_ms * 1e-3, tw.max_ms * 1e-3, tf.reps, tb.reps,
                            tw.reps, th.fwd, th.bin, th.bw));
  }
  std::printf("%-30s |", "TOTAL ms (ours / torch)");
  for (int k = 0; k < 3; k++) std::printf(" %7.2f / %-7.2f %5s %11s |", tot[0][k] * 1e3, tot[1][k] * 1e3,
                                          tot[1][k] > 0 ? strf("%.2fx", tot[1][k] / tot[0][k]).c_str() : "-", "");
  std::printf("\n(\"vs torch\" = torch time / our time: above 1 means we are faster)\n");
  bench::result_line(strf("{\"bench\":\"conv_total\",\"batch\":%d,\"threads\":%d,\"fwd_ms\":%.3f,\"bwd_in_ms\":%.3f,"
                          "\"bwd_w_ms\":%.3f,\"torch_fwd_ms\":%.3f,\"torch_bwd_in_ms\":%.3f,\"torch_bwd_w_ms\":%.3f}",
                          batch, threads, tot[0][0] * 1e3, tot[0][1] * 1e3, tot[0][2] * 1e3, tot[1][0] * 1e3,
                          tot[1][1] * 1e3, tot[1][2] * 1e3));
  all_valid &= bench_depthwise(batch, threads, budget, only);
  if (!all_valid) std::printf("error: some results were wrong (validate FAIL above); their layers were not timed\n");
  return all_valid ? 0 : 1;
}
