#include "pipnet/pipnet.h"

#include <map>

#include "tensor/pth.h"

static std::unique_ptr<Conv2d> head(int in, int out, Rng& rng) {
  auto c = std::make_unique<Conv2d>(in, out, 1, 1, 0, true, rng);
  init_normal(c->weight, rng, 0.0, 0.001);  // official: nn.init.normal_(std=0.001), bias 0
  c->bias.fill_(0.0);
  return c;
}

// layer5 / layer6 of the stride variants: conv 3x3/2 pad 1 with bias, N(0, 0.001) weights, zero bias; then a BN
static void stride_layer(int in, int out, Rng& rng, std::unique_ptr<Conv2d>& conv, std::unique_ptr<BatchNorm2d>& bn) {
  conv = std::make_unique<Conv2d>(in, out, 3, 2, 1, true, rng);
  init_normal(conv->weight, rng, 0.0, 0.001);
  conv->bias.fill_(0.0);
  bn = std::make_unique<BatchNorm2d>(out);
}

static std::unique_ptr<Backbone> make_trunk(const PipConfig& c, Rng& rng) {
  if (c.backbone == "mobilenetv2") {
    // Pip_mbnetv2 puts the heads on features' stride-32 map and has no stride layers (spec §1.2: "The MobileNets
    // support S=32 only"; check_config says so)
    return std::make_unique<MobileNetV2>(c.width / 64.0, rng);
  }
  return std::make_unique<ResNet>(ResNetConfig::named(c.backbone, c.width), rng);
}

void check_config(const PipConfig& c) {
  if (c.head == "coord") {
    if (c.net_stride != 32)
      throw Error(strf("net_stride = %d: the coord head reads the trunk's own stride-32 map; expected 32", c.net_stride));
  } else if (c.head == "map") {
    if (!map_deconvs(c.net_stride))
      throw Error(strf("net_stride = %d: the map head's heatmaps have stride 1, 2, 4, 8 or 16 (the paper's: 4, 2, 1)", c.net_stride));
  } else if (c.head == "pip") {
    if (c.net_stride != 16 && c.net_stride != 32 && c.net_stride != 64 && c.net_stride != 128)
      throw Error(strf("net_stride = %d: expected 16, 32, 64 or 128", c.net_stride));
    if (c.backbone == "mobilenetv2" && c.net_stride != 32)
      throw Error(strf("net_stride = %d: mobilenetv2 supports net_stride 32 only (spec §1.2)", c.net_stride));
    if (c.net_stride == 16 && c.backbone != "resnet18") throw Error("net_stride 16 exists for resnet18 only (spec §1.2)");
  } else {
    throw Error("head = '" + c.head + "': expected one of pip, coord, map");
  }
  if (c.input_size % c.net_stride != 0)
    throw Error(strf("input_size %d is not a multiple of net_stride %d", c.input_size, c.net_stride));
  if (c.head != "pip" && c.input_size % 32 != 0)
    throw Error(strf("input_size %d: the %s head reads the trunk's stride-32 map; expected a multiple of 32", c.input_size, c.head.c_str()));
}

PIPNet::PIPNet(const PipConfig& c, Rng& rng) : cfg(c), trunk((check_config(c), make_trunk(c, rng))) {
  register_module("", trunk.get());
  int C = trunk->out_channels();
  const int N = c.num_lms;
  if (c.head == "coord") {  // fc1 reads the flattened stride-32 map: C * g * g features
    const int64_t g = c.input_size / 32;
    coord_head = std::make_unique<CoordHead>(C * g * g, 8 * c.width, N, rng);
    register_module("", coord_head.get());
    return;
  }
  if (c.head == "map") {
    map_head = std::make_unique<MapHead>(C, 4 * c.width, map_deconvs(c.net_stride), N, rng);
    register_module("", map_head.get());
    return;
  }
  const int wide = 8 * c.width;  // 512 at full width
  if (c.net_stride >= 64) {
    stride_layer(C, wide, rng, layer5, bn5);
    register_module("layer5", layer5.get());
    register_module("bn5", bn5.get());
    C = wide;
  }
  if (c.net_stride == 128) {
    stride_layer(wide, wide, rng, layer6, bn6);
    register_module("layer6", layer6.get());
    register_module("bn6", bn6.get());
  }
  if (c.net_stride == 16) {
    deconv1 = std::make_unique<ConvTranspose2d>(C, wide, 4, 2, 1);
    init_normal(deconv1->weight, rng, 0.0, 0.001);
    bn_deconv1 = std::make_unique<BatchNorm2d>(wide);
    register_module("deconv1", deconv1.get());
    register_module("bn_deconv1", bn_deconv1.get());
    C = wide;
  }
  const int nb = c.num_nb;
  cls_layer = head(C, N, rng);
  x_layer = head(C, N, rng);
  y_layer = head(C, N, rng);
  register_module("cls_layer", cls_layer.get());
  register_module("x_layer", x_layer.get());
  register_module("y_layer", y_layer.get());
  if (nb > 0) {  // num_nb 0: the seed paper's head, scores and offsets only
    nb_x_layer = head(C, N * nb, rng);
    nb_y_layer = head(C, N * nb, rng);
    register_module("nb_x_layer", nb_x_layer.get());
    register_module("nb_y_layer", nb_y_layer.get());
  }
}

