#include "layers/faceboxes.h"

static std::string sub(const std::string& name, const char* child) { return name.empty() ? child : name + "." + child; }

// ---- ConvBnRelu --------------------------------------------------------------------------------
ConvBnRelu::ConvBnRelu(int in, int out, int k, int stride, int pad, Rng& rng)
    : conv(in, out, k, stride, pad, false, rng), bn(out, 1e-5) {
  register_module("conv", &conv);
  register_module("bn", &bn);
}

Shape ConvBnRelu::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  return bn.describe(conv.describe(in, sub(name, "conv"), rows), sub(name, "bn"), rows);
}

// ---- Inception ---------------------------------------------------------------------------------
Inception::Inception(Rng& rng)
    : branch1x1(128, 32, 1, 1, 0, rng), branch1x1_2(128, 32, 1, 1, 0, rng), branch3x3_reduce(128, 24, 1, 1, 0, rng),
      branch3x3(24, 32, 3, 1, 1, rng), branch3x3_reduce_2(128, 24, 1, 1, 0, rng), branch3x3_2(24, 32, 3, 1, 1, rng),
      branch3x3_3(32, 32, 3, 1, 1, rng) {
  register_module("branch1x1", &branch1x1);
  register_module("branch1x1_2", &branch1x1_2);
  register_module("branch3x3_reduce", &branch3x3_reduce);
  register_module("branch3x3", &branch3x3);
  register_module("branch3x3_reduce_2", &branch3x3_reduce_2);
  register_module("branch3x3_2", &branch3x3_2);
  register_module("branch3x3_3", &branch3x3_3);
}

Tensor Inception::forward(const Tensor& x) {
  Tensor a = branch1x1(x);                                      // [N, 32, h, w]
  Tensor b = branch1x1_2(ag::avgpool2d(x, 3, 1, 1));            // [N, 32, h, w]
  Tensor c = branch3x3(branch3x3_reduce(x));                    // [N, 32, h, w]
  Tensor d = branch3x3_3(branch3x3_2(branch3x3_reduce_2(x)));   // [N, 32, h, w]
  return ag::concat_channels({a, b, c, d});                     // [N, 128, h, w]
}

Shape Inception::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape a = branch1x1.describe(in, sub(name, "branch1x1"), rows);
  rows.push_back({sub(name, "avgpool"), "avgpool3x3/1", in, 0, in.numel() * 9});
  Shape b = branch1x1_2.describe(in, sub(name, "branch1x1_2"), rows);
  Shape c = branch3x3.describe(branch3x3_reduce.describe(in, sub(name, "branch3x3_reduce"), rows), sub(name, "branch3x3"), rows);
  Shape d = branch3x3_reduce_2.describe(in, sub(name, "branch3x3_reduce_2"), rows);
  d = branch3x3_3.describe(branch3x3_2.describe(d, sub(name, "branch3x3_2"), rows), sub(name, "branch3x3_3"), rows);
  return {a[0], a[1] + b[1] + c[1] + d[1], a[2], a[3]};
}

void Inception::fold() {
  for (ConvBnRelu* m : {&branch1x1, &branch1x1_2, &branch3x3_reduce, &branch3x3, &branch3x3_reduce_2, &branch3x3_2,
                        &branch3x3_3})
    m->fold();
}

// ---- FaceBoxesV2 -------------------------------------------------------------------------------
FaceBoxesV2::FaceBoxesV2(Rng& rng)
    : conv1(3, 8, 3, 2, 1, rng), conv2(8, 16, 3, 2, 1, rng), conv3(16, 32, 3, 2, 1, rng), conv4(32, 64, 3, 2, 1, rng),
      conv5(64, 128, 3, 2, 1, rng), inception1(rng), inception2(rng), inception3(rng), conv6_1(128, 128, 1, 1, 0, rng),
      conv6_2(128, 256, 3, 2, 1, rng), conv7_1(256, 128, 1, 1, 0, rng), conv7_2(128, 256, 3, 2, 1, rng) {
  register_module("conv1", &conv1);
  register_module("conv2", &conv2);
  register_module("conv3", &conv3);
  register_module("conv4", &conv4);
  register_module("conv5", &conv5);
  register_module("inception1", &inception1);
  register_module("inception2", &inception2);
  register_module("inception3", &inception3);
  register_module("conv6_1", &conv6_1);
  register_module("conv6_2", &conv6_2);
  register_module("conv7_1", &conv7_1);
  register_module("conv7_2", &conv7_2);
  const int channels[3] = {128, 256, 256};
  for (int i = 0; i < 3; i++) loc.add(std::make_unique<Conv2d>(channels[i], kAnchors[i] * 4, 3, 1, 1, true, rng));
  for (int i = 0; i < 3; i++) conf.add(std::make_unique<Conv2d>(channels[i], kAnchors[i] * 2, 3, 1, 1, true, rng));
  register_module("loc", &loc);
  register_module("conf", &conf);
}

Tensor FaceBoxesV2::forward(const Tensor& x) {
  CHECK_OR_FAIL(x.dim() == 4 && x.size(1) == 3, "FaceBoxesV2: input " + x.shape().str() + ", expected [N, 3, H, W]");
  Tensor h = conv5(conv4(conv3(conv2(conv1(x)))));  // [N, 128, H/32, W/32]
  return inception3(inception2(inception1(h)));
}

FaceBoxesOutput FaceBoxesV2::run(const Tensor& x) {
  Tensor s[3];
  s[0] = forward(x);                  // [N, 128, H/32, W/32]
  s[1] = conv6_2(conv6_1(s[0]));      // [N, 256, H/64, W/64]
  s[2] = conv7_2(conv7_1(s[1]));      // [N, 256, H/128, W/128]
  FaceBoxesOutput out;
  for (int i = 0; i < 3; i++) {
    out.loc[i] = loc[i](s[i]);
    out.conf[i] = conf[i](s[i]);
  }
  return out;
}

Shape FaceBoxesV2::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape s = in;
  const ConvBnRelu* trunk[5] = {&conv1, &conv2, &conv3, &conv4, &conv5};
  for (int i = 0; i < 5; i++) s = trunk[i]->describe(s, sub(name, ("conv" + std::to_string(i + 1)).c_str()), rows);
  s = inception1.describe(s, sub(name, "inception1"), rows);
  s = inception2.describe(s, sub(name, "inception2"), rows);
  Shape src[3];
  src[0] = inception3.describe(s, sub(name, "inception3"), rows);
  src[1] = conv6_2.describe(conv6_1.describe(src[0], sub(name, "conv6_1"), rows), sub(name, "conv6_2"), rows);
  src[2] = conv7_2.describe(conv7_1.describe(src[1], sub(name, "conv7_1"), rows), sub(name, "conv7_2"), rows);
  Shape last;
  for (int i = 0; i < 3; i++) {
    loc[i].describe(src[i], sub(name, ("loc." + std::to_string(i)).c_str()), rows);
    last = conf[i].describe(src[i], sub(name, ("conf." + std::to_string(i)).c_str()), rows);
  }
  return last;
}

void FaceBoxesV2::fold_batchnorms() {
  for (ConvBnRelu* m : {&conv1, &conv2, &conv3, &conv4, &conv5, &conv6_1, &conv6_2, &conv7_1, &conv7_2}) m->fold();
  inception1.fold();
  inception2.fold();
  inception3.fold();
}
