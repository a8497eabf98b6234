// Winograd F(2x2, 3x3) and F(4x4, 3x3) (kernels/cpu/winograd.cpp) and the fused inference convolution
// (kern::conv2d_forward_fused) against the direct convolution in double, on odd shapes: sizes that are not
// multiples of the tile, channel counts that are not multiples of 16, pads 0-2, batches that split tile chunks
// across images, with and without bias, residual and ReLU; for each build of the tile transforms.
#include <catch2/catch.hpp>
#include <omp.h>

#include <algorithm>

#include <cmath>
#include <tuple>

#include "autograd/ops.h"
#include "pipnet/pipnet.h"
#include "kernels/cpu/cpu.h"
#include "kernels/dispatch.h"
#include "tests/test_util.h"

namespace {

// Float error of the transforms grows with the reduction length (9 C terms) and, for F(4x4), with the size of its
// constants (up to 8 in A, 5 in B, 1/24 in G): the tolerance per element is atol * sqrt(9 C), against values of
// order sqrt(9 C) / 3. Measured worst: F(2x2) 4.3e-7 * sqrt(9 C), about 1e-6 of the values' scale, as direct
// convolution; F(4x4) 1.2e-5 * sqrt(9 C), about 4e-5 of the scale (the known price of its larger constants).
double winograd_atol(int m) { return m == 2 ? 1e-6 : 2e-5; }

void fused_case(const ConvGeom& g, int m, uint64_t seed, bool bias, bool residual, bool relu) {
  Tensor x = random_tensor({g.N, g.C, g.H, g.W}, seed), w = random_tensor({g.K, g.C, 3, 3}, seed + 1);
  Tensor b = random_tensor({g.K}, seed + 2), r = random_tensor({g.N, g.K, g.P, g.Q}, seed + 3);
  Tensor u = Tensor::empty({(m + 2) * (m + 2), cpu::winograd_weight_floats(m, g.K, g.C, cpu::winograd_gemm(g.K)) / ((m + 2) * (m + 2))});
  cpu::winograd_weights(m, w.data<float>(), g.K, g.C, cpu::winograd_gemm(g.K), u.data<float>());
  Tensor y = Tensor::full({g.N, g.K, g.P, g.Q}, NAN);  // every element must be written
  cpu::conv2d_winograd(g, m, x.data<float>(), u.data<float>(), cpu::winograd_gemm(g.K), bias ? b.data<float>() : nullptr,
                       residual ? r.data<float>() : nullptr, relu, y.data<float>());
  Tensor yd = Tensor::empty({g.N, g.K, g.P, g.Q}, DType::F64);
  Tensor xd = x.to(DType::F64), wd = w.to(DType::F64), bd = b.to(DType::F64), rd = r.to(DType::F64);
  ref::conv2d_forward_fused<double>(g, xd.data<double>(), wd.data<double>(), nullptr,
                                    bias ? bd.data<double>() : nullptr, residual ? rd.data<double>() : nullptr, relu,
                                    yd.data<double>());
  check_close("winograd", y, yd, winograd_atol(m) * std::sqrt(9.0 * g.C), 1e-6);
}

void winograd_sweep(const char* version) {
  if (!cpu::winograd_force(version)) SKIP_TEST(std::string("this CPU lacks the ") + version + " Winograd build");
  REQUIRE(std::string(cpu::winograd_active()) == version);
  uint64_t seed = 5000;
  int cases = 0;
  for (int m : {2, 4})
    for (auto [N, C, K] : {std::tuple{1, 1, 1}, {1, 3, 5}, {2, 16, 16}, {1, 17, 33}, {3, 20, 7}})
      for (auto [H, W] : {std::pair{1, 1}, {3, 3}, {4, 5}, {7, 13}, {13, 6}, {9, 9}})
        for (int pad : {0, 1, 2}) {
          ConvGeom g = ConvGeom::make(N, C, H, W, K, 3, 3, 1, pad);
          if (g.P <= 0 || g.Q <= 0) continue;
          INFO(version << " F(" << m << "x" << m << ",3x3) N=" << N << " C=" << C << " K=" << K << " H=" << H
                       << " W=" << W << " pad=" << pad << " seed=" << seed);
          fused_case(g, m, seed, seed % 2 == 0, seed % 3 == 0, seed % 5 < 3);
          seed += 4;
          cases++;
        }
  // ResNet-like layers, on every thread count up to 2: one chunk split over the threads (small), many chunks of
  // whole tile rows (large: the last chunk short, chunks that cross from one image into the next; at batch 1 each
  // chunk stages its own band of rows, which overlap their neighbours')
  const int threads = omp_get_max_threads();
  for (int t = 1; t <= std::max(2, threads); t++) {
    omp_set_num_threads(t);
    for (int m : {2, 4})
      for (auto [N, C, H] : {std::tuple{1, 64, 32}, {2, 64, 19}, {3, 128, 8}, {3, 16, 61}, {2, 24, 130},
                                   {1, 24, 61}, {1, 20, 130}}) {
        ConvGeom g = ConvGeom::make(N, C, H, H, C, 3, 3, 1, 1);
        INFO(version << " F(" << m << "x" << m << ",3x3) N=" << N << " C=K=" << C << " H=W=" << H << " threads " << t);
        fused_case(g, m, seed, true, true, true);
        seed += 4;
        cases++;
      }
  }
  omp_set_num_threads(threads);
  CHECK(cases > 150);
  cpu::winograd_force("auto");
}

}  // namespace

