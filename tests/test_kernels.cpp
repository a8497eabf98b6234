// The fast CPU kernels (cpu/f32, through the dispatch table) against the reference kernels (cpu/f64) on odd shapes:
// convolution (forward, both backwards; every GEMM micro-kernel forced in turn), im2col, BatchNorm, ReLU, pools,
// losses, the cell gather, Adam.
#include "autograd/ops.h"
#include "kernels/cpu/cpu.h"
#include "kernels/dispatch.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

#include <tuple>

namespace {

struct ConvCase { int N, C, H, W, K, R, S, stride, pad; };
const ConvCase kConvCases[] = {
    {1, 3, 7, 7, 5, 7, 7, 2, 3},      // the stem's 7x7/2 pad 3
    {3, 5, 9, 11, 7, 3, 3, 1, 1},     // 3x3 pad 1, batch 3, odd H != W
    {3, 5, 9, 11, 7, 3, 3, 2, 1},     // 3x3 stride 2
    {1, 7, 13, 13, 65, 1, 1, 1, 0},   // pointwise: skips im2col
    {2, 65, 7, 7, 63, 1, 1, 2, 0},    // the downsample's 1x1/2
    {1, 63, 15, 15, 129, 3, 3, 2, 1}, // wide
    {2, 1, 1, 1, 1, 1, 1, 1, 0},      // everything 1
    {1, 3, 5, 6, 2, 3, 3, 1, 0},      // unpadded
    {1, 129, 4, 4, 7, 3, 3, 1, 1},    // deep reduction
    // big enough for the GEMM's own paths, each with im2col windows: several K blocks and panel groups (small M),
    // more than 256 output channels (the general path), stride 2 windows across output rows
    {1, 40, 20, 23, 9, 3, 3, 1, 1},
    {1, 6, 17, 19, 300, 3, 3, 1, 1},
    {2, 16, 33, 31, 20, 3, 3, 2, 1},
    // a 1x1 of stride 3 (the strided pointwise path's general copy); at batch 1 images big enough that the parity
    // planes (3x3/2) and the subsampled image (1x1/2) are made by all threads
    {2, 9, 10, 11, 5, 1, 1, 3, 0},
    {1, 17, 65, 63, 9, 3, 3, 2, 1},
    {1, 64, 64, 66, 20, 1, 1, 2, 0},
    // the padded phase planes' corners: padding wider than half the kernel, R != S, a padded 1x1, stride 3 (nine
    // planes), an image smaller than the stride
    {1, 4, 6, 5, 3, 3, 3, 1, 2},
    {2, 3, 9, 8, 4, 3, 5, 2, 2},
    {1, 5, 7, 7, 6, 1, 1, 1, 1},
    {1, 4, 11, 10, 3, 3, 3, 3, 1},
    {1, 2, 1, 1, 3, 3, 3, 2, 1},
    // more than 256 output channels at batch 2: the GEMM's general path on each image's thread, with no team of its own
    {2, 6, 9, 7, 300, 3, 3, 1, 1},
    // the column matrix read straight from the image (stride 2 or more, output rows of 16 or more): a stem-like 7x7/2
    // with an odd width (padding on both edges of each run), and stride 3 (the scalar gather)
    {1, 3, 40, 37, 8, 7, 7, 2, 3},
    {1, 3, 50, 52, 7, 3, 3, 3, 1},
};

void conv_sweep(const char* kernel) {
  if (!cpu::gemm_force(kernel)) SKIP_TEST(std::string("this CPU lacks the ") + kernel + " micro-kernel");
  uint64_t seed = 1;
  for (const ConvCase& c : kConvCases) {
    ConvGeom g = ConvGeom::make(c.N, c.C, c.H, c.W, c.K, c.R, c.S, c.stride, c.pad);
    INFO("kernel " << kernel << " conv N=" << c.N << " C=" << c.C << " H=" << c.H << " W=" << c.W << " K=" << c.K
                   << " R=" << c.R << " S=" << c.S << " stride=" << c.stride << " pad=" << c.pad);
    Tensor x = random_tensor({g.N, g.C, g.H, g.W}, seed++), w = random_tensor({g.K, g.C, g.R, g.S}, seed++);
    Tensor b = random_tensor({g.K}, seed++), dy = random_tensor({g.N, g.K, g.P, g.Q}, seed++);
    Tensor xd = x.to(DType::F64), wd = w.to(DType::F64), bd = b.to(DType::F64), dyd = dy.to(DType::F64);
    const double atol = 2e-5 * std::sqrt((double)g.C * g.R * g.S), rtol = 1e-5;

    Tensor y = Tensor::empty({g.N, g.K, g.P, g.Q}), yd = Tensor::empty(y.shape(), DType::F64);
    kern::conv2d_forward(g, x, w, &b, y);
    kern::conv2d_forward(g, xd, wd, &bd, yd);
    check_close("conv forward", y, yd, atol, rtol);

    // Backwards accumulate: start both from the same non-zero gradient.
    Tensor dx0 = random_tensor(x.shape(), seed++), dw0 = random_tensor(w.shape(), seed++), db0 = random_tensor({g.K}, seed++);
    Tensor dx = dx0.clone(), dxd = dx0.to(DType::F64), dw = dw0.clone(), dwd = dw0.to(DType::F64);
    Tensor db = db0.clone(), dbd = db0.to(DType::F64);
    kern::conv2d_backward_input(g, dy, w, dx);
    kern::conv2d_backward_input(g, dyd, wd, dxd);
    check_close("conv backward input", dx, dxd, 2e-5 * std::sqrt((double)g.K * g.R * g.S), rtol);
    kern::conv2d_backward_weight(g, x, dy, dw, &db);
    kern::conv2d_backward_weight(g, xd, dyd, dwd, &dbd);
    check_close("conv backward weight", dw, dwd, 2e-5 * std::sqrt((double)g.N * g.P * g.Q), rtol);
    check_close("conv backward bias", db, dbd, 2e-5 * std::sqrt((double)g.N * g.P * g.Q), rtol);
  }
  cpu::gemm_force("auto");
}

}  // namespace

