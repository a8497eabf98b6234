// bench_conv: each ResNet-18 convolution (256x256 input) forward, backward-input and backward-weight through the
// engine's dispatch (cpu/f32: im2col + sgemm), in GFLOP/s and % of the measured FMA peak, side by side with
// PyTorch (Debian's python3-torch, same threads, same shapes) when it is installed.
//
//   bench_conv [--batch N] [--threads N] [--no-torch] [--quick] [--only LAYER-NAME-PART]
#include <omp.h>

#include <cstdio>
#include <map>
#include <string>

#include "bench/bench_common.h"
#include "bench/resnet18_shapes.h"
#include "kernels/cpu/gemm.h"
#include "kernels/dispatch.h"

namespace {

struct Times { double fwd = 0, bin = 0, bw = 0; };

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

}  // namespace

int main(int argc, char** argv) {
  if (bench::arg_flag(argc, argv, "--help")) {
    std::printf("usage: bench_conv [--batch N] [--threads N] [--no-torch] [--quick] [--only LAYER-NAME-PART]\n");
    return 0;
  }
  const int batch = bench::arg_int(argc, argv, "--batch", 1);
  const int threads = bench::arg_int(argc, argv, "--threads", omp_get_max_threads());
  const double budget = bench::arg_flag(argc, argv, "--quick") ? 0.1 : 0.3;
  omp_set_num_threads(threads);
  bench::Peak peak = bench::measure_peak();
  const double pk = threads == 1 ? peak.gflops_1t : peak.gflops_all;
  std::map<std::string, Times> torch;
  if (!bench::arg_flag(argc, argv, "--no-torch")) torch = torch_times(batch, threads, budget);
  std::printf("ResNet-18 convolutions at 256x256, batch %d, %d thread%s, sgemm %s, FMA peak %.1f GFLOP/s (%s)\n",
              batch, threads, threads > 1 ? "s" : "", cpu::gemm_active().name, pk, peak.unit);
  if (torch.empty()) std::printf("(PyTorch not found: " PYTHON_FOR_TORCH " -c 'import torch' failed; install python3-torch. Ours only)\n");
  std::printf("%-26s %3s | %8s %6s %7s | %8s %6s %7s | %8s %6s %7s\n", "layer", "x", "fwd GF/s", "%peak", "vs torch",
              "bwd-in", "%peak", "vs torch", "bwd-w", "%peak", "vs torch");
  double tot[2][3] = {};  // [ours, torch][fwd, bin, bw], seconds x count
  const std::string only = bench::arg_str(argc, argv, "--only", "");
  for (const ResNetConv& c : kResNet18Convs) {
    if (!only.empty() && std::string(c.name).find(only) == std::string::npos) continue;
    ConvGeom g = ConvGeom::make(batch, c.C, c.H, c.W, c.K, c.R, c.R, c.stride, c.pad);
    Tensor x = Tensor::full({g.N, g.C, g.H, g.W}, 0.5), w = Tensor::full({g.K, g.C, g.R, g.S}, 0.01);
    Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q}), dy = Tensor::full(y.shape(), 0.1);
    Tensor dx = Tensor::zeros(x.shape()), dw = Tensor::zeros(w.shape());
    Times t;
    t.fwd = bench::time_for([&] { kern::conv2d_forward(g, x, w, nullptr, y); }, budget);
    t.bin = bench::time_for([&] { kern::conv2d_backward_input(g, dy, w, dx); }, budget);
    t.bw = bench::time_for([&] { kern::conv2d_backward_weight(g, x, dy, dw, nullptr); }, budget);
    const double f = (double)g.flops() / 1e9;
    Times th = torch.count(c.name) ? torch[c.name] : Times{};
    double ours[3] = {t.fwd, t.bin, t.bw}, ref[3] = {th.fwd, th.bin, th.bw};
    std::printf("%-26s %3d |", c.name, c.count);
    for (int k = 0; k < 3; k++) {
      std::printf(" %8.1f %5.1f%% %7s |", f / ours[k], 100 * f / ours[k] / pk,
                  ref[k] > 0 ? strf("%.2fx", ref[k] / ours[k]).c_str() : "-");
      tot[0][k] += ours[k] * c.count;
      tot[1][k] += ref[k] * c.count;
    }
    std::printf("\n");
    bench::result_line(strf("{\"bench\":\"conv\",\"layer\":\"%s\",\"batch\":%d,\"threads\":%d,\"gflop\":%.4f,"
                            "\"fwd_s\":%.6g,\"bwd_in_s\":%.6g,\"bwd_w_s\":%.6g,\"torch_fwd_s\":%.6g,"
                            "\"torch_bwd_in_s\":%.6g,\"torch_bwd_w_s\":%.6g}",
                            c.name, batch, threads, f, t.fwd, t.bin, t.bw, th.fwd, th.bin, th.bw));
  }
  std::printf("%-30s |", "TOTAL ms (ours / torch)");
  for (int k = 0; k < 3; k++) std::printf(" %7.2f / %-7.2f %5s |", tot[0][k] * 1e3, tot[1][k] * 1e3,
                                          tot[1][k] > 0 ? strf("%.2fx", tot[1][k] / tot[0][k]).c_str() : "-");
  std::printf("\n(\"vs torch\" = torch time / our time: above 1 means we are faster)\n");
  bench::result_line(strf("{\"bench\":\"conv_total\",\"batch\":%d,\"threads\":%d,\"fwd_ms\":%.3f,\"bwd_in_ms\":%.3f,"
                          "\"bwd_w_ms\":%.3f,\"torch_fwd_ms\":%.3f,\"torch_bwd_in_ms\":%.3f,\"torch_bwd_w_ms\":%.3f}",
                          batch, threads, tot[0][0] * 1e3, tot[0][1] * 1e3, tot[0][2] * 1e3, tot[1][0] * 1e3,
                          tot[1][1] * 1e3, tot[1][2] * 1e3));
  return 0;
}