// The transformed weights are packed for the GEMM micro-kernel the multiply then uses: every kernel pinned in turn
// (NR 8 to 64, so output channels that leave a short last panel), and 272 channels, which the 256-deep kernels cut
// into two K blocks of 136.
TEST_CASE("winograd with every GEMM micro-kernel", "[kernels]") {
  uint64_t seed = 9000;
  int kernels = 0;
  for (int i = 0; i < cpu::gemm_kernel_count(); i++) {
    const char* name = cpu::gemm_kernel(i).name;
    if (!cpu::gemm_force(name)) continue;
    kernels++;
    for (auto [N, C, K, H, m] : {std::tuple{1, 272, 20, 6, 2}, {2, 40, 33, 9, 4}, {1, 19, 70, 11, 2}}) {
      ConvGeom g = ConvGeom::make(N, C, H, H, K, 3, 3, 1, 1);
      INFO("gemm " << name << " F(" << m << "x" << m << ") N=" << N << " C=" << C << " K=" << K << " H=" << H);
      REQUIRE(&cpu::winograd_gemm(K) == &cpu::gemm_kernel(i));
      fused_case(g, m, seed, true, seed % 3 == 0, true);
      seed += 4;
    }
  }
  cpu::gemm_force("auto");
  CHECK(kernels >= 4);  // generic and the emulated AVX-512 kernels run everywhere
}

TEST_CASE("winograd, generic build: F(2x2) and F(4x4) match the direct convolution", "[kernels]") {
  winograd_sweep("generic");
}
TEST_CASE("winograd, avx2 build: F(2x2) and F(4x4) match the direct convolution", "[kernels]") {
  winograd_sweep("avx2");
}
TEST_CASE("winograd, avx512 build: F(2x2) and F(4x4) match the direct convolution", "[kernels]") {
  winograd_sweep("avx512");
}

namespace {
// A fused convolution's inputs (seeds seed .. seed + 3) and what it must equal: the unfused ops, in double.
struct FusedInputs { Tensor x, w, b, r, want; };
FusedInputs fused_inputs(const ConvGeom& g, bool relu, uint64_t seed) {
  FusedInputs f{random_tensor({g.N, g.C, g.H, g.W}, seed), random_tensor({g.K, g.C, g.R, g.S}, seed + 1),
                random_tensor({g.K}, seed + 2), random_tensor({g.N, g.K, g.P, g.Q}, seed + 3), Tensor()};
  f.want = ag::add(ag::conv2d(f.x.to(DType::F64), f.w.to(DType::F64), f.b.to(DType::F64), g.stride, g.pad),
                   f.r.to(DType::F64));
  if (relu) f.want = ag::relu(f.want);
  return f;
}
}  // namespace

