// The CUDA backend against the CPU kernels: every op on the odd shapes of the CPU tests, and a full ResNet-18 PIP
// Net forward, backward and 10 Adam steps. Without a GPU (or in a build without nvcc) each case reports skipped.
#include "kernels/cuda/cuda.h"
#include "kernels/dispatch.h"
#include "kernels/graph.h"
#include "layers/optim.h"
#include "pipnet/pip.h"
#include "test_util.h"

#include <tuple>

static void need_gpu() {
  if (!cuda_available()) SKIP_TEST("no CUDA device (or a build without nvcc)");
}
static Tensor gpu(const Tensor& t) { return t.to(Device::CUDA); }

// GPU GEMMs sum in another order than the CPU's: float rounding grows like sqrt(K). FP32 math (no TF32).
static void close_gpu(const std::string& what, const Tensor& g, const Tensor& c, double atol, double rtol = 1e-4) {
  check_close(what, g.to(Device::CPU), c, atol, rtol);
}

TEST_CASE("cuda: convolution forward and both backwards match the CPU", "[cuda]") {
  need_gpu();
  struct Case { int N, C, H, W, K, R, stride, pad; };
  for (Case c : {Case{1, 3, 7, 7, 5, 7, 2, 3}, Case{3, 5, 9, 11, 7, 3, 1, 1}, Case{3, 5, 9, 11, 7, 3, 2, 1},
                 Case{1, 7, 13, 13, 65, 1, 1, 0}, Case{2, 65, 7, 7, 63, 1, 2, 0}, Case{1, 63, 15, 15, 129, 3, 2, 1}}) {
    ConvGeom g = ConvGeom::make(c.N, c.C, c.H, c.W, c.K, c.R, c.R, c.stride, c.pad);
    INFO("conv N=" << c.N << " C=" << c.C << " K=" << c.K << " R=" << c.R << " stride=" << c.stride);
    Tensor x = random_tensor({g.N, g.C, g.H, g.W}, 1), w = random_tensor({g.K, g.C, g.R, g.S}, 2), b = random_tensor({g.K}, 3);
    Tensor dy = random_tensor({g.N, g.K, g.P, g.Q}, 4);
    Tensor y = Tensor::empty(dy.shape()), yg = Tensor::empty(dy.shape(), DType::F32, Device::CUDA);
    Tensor xg = gpu(x), wg = gpu(w), bg = gpu(b), dyg = gpu(dy);
    kern::conv2d_forward(g, x, w, &b, y);
    kern::conv2d_forward(g, xg, wg, &bg, yg);
    const double a = 2e-5 * std::sqrt((double)g.C * g.R * g.S);
    close_gpu("forward", yg, y, a);
    Tensor dx = Tensor::zeros(x.shape()), dxg = gpu(dx), dw = Tensor::zeros(w.shape()), dwg = gpu(dw);
    Tensor db = Tensor::zeros({g.K}), dbg = gpu(db);
    kern::conv2d_backward_input(g, dy, w, dx);
    kern::conv2d_backward_input(g, dyg, wg, dxg);
    close_gpu("backward input", dxg, dx, 2e-5 * std::sqrt((double)g.K * g.R * g.S));
    kern::conv2d_backward_weight(g, x, dy, dw, &db);
    kern::conv2d_backward_weight(g, xg, dyg, dwg, &dbg);
    close_gpu("backward weight", dwg, dw, 2e-5 * std::sqrt((double)g.N * g.P * g.Q));
    close_gpu("backward bias", dbg, db, 2e-5 * std::sqrt((double)g.N * g.P * g.Q));
  }
}