TEST_CASE("conv2d with sgemm v1 generic matches direct convolution", "[kernels]") { conv_sweep("generic"); }
TEST_CASE("conv2d with sgemm v2 avx2 matches direct convolution", "[kernels]") { conv_sweep("avx2"); }
TEST_CASE("conv2d with sgemm v3 avx2 4x24 matches direct convolution", "[kernels]") { conv_sweep("avx2_4x24"); }
TEST_CASE("conv2d with sgemm v4 avx512 matches direct convolution", "[kernels]") { conv_sweep("avx512"); }
TEST_CASE("conv2d with sgemm v4 built without AVX-512 matches direct convolution", "[kernels]") { conv_sweep("avx512_emul"); }
TEST_CASE("conv2d with sgemm v5 avx512 8x32 matches direct convolution", "[kernels]") { conv_sweep("avx512_8x32"); }
TEST_CASE("conv2d with sgemm v5 8x32 built without AVX-512 matches direct convolution", "[kernels]") {
  conv_sweep("avx512_8x32_emul");
}
TEST_CASE("conv2d with sgemm v6 avx512 6x64 matches direct convolution", "[kernels]") { conv_sweep("avx512_6x64"); }
TEST_CASE("conv2d with sgemm v6 6x64 built without AVX-512 matches direct convolution", "[kernels]") {
  conv_sweep("avx512_6x64_emul");
}

TEST_CASE("im2col and col2im match the reference / and col2im is im2col's adjoint", "[kernels]") {
  for (const ConvCase& c : kConvCases) {
    ConvGeom g = ConvGeom::make(1, c.C, c.H, c.W, c.K, c.R, c.S, c.stride, c.pad);
    const int64_t rows = (int64_t)g.C * g.R * g.S, cols = (int64_t)g.P * g.Q;
    std::vector<float> x = random_vec((size_t)g.C * g.H * g.W, 5), col(rows * cols), colr(rows * cols);
    cpu::im2col_window(g, x.data(), 0, (int)rows, 0, (int)cols, col.data(), cols);  // the whole matrix
    ref::im2col<float>(g, x.data(), colr.data());
    REQUIRE(col == colr);  // a pure copy: bit-exact
    // windows (what the GEMM asks for: any rows, any columns across output rows) equal the same part of the whole
    for (int t = 0; t < 20; t++) {
      const int r0 = (int)((t * 7919) % rows), nr = 1 + (int)((t * 104729) % (rows - r0));
      const int j0 = (int)((t * 613) % cols), nc = 1 + (int)((t * 1223) % (cols - j0));
      std::vector<float> win((size_t)nr * (nc + 3), -1.0f);
      cpu::im2col_window(g, x.data(), r0, nr, j0, nc, win.data(), nc + 3);
      for (int i = 0; i < nr; i++)
        for (int j = 0; j < nc + 3; j++)
          REQUIRE(win[(size_t)i * (nc + 3) + j] == (j < nc ? col[(size_t)(r0 + i) * cols + j0 + j] : -1.0f));
    }
    std::vector<float> dcol = random_vec(rows * cols, 6), dx(x.size(), 0.0f), dxr(x.size(), 0.0f);
    cpu::col2im(g, dcol.data(), dx.data());
    ref::col2im<float>(g, dcol.data(), dxr.data());
    check_close("col2im", dx.data(), dxr.data(), dx.size(), 1e-6, 1e-6);
    // <im2col(x), dcol> == <x, col2im(dcol)>
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < rows * cols; i++) lhs += (double)col[i] * dcol[i];
    for (size_t i = 0; i < x.size(); i++) rhs += (double)x[i] * dx[i];
    CHECK(lhs == Approx(rhs).epsilon(1e-5));
  }
}