TEST_CASE("fused inference convolution: im2col and prepared paths equal conv + add + relu, every backend", "[kernels]") {
  CHECK_FALSE(cpu::winograd_force("sse9"));
  uint64_t seed = 7000;
  for (auto [N, C, H, W, K, k, stride, pad] :
       {std::tuple{2, 5, 9, 7, 6, 3, 1, 1}, {1, 8, 6, 6, 4, 1, 1, 0}, {2, 3, 11, 10, 5, 3, 2, 1}, {1, 4, 7, 7, 3, 7, 2, 3},
        // the 1x1/2 downsample through the subsampled image; more than 256 output channels (the GEMM's general
        // path, its epilogue too); a 1x1/2 big enough to be subsampled by all threads at batch 1
        {1, 65, 9, 8, 300, 1, 2, 0}, {1, 64, 64, 66, 20, 1, 2, 0}})
    for (bool relu : {false, true}) {
      INFO("N=" << N << " C=" << C << " H=" << H << " W=" << W << " K=" << K << " k=" << k << " stride=" << stride
                << " relu=" << relu);
      ConvGeom g = ConvGeom::make(N, C, H, W, K, k, k, stride, pad);
      const auto [x, w, b, r, want] = fused_inputs(g, relu, seed);
      seed += 4;
      const kern::ConvPrepared u = kern::conv2d_prepare(w, stride);
      CHECK((u.wino != nullptr) == (k == 3 && stride == 1));  // only 3x3 stride 1 (at these small widths: m = 4)
      if (u.wino) CHECK((u.wino->has(4) && !u.wino->has(2)));
      CHECK(u.packed.defined());
      for (const kern::ConvPrepared* prepared : {(const kern::ConvPrepared*)nullptr, &u}) {
        Tensor y = Tensor::empty({N, K, g.P, g.Q});
        kern::conv2d_forward_fused(g, x, w, prepared, &b, &r, relu, y);
        check_close(prepared ? "fused, prepared" : "fused, im2col", y, want, 1e-5, 1e-5);
      }
      Tensor yd = Tensor::empty({N, K, g.P, g.Q}, DType::F64);  // the reference backend ignores the preparation
      const Tensor wd = w.to(DType::F64), bd = b.to(DType::F64), rd = r.to(DType::F64);
      kern::conv2d_forward_fused(g, x.to(DType::F64), wd, nullptr, &bd, &rd, relu, yd);
      check_close("fused, reference", yd, want, 1e-12, 1e-12);
    }
}

// Prepared convolutions learn the order they run in (kern::AheadLink), so that each can name the next one's weights
// to the GEMM while it computes: each links to the one run after it, records the form of its weights it read
// (Winograd's for a 3x3 with enough tiles, the packed ones for a 1x1), and a link to one that is gone is replaced.
TEST_CASE("fused inference convolution: prepared convolutions learn their order and the weights each reads", "[kernels]") {
  uint64_t seed = 7700;
  const ConvGeom g1 = ConvGeom::make(1, 16, 16, 16, 24, 1, 1, 1, 0), g3 = ConvGeom::make(1, 24, 16, 16, 24, 3, 3, 1, 1);
  const ConvGeom g4 = ConvGeom::make(1, 24, 16, 16, 24, 1, 1, 1, 0);
  const Tensor x1 = random_tensor({1, 16, 16, 16}, seed), w1 = random_tensor({24, 16, 1, 1}, seed + 1);
  const Tensor w3 = random_tensor({24, 24, 3, 3}, seed + 2), w4 = random_tensor({24, 24, 1, 1}, seed + 3);
  const kern::ConvPrepared a = kern::conv2d_prepare(w1, 1), c = kern::conv2d_prepare(w4, 1);
  Tensor h1 = Tensor::empty({1, 24, 16, 16}), h2 = Tensor::empty({1, 24, 16, 16}), h3 = Tensor::empty({1, 24, 16, 16});
  {
    const kern::ConvPrepared b = kern::conv2d_prepare(w3, 1);
    for (int run = 0; run < 2; run++) {
      kern::conv2d_forward_fused(g1, x1, w1, &a, nullptr, nullptr, true, h1);
      kern::conv2d_forward_fused(g3, h1, w3, &b, nullptr, nullptr, true, h2);
      kern::conv2d_forward_fused(g4, h2, w4, &c, nullptr, nullptr, false, h3);
    }
    CHECK(a.ahead->next.lock() == b.ahead);
    CHECK(b.ahead->next.lock() == c.ahead);
    CHECK(a.ahead->p == a.packed.data<float>());
    CHECK(a.ahead->bytes == a.packed.numel() * 4);
    REQUIRE(b.wino->has(4));  // 16 tiles of F(4x4) at 16x16
    CHECK(b.ahead->p == b.wino->U[1].data<float>());
    CHECK(b.ahead->bytes == b.wino->U[1].numel() * 4);
    // and the results are the plain ops'
    Tensor want = ag::conv2d(ag::relu(ag::conv2d(ag::relu(ag::conv2d(x1.to(DType::F64), w1.to(DType::F64), Tensor(), 1, 0)),
                                                 w3.to(DType::F64), Tensor(), 1, 1)),
                             w4.to(DType::F64), Tensor(), 1, 0);
    check_close("three prepared convolutions in turn", h3, want, 1e-3, 1e-4);  // (F(4x4)'s rounding; precision: above)
  }
  CHECK(a.ahead->next.expired());  // b is gone
  kern::conv2d_forward_fused(g1, x1, w1, &a, nullptr, nullptr, true, h1);
  kern::conv2d_forward_fused(g4, h1, w4, &c, nullptr, nullptr, false, h3);
  CHECK(a.ahead->next.lock() == c.ahead);
}

