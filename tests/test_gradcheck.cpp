// Finite-difference gradient checks in double for every differentiable op and for a small ResNet end to end.
// The graph is built with F64 tensors, so dispatch runs the reference kernels in double; the fast float kernels are
// held to the reference in test_kernels.cpp. Central differences with h = 1e-6; the error is relative, floored at
// 1 (as Caffe's GradientChecker): |analytic - numeric| / max(1, |analytic|, |numeric|) < 1e-6. Inputs stay clear of
// kinks (ReLU at 0, |x| at 0, max-pool ties) by construction.
#include <functional>

#include "autograd/ops.h"
#include "layers/mobilenetv2.h"
#include "layers/resnet.h"
#include "test_util.h"

namespace {

Tensor f64(const Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  Tensor t = random_tensor(s, seed, DType::F64, lo, hi);
  t.set_requires_grad(true);
  return t;
}

// Values in +-[0.2, 1]: far from the kinks of ReLU and L1 at 0.
Tensor away_from_zero(const Shape& s, uint64_t seed) {
  Tensor t = f64(s, seed);
  double* p = t.data<double>();
  for (int64_t i = 0; i < t.numel(); i++) p[i] = (p[i] < 0 ? -0.2 : 0.2) + 0.8 * p[i];
  return t;
}

void gradcheck(const std::string& name, std::vector<Tensor> inputs, const std::function<Tensor()>& f,
               int max_per_tensor = 40) {
  for (auto& t : inputs) t.zero_grad();
  Tensor loss = f();
  ag::backward(loss);
  Rng pick(99);
  const double h = 1e-6;
  double worst = 0;
  for (size_t k = 0; k < inputs.size(); k++) {
    Tensor& t = inputs[k];
    REQUIRE(t.grad().defined());
    std::vector<float> dummy;
    const double* analytic = t.grad().data<double>();
    double* v = t.data<double>();
    const int64_t n = t.numel();
    for (int c = 0; c < std::min<int64_t>(n, max_per_tensor); c++) {
      const int64_t i = n <= max_per_tensor ? c : pick.randint(n);
      const double keep = v[i];
      double fp, fm;
      {
        ag::NoGradGuard ng;
        v[i] = keep + h; fp = f().item();
        v[i] = keep - h; fm = f().item();
        v[i] = keep;
      }
      const double numeric = (fp - fm) / (2 * h);
      const double err = std::fabs(analytic[i] - numeric) / std::max({1.0, std::fabs(analytic[i]), std::fabs(numeric)});
      INFO(name << ": input " << k << " element " << i << " analytic " << analytic[i] << " numeric " << numeric);
      REQUIRE(err < 1e-6);
      worst = std::max(worst, err);
    }
  }
  INFO(name << ": worst relative error " << worst);
  SUCCEED();
}

}  // namespace

TEST_CASE("gradcheck: conv2d (3x3 stride 2 pad 1 with bias / 1x1 / 7x7 stride 2)", "[gradcheck]") {
  Tensor x = f64({2, 3, 7, 6}, 1), w = f64({4, 3, 3, 3}, 2), b = f64({4}, 3), r = random_tensor({2, 4, 4, 3}, 4, DType::F64);
  gradcheck("conv3x3/2", {x, w, b}, [&] { return ag::mse_loss(ag::conv2d(x, w, b, 2, 1), r); });
  Tensor w1 = f64({5, 3, 1, 1}, 5), r1 = random_tensor({2, 5, 7, 6}, 6, DType::F64);
  gradcheck("conv1x1", {x, w1}, [&] { return ag::mse_loss(ag::conv2d(x, w1, Tensor(), 1, 0), r1); });
  Tensor x7 = f64({1, 2, 9, 9}, 7), w7 = f64({3, 2, 7, 7}, 8), r7 = random_tensor({1, 3, 5, 5}, 9, DType::F64);
  gradcheck("conv7x7/2", {x7, w7}, [&] { return ag::mse_loss(ag::conv2d(x7, w7, Tensor(), 2, 3), r7); });
}