TEST_CASE("batchnorm train/eval forward and backward match the reference", "[kernels]") {
  const int shapes[][3] = {{1, 1, 1}, {3, 7, 63}, {2, 65, 1}, {16, 3, 129}, {1, 5, 1024}};
  uint64_t seed = 10;
  for (auto& s : shapes) {
    const int N = s[0], C = s[1], HW = s[2];
    INFO("batchnorm N=" << N << " C=" << C << " HW=" << HW);
    Tensor x = random_tensor({N, C, HW, 1}, seed++, DType::F32, -2, 3), dy = random_tensor(x.shape(), seed++);
    Tensor g = random_tensor({C}, seed++, DType::F32, 0.5, 1.5), b = random_tensor({C}, seed++);
    Tensor rm = random_tensor({C}, seed++), rv = random_tensor({C}, seed++, DType::F32, 0.5, 2);
    Tensor xd = x.to(DType::F64), dyd = dy.to(DType::F64), gd = g.to(DType::F64), bd = b.to(DType::F64);
    Tensor rmd = rm.to(DType::F64), rvd = rv.to(DType::F64);
    Tensor y = Tensor::empty(x.shape()), yd = Tensor::empty(x.shape(), DType::F64);
    Tensor sm = Tensor::empty({C}), si = Tensor::empty({C}), smd = Tensor::empty({C}, DType::F64), sid = Tensor::empty({C}, DType::F64);
    kern::batchnorm_forward_train(x, g, b, 1e-5, 0.1, &rm, &rv, y, sm, si);
    kern::batchnorm_forward_train(xd, gd, bd, 1e-5, 0.1, &rmd, &rvd, yd, smd, sid);
    // N*HW == 1 gives var 0 and invstd = 1/sqrt(eps) = 316: outputs are then large, so rtol carries it.
    check_close("bn train y", y, yd, 1e-5, 1e-4);
    check_close("bn running_mean", rm, rmd, 1e-6, 1e-5);
    check_close("bn running_var", rv, rvd, 1e-6, 1e-5);
    Tensor dx = Tensor::zeros(x.shape()), dxd = Tensor::zeros(x.shape(), DType::F64);
    Tensor dg = Tensor::zeros({C}), dgd = Tensor::zeros({C}, DType::F64), db = Tensor::zeros({C}), dbd = Tensor::zeros({C}, DType::F64);
    kern::batchnorm_backward(x, dy, g, sm, si, dx, dg, db);
    kern::batchnorm_backward(xd, dyd, gd, smd, sid, dxd, dgd, dbd);
    check_close("bn dx", dx, dxd, 1e-4, 1e-4);
    check_close("bn dgamma", dg, dgd, 1e-4, 1e-4);
    check_close("bn dbeta", db, dbd, 1e-5, 1e-5);
    kern::batchnorm_forward_eval(x, g, b, 1e-5, rm, rv, y);
    kern::batchnorm_forward_eval(xd, gd, bd, 1e-5, rmd, rvd, yd);
    check_close("bn eval y", y, yd, 1e-5, 1e-5);
    dx.fill_(0); dxd.fill_(0); dg.fill_(0); dgd.fill_(0); db.fill_(0); dbd.fill_(0);
    kern::batchnorm_backward_eval(x, dy, g, rm, rv, 1e-5, dx, dg, db);
    kern::batchnorm_backward_eval(xd, dyd, gd, rmd, rvd, 1e-5, dxd, dgd, dbd);
    check_close("bn eval dx", dx, dxd, 1e-5, 1e-5);
    check_close("bn eval dgamma", dg, dgd, 1e-4, 1e-4);
  }
}

TEST_CASE("relu / add / pools / losses and the cell gather match the reference", "[kernels]") {
  uint64_t seed = 40;
  // (the last two: pools 16 outputs wide with a ragged end, for the AVX-512 row loop)
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{3, 7, 9, 11}, Shape{2, 65, 15, 15}, Shape{1, 3, 129, 63}, Shape{1, 2, 6, 70},
                  Shape{2, 3, 7, 33}}) {
    INFO("shape " << s.str());
    Tensor x = random_tensor(s, seed++), t = random_tensor(s, seed++), dy = random_tensor(s, seed++);
    Tensor xd = x.to(DType::F64), td = t.to(DType::F64), dyd = dy.to(DType::F64);
    Tensor y = Tensor::empty(s), yd = Tensor::empty(s, DType::F64);
    kern::relu_forward(x, y); kern::relu_forward(xd, yd);
    check_close("relu", y, yd, 0, 0);
    Tensor dx = Tensor::zeros(s), dxd = Tensor::zeros(s, DType::F64);
    kern::relu_backward(y, dy, dx); kern::relu_backward(yd, dyd, dxd);
    check_close("relu backward", dx, dxd, 0, 0);
    kern::add(x, t, y); kern::add(xd, td, yd);
    check_close("add", y, yd, 1e-7, 1e-7);
    CHECK(kern::mse_loss(x, t) == Approx(kern::mse_loss(xd, td)).epsilon(1e-6));
    CHECK(kern::l1_loss(x, t) == Approx(kern::l1_loss(xd, td)).epsilon(1e-6));
    dx.fill_(0); dxd.fill_(0);
    kern::mse_loss_backward(x, t, 0.7, dx); kern::mse_loss_backward(xd, td, 0.7, dxd);
    check_close("mse backward", dx, dxd, 1e-9, 1e-6);
    dx.fill_(0); dxd.fill_(0);
    kern::l1_loss_backward(x, t, 0.7, dx); kern::l1_loss_backward(xd, td, 0.7, dxd);
    check_close("l1 backward", dx, dxd, 1e-9, 1e-6);

    for (int k : {3, 2}) {  // the stem's 3x3/2 pad 1, and GSSL's 2x2/2
      PoolGeom g = PoolGeom::make(s[0], s[1], s[2], s[3], k, 2, k == 3 ? 1 : 0);
      if (g.P <= 0 || g.Q <= 0) continue;
      Tensor p = Tensor::empty({g.N, g.C, g.P, g.Q}), pd = Tensor::empty(p.shape(), DType::F64);
      kern::maxpool_forward(g, xd, pd);
      for (const char* rows : {"sse", "avx512"}) {  // the 3x3/2 row loops (AVX-512 where the CPU has it)
        if (!cpu::maxpool_force(rows)) continue;
        INFO("row loop " << rows);
        kern::maxpool_forward(g, x, p);
        check_close("maxpool", p, pd, 0, 0);
      }
      cpu::maxpool_force("auto");
      Tensor dp = random_tensor(p.shape(), seed++), dpd = dp.to(DType::F64);
      dx.fill_(0); dxd.fill_(0);
      kern::maxpool_backward(g, x, dp, dx); kern::maxpool_backward(g, xd, dpd, dxd);
      check_close("maxpool backward", dx, dxd, 1e-7, 1e-7);
    }
    Tensor a = Tensor::empty({s[0], s[1]}), ad = Tensor::empty({s[0], s[1]}, DType::F64);
    kern::avgpool_forward(x, a); kern::avgpool_forward(xd, ad);
    check_close("avgpool", a, ad, 1e-6, 1e-6);
    dx.fill_(0); dxd.fill_(0);
    kern::avgpool_backward(a, dx); kern::avgpool_backward(ad, dxd);
    check_close("avgpool backward", dx, dxd, 1e-7, 1e-6);
  }
  // gather: 2 samples, 3 landmarks x rep 2 channels, 4x4 cells
  Tensor x = random_tensor({2, 6, 4, 4}, 77);
  Tensor cell = Tensor::empty({2, 3}, DType::I32);
  int32_t cells[6] = {0, 5, 15, 3, 3, 12};
  for (int i = 0; i < 6; i++) cell.data<int32_t>()[i] = cells[i];
  Tensor y = Tensor::empty({2, 6});
  kern::gather_cells(x, cell, 2, y);
  for (int b = 0; b < 2; b++)
    for (int c = 0; c < 6; c++) CHECK(y.data<float>()[b * 6 + c] == x.data<float>()[(b * 6 + c) * 16 + cells[b * 3 + c / 2]]);
}