TEST_CASE("cuda: depthwise convolution forward and both backwards, and relu6, match the CPU", "[cuda]") {
  need_gpu();
  struct Case { int N, C, H, W, R, stride, pad; };
  for (Case c : {Case{1, 1, 1, 1, 3, 1, 1}, Case{2, 3, 7, 13, 3, 2, 1}, Case{1, 17, 13, 7, 5, 2, 2}, Case{2, 33, 8, 8, 3, 1, 1},
                 Case{3, 96, 33, 31, 3, 2, 1}, Case{1, 5, 9, 9, 5, 1, 0}}) {
    ConvGeom g = ConvGeom::make(c.N, c.C, c.H, c.W, c.C, c.R, c.R, c.stride, c.pad);
    INFO("depthwise N=" << c.N << " C=" << c.C << " H=" << c.H << " W=" << c.W << " R=" << c.R << " stride=" << c.stride);
    Tensor x = random_tensor({g.N, g.C, g.H, g.W}, 21), w = random_tensor({g.C, 1, g.R, g.S}, 22), b = random_tensor({g.C}, 23);
    Tensor dy = random_tensor({g.N, g.C, g.P, g.Q}, 24);
    Tensor y = Tensor::empty(dy.shape()), yg = Tensor::empty(dy.shape(), DType::F32, Device::CUDA);
    Tensor xg = gpu(x), wg = gpu(w), bg = gpu(b), dyg = gpu(dy);
    kern::depthwise_forward(g, x, w, &b, y);
    kern::depthwise_forward(g, xg, wg, &bg, yg);
    close_gpu("forward", yg, y, 3e-7 * (g.R * g.S + 1), 1e-6);  // the same R*S+1 terms, another order
    Tensor dx = random_tensor(x.shape(), 25), dxg = gpu(dx), dw = random_tensor(w.shape(), 26), dwg = gpu(dw);
    Tensor db = random_tensor({g.C}, 27), dbg = gpu(db);
    kern::depthwise_backward_input(g, dy, w, dx);
    kern::depthwise_backward_input(g, dyg, wg, dxg);
    close_gpu("backward input", dxg, dx, 3e-7 * (g.R * g.S + 1), 1e-6);
    kern::depthwise_backward_weight(g, x, dy, dw, &db);
    kern::depthwise_backward_weight(g, xg, dyg, dwg, &dbg);
    const double terms = (double)g.N * g.P * g.Q + 1;  // the CPU sums in float, the GPU in double
    close_gpu("backward weight", dwg, dw, 3e-7 * terms, 1e-6);
    close_gpu("backward bias", dbg, db, 3e-7 * terms, 1e-6);
  }
  for (int64_t n : {1, 65, 70001}) {
    Tensor x = random_tensor({n}, 28, DType::F32, -3, 9), dy = random_tensor({n}, 29), dx = random_tensor({n}, 30);
    x.data<float>()[0] = 6.0f;
    Tensor y = Tensor::empty({n}), yg = Tensor::empty({n}, DType::F32, Device::CUDA), dxg = gpu(dx);
    kern::relu6_forward(x, y);
    kern::relu6_forward(gpu(x), yg);
    close_gpu("relu6", yg, y, 0, 0);
    kern::relu6_backward(y, dy, dx);
    kern::relu6_backward(yg, gpu(dy), dxg);
    close_gpu("relu6 backward", dxg, dx, 0, 0);
  }
}