PipOutput PIPNet::run(const Tensor& images) {
  CHECK_OR_FAIL(images.dim() == 4 && images.size(1) == 3 && images.size(2) == cfg.input_size &&
                    images.size(3) == cfg.input_size,
                strf("PIPNet: input %s, expected [B, 3, %d, %d]", images.shape().str().c_str(), cfg.input_size, cfg.input_size));
  const Tensor f = forward(images);
  if (coord_head) return {.coords = (*coord_head)(f)};
  if (map_head) return {.heatmaps = (*map_head)(f)};
  if (heads_stacked && f.device() == Device::CPU && f.dtype() == DType::F32 &&
      !ag::any_requires_grad({&f, &heads_stacked->weight})) {
    // one GEMM for the five maps: its rows split into the heads' channels (views of the one output at batch 1)
    const Tensor all = heads_stacked->forward(f);
    const int64_t B = all.size(0), total = all.size(1), G = all.size(2), GG = G * all.size(3);
    int64_t c0 = 0;
    auto next = [&](const Conv2d* h) {
      if (!h) return Tensor();
      const int64_t n = h->weight.size(0);
      Tensor out;
      if (B == 1) {
        out = all.reshape({total, GG}).slice(c0, c0 + n).reshape({1, n, G, all.size(3)});
      } else {
        out = Tensor::empty({B, n, G, all.size(3)});
        for (int64_t b = 0; b < B; b++)
          out.slice(b, b + 1).reshape({n, GG}).copy_(all.slice(b, b + 1).reshape({total, GG}).slice(c0, c0 + n));
      }
      c0 += n;
      return out;
    };
    PipOutput o;
    o.cls = next(cls_layer.get()), o.x = next(x_layer.get()), o.y = next(y_layer.get());
    o.nb_x = next(nb_x_layer.get()), o.nb_y = next(nb_y_layer.get());
    return o;
  }
  if (!nb_x_layer) return {(*cls_layer)(f), (*x_layer)(f), (*y_layer)(f), Tensor(), Tensor()};
  return {(*cls_layer)(f), (*x_layer)(f), (*y_layer)(f), (*nb_x_layer)(f), (*nb_y_layer)(f)};
}

Tensor PIPNet::forward(const Tensor& images) {
  Tensor f = (*trunk)(images);  // layer4 or features.18: [B, C, input/32, input/32]
  if (layer5) f = ag::relu((*bn5)((*layer5)(f)));
  if (layer6) f = ag::relu((*bn6)((*layer6)(f)));
  if (deconv1) f = ag::relu((*bn_deconv1)((*deconv1)(f)));
  return f;
}

Shape PIPNet::describe(const Shape& in, const std::string& name, std::vector<LayerInfo>& rows) const {
  Shape s = trunk->describe(in, name, rows);
  if (coord_head) return coord_head->describe(s, "", rows);
  if (map_head) return map_head->describe(s, "", rows);
  if (layer5) s = bn5->describe(layer5->describe(s, "layer5", rows), "bn5", rows);
  if (layer6) s = bn6->describe(layer6->describe(s, "layer6", rows), "bn6", rows);
  if (deconv1) s = bn_deconv1->describe(deconv1->describe(s, "deconv1", rows), "bn_deconv1", rows);
  cls_layer->describe(s, "cls_layer", rows);
  x_layer->describe(s, "x_layer", rows);
  Shape o = y_layer->describe(s, "y_layer", rows);
  if (!nb_x_layer) return o;
  nb_x_layer->describe(s, "nb_x_layer", rows);
  return nb_y_layer->describe(s, "nb_y_layer", rows);
}

void PIPNet::fold_batchnorms() {
  trunk->fold_batchnorms();
  if (layer5) fold_batchnorm(*layer5, *bn5);
  if (layer6) fold_batchnorm(*layer6, *bn6);
  // the five 1x1 heads have no BatchNorm, but their weights are final now too: packed for the GEMM once (with
  // 2048 input channels, R50's heads were repacking 5.6 MB of weights for every image)
  for (Conv2d* c : {cls_layer.get(), x_layer.get(), y_layer.get(), nb_x_layer.get(), nb_y_layer.get()})
    if (c) c->prepare_inference();
  // and stacked into one convolution, so that the feature map is read once and the GEMM has all their rows to share
  // out (measured on ResNet-50 at batch 1, 2 threads: the five took 1.39 ms, the one 1.12; ResNet-18 0.36 and 0.28)
  heads_stacked.reset();
  if (cls_layer && cls_layer->weight.device() == Device::CPU && cls_layer->weight.dtype() == DType::F32) {
    std::vector<Conv2d*> heads;
    for (Conv2d* c : {cls_layer.get(), x_layer.get(), y_layer.get(), nb_x_layer.get(), nb_y_layer.get()})
      if (c) heads.push_back(c);
    int64_t total = 0;
    for (Conv2d* c : heads) total += c->weight.size(0);
    const int64_t C = cls_layer->weight.size(1);
    Rng unused(0);
    heads_stacked = std::make_unique<Conv2d>((int)C, (int)total, 1, 1, 0, true, unused);
    int64_t row = 0;
    for (Conv2d* c : heads) {
      const int64_t n = c->weight.size(0);
      heads_stacked->weight.slice(row, row + n).copy_(c->weight);
      heads_stacked->bias.slice(row, row + n).copy_(c->bias);
      row += n;
    }
    heads_stacked->prepare_inference();
  }
  // deconv1 (and the map head's deconvolutions) keep their BatchNorms: a transposed convolution has no bias to fold
  // into; the coord head keeps its BatchNorm1ds (three small layers, not worth a fold of their own)
}