TEST_CASE("adam: one step equals the reference and hand-computed values", "[kernels]") {
  // p = 2, g = 0.1, lr 0.1, wd 0.5, betas (0.9, 0.999), eps 1e-8.
  // Step 1: g' = 0.1 + 0.5*2 = 1.1, m = 0.11, v = 0.00121, m^ = 1.1, v^ = 1.21 -> p = 2 - 0.1*1.1/1.1 = 1.9.
  // Step 2, g = -0.3: g' = -0.3 + 0.95 = 0.65, m = 0.099 + 0.065 = 0.164, v = 0.00120879 + 0.0004225 = 0.00163129,
  //   m^ = 0.164/0.19 = 0.8631579, v^ = 0.00163129/0.001999 = 0.8160530, sqrt 0.9033565
  //   -> p = 1.9 - 0.1 * 0.8631579/0.9033565 = 1.8044500.
  Tensor p = Tensor::full({1}, 2.0), g = Tensor::full({1}, 0.1), m = Tensor::zeros({1}), v = Tensor::zeros({1});
  kern::adam_step(p, g, m, v, {0.1, 0.9, 0.999, 1e-8, 0.5, 1});
  CHECK(p.item() == Approx(1.9).epsilon(1e-6));
  g.fill_(-0.3);
  kern::adam_step(p, g, m, v, {0.1, 0.9, 0.999, 1e-8, 0.5, 2});
  CHECK(p.item() == Approx(1.8044500).epsilon(1e-6));
  // and on a larger tensor the fast kernel equals the reference
  Tensor P = random_tensor({1000}, 1), G = random_tensor({1000}, 2), M = random_tensor({1000}, 3);
  Tensor V = random_tensor({1000}, 4, DType::F32, 0, 1);
  Tensor Pd = P.to(DType::F64), Gd = G.to(DType::F64), Md = M.to(DType::F64), Vd = V.to(DType::F64);
  for (int64_t t = 1; t <= 3; t++) {
    kern::adam_step(P, G, M, V, {1e-3, 0.9, 0.999, 1e-8, 5e-4, t});
    kern::adam_step(Pd, Gd, Md, Vd, {1e-3, 0.9, 0.999, 1e-8, 5e-4, t});
  }
  check_close("adam p", P, Pd, 1e-6, 1e-6);
}

TEST_CASE("leaky relu forward / backward match the reference on odd sizes (slopes 0.01, 0.2, 0, -0.5)", "[kernels]") {
  uint64_t seed = 70;
  for (int64_t n : {1, 7, 63, 65, 127, 129, 3 * 7 * 9 * 11, 70001}) {  // the last above the OpenMP threshold
    for (double slope : {0.01, 0.2, 0.0, -0.5}) {
      INFO("n " << n << " slope " << slope << " seed " << seed);
      Tensor x = random_tensor({n}, seed++), dy = random_tensor({n}, seed++), dx0 = random_tensor({n}, seed++);
      x.data<float>()[0] = 0.0f;  // the kink itself: the slope side, as PyTorch
      Tensor xd = x.to(DType::F64), dyd = dy.to(DType::F64);
      Tensor y = Tensor::empty({n}), yd = Tensor::empty({n}, DType::F64);
      kern::leaky_relu_forward(slope, x, y);
      kern::leaky_relu_forward(slope, xd, yd);
      // One float product per element against the same product in double: the slope rounded to float (2^-24
      // relative) and the product's rounding (2^-24) make at most 2^-23 = 1.2e-7 relative; x > 0 is bit-exact.
      check_close("leaky relu", y, yd, 0, 2.5e-7);
      Tensor dx = dx0.clone(), dxd = dx0.to(DType::F64);  // the backward accumulates
      kern::leaky_relu_backward(slope, x, dy, dx);
      kern::leaky_relu_backward(slope, xd, dyd, dxd);
      check_close("leaky relu backward", dx, dxd, 2e-7, 2.5e-7);  // the same, plus one float addition into dx
    }
  }
}