TEST_CASE("gradcheck: depthwise conv2d (3x3 stride 2 pad 1 with bias / 3x3 stride 1 / 5x5 stride 2 pad 2, odd sizes)", "[gradcheck]") {
  Tensor x = f64({2, 3, 7, 6}, 71), w = f64({3, 1, 3, 3}, 72), b = f64({3}, 73), r = random_tensor({2, 3, 4, 3}, 74, DType::F64);
  gradcheck("dw3x3/2", {x, w, b}, [&] { return ag::mse_loss(ag::depthwise_conv2d(x, w, b, 2, 1), r); });
  Tensor x1 = f64({1, 5, 5, 9}, 75), w1 = f64({5, 1, 3, 3}, 76), r1 = random_tensor({1, 5, 5, 9}, 77, DType::F64);
  gradcheck("dw3x3/1", {x1, w1}, [&] { return ag::mse_loss(ag::depthwise_conv2d(x1, w1, Tensor(), 1, 1), r1); });
  Tensor x5 = f64({2, 2, 9, 7}, 78), w5 = f64({2, 1, 5, 5}, 79), r5 = random_tensor({2, 2, 5, 4}, 80, DType::F64);
  gradcheck("dw5x5/2", {x5, w5}, [&] { return ag::mse_loss(ag::depthwise_conv2d(x5, w5, Tensor(), 2, 2), r5); });
}

TEST_CASE("gradcheck: relu6, its input away from the kinks at 0 and 6", "[gradcheck]") {
  // from values in +-[0.2, 1]: negatives to [-8.4, -2], positives to [1, 5] or [7, 11]: none within 1 of a kink
  Tensor a = away_from_zero({2, 3, 5, 7}, 81), r = random_tensor({2, 3, 5, 7}, 82, DType::F64);
  {
    double* p = a.data<double>();
    for (int64_t i = 0; i < a.numel(); i++)
      p[i] = p[i] < 0 ? 8 * p[i] - 0.4 : p[i] < 0.6 ? 1 + 10 * (p[i] - 0.2) : 7 + 10 * (p[i] - 0.6);
  }
  double* p = a.data<double>();
  int above = 0, inside = 0;
  for (int64_t i = 0; i < a.numel(); i++) above += p[i] > 6, inside += p[i] > 0 && p[i] < 6;
  REQUIRE(above > 5);   // the flat top is exercised
  REQUIRE(inside > 5);  // and the identity part
  gradcheck("relu6", {a}, [&] { return ag::mse_loss(ag::relu6(a), r); });
}

TEST_CASE("gradcheck: conv_transpose2d (4x4 stride 2 pad 1 as PIP's stride-16 deconv)", "[gradcheck]") {
  Tensor x = f64({2, 3, 4, 5}, 51), w = f64({3, 2, 4, 4}, 52), r = random_tensor({2, 2, 8, 10}, 53, DType::F64);
  gradcheck("deconv4x4/2", {x, w}, [&] { return ag::mse_loss(ag::conv_transpose2d(x, w, 2, 1), r); });
}

TEST_CASE("gradcheck: linear (with and without bias) / batchnorm1d in training and in eval mode", "[gradcheck]") {
  Tensor x = f64({5, 7}, 81), w = f64({3, 7}, 82), b = f64({3}, 83), r = random_tensor({5, 3}, 84, DType::F64);
  gradcheck("linear", {x, w, b}, [&] { return ag::mse_loss(ag::linear(x, w, b), r); });
  gradcheck("linear, no bias", {x, w}, [&] { return ag::mse_loss(ag::linear(x, w, Tensor()), r); });
  Tensor g = f64({7}, 85, 0.5, 1.5), be = f64({7}, 86), rr = random_tensor({5, 7}, 87, DType::F64);
  Tensor rm = random_tensor({7}, 88, DType::F64), rv = random_tensor({7}, 89, DType::F64, 0.5, 2);
  gradcheck("bn1d train", {x, g, be}, [&] { return ag::mse_loss(ag::batchnorm1d(x, g, be, rm, rv, true), rr); });
  gradcheck("bn1d eval", {x, g, be}, [&] { return ag::mse_loss(ag::batchnorm1d(x, g, be, rm, rv, false), rr); });
  // the Coord Net head's pattern, every parameter at once (its ReLU left out: a kink the data could sit on)
  Tensor w2 = f64({2, 7}, 90), b2 = f64({2}, 91), r2 = random_tensor({5, 2}, 92, DType::F64);
  Tensor w1 = f64({7, 7}, 93), b1 = f64({7}, 94);
  gradcheck("fc-bn-fc", {x, w1, b1, g, be, w2, b2}, [&] {
    return ag::mse_loss(ag::linear(ag::batchnorm1d(ag::linear(x, w1, b1), g, be, rm, rv, true), w2, b2), r2);
  });
}