void load_pretrained_trunk(PIPNet& net, const std::string& path) {
  TensorFile f = read_weights_file(path);  // safetensors, or torchvision's .pth itself
  std::map<std::string, Tensor> given;
  for (auto& [n, t] : f.tensors) given[n] = t;
  NamedTensors trunk;  // every trunk tensor must be in the file; the rest of the file (fc.*) is not ours
  for (auto& [n, t] : net.trunk->state_dict())
    if (given.count(n)) trunk.push_back({n, given[n]});
  load_state_dict(*net.trunk, trunk, path);
}

// The MobileNetV2 width (multiplier x 64) whose channel table matches every block of features.*: 64 (torchvision's
// 1.0) first, then 1, 2, ... (widths that round to the same channels make the same network); 0 if none does.
static int mobilenetv2_width(std::map<std::string, Shape>& shape) {
  int blocks = 0;
  while (shape.count(strf("features.%d.conv.0.0.weight", blocks + 1))) blocks++;
  auto matches = [&](int w) {
    const MobileNetV2Channels ch = MobileNetV2Channels::at(w / 64.0);
    if (blocks != (int)ch.out.size() || shape["features.0.0.weight"][0] != ch.stem || !shape.count("features.18.0.weight") ||
        shape["features.18.0.weight"][0] != ch.last)
      return false;
    for (int b = 0; b < blocks; b++) {  // the projection conv: [out, hidden, 1, 1]
      const std::string proj = strf("features.%d.conv.%d.weight", b + 1, ch.expand[b] == 1 ? 1 : 2);
      if (!shape.count(proj) || shape[proj][0] != ch.out[b] || shape[proj][1] != ch.hidden[b]) return false;
    }
    return true;
  };
  if (matches(64)) return 64;
  for (int w = 1; w <= 1024; w++)
    if (matches(w)) return w;
  return 0;
}

PipConfig pip_config_from_weights(const NamedTensors& w, const std::string& source, int input_size) {
  std::map<std::string, Shape> shape;
  for (auto& [n, t] : w) shape[n] = t.shape();
  auto need = [&](const std::string& n) {
    if (!shape.count(n)) throw Error(source + ": not a PIPNet state_dict (no " + n + ")");
    return shape[n];
  };
  PipConfig c;
  c.input_size = input_size;
  if (shape.count("features.0.0.weight")) {  // Pip_mbnetv2: torchvision's features, no stride layers
    c.backbone = "mobilenetv2";
    c.width = mobilenetv2_width(shape);
    if (!c.width) throw Error(source + ": features.* is not a torchvision MobileNetV2 at any width multiplier k/64");
    c.net_stride = 32;
  } else {
    c.width = (int)need("conv1.weight")[0];
    const bool bottleneck = shape.count("layer1.0.conv3.weight") > 0;
    int blocks3 = 0;
    while (shape.count(strf("layer3.%d.conv1.weight", blocks3))) blocks3++;
    if (!bottleneck && blocks3 == 2) c.backbone = "resnet18";
    else if (!bottleneck && blocks3 == 6) c.backbone = "resnet34";
    else if (bottleneck && blocks3 == 6) c.backbone = "resnet50";
    else if (bottleneck && blocks3 == 23) c.backbone = "resnet101";
    else throw Error(strf("%s: a ResNet with %d blocks in layer3 (%s blocks) is not one of resnet18/34/50/101", source.c_str(),
                          blocks3, bottleneck ? "bottleneck" : "basic"));
    c.net_stride = shape.count("layer6.weight") ? 128 : shape.count("layer5.weight") ? 64 : shape.count("deconv1.weight") ? 16 : 32;
  }
  c.num_lms = (int)need("cls_layer.weight")[0];
  if (!shape.count("nb_x_layer.weight")) return c.num_nb = 0, c;  // the seed paper's head: no neighbours
  const int64_t nbc = need("nb_x_layer.weight")[0];
  if (c.num_lms <= 0 || nbc % c.num_lms) throw Error(source + ": nb_x_layer's channels are not a multiple of the landmarks");
  c.num_nb = (int)(nbc / c.num_lms);
  return c;
}