TEST_CASE("cuda: batchnorm / relu / add / pools / concatenation / losses / gather / adam match the CPU", "[cuda]") {
  need_gpu();
  for (Shape s : {Shape{1, 1, 1, 1}, Shape{3, 7, 9, 11}, Shape{2, 65, 15, 15}, Shape{16, 3, 33, 31}}) {
    INFO("shape " << s.str());
    const int C = (int)s[1];
    Tensor x = random_tensor(s, 10, DType::F32, -2, 3), dy = random_tensor(s, 11), t = random_tensor(s, 12);
    Tensor ga = random_tensor({C}, 13, DType::F32, 0.5, 1.5), be = random_tensor({C}, 14);
    Tensor rm = random_tensor({C}, 15), rv = random_tensor({C}, 16, DType::F32, 0.5, 2);
    Tensor rmg = gpu(rm), rvg = gpu(rv);
    Tensor y = Tensor::empty(s), yg = Tensor::empty(s, DType::F32, Device::CUDA);
    Tensor sm = Tensor::empty({C}), si = Tensor::empty({C}), smg = gpu(sm), sig = gpu(si);
    kern::batchnorm_forward_train(x, ga, be, 1e-5, 0.1, &rm, &rv, y, sm, si);
    kern::batchnorm_forward_train(gpu(x), gpu(ga), gpu(be), 1e-5, 0.1, &rmg, &rvg, yg, smg, sig);
    close_gpu("bn train", yg, y, 1e-5, 1e-4);
    close_gpu("bn running var", rvg, rv, 1e-6);
    Tensor dx = Tensor::zeros(s), dg = Tensor::zeros({C}), db = Tensor::zeros({C});
    Tensor dxg = gpu(dx), dgg = gpu(dg), dbg = gpu(db);
    kern::batchnorm_backward(x, dy, ga, sm, si, dx, dg, db);
    kern::batchnorm_backward(gpu(x), gpu(dy), gpu(ga), smg, sig, dxg, dgg, dbg);
    close_gpu("bn dx", dxg, dx, 1e-4);
    close_gpu("bn dgamma", dgg, dg, 1e-4);
    kern::batchnorm_forward_eval(x, ga, be, 1e-5, rm, rv, y);
    kern::batchnorm_forward_eval(gpu(x), gpu(ga), gpu(be), 1e-5, rmg, rvg, yg);
    close_gpu("bn eval", yg, y, 1e-5);
    kern::relu_forward(x, y);
    kern::relu_forward(gpu(x), yg);
    close_gpu("relu", yg, y, 0, 0);
    kern::add(x, t, y);
    kern::add(gpu(x), gpu(t), yg);
    close_gpu("add", yg, y, 0, 0);
    CHECK(kern::mse_loss(gpu(x), gpu(t)) == Approx(kern::mse_loss(x, t)).epsilon(1e-6));
    CHECK(kern::l1_loss(gpu(x), gpu(t)) == Approx(kern::l1_loss(x, t)).epsilon(1e-6));
    PoolGeom pg = PoolGeom::make(s[0], s[1], s[2], s[3], 3, 2, 1);
    Tensor p = Tensor::empty({pg.N, pg.C, pg.P, pg.Q}), pgpu = Tensor::empty(p.shape(), DType::F32, Device::CUDA);
    kern::maxpool_forward(pg, x, p);
    kern::maxpool_forward(pg, gpu(x), pgpu);
    close_gpu("maxpool", pgpu, p, 0, 0);
    Tensor dp = random_tensor(p.shape(), 17);
    dx.fill_(0); dxg.fill_(0);
    kern::maxpool_backward(pg, x, dp, dx);
    kern::maxpool_backward(pg, gpu(x), gpu(dp), dxg);
    close_gpu("maxpool backward", dxg, dx, 1e-6);
    PoolGeom ag3 = PoolGeom::make(s[0], s[1], s[2], s[3], 3, 1, 1);  // FaceBoxes' inception pool
    Tensor a = Tensor::empty({ag3.N, ag3.C, ag3.P, ag3.Q}), agpu = Tensor::empty(a.shape(), DType::F32, Device::CUDA);
    kern::avgpool2d_forward(ag3, x, a);
    kern::avgpool2d_forward(ag3, gpu(x), agpu);
    close_gpu("avgpool2d", agpu, a, 1e-6);
    dx.fill_(0); dxg.fill_(0);
    kern::avgpool2d_backward(ag3, dy, dx);
    kern::avgpool2d_backward(ag3, gpu(dy), dxg);
    close_gpu("avgpool2d backward", dxg, dx, 1e-6);
    Tensor cat = random_tensor({s[0], s[1] + 3, s[2], s[3]}, 18), catg = gpu(cat);
    kern::concat_channels_forward(2, x, cat);
    kern::concat_channels_forward(2, gpu(x), catg);
    close_gpu("concat", catg, cat, 0, 0);
    dx.fill_(0); dxg.fill_(0);
    kern::concat_channels_backward(1, cat, dx);
    kern::concat_channels_backward(1, catg, dxg);
    close_gpu("concat backward", dxg, dx, 0, 0);
  }
  Tensor x = random_tensor({2, 6, 4, 4}, 20), cell = Tensor::empty({2, 3}, DType::I32);
  for (int i = 0; i < 6; i++) cell.data<int32_t>()[i] = (i * 5) % 16;
  Tensor y = Tensor::empty({2, 6}), yg = Tensor::empty({2, 6}, DType::F32, Device::CUDA);
  kern::gather_cells(x, cell, 2, y);
  kern::gather_cells(gpu(x), gpu(cell), 2, yg);
  close_gpu("gather", yg, y, 0, 0);
  Tensor P = random_tensor({1000}, 1), G = random_tensor({1000}, 2), M = Tensor::zeros({1000}), V = Tensor::zeros({1000});
  Tensor Pg = gpu(P), Gg = gpu(G), Mg = gpu(M), Vg = gpu(V);
  for (int64_t step = 1; step <= 3; step++) {
    kern::adam_step(P, G, M, V, {1e-3, 0.9, 0.999, 1e-8, 5e-4, step});
    kern::adam_step(Pg, Gg, Mg, Vg, {1e-3, 0.9, 0.999, 1e-8, 5e-4, step});
  }
  close_gpu("adam", Pg, P, 1e-6);
}