TEST_CASE("gradcheck: batchnorm2d in training and in eval mode", "[gradcheck]") {
  Tensor x = f64({3, 4, 5, 5}, 11, -2, 3), g = f64({4}, 12, 0.5, 1.5), b = f64({4}, 13);
  Tensor rm = random_tensor({4}, 14, DType::F64), rv = random_tensor({4}, 15, DType::F64, 0.5, 2);
  Tensor r = random_tensor({3, 4, 5, 5}, 16, DType::F64);
  gradcheck("bn train", {x, g, b}, [&] { return ag::mse_loss(ag::batchnorm2d(x, g, b, rm, rv, true), r); });
  gradcheck("bn eval", {x, g, b}, [&] { return ag::mse_loss(ag::batchnorm2d(x, g, b, rm, rv, false), r); });
}

TEST_CASE("gradcheck: relu / add (one input used twice) / pools / reshape / weighted sum", "[gradcheck]") {
  Tensor a = away_from_zero({2, 3, 5, 7}, 21), b = f64({2, 3, 5, 7}, 22), r = random_tensor({2, 3, 5, 7}, 23, DType::F64);
  gradcheck("relu", {a}, [&] { return ag::mse_loss(ag::relu(a), r); });
  gradcheck("add(a, a) + b", {a, b}, [&] { return ag::mse_loss(ag::add(ag::add(a, a), b), r); });
  Tensor rp = random_tensor({2, 3, 3, 4}, 24, DType::F64);
  gradcheck("maxpool3/2", {b}, [&] { return ag::mse_loss(ag::maxpool2d(b, 3, 2, 1), rp); });
  Tensor rg = random_tensor({2, 3}, 25, DType::F64);
  gradcheck("global avgpool", {b}, [&] { return ag::mse_loss(ag::global_avgpool(b), rg); });
  Tensor rr = random_tensor({6, 35}, 26, DType::F64);
  gradcheck("reshape", {b}, [&] { return ag::mse_loss(ag::reshape(b, {6, 35}), rr); });
  gradcheck("weighted sum", {a, b}, [&] {
    return ag::weighted_sum({ag::mse_loss(a, r), ag::l1_loss(b, r), ag::mse_loss(b, a)}, {10.0, 1.0, 0.5});
  });
}

TEST_CASE("gradcheck: leaky relu (slopes 0.01, 0.1 and -0.3), its input away from the kink at 0", "[gradcheck]") {
  Tensor a = away_from_zero({2, 3, 5, 7}, 61), r = random_tensor({2, 3, 5, 7}, 62, DType::F64);
  for (double slope : {0.01, 0.1, -0.3})
    gradcheck("leaky relu " + std::to_string(slope), {a}, [&] { return ag::mse_loss(ag::leaky_relu(a, slope), r); });
}

