// Layers and networks: PyTorch state_dict names and counts, shapes, parameter counts, self-description, train/eval.
#include "autograd/ops.h"
#include "layers/optim.h"
#include "layers/resnet.h"
#include "test_util.h"

TEST_CASE("resnet18: torchvision's state_dict names / order and parameter count", "[layers]") {
  Rng rng(0);
  ResNet net(ResNetConfig::named("resnet18"), rng);
  NamedTensors sd = net.state_dict();
  // torchvision resnet18 has 122 entries: minus fc.weight, fc.bias and 20 num_batches_tracked = 100.
  REQUIRE(sd.size() == 100);
  CHECK(sd[0].first == "conv1.weight");
  CHECK(sd[1].first == "bn1.weight");
  CHECK(sd[3].first == "bn1.running_mean");
  CHECK(sd[5].first == "layer1.0.conv1.weight");
  std::vector<std::string> names;
  for (auto& [n, t] : sd) names.push_back(n);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  CHECK(has("layer2.0.downsample.0.weight"));
  CHECK(has("layer2.0.downsample.1.running_var"));
  CHECK(has("layer4.1.bn2.bias"));
  CHECK(!has("layer1.0.downsample.0.weight"));
  // 11,689,512 in torchvision, minus fc (512*1000 + 1000)
  CHECK(net.num_parameters() == 11689512 - 513000);
  CHECK(net.out_channels() == 512);
}

TEST_CASE("resnet50/101: bottleneck names and parameter counts", "[layers]") {
  Rng rng(0);
  ResNet r50(ResNetConfig::named("resnet50"), rng);
  CHECK(r50.num_parameters() == 25557032 - (2048 * 1000 + 1000));
  CHECK(r50.state_dict().size() == 320 - 53 - 2);  // torchvision: 320 entries, 53 BNs
  CHECK(r50.out_channels() == 2048);
  ResNet r101(ResNetConfig::named("resnet101"), rng);
  CHECK(r101.num_parameters() == 44549160 - (2048 * 1000 + 1000));
  CHECK_THROWS_AS(ResNetConfig::named("resnet19"), Error);
}

TEST_CASE("resnet: output shape / summary table / stride-32 feature map", "[layers]") {
  Rng rng(1);
  ResNet net(ResNetConfig::named("resnet18", 8), rng);
  std::string s = summary(net, {1, 3, 64, 64});
  CHECK(s.find("layer4.1.conv2") != std::string::npos);
  CHECK(s.find("output [1, 64, 2, 2]") != std::string::npos);
  Tensor x = random_tensor({2, 3, 64, 64}, 3);
  Tensor y = net(x);
  CHECK(y.shape() == Shape({2, 64, 2, 2}));
  ag::clear_tape();
}

TEST_CASE("batchnorm: train updates running stats / eval uses them / no-grad records nothing", "[layers]") {
  BatchNorm2d bn(3);
  Tensor x = random_tensor({4, 3, 5, 5}, 8, DType::F32, 1, 3);  // mean ~2
  {
    ag::NoGradGuard ng;
    bn.train();
    bn(x);
    CHECK(ag::tape_size() == 0);
  }
  // running_mean = 0.9*0 + 0.1*batch_mean ~ 0.2
  CHECK(bn.running_mean.to_vector()[0] == Approx(0.2).margin(0.02));
  bn.eval();
  Tensor y1 = bn(x), y2 = bn(x);
  CHECK(y1.to_vector() == y2.to_vector());
  ag::clear_tape();
}

TEST_CASE("training step: loss of a tiny ResNet falls with Adam and zero_grad clears", "[layers]") {
  Rng rng(3);
  ResNet net(ResNetConfig{{1, 1}, false, 4}, rng);
  Adam opt(net.parameters(), 1e-2);
  Tensor x = random_tensor({4, 3, 32, 32}, 9), target = random_tensor({4, 8, 4, 4}, 10);
  double first = 0, last = 0;
  for (int step = 0; step < 30; step++) {
    opt.zero_grad();
    Tensor loss = ag::mse_loss(net(x), target);
    ag::backward(loss);
    opt.step();
    (step == 0 ? first : last) = loss.item();
  }
  CHECK(last < 0.5 * first);
  net.zero_grad();
  for (auto& p : net.parameters()) {
    std::vector<float> g = p.grad().to_vector();
    CHECK(std::all_of(g.begin(), g.end(), [](float v) { return v == 0.0f; }));
  }
}

TEST_CASE("optimizers: SGD with momentum and MultiStepLR follow PyTorch's rules", "[layers]") {
  Tensor p = Tensor::full({1}, 1.0);
  p.set_requires_grad(true);
  SGD sgd({p}, 0.1, 0.9);
  p.grad_or_zeros().fill_(1.0);
  sgd.step();  // buf = 1, p = 0.9
  sgd.step();  // buf = 0.9 + 1 = 1.9, p = 0.71
  CHECK(p.item() == Approx(0.71));
  MultiStepLR sched{1e-4, {30, 50}, 0.1};
  CHECK(sched.lr_at(0) == Approx(1e-4));
  CHECK(sched.lr_at(29) == Approx(1e-4));
  CHECK(sched.lr_at(30) == Approx(1e-5));
  CHECK(sched.lr_at(59) == Approx(1e-6));
}