TEST_CASE("windowed avgpool and channel concatenation match the reference on odd shapes", "[kernels]") {
  uint64_t seed = 90;
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{1, 3, 7, 7}, Shape{3, 5, 9, 11}, Shape{2, 7, 63, 65}, Shape{1, 128, 8, 8},
                  Shape{2, 3, 129, 5}}) {
    // (k, stride, pad): FaceBoxes' 3x3/1 pad 1, a 2x2/2, a 3x3/2 pad 1, 1x1, and 7x7/1 pad 3
    for (auto [k, stride, pad] : {std::tuple{3, 1, 1}, {2, 2, 0}, {3, 2, 1}, {1, 1, 0}, {7, 1, 3}}) {
      PoolGeom g = PoolGeom::make(s[0], s[1], s[2], s[3], k, stride, pad);
      if (g.P <= 0 || g.Q <= 0) continue;
      INFO("shape " << s.str() << " k " << k << " stride " << stride << " pad " << pad << " seed " << seed);
      Tensor x = random_tensor(s, seed++), xd = x.to(DType::F64);
      Tensor y = Tensor::empty({g.N, g.C, g.P, g.Q}), yd = Tensor::empty(y.shape(), DType::F64);
      kern::avgpool2d_forward(g, x, y);
      kern::avgpool2d_forward(g, xd, yd);
      // a float sum of at most k*k values in [-1, 1] (each addition rounds: k*k * 2^-24 of the sum's scale), then
      // one division: absolute 6e-8 * k*k, relative 2.5e-7
      check_close("avgpool2d", y, yd, 6e-8 * k * k, 2.5e-7);
      Tensor dy = random_tensor(y.shape(), seed++), dyd = dy.to(DType::F64);
      Tensor dx0 = random_tensor(s, seed++), dx = dx0.clone(), dxd = dx0.to(DType::F64);  // the backward accumulates
      kern::avgpool2d_backward(g, dy, dx);
      kern::avgpool2d_backward(g, dyd, dxd);
      check_close("avgpool2d backward", dx, dxd, 1.2e-7 * (k * k + 1), 2.5e-7);  // up to k*k additions of |sum| <= 2
    }
    // concatenation: x into channels [c0, c0 + C) of a wider y whose other channels must stay as they were
    for (int c0 : {0, 2}) {
      const int64_t Ctot = s[1] + 5;
      INFO("concat shape " << s.str() << " at channel " << c0);
      Tensor x = random_tensor(s, seed++), y0 = random_tensor({s[0], Ctot, s[2], s[3]}, seed++);
      Tensor y = y0.clone(), yd = y0.to(DType::F64);
      kern::concat_channels_forward(c0, x, y);
      kern::concat_channels_forward(c0, x.to(DType::F64), yd);
      check_close("concat", y, yd, 0, 0);  // copies: bit-exact, and the other channels untouched
      Tensor dx0 = random_tensor(s, seed++), dx = dx0.clone(), dxd = dx0.to(DType::F64);
      kern::concat_channels_backward(c0, y0, dx);
      kern::concat_channels_backward(c0, y0.to(DType::F64), dxd);
      check_close("concat backward", dx, dxd, 0, 2.5e-7);  // one float addition
    }
  }
  Tensor x = Tensor::zeros({1, 3, 4, 4}), y = Tensor::zeros({1, 4, 4, 4});
  CHECK_THROWS_AS(kern::concat_channels_forward(2, x, y), Error);  // 2 + 3 channels do not fit in 4
}

