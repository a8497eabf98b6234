// Layers and networks: PyTorch state_dict names and counts, shapes, parameter counts, self-description, train/eval.
#include <map>

#include "autograd/ops.h"
#include "layers/optim.h"
#include "pipnet/pipnet.h"
#include "layers/mobilenetv2.h"
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

TEST_CASE("mobilenetv2: torchvision names, shapes and parameter count, channels at multipliers 1, 0.25, 0.125", "[layers]") {
  Rng rng(0);
  MobileNetV2 net(1.0, rng);
  NamedTensors sd = net.state_dict();
  // torchvision mobilenet_v2: 3,504,872 parameters, of which the classifier (1280 x 1000 + 1000) is 1,281,000
  CHECK(net.num_parameters() == 3504872 - 1281000);
  CHECK(net.out_channels() == 1280);
  std::map<std::string, Shape> s;
  for (auto& [n, t] : sd) s[n] = t.shape();
  CHECK(sd.front().first == "features.0.0.weight");
  CHECK(sd.back().first == "features.18.1.running_var");
  CHECK(s["features.0.0.weight"] == Shape{32, 3, 3, 3});
  CHECK(s["features.1.conv.0.0.weight"] == Shape{32, 1, 3, 3});    // expansion 1: no expand layer, depthwise first
  CHECK(s["features.1.conv.1.weight"] == Shape{16, 32, 1, 1});     // project
  CHECK(s["features.1.conv.2.running_var"] == Shape{16});
  CHECK(s["features.2.conv.0.0.weight"] == Shape{96, 16, 1, 1});   // expand x6
  CHECK(s["features.2.conv.1.0.weight"] == Shape{96, 1, 3, 3});    // depthwise
  CHECK(s["features.2.conv.2.weight"] == Shape{24, 96, 1, 1});
  CHECK(s["features.2.conv.3.bias"] == Shape{24});
  CHECK(s["features.17.conv.2.weight"] == Shape{320, 960, 1, 1});
  CHECK(s["features.18.0.weight"] == Shape{1280, 320, 1, 1});
  CHECK(s.count("features.19.0.weight") == 0);
  // torchvision's _make_divisible: nearest multiple of 8, at least 8, never below 90% of the value
  CHECK(make_divisible(32 * 0.25) == 8);
  CHECK(make_divisible(24 * 0.25) == 8);
  CHECK(make_divisible(96 * 0.25) == 24);
  CHECK(make_divisible(12) == 16);
  CHECK(make_divisible(36) == 40);  // 32 would be 11% below
  CHECK(make_divisible(1280 * 0.5) == 640);
  const MobileNetV2Channels q = MobileNetV2Channels::at(0.25);
  CHECK(q.stem == 8);
  CHECK(q.out == std::vector<int>{8, 8, 8, 8, 8, 8, 16, 16, 16, 16, 24, 24, 24, 40, 40, 40, 80});
  CHECK(q.last == 1280);  // torchvision keeps 1280 below multiplier 1
  CHECK(MobileNetV2Channels::at(1.4).last == 1792);
  // the stride-32 map, and the describe() rows agree with forward
  Tensor x = random_tensor({1, 3, 64, 64}, 1);
  MobileNetV2 small(0.125, rng);
  ag::NoGradGuard ng;
  Tensor y = small(x);
  CHECK(y.shape() == Shape{1, 1280, 2, 2});
  std::vector<LayerInfo> rows;
  CHECK(small.describe({1, 3, 64, 64}, "", rows) == y.shape());
  CHECK(rows.size() == 52 + 52);  // every convolution and its BatchNorm
  CHECK(rows[2].kind == "dwconv3x3/1");  // features.1.conv.0.0
}

TEST_CASE("mobilenetv2: folding every BatchNorm (depthwise ones too) leaves eval-mode outputs unchanged", "[layers]") {
  Rng rng(3);
  MobileNetV2 net(0.25, rng);
  for (auto& [n, t] : net.named_buffers()) {  // running statistics away from the identity, so that folding matters
    if (n.find("running_mean") != std::string::npos) init_uniform(t, rng, -0.2, 0.2);
    if (n.find("running_var") != std::string::npos) init_uniform(t, rng, 0.5, 2.0);
  }
  net.eval();
  ag::NoGradGuard ng;
  Tensor x = random_tensor({2, 3, 64, 64}, 4);
  Tensor before = net(x);
  net.fold_batchnorms();
  check_close("folded", net(x), before, 2e-5, 2e-4);
}

TEST_CASE("PIP Net on MobileNetV2: the heads on 1280 channels, stride 32 only, and import reads the width back", "[layers]") {
  Rng rng(0);
  PipConfig c;
  c.backbone = "mobilenetv2";
  c.width = 16;  // multiplier 0.25
  c.num_lms = 5;
  c.num_nb = 2;
  c.input_size = 64;
  PIPNet net(c, rng);
  NamedTensors sd = net.state_dict();
  CHECK(sd.front().first == "features.0.0.weight");  // unprefixed, as Pip_mbnetv2's checkpoints
  CHECK(net.cls_layer->weight.shape() == Shape{5, 1280, 1, 1});
  for (int w : {16, 64, 8, 24}) {
    PipConfig cw = c;
    cw.width = w;
    PIPNet nw(cw, rng);
    PipConfig got = pip_config_from_weights(nw.state_dict(), "test");
    CHECK(got.backbone == "mobilenetv2");
    CHECK(MobileNetV2Channels::at(got.width / 64.0).out == MobileNetV2Channels::at(w / 64.0).out);
    CHECK(got.num_lms == 5);
    CHECK(got.num_nb == 2);
    CHECK(got.net_stride == 32);
  }
  CHECK(pip_config_from_weights(sd, "test").width == 16);
  NamedTensors broken;
  for (auto& [n, t] : sd)
    if (n.rfind("features.17.", 0) != 0) broken.push_back({n, t});
  CHECK_THROWS_WITH(pip_config_from_weights(broken, "x.pth"), Catch::Contains("x.pth: features.* is not a torchvision MobileNetV2"));
  for (int stride : {16, 64, 128}) {
    PipConfig cs = c;
    cs.net_stride = stride;
    CHECK_THROWS_WITH(PIPNet(cs, rng), Catch::Contains("mobilenetv2 supports net_stride 32 only"));
  }
}