// Maps narrower than the GEMM kernel's tile (cpu::conv_narrow) run transposed, the pixels as the GEMM's rows and the
// weights packed as B on the first such call. Each kernel family pinned (the emulated AVX-512 ones on every CPU):
// 3x3 and 1x1, strides 1 and 2, output channels that are not a multiple of the kernel's NR, single pixels, and
// batches larger than one group of images (192 pixels), with bias, shortcut and ReLU; against the plain ops in
// double, every element written.
TEST_CASE("fused inference convolution: narrow maps run transposed, every kernel", "[kernels]") {
  int narrow = 0;
  for (const char* kernel : {"avx512_6x64_emul", "avx512_emul", "avx512_8x32_emul", "avx2", "generic", "auto"}) {
    if (!cpu::gemm_force(kernel)) continue;
    uint64_t seed = 8500;
    for (auto [N, C, H, W, K, k, stride, pad] :
         {std::tuple{1, 40, 2, 2, 70, 3, 1, 1}, {3, 24, 4, 4, 33, 3, 2, 1}, {2, 50, 3, 3, 130, 1, 1, 0},
          {1, 16, 1, 1, 20, 1, 1, 0}, {5, 8, 5, 5, 17, 3, 2, 0}, {13, 6, 4, 4, 9, 3, 1, 1}, {200, 5, 1, 1, 7, 1, 1, 0},
          {2, 9, 6, 6, 40, 1, 2, 0}})
      for (bool relu : {false, true}) {
        ConvGeom g = ConvGeom::make(N, C, H, W, K, k, k, stride, pad);
        INFO(kernel << " N=" << N << " C=" << C << " H=" << H << " W=" << W << " K=" << K << " k=" << k
                    << " stride=" << stride << " relu=" << relu << " narrow=" << cpu::conv_narrow(g));
        const auto [x, w, b, r, want] = fused_inputs(g, relu, seed);
        seed += 4;
        const kern::ConvPrepared u = kern::conv2d_prepare(w, stride);
        Tensor y = Tensor::full({N, K, g.P, g.Q}, NAN);
        kern::conv2d_forward_fused(g, x, w, &u, &b, &r, relu, y);
        check_close("narrow", y, want, 1e-5, 1e-5);
        CHECK(u.narrow->B.defined() == cpu::conv_narrow(g));  // the path the call took: its weights were made
        narrow += cpu::conv_narrow(g);
      }
  }
  cpu::gemm_force("auto");
  CHECK(narrow >= 24);  // most of the cases, under each of the three emulated kernels at least
}

// The whole inference path: a PIP Net whose BatchNorms are folded runs every 3x3 stride-1 convolution through
// Winograd (winograd_pick: F(4x4) or F(2x2) by the tiles of each call) and every convolution with its bias, shortcut and ReLU
// fused; its five maps must equal the unfolded network's, which runs the plain ops.
TEST_CASE("folded PIP Net (Winograd, fused epilogues, packed weights) equals the unfolded one", "[kernels]") {
  for (auto [bb, width, batch] : {std::tuple{"resnet18", 32, 2}, {"resnet50", 16, 1}}) {
    INFO(bb << " width " << width << " batch " << batch);
    Rng rng(11);
    PIPNet net(PipConfig{bb, width, 7, 4, 128, 32}, rng);
    for (auto& [n, t] : net.named_buffers()) {  // running statistics away from the identity
      if (n.find("running_mean") != std::string::npos) init_uniform(t, rng, -0.2, 0.2);
      if (n.find("running_var") != std::string::npos) init_uniform(t, rng, 0.5, 2.0);
    }
    net.eval();
    ag::NoGradGuard ng;
    Tensor x = random_tensor({batch, 3, 128, 128}, 12);
    const PipOutput before = net.run(x);
    net.fold_batchnorms();
    const PipOutput after = net.run(x);
    // F(4x4)'s float error (test above) through the depth of the network: 1e-4 of the maps' scale
    double scale = 0;
    for (float v : before.cls.to_vector()) scale = std::max(scale, (double)std::fabs(v));
    check_close("cls", after.cls, before.cls, 1e-4 * scale, 1e-4);
    check_close("x", after.x, before.x, 1e-4 * scale, 1e-4);
    check_close("nb_y", after.nb_y, before.nb_y, 1e-4 * scale, 1e-4);
  }
}