TEST_CASE("cuda: a ResNet-18 PIP Net forward / backward / 10 Adam steps match the CPU", "[cuda]") {
  need_gpu();
  Rng r1(4), r2(4);
  PIPNet cpu_net(PipConfig{"resnet18", 16, 68, 10, 128, 32}, r1), gpu_net(PipConfig{"resnet18", 16, 68, 10, 128, 32}, r2);
  gpu_net.to(Device::CUDA);
  MeanFace mf;
  mf.N = 68;
  Rng r(9);
  for (int i = 0; i < 136; i++) mf.xy.push_back((float)r.uniform(0.15, 0.85));
  Neighbors nbr = Neighbors::from_meanface(mf, 10);
  PipTargets t = make_targets({mf.xy, mf.xy}, nbr, 4);
  Tensor x = random_tensor({2, 3, 128, 128}, 5), xg = gpu(x);
  Adam oc(cpu_net.parameters(), 1e-3), og(gpu_net.parameters(), 1e-3);
  for (int step = 0; step < 10; step++) {
    oc.zero_grad();
    og.zero_grad();
    PipLoss lc = pip_loss(cpu_net.run(x), t, PipLossConfig{}), lg = pip_loss(gpu_net.run(xg), t, PipLossConfig{});
    INFO("step " << step);
    // relative 1e-3: ten steps of float rounding through a deep network, different summation orders
    CHECK(lg.total.item() == Approx(lc.total.item()).epsilon(1e-3));
    ag::backward(lc.total);
    ag::backward(lg.total);
    if (step == 0) {
      NamedTensors pc = cpu_net.named_parameters(), pg = gpu_net.named_parameters();
      for (size_t i = 0; i < pc.size(); i++) {
        std::vector<float> a = pc[i].second.grad().to_vector(), b = pg[i].second.grad().to_vector();
        double d = 0, n = 0;
        for (size_t k = 0; k < a.size(); k++) { d += (a[k] - b[k]) * (a[k] - b[k]); n += (double)a[k] * a[k]; }
        INFO(pc[i].first);
        CHECK(std::sqrt(d / std::max(n, 1e-30)) < 1e-3);  // norm-wise, as the full-size golden check reports
      }
    }
    oc.step();
    og.step();
  }
  NamedTensors sc = cpu_net.state_dict(), sg = gpu_net.state_dict();
  for (size_t i = 0; i < sc.size(); i++) {
    INFO(sc[i].first);
    check_close("after 10 steps", sg[i].second.to(Device::CPU), sc[i].second, 1e-3, 1e-2);
  }
}

TEST_CASE("cuda: the hand-written SGEMM versions match cuBLAS on odd shapes", "[cuda]") {
  need_gpu();
#ifdef PIPNET_CUDA
  for (auto [M, N, K] : std::vector<std::tuple<int, int, int>>{{1, 1, 1}, {7, 63, 65}, {129, 127, 257}, {300, 33, 520}}) {
    Tensor A = gpu(random_tensor({M, K}, 1)), B = gpu(random_tensor({K, N}, 2));
    Tensor C0 = gpu(random_tensor({M, N}, 3));
    Tensor ref = C0.clone();
    cuda_sgemm_version(0, M, N, K, 1.0f, A.data<float>(), B.data<float>(), 0.5f, ref.data<float>());
    for (int v = 1; v <= 3; v++) {
      Tensor C = C0.clone();
      cuda_sgemm_version(v, M, N, K, 1.0f, A.data<float>(), B.data<float>(), 0.5f, C.data<float>());
      INFO("version " << v << " M=" << M << " N=" << N << " K=" << K);
      check_close("sgemm", C.to(Device::CPU), ref.to(Device::CPU), 1e-5 * std::sqrt((double)K), 1e-5);
    }
  }
#endif
}

TEST_CASE("cuda: a captured graph replays the eager PIP Net inference, for each new input", "[cuda]") {
  need_gpu();
  Rng r1(6);
  PIPNet net(PipConfig{"resnet18", 16, 68, 10, 128, 32}, r1);
  net.to(Device::CUDA);
  net.eval();
  net.fold_batchnorms();
  ag::NoGradGuard ng;
  Tensor xs = Tensor::empty({1, 3, 128, 128}, DType::F32, Device::CUDA);  // the graph's static input
  xs.copy_(random_tensor({1, 3, 128, 128}, 1));
  PipOutput out;
  Replay replay(Device::CUDA, [&] { out = net.run(xs); });
  CHECK(replay.captured());
  for (uint64_t seed = 2; seed < 5; seed++) {
    Tensor x = random_tensor({1, 3, 128, 128}, seed);
    xs.copy_(x);
    replay.run();
    PipOutput eager = net.run(gpu(x));
    INFO("input seed " << seed);
    check_close("score", out.cls.to(Device::CPU), eager.cls.to(Device::CPU), 1e-5, 1e-5);  // same kernels: equal bits expected
    check_close("x offsets", out.x.to(Device::CPU), eager.x.to(Device::CPU), 1e-5, 1e-5);
    check_close("neighbour y", out.nb_y.to(Device::CPU), eager.nb_y.to(Device::CPU), 1e-5, 1e-5);
  }
}