TEST_CASE("gradcheck: windowed avgpool (3x3/1 pad 1, 3x3/2 pad 1) / channel concatenation", "[gradcheck]") {
  Tensor b = f64({2, 3, 5, 7}, 71), c = f64({2, 2, 5, 7}, 72);
  Tensor r1 = random_tensor({2, 3, 5, 7}, 73, DType::F64), r2 = random_tensor({2, 3, 3, 4}, 74, DType::F64);
  gradcheck("avgpool 3x3/1", {b}, [&] { return ag::mse_loss(ag::avgpool2d(b, 3, 1, 1), r1); });
  gradcheck("avgpool 3x3/2", {b}, [&] { return ag::mse_loss(ag::avgpool2d(b, 3, 2, 1), r2); });
  Tensor rc = random_tensor({2, 8, 5, 7}, 75, DType::F64);
  // b twice (its gradient is the sum of two slices), c between them
  gradcheck("concat", {b, c}, [&] { return ag::mse_loss(ag::concat_channels({b, c, b}), rc); });
}

TEST_CASE("gradcheck: mse and l1 losses / the cell gather", "[gradcheck]") {
  Tensor t = random_tensor({3, 4}, 31, DType::F64);
  Tensor p = f64({3, 4}, 32);
  { double* pp = p.data<double>(); const double* tt = t.data<double>(); for (int i = 0; i < 12; i++) pp[i] = tt[i] + (i % 2 ? 0.3 : -0.4); }
  gradcheck("mse", {p}, [&] { return ag::mse_loss(p, t); });
  gradcheck("l1", {p}, [&] { return ag::l1_loss(p, t); });
  Tensor x = f64({2, 6, 3, 3}, 33), cell = Tensor::empty({2, 3}, DType::I32);
  for (int i = 0; i < 6; i++) cell.data<int32_t>()[i] = (i * 4) % 9;
  Tensor r = random_tensor({2, 6}, 34, DType::F64);
  gradcheck("gather rep 2 + l1", {x}, [&] { return ag::weighted_sum({ag::mse_loss(ag::gather_cells(x, cell, 2), r)}, {1.0}); });
}

TEST_CASE("gradcheck: a two-stage ResNet (BasicBlocks / a downsample) end to end", "[gradcheck]") {
  Rng rng(5);
  ResNet net(ResNetConfig{{1, 1}, false, 4}, rng);
  net.to(DType::F64);
  Tensor x = f64({2, 3, 20, 20}, 41);
  Tensor r = random_tensor({2, 8, 3, 3}, 42, DType::F64);
  std::vector<Tensor> inputs = net.parameters();
  inputs.push_back(x);
  gradcheck("resnet basic", inputs, [&] { return ag::mse_loss(net(x), r); }, 6);
}

TEST_CASE("gradcheck: a Bottleneck ResNet stage end to end", "[gradcheck]") {
  Rng rng(6);
  ResNet net(ResNetConfig{{1}, true, 2}, rng);
  net.to(DType::F64);
  Tensor x = f64({2, 3, 12, 12}, 43);
  Tensor r = random_tensor({2, 8, 3, 3}, 44, DType::F64);
  std::vector<Tensor> inputs = net.parameters();
  inputs.push_back(x);
  gradcheck("resnet bottleneck", inputs, [&] { return ag::mse_loss(net(x), r); }, 6);
}

TEST_CASE("gradcheck: MobileNetV2 inverted residual blocks (expand + residual / expansion 1 stride 2) end to end", "[gradcheck]") {
  Rng rng(7);
  InvertedResidual res(4, 4, 1, 6, rng), first(6, 5, 2, 1, rng);  // hidden 24 with the shortcut; t = 1, no shortcut
  for (Module* m : {(Module*)&res, (Module*)&first}) m->to(DType::F64);
  Tensor x = f64({2, 4, 7, 6}, 45), r = random_tensor({2, 4, 7, 6}, 46, DType::F64);
  std::vector<Tensor> inputs = res.parameters();
  inputs.push_back(x);
  CHECK(res.residual);
  gradcheck("inverted residual t6", inputs, [&] { return ag::mse_loss(res(x), r); }, 6);
  Tensor x2 = f64({2, 6, 9, 7}, 47), r2 = random_tensor({2, 5, 5, 4}, 48, DType::F64);
  std::vector<Tensor> inputs2 = first.parameters();
  inputs2.push_back(x2);
  CHECK_FALSE(first.residual);
  gradcheck("inverted residual t1/2", inputs2, [&] { return ag::mse_loss(first(x2), r2); }, 6);
}