// ---- depthwise convolution: each build of the plane loops (generic, avx2, avx512) against the reference ----------
namespace {

// Sentinels around an output buffer: a kernel that writes past either end of its plane range is caught.
constexpr int kGuard = 37;
constexpr float kSentinel = -12345.0f;
std::vector<float> guarded(const std::vector<float>& v) {
  std::vector<float> g(v.size() + 2 * kGuard, kSentinel);
  std::copy(v.begin(), v.end(), g.begin() + kGuard);
  return g;
}
void check_guards(const char* what, const std::vector<float>& g) {
  INFO(what << ": guard band");
  for (int i = 0; i < kGuard; i++) {
    REQUIRE(g[i] == kSentinel);
    REQUIRE(g[g.size() - 1 - i] == kSentinel);
  }
}
std::vector<double> widen(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

void depthwise_case(const ConvGeom& g, uint64_t seed, bool bias) {
  const size_t nx = (size_t)g.N * g.C * g.H * g.W, ny = (size_t)g.N * g.C * g.P * g.Q, nw = (size_t)g.C * g.R * g.S;
  std::vector<float> x = random_vec(nx, seed), w = random_vec(nw, seed + 1), b = random_vec(g.C, seed + 2);
  std::vector<float> dy = random_vec(ny, seed + 3), dx0 = random_vec(nx, seed + 4), dw0 = random_vec(nw, seed + 5);
  std::vector<float> db0 = random_vec(g.C, seed + 6);
  std::vector<double> xd = widen(x), wd = widen(w), bd = widen(b), dyd = widen(dy);
  // Float sums of `terms` products of values in [-1, 1]: each addition rounds by at most 2^-24 of a partial sum no
  // larger than `terms`, and random signs keep the sums near sqrt(terms); 3e-7 * terms covers that with room.
  const double rtol = 1e-6;
  std::vector<float> y = guarded(std::vector<float>(ny, 0.0f));
  std::vector<double> yd(ny);
  cpu::depthwise_forward(g, x.data(), w.data(), bias ? b.data() : nullptr, y.data() + kGuard);
  ref::depthwise_forward<double>(g, xd.data(), wd.data(), bias ? bd.data() : nullptr, yd.data());
  check_guards("forward", y);
  check_close("depthwise forward", y.data() + kGuard, yd.data(), ny, 3e-7 * (g.R * g.S + 1), rtol);

  std::vector<float> dx = guarded(dx0);  // the backwards accumulate: start from non-zero gradients
  std::vector<double> dxd = widen(dx0);
  cpu::depthwise_backward_input(g, dy.data(), w.data(), dx.data() + kGuard);
  ref::depthwise_backward_input<double>(g, dyd.data(), wd.data(), dxd.data());
  check_guards("backward input", dx);
  check_close("depthwise backward input", dx.data() + kGuard, dxd.data(), nx, 3e-7 * (g.R * g.S + 1), rtol);

  std::vector<float> dw = guarded(dw0), db = guarded(db0);
  std::vector<double> dwd = widen(dw0), dbd = widen(db0);
  cpu::depthwise_backward_weight(g, x.data(), dy.data(), dw.data() + kGuard, bias ? db.data() + kGuard : nullptr);
  ref::depthwise_backward_weight<double>(g, xd.data(), dyd.data(), dwd.data(), bias ? dbd.data() : nullptr);
  check_guards("backward weight", dw);
  check_guards("backward bias", db);
  const double terms = (double)g.N * g.P * g.Q + 1;
  check_close("depthwise backward weight", dw.data() + kGuard, dwd.data(), nw, 3e-7 * terms, rtol);
  if (bias) check_close("depthwise backward bias", db.data() + kGuard, dbd.data(), g.C, 3e-7 * terms, rtol);
  else check_close("depthwise backward bias untouched", db.data() + kGuard, db0.data(), g.C, 0, 0);
}

void depthwise_sweep(const char* version) {
  if (!cpu::depthwise_force(version)) SKIP_TEST(std::string("this CPU lacks the ") + version + " depthwise build");
  REQUIRE(std::string(cpu::depthwise_active()) == version);
  uint64_t seed = 1000;
  int cases = 0;
  for (int C : {1, 3, 17, 33})
    for (auto [H, W] : {std::pair{1, 1}, {2, 3}, {5, 5}, {7, 13}, {13, 7}, {8, 8}})
      for (int k : {3, 5})
        for (int stride : {1, 2})
          for (int pad : {0, (k - 1) / 2, k - 1})
            for (int N : {1, 2}) {
              ConvGeom g = ConvGeom::make(N, C, H, W, C, k, k, stride, pad);
              if (g.P <= 0 || g.Q <= 0) continue;
              INFO(version << " depthwise N=" << N << " C=" << C << " H=" << H << " W=" << W << " k=" << k
                           << " stride=" << stride << " pad=" << pad << " seed=" << seed);
              depthwise_case(g, seed, (seed / 8) % 2 == 0);
              seed += 8;
              cases++;
            }
  // MobileNetV2-like planes: long rows (several vectors and a ragged tail), many planes for OpenMP, 3x3 pad 1
  for (auto [N, C, H, W, stride] : {std::tuple{2, 40, 65, 63, 1}, {2, 40, 65, 63, 2}, {3, 96, 16, 16, 2}, {1, 24, 32, 32, 1}}) {
    ConvGeom g = ConvGeom::make(N, C, H, W, C, 3, 3, stride, 1);
    INFO(version << " depthwise N=" << N << " C=" << C << " H=" << H << " W=" << W << " stride=" << stride);
    depthwise_case(g, seed, false);
    seed += 8;
    cases++;
  }
  CHECK(cases > 500);
  cpu::depthwise_force("auto");
}

}  // namespace

TEST_CASE("depthwise conv, generic build: forward and both backwards match the reference", "[kernels]") {
  depthwise_sweep("generic");
}
TEST_CASE("depthwise conv, avx2 build: forward and both backwards match the reference", "[kernels]") {
  depthwise_sweep("avx2");
}
TEST_CASE("depthwise conv, avx512 build: forward and both backwards match the reference", "[kernels]") {
  depthwise_sweep("avx512");
}

TEST_CASE("depthwise conv: dispatch forced and automatic / refuses a weight that is not [C, 1, R, S]", "[kernels]") {
  CHECK_FALSE(cpu::depthwise_force("sse9"));
  REQUIRE(cpu::depthwise_force("auto"));
  const std::string widest = cpu::cpu_has_avx512f() ? "avx512" : cpu::cpu_has_avx2_fma() ? "avx2" : "generic";
  CHECK(cpu::depthwise_active() == widest);
  CHECK(kern::impl_name("depthwise_forward", Tensor::zeros({1})) == "cpu/f32: plane loops, omp over N*C [" + widest + "]");
  Tensor x = random_tensor({1, 4, 5, 5}, 1), w = random_tensor({4, 2, 3, 3}, 2), w3 = random_tensor({3, 1, 3, 3}, 3);
  CHECK_THROWS_AS(ag::depthwise_conv2d(x, w, Tensor(), 1, 1), Error);
  CHECK_THROWS_AS(ag::depthwise_conv2d(x, w3, Tensor(), 1, 1), Error);
  // the op against the reference through autograd's own path, with a bias
  Tensor wg = random_tensor({4, 1, 3, 3}, 4), b = random_tensor({4}, 5);
  Tensor y = ag::depthwise_conv2d(x, wg, b, 2, 1);
  Tensor yd = ag::depthwise_conv2d(x.to(DType::F64), wg.to(DType::F64), b.to(DType::F64), 2, 1);
  CHECK(y.shape() == Shape{1, 4, 3, 3});
  check_close("depthwise op", y, yd, 3e-6, 1e-6);
}

TEST_CASE("relu6 forward / backward match the reference on odd sizes, 0 and 6 exactly giving no gradient", "[kernels]") {
  uint64_t seed = 90;
  for (int64_t n : {1, 7, 63, 65, 127, 129, 3 * 7 * 9 * 11, 70001}) {  // the last above the OpenMP threshold
    INFO("n " << n << " seed " << seed);
    Tensor x = random_tensor({n}, seed++, DType::F32, -3, 9), dy = random_tensor({n}, seed++), dx0 = random_tensor({n}, seed++);
    x.data<float>()[0] = 0.0f;                // the kinks themselves: no gradient, as PyTorch's hardtanh_backward
    if (n > 1) x.data<float>()[1] = 6.0f;
    Tensor xd = x.to(DType::F64), dyd = dy.to(DType::F64);
    Tensor y = Tensor::empty({n}), yd = Tensor::empty({n}, DType::F64);
    kern::relu6_forward(x, y);
    kern::relu6_forward(xd, yd);
    check_close("relu6", y, yd, 0, 0);  // a clamp: bit-exact
    Tensor dx = dx0.clone(), dxd = dx0.to(DType::F64);
    kern::relu6_backward(y, dy, dx);
    kern::relu6_backward(yd, dyd, dxd);
    check_close("relu6 backward", dx, dxd, 0, 1.2e-7);  // one float addition
    CHECK(dx.data<float>()[0] == dx0.data<float>()[0]);
    if (n > 1) CHECK(dx.data<float>()[1] == dx0.data<float>()[1]);
  }
}

TEST_CASE("dispatch: names each implementation and refuses a missing one loudly", "[kernels]") {
  Tensor f = Tensor::zeros({1}), d = Tensor::zeros({1}, DType::F64);
  CHECK(kern::impl_name("conv2d_forward", f).find("cpu/f32: im2col + sgemm") == 0);
  CHECK(kern::impl_name("conv2d_forward", d) == "cpu/f64: ref direct loops");
  const std::string table = kern::dispatch_table();
  for (const char* op : {"conv2d_forward", "conv2d_relu_maxpool", "conv2d_backward_input", "conv2d_backward_weight", "batchnorm_forward_train",
                         "batchnorm_forward_eval", "batchnorm_backward", "batchnorm_backward_eval", "relu_forward",
                         "relu_backward", "relu6_forward", "relu6_backward", "depthwise_forward",
                         "depthwise_backward_input", "depthwise_backward_weight", "leaky_relu_forward", "leaky_relu_backward", "add", "accumulate", "axpy",
                         "maxpool_forward", "maxpool_backward", "avgpool_forward", "avgpool_backward", "avgpool2d_forward",
                         "avgpool2d_backward", "concat_channels_forward", "concat_channels_backward", "mse_loss",
                         "mse_loss_backward", "l1_loss", "l1_loss_backward", "gather_cells", "gather_cells_backward",
                         "adam_step", "sgd_step"}) {
    INFO(op);
    CHECK(table.find(std::string(op) + " ") != std::string::npos);
    CHECK(kern::impl_name(op, d).rfind("cpu/f64: ref ", 0) == 0);
  }
  CHECK(kern::impl_name("leaky_relu_forward", f) == "cpu/f32: omp simd");
  Tensor i = Tensor::zeros({1}, DType::I32);  // no op takes i32 data: the F32 entry would misread it
  CHECK_THROWS_AS(kern::relu_forward(i, i), Error);
}

TEST_CASE("maxpool 3x3/2 skips NaN as the reference does, in its vector paths too (SSE, AVX-512)", "[kernels]") {
  // A whole window of NaN gives -inf; a NaN beside numbers is passed over. W = 21: Q = 11, so both the four-wide
  // path and the tail run.
  const Shape s{2, 3, 9, 21};
  Tensor x = random_tensor(s, 977);
  float* p = x.data<float>();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t i = 0; i < x.numel(); i += 7) p[i] = nan;
  for (int h = 0; h < 3; h++)
    for (int w = 0; w < 3; w++) p[h * 21 + w] = nan;  // output (0, 0)'s window: rows and columns -1..1, all NaN
  PoolGeom g = PoolGeom::make(2, 3, 9, 21, 3, 2, 1);
  Tensor y = Tensor::empty({g.N, g.C, g.P, g.Q}), yd = Tensor::empty(y.shape(), DType::F64);
  kern::maxpool_forward(g, x.to(DType::F64), yd);
  const Tensor want = yd.to(DType::F32);
  const float* w = want.data<float>();
  int loops = 0;
  for (const char* rows : {"sse", "avx512"}) {  // both row loops, where the CPU has them
    if (!cpu::maxpool_force(rows)) continue;
    INFO("row loop " << rows);
    loops++;
    kern::maxpool_forward(g, x, y);
    const std::vector<float> got = y.to_vector();
    CHECK(got[0] == -std::numeric_limits<float>::infinity());
    for (size_t i = 0; i < got.size(); i++) {
      INFO("output " << i);
      REQUIRE(!std::isnan(got[i]));
      REQUIRE(got[i] == w[i]);
    }
  }
  cpu::maxpool_force("auto");
  CHECK(loops >= 1);
  CHECK_FALSE(cpu::maxpool_force("sse9"));
}