// A layer of more than 256 channels is prepared with F(2x2)'s weights only. A call with enough tiles for F(4x4)
// (a batch of 4 on 8x8 maps) makes F(4x4)'s on first use and runs it; batch 1 keeps F(2x2); a map too small for
// either runs im2col. Every call against the direct convolution in double.
TEST_CASE("winograd: each call picks F(4x4) or F(2x2) by its tiles, the other form made on first use", "[kernels]") {
  const int C = 272, K = 24;
  Tensor w = random_tensor({K, C, 3, 3}, 8100), b = random_tensor({K}, 8101);
  const kern::ConvPrepared u = kern::conv2d_prepare(w, 1);
  REQUIRE(u.wino);
  CHECK((u.wino->has(2) && !u.wino->has(4)));
  uint64_t seed = 8200;
  for (auto [N, H, m] : {std::tuple{1, 8, 2}, {4, 8, 4}, {1, 8, 2}, {1, 4, 0}, {2, 9, 4}}) {
    INFO("N=" << N << " H=W=" << H << " expected m=" << m);
    ConvGeom g = ConvGeom::make(N, C, H, H, K, 3, 3, 1, 1);
    CHECK(cpu::winograd_pick(g) == m);
    Tensor x = random_tensor({N, C, H, H}, seed++);
    Tensor y = Tensor::full({N, K, H, H}, NAN);
    kern::conv2d_forward_fused(g, x, w, &u, &b, nullptr, true, y);
    Tensor want = ag::relu(ag::conv2d(x.to(DType::F64), w.to(DType::F64), b.to(DType::F64), 1, 1));
    check_close("picked", y, want, winograd_atol(4) * std::sqrt(9.0 * C), 1e-5);
    if (m == 4) CHECK(u.wino->has(4));
  }
  CHECK((u.wino->has(2) && u.wino->has(4)));
  // A layer of up to 256 channels makes F(4x4) ahead and never F(2x2): a map too small for F(4x4) runs im2col,
  // which equals the unprepared convolution bit for bit.
  Tensor w2 = random_tensor({K, 40, 3, 3}, 8300), x2 = random_tensor({1, 40, 9, 9}, 8301);
  const kern::ConvPrepared u2 = kern::conv2d_prepare(w2, 1);
  const ConvGeom g2 = ConvGeom::make(1, 40, 9, 9, K, 3, 3, 1, 1);
  CHECK(cpu::winograd_pick(g2) == 2);
  Tensor y2 = Tensor::empty({1, K, 9, 9}), y3 = Tensor::empty({1, K, 9, 9});
  kern::conv2d_forward_fused(g2, x2, w2, &u2, &b, nullptr, false, y2);
  kern::conv2d_forward_fused(g2, x2, w2, nullptr, &b, nullptr, false, y3);
  CHECK(y2.to_vector() == y3.to_vector());
  CHECK((u2.wino->has(4) && !u2.wino->has(2)));
  // One of 64 channels or more makes F(2x2) on such a map, on the first call that wants it.
  for (int C3 : {64, 100}) {
    Tensor w3 = random_tensor({K, C3, 3, 3}, 8400 + C3), x3 = random_tensor({1, C3, 8, 8}, 8401 + C3);
    const kern::ConvPrepared u3 = kern::conv2d_prepare(w3, 1);
    const ConvGeom g3 = ConvGeom::make(1, C3, 8, 8, K, 3, 3, 1, 1);
    CHECK((u3.wino->has(4) && !u3.wino->has(2)));
    Tensor y4 = Tensor::full({1, K, 8, 8}, NAN);
    kern::conv2d_forward_fused(g3, x3, w3, &u3, &b, nullptr, true, y4);
    CHECK(u3.wino->has(2));
    Tensor want = ag::relu(ag::conv2d(x3.to(DType::F64), w3.to(DType::F64), b.to(DType::F64), 1, 1));
    check_close("F(2x2) made late", y4, want, winograd_atol(2) * std::sqrt(9.0 * C3), 1e-5);
  }
}