// Inference's stem in one op (kern::conv2d_relu_maxpool): against the reference in double, and bit for bit against
// the CPU's two ops in turn (the same FMAs in the same order on each band of rows, and max is exact), on each path:
// the direct stem (AVX-512 where the CPU has it, and its baseline build everywhere; output channels a multiple of
// 64) and im2col + GEMM. Batch 1 splits each image's pooled rows across the threads, larger batches the images;
// bands of a few rows keep the rows two pool windows share. Shapes neither path takes run the two ops.
TEST_CASE("conv + ReLU + maxpool in one op equals the ops in turn, every path, band and share", "[kernels]") {
  uint64_t seed = 8100;
  for (auto [N, C, H, W, K, k, stride, pad, pk, ps, pp] :
       {std::tuple{1, 3, 64, 70, 64, 7, 2, 3, 3, 2, 1},  // the stem's shape, small: bands, two shares
        {3, 4, 40, 37, 64, 3, 2, 1, 3, 2, 1},             // batch above the threads: an image each
        {1, 2, 35, 64, 128, 3, 2, 1, 2, 2, 0},            // a pool with no shared rows; two blocks of 64 channels
        {1, 3, 50, 52, 64, 3, 3, 1, 3, 1, 1},             // stride 3; a stride-1 pool (rows shared by three windows)
        {1, 3, 9, 9, 64, 3, 1, 1, 3, 2, 1},               // stride 1: the direct path only
        {1, 3, 64, 70, 16, 7, 2, 3, 3, 2, 1},             // 16 channels: the GEMM path only
        {2, 3, 30, 34, 300, 5, 2, 2, 3, 2, 1},            // more than 256 channels: the GEMM's general path
        {2, 3, 20, 20, 4, 3, 2, 1, 3, 2, 1}}) {           // 10 columns, 4 channels: the two ops (with AVX-512
                                                            // kernels, the GEMM path: stride 2 packs any width)
    const ConvGeom g = ConvGeom::make(N, C, H, W, K, k, k, stride, pad);
    const PoolGeom pg = PoolGeom::make(N, K, g.P, g.Q, pk, ps, pp);
    Tensor x = random_tensor({N, C, H, W}, seed), w = random_tensor({K, C, k, k}, seed + 1), b = random_tensor({K}, seed + 2);
    seed += 3;
    Tensor want = ag::maxpool2d(ag::relu(ag::conv2d(x.to(DType::F64), w.to(DType::F64), b.to(DType::F64), stride, pad)), pk, ps, pp);
    const kern::ConvPrepared u = kern::conv2d_prepare(w, stride);
    for (const char* path : {"gemm", "emul", "avx512"}) {
      if (!cpu::stem_force(path)) continue;
      INFO("path " << path << " N=" << N << " C=" << C << " H=" << H << " W=" << W << " K=" << K << " k=" << k
                   << " stride=" << stride << " pool " << pk << "/" << ps << " pad " << pp);
      const bool direct = std::string(path) != "gemm" && K % 64 == 0;
      const std::string isa = cpu::gemm_active().isa;  // the GEMM path takes AVX-512 kernels (or their emulation)
      CHECK(cpu::conv_relu_maxpool_fits(g, pg) == (direct || (stride == 2 && isa == "avx512") ||
                                                   (stride >= 2 && g.Q >= 16 && (isa == "avx512" || isa == "emul"))));
      for (const kern::ConvPrepared* prepared : {(const kern::ConvPrepared*)nullptr, &u}) {
        Tensor y = Tensor::full({N, K, pg.P, pg.Q}, 7.0);  // every element must be written
        kern::conv2d_relu_maxpool(g, pg, x, w, prepared, &b, y);
        check_close(prepared ? "one op, prepared" : "one op", y, want, 2e-5 * std::sqrt((double)C * k * k), 1e-5);
        Tensor h = Tensor::empty({N, K, g.P, g.Q}), two = Tensor::empty(y.shape());
        kern::conv2d_forward_fused(g, x, w, prepared, &b, nullptr, true, h);
        kern::maxpool_forward(pg, h, two);
        // (the baseline builds have no FMA, the AVX-512 ones do: across the two, only as close as any two sums)
        const double tol = direct && (std::string(path) == "emul") != (isa == "emul") ? 1e-5 : 0.0;
        check_close("one op against the two", y, two, tol, tol);
      }
      Tensor via_ag = ag::conv2d_relu_maxpool(x, w, &u, b, stride, pad, pk, ps, pp);
      check_close("ag op", via_ag, want, 2e-5 * std::sqrt((double)C * k * k), 1e-5);
    }
    cpu::stem_force("auto");
    Tensor yd = Tensor::empty({N, K, pg.P, pg.Q}, DType::F64);
    const Tensor wd = w.to(DType::F64), bd = b.to(DType::F64);
    kern::conv2d_relu_maxpool(g, pg, x.to(DType::F64), wd, nullptr, &bd, yd);
    check_close("reference", yd, want, 1e-12, 1e-12);
  }
  CHECK_FALSE(cpu::stem_force("sse9"));
  // a pool that does not follow the convolution is refused, naming both
  const ConvGeom g = ConvGeom::make(1, 3, 40, 40, 4, 3, 3, 2, 1);
  Tensor x = random_tensor({1, 3, 40, 40}, 1), w = random_tensor({4, 3, 3, 3}, 2), y = Tensor::empty({1, 4, 10, 10});
  CHECK_THROWS_WITH(kern::conv2d_relu_maxpool(g, PoolGeom::make(1, 5, 20, 20, 3, 2, 1), x, w, nullptr, nullptr, y),
                    Catch::Contains("does not follow a convolution giving 4x20x20"));
}
