// The paper's baseline heads (issue #14): Coord Net and Map Net. Against PyTorch (tools/make_golden_heads.py):
// outputs, loss, every gradient and the BatchNorm statistics; on hand-made inputs: targets and decoding; and the
// Linear / BatchNorm1d ops they need, float against a double loop at odd shapes.
#include <cmath>
#include <map>

#include "pipnet/heads.h"
#include "pipnet/run.h"
#include "pipnet/train.h"
#include "pipnet/evaluate.h"
#include "tensor/safetensors.h"
#include "test_util.h"

namespace {

// max |ours - torch| / max |torch|: the tensor's own scale, as tests/golden.cpp measures
double rel_error(const Tensor& ours, const Tensor& ref) {
  REQUIRE(ours.numel() == ref.numel());
  std::vector<float> a = ours.to_vector(), b = ref.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); i++) {
    const double d = std::fabs((double)a[i] - b[i]);
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::fabs((double)b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

struct HeadsGolden {
  double out = 0, loss = 0, grad = 0, buf = 0, target = 0, decoded = 0, margin = 0;
  double zero_grad = 0;  // the largest |gradient| of a bias that a training-mode BatchNorm cancels, over the largest gradient
  std::string worst_grad;
  int grads = 0, bufs = 0, zero_grads = 0;
};

HeadsGolden run_heads_golden(const std::string& file) {
  const std::string path = std::string(PIPNET_TEST_DATA) + "/" + file;
  TensorFile f = read_safetensors(path, 16);  // after make_golden.py's 16-byte header (magic, version)
  std::map<std::string, Tensor> t;
  for (auto& [n, v] : f.tensors) t[n] = v;
  auto meta = [&](const char* k) { return f.metadata.at(k); };
  PipConfig c;
  c.head = meta("head");
  c.backbone = meta("backbone");
  c.width = std::stoi(meta("width"));
  c.num_lms = std::stoi(meta("num_lms"));
  c.num_nb = 0;
  c.input_size = std::stoi(meta("input_size"));
  c.net_stride = std::stoi(meta("net_stride"));
  Rng rng(1);
  PIPNet net(c, rng);
  NamedTensors params;
  for (auto& [n, v] : t)
    if (n.rfind("param.", 0) == 0) params.push_back({n.substr(6), v});
  load_state_dict(net, params, path);
  net.train(meta("mode") == "train");

  HeadsGolden g;
  const Tensor lab = t.at("landmarks");  // [B, 2N]
  std::vector<std::vector<float>> lms;
  for (int b = 0; b < lab.size(0); b++)
    lms.emplace_back(lab.data<float>() + b * lab.size(1), lab.data<float>() + (b + 1) * lab.size(1));
  net.zero_grad();
  const PipOutput out = net.run(t.at("input"));
  Neighbors none;  // the baselines have no neighbours
  const PipLoss L = head_loss(c, out, lms, none, PipLossConfig{});
  ag::backward(L.total);
  if (c.head == "coord") {
    g.out = rel_error(out.coords, t.at("out.coords"));
    g.margin = std::stod(meta("l1_margin"));
  } else {
    g.out = rel_error(out.heatmaps, t.at("out.heatmaps"));
    const Tensor mine = map_targets(lms, c.num_lms, c.grid(), map_sigma(c.net_stride));
    g.target = rel_error(mine, t.at("target.heatmaps"));
    g.margin = std::stod(meta("decode_margin"));
  }
  g.loss = rel_error(L.total.reshape({1}), t.at("loss.total"));
  double grad_scale = 0;
  for (auto& [n, p] : net.named_parameters())
    for (float v : p.grad().to_vector()) grad_scale = std::max(grad_scale, (double)std::fabs(v));
  for (auto& [n, p] : net.named_parameters()) {
    // fc1 and fc2's biases reach the loss only through a training-mode BatchNorm1d, which subtracts any constant per
    // feature again: their gradient is exactly 0, and both sides return rounding noise (as tests/test_golden.cpp's
    // MobileNetV2 projection biases). Those are checked to be that small, not compared.
    if (meta("mode") == "train" && (n == "fc1.bias" || n == "fc2.bias")) {
      for (float v : p.grad().to_vector()) g.zero_grad = std::max(g.zero_grad, std::fabs(v) / grad_scale);
      g.zero_grads++;
      continue;
    }
    const double e = rel_error(p.grad(), t.at("grad." + n));
    // PIPNET_HEADS_DEBUG=1 prints every gradient's error, to find where a mismatch starts
    if (std::getenv("PIPNET_HEADS_DEBUG")) std::printf("%-40s %.3g\n", n.c_str(), e);
    if (e >= g.grad) g.grad = e, g.worst_grad = n;
    g.grads++;
  }
  for (auto& [n, b] : net.named_buffers()) {
    g.buf = std::max(g.buf, rel_error(b, t.at("buf." + n)));
    g.bufs++;
  }
  // decoding the network's own outputs, as the twin did (train-mode outputs: any maps will do)
  std::vector<Landmarks> dec = decode(out, none, c.input_size, c.net_stride);
  const Tensor want = t.at("decoded");
  double scale = 1;  // a coordinate regression's outputs may lie far outside [0, 1] before training
  for (float v : want.to_vector()) scale = std::max(scale, (double)std::fabs(v));
  for (size_t b = 0; b < dec.size(); b++)
    for (size_t k = 0; k < dec[b].merged.size(); k++)
      g.decoded = std::max(g.decoded, std::fabs(dec[b].merged[k] - want.data<float>()[b * want.size(1) + k]) / scale);
  return g;
}

// The bars of tests/test_golden.cpp's PIP files: 1e-5 of each tensor's own scale for outputs, loss and BatchNorm
// statistics, 1e-4 for gradients. The train-mode files hold PyTorch's float64 results (make_golden_heads.py --ref64):
// a deep stack of training-mode BatchNorms over few values (2x2 maps, batch 2) amplifies rounding, and against
// PyTorch-float32 the engine's gradients differed by up to 1e-2 of a tensor's scale where both are within 2e-4 of
// float64. Each bar is also at least 3x PyTorch-float32's own error against float64 (torch32_* in the file).
void check_golden(const std::string& file, int params, int zero_grads) {
  const HeadsGolden g = run_heads_golden(file);
  TensorFile f = read_safetensors(std::string(PIPNET_TEST_DATA) + "/" + file, 16);
  auto own = [&](const char* k) { return f.metadata.count(k) ? 3 * std::stod(f.metadata.at(k)) : 0.0; };
  INFO(file << " (" << (f.metadata.count("reference") ? f.metadata.at("reference") : "float32") << " reference): out "
            << g.out << ", loss " << g.loss << ", grad " << g.grad << " (" << g.worst_grad << "), buffers " << g.buf
            << ", targets " << g.target << ", decoded " << g.decoded << ", cancelled biases " << g.zero_grad
            << ", margin " << g.margin);
  REQUIRE(g.margin > 1e-4);  // the file keeps each L1 term and each arg-max / neighbour comparison clear of ties
  CHECK(g.grads + g.zero_grads == params);
  CHECK(g.zero_grads == zero_grads);
  // The cancelled biases: PyTorch-float32 leaves 2.4e-6 of the largest gradient, the engine 4.7e-5 (its BatchNorm
  // backward sums in another order; not traced further). Harmless: the BatchNorm removes the bias whatever it is.
  CHECK(g.zero_grad < std::max(1e-4, own("torch32_cancelled")));
  CHECK(g.out < std::max(1e-5, own("torch32_out")));
  CHECK(g.loss < std::max(1e-5, own("torch32_loss")));
  CHECK(g.grad < std::max(1e-4, own("torch32_grad")));
  CHECK(g.buf < std::max(1e-5, own("torch32_buf")));
  CHECK(g.target < 1e-6);   // exp in double on both sides, rounded to float
  CHECK(g.decoded < 1e-5);  // map: the same cells and shifts (0 here); coord: the outputs' own error
}

}  // namespace

// ResNet-18 at width 4 has 60 parameters (conv, BN weight and bias); Coord Net adds fc1-3 (6) and bn_fc1-2 (4).
//   tools/make_golden_heads.py --head coord --input 64 --seed 1 --ref64 --out tests/data/golden_coord_r18w4_train.pipgold
//   tools/make_golden_heads.py --head coord --input 64 --seed 2 --mode eval --out tests/data/golden_coord_r18w4_eval.pipgold
TEST_CASE("golden: Coord Net (ResNet-18 width 4 / 64x64 / 5 landmarks) in train mode matches PyTorch", "[heads][golden]") {
  check_golden("golden_coord_r18w4_train.pipgold", 60 + 10, 2);
}
TEST_CASE("golden: Coord Net (ResNet-18 width 4 / 64x64 / 5 landmarks) in eval mode matches PyTorch", "[heads][golden]") {
  check_golden("golden_coord_r18w4_eval.pipgold", 60 + 10, 0);
}
// Map Net adds 3 parameters per deconvolution (its weight, the BN's two) and final_layer's two.
//   tools/make_golden_heads.py --head map --stride 4 --input 128 --seed 2 --ref64 --out tests/data/golden_map4_r18w4_train.pipgold
// (Seed 1 moved the gradients of the stem and layer1.0 alone by 1e-2, with every later layer within 3e-5: a ReLU or
// max-pool input there sits within rounding of its kink, so one element's gradient passes on one side and not on
// the other. Seeds 2 and 3 are within 2.4e-5 everywhere.)
//   tools/make_golden_heads.py --head map --stride 1 --input 64 --seed 1 --ref64 --out tests/data/golden_map1_r18w4_train.pipgold
TEST_CASE("golden: Map Net at stride 4 (3 deconvolutions, 32x32 heatmaps) in train mode matches PyTorch", "[heads][golden]") {
  check_golden("golden_map4_r18w4_train.pipgold", 60 + 3 * 3 + 2, 0);
}
TEST_CASE("golden: Map Net at stride 1 (5 deconvolutions, 64x64 heatmaps) in train mode matches PyTorch", "[heads][golden]") {
  check_golden("golden_map1_r18w4_train.pipgold", 60 + 5 * 3 + 2, 0);
}

// ---- decoding and targets on hand-made maps --------------------------------------------------------
TEST_CASE("map decode: a hand-made peak moves a quarter cell towards its higher neighbour, per axis, exactly", "[heads]") {
  const int G = 8;
  Tensor hm = Tensor::zeros({1, 3, G, G});
  float* m = hm.data<float>();
  // landmark 0: peak at row 3, col 5; right neighbour above the left, the row above higher than the row below
  m[3 * G + 5] = 1.0f, m[3 * G + 6] = 0.6f, m[3 * G + 4] = 0.5f, m[2 * G + 5] = 0.7f, m[4 * G + 5] = 0.2f;
  // landmark 1: peak in the corner (0, 7): no neighbour on one side in x and in y, so no shift
  float* m1 = m + G * G;
  m1[0 * G + 7] = 2.0f, m1[0 * G + 6] = 1.9f, m1[1 * G + 7] = 1.5f;
  // landmark 2: equal neighbours (no shift) and a tie for the maximum (the first in row-major order wins)
  float* m2 = m + 2 * G * G;
  m2[2 * G + 2] = 0.9f, m2[2 * G + 1] = 0.4f, m2[2 * G + 3] = 0.4f, m2[1 * G + 2] = 0.3f, m2[3 * G + 2] = 0.3f;
  m2[6 * G + 6] = 0.9f;
  PipOutput out;
  out.heatmaps = hm;
  const Landmarks L = decode(out, Neighbors{}, 64, 8)[0];
  REQUIRE(L.merged.size() == 6);
  CHECK(L.merged[0] == (5.25f + 0.5f) / 8);  // 0.71875: exact in binary
  CHECK(L.merged[1] == (2.75f + 0.5f) / 8);  // 0.40625
  CHECK(L.merged[2] == (7 + 0.5f) / 8);
  CHECK(L.merged[3] == (0 + 0.5f) / 8);
  CHECK(L.merged[4] == (2 + 0.5f) / 8);
  CHECK(L.merged[5] == (2 + 0.5f) / 8);
  CHECK(L.max_cls[0] == 1.0f);
  CHECK(L.max_cls[1] == 2.0f);
  CHECK(L.unmerged == L.merged);
}

TEST_CASE("map targets: the Gaussian's peak, width and sub-pixel centre, and they decode back", "[heads]") {
  const int G = 16;
  const double sigma = map_sigma(4);
  CHECK(sigma == 1.0);
  CHECK(map_sigma(2) == 2.0);
  CHECK(map_sigma(1) == 4.0);
  CHECK(map_deconvs(4) == 3);
  CHECK(map_deconvs(2) == 4);
  CHECK(map_deconvs(1) == 5);
  CHECK(map_deconvs(32) == 0);
  CHECK(map_deconvs(3) == 0);
  // landmark 0 on the centre of cell (5, 9): 1 there, exp(-1/2) one cell away, exp(-1) diagonally
  // landmark 1 a third of a cell right of cell (2, 3)'s centre: not 1 anywhere, and it decodes a quarter cell right
  const std::vector<std::vector<float>> lms = {{5.5f / G, 9.5f / G, (2.5f + 1.0f / 3) / G, 3.5f / G}};
  const Tensor t = map_targets(lms, 2, G, sigma);
  const float* h = t.data<float>();
  CHECK(h[9 * G + 5] == 1.0f);
  CHECK(h[9 * G + 6] == Approx(std::exp(-0.5)).epsilon(1e-7));
  CHECK(h[10 * G + 6] == Approx(std::exp(-1.0)).epsilon(1e-7));
  CHECK(h[G * G + 3 * G + 2] == Approx(std::exp(-1.0 / 18)).epsilon(1e-7));
  PipOutput out;
  out.heatmaps = t;
  const Landmarks L = decode(out, Neighbors{}, 64, 4)[0];
  CHECK(L.merged[0] == lms[0][0]);
  CHECK(L.merged[1] == lms[0][1]);
  CHECK(L.merged[2] == (2.25f + 0.5f) / G);
  CHECK(L.merged[3] == lms[0][3]);
  CHECK(std::fabs(L.merged[2] - lms[0][2]) < 0.25f / G);  // the quarter-cell rule's error here: 1/12 cell
}

TEST_CASE("coord decode: a hand-made coordinate output decodes to itself, with confidence 0", "[heads]") {
  PipOutput out;
  out.coords = Tensor::from({2, 4}, {0.1f, 0.2f, 0.3f, 0.4f, -0.05f, 1.25f, 0.5f, 0.75f});
  const std::vector<Landmarks> L = decode(out, Neighbors{}, 64, 32);
  REQUIRE(L.size() == 2);
  CHECK(L[0].merged == std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f});
  CHECK(L[1].merged == std::vector<float>{-0.05f, 1.25f, 0.5f, 0.75f});
  CHECK(L[1].unmerged == L[1].merged);
  CHECK(L[1].max_cls == std::vector<float>{0, 0});
  const Tensor t = coord_targets({{0.1f, 0.2f}, {0.3f, 0.4f}}, 1);
  CHECK(t.shape() == Shape{2, 2});
  CHECK(t.to_vector() == std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f});
  CHECK_THROWS_WITH(coord_targets({{0.1f}}, 1), Catch::Contains("sample 0 has 1 coordinates, expected 2"));
}

// ---- the ops: Linear and BatchNorm1d in float against plain double loops, at odd shapes --------------
TEST_CASE("linear / batchnorm1d: float against a double loop at odd shapes (batch 1, 7, 63, 65, 129 features)", "[heads]") {
  const int shapes[][3] = {{1, 1, 1}, {1, 65, 7}, {7, 63, 17}, {3, 129, 65}, {16, 127, 1}, {2, 512, 10}};
  for (auto& s : shapes) {
    const int B = s[0], F = s[1], O = s[2];
    INFO("B " << B << " F " << F << " O " << O);
    const Tensor x = random_tensor({B, F}, 11 + F), w = random_tensor({O, F}, 12 + O), b = random_tensor({O}, 13);
    const Tensor y = ag::linear(x, w, b);
    REQUIRE(y.shape() == Shape{B, O});
    std::vector<double> want((size_t)B * O);
    for (int i = 0; i < B; i++)
      for (int o = 0; o < O; o++) {
        double acc = b.data<float>()[o];
        for (int f = 0; f < F; f++) acc += (double)x.data<float>()[i * F + f] * w.data<float>()[o * F + f];
        want[(size_t)i * O + o] = acc;
      }
    const std::vector<float> got = y.to_vector();
    check_close("linear", got.data(), want.data(), got.size(), 1e-5, 1e-5);  // float sums of up to 512 terms of ~1
    if (B < 2) continue;
    // training-mode BatchNorm1d: batch mean, biased variance; running stats: momentum 0.1, unbiased variance
    Tensor g = random_tensor({F}, 14, DType::F32, 0.5, 1.5), be = random_tensor({F}, 15), rm = Tensor::zeros({F}),
           rv = Tensor::full({F}, 1.0);
    const Tensor z = ag::batchnorm1d(x, g, be, rm, rv, true);
    std::vector<double> zw((size_t)B * F), rmw(F), rvw(F);
    for (int f = 0; f < F; f++) {
      double mean = 0, var = 0;
      for (int i = 0; i < B; i++) mean += x.data<float>()[i * F + f];
      mean /= B;
      for (int i = 0; i < B; i++) var += std::pow(x.data<float>()[i * F + f] - mean, 2);
      for (int i = 0; i < B; i++)
        zw[(size_t)i * F + f] = (x.data<float>()[i * F + f] - mean) / std::sqrt(var / B + 1e-5) * g.data<float>()[f] + be.data<float>()[f];
      rmw[f] = 0.1 * mean;
      rvw[f] = 0.9 + 0.1 * var / (B - 1);
    }
    const std::vector<float> zg = z.to_vector(), rmg = rm.to_vector(), rvg = rv.to_vector();
    check_close("batchnorm1d", zg.data(), zw.data(), zg.size(), 1e-4, 1e-4);  // 1/sigma of a batch of 2 amplifies rounding
    check_close("running_mean", rmg.data(), rmw.data(), F, 1e-6, 1e-5);
    check_close("running_var", rvg.data(), rvw.data(), F, 1e-6, 1e-5);
  }
  Tensor x1 = random_tensor({1, 4}, 1), g = Tensor::full({4}, 1.0), be = Tensor::zeros({4}), rm = Tensor::zeros({4}),
         rv = Tensor::full({4}, 1.0);
  CHECK_THROWS_WITH(ag::batchnorm1d(x1, g, be, rm, rv, true), Catch::Contains("a training batch of 1"));
  CHECK(ag::batchnorm1d(x1, g, be, rm, rv, false).shape() == Shape{1, 4});  // eval: running statistics, any batch
  CHECK_THROWS_WITH(ag::linear(x1, random_tensor({3, 5}, 2), Tensor()), Catch::Contains("linear: weight [3, 5]"));
}

// ---- settings ------------------------------------------------------------------------------------------
TEST_CASE("config: head is one setting saved in config.txt, a config without it is pip, presets coord_* and map_*", "[heads][config]") {
  TrainConfig c;
  CHECK(c.model.head == "pip");
  c.set("head", "map");
  c.set("net_stride", "2");
  CHECK(c.to_map().at("head") == "map");
  CHECK_THROWS_WITH(c.set("head", "dsnt"), Catch::Contains("head = 'dsnt': expected one of pip, coord, map"));
  TrainConfig old;  // a run written before the key existed
  old.parse("backbone = resnet18\nnet_stride = 32\n", "old/config.txt");
  CHECK(old.model.head == "pip");

  TrainConfig k;
  k.apply_preset("coord_r18_l1");
  CHECK(k.model.head == "coord");
  CHECK(k.model.backbone == "resnet18");
  CHECK(k.model.net_stride == 32);
  CHECK(k.recipe.batch == 32);
  CHECK(k.recipe.epochs == 120);
  CHECK(k.recipe.decay == "60,100");
  CHECK(k.recipe.lr == 1e-4);
  CHECK(!k.loss.reg_l2);
  k.validate();
  for (int s : {4, 2, 1}) {
    TrainConfig m;
    m.apply_preset(strf("map_%d_16_60_r18_l2", s));
    CHECK(m.model.head == "map");
    CHECK(m.model.net_stride == s);
    CHECK(m.recipe.batch == 16);
    CHECK(m.recipe.epochs == 60);
    CHECK(m.recipe.decay == "30,50");
    CHECK(!m.loss.cls_l1);
    m.validate();
  }
  TrainConfig p;  // the PIP presets still set the head back to pip
  p.set("head", "coord");
  p.apply_preset("pip_32_16_60_r18_l2_l1_10_1_nb10");
  CHECK(p.model.head == "pip");
  CHECK_THROWS_WITH(TrainConfig().apply_preset("coord_r18"), Catch::Contains("coord_rNN_l1"));
  CHECK_THROWS_WITH(TrainConfig().apply_preset("map_4_16_60_r18_l3"), Catch::Contains("map_STRIDE_BATCH_EPOCHS_rNN_l2"));
  CHECK_THROWS_WITH(TrainConfig().apply_preset("coord_r19_l1"), Catch::Contains("backbone = 'resnet19'"));
}

TEST_CASE("config: the strides each head accepts, and the coord head's batch, are named when wrong", "[heads][config]") {
  TrainConfig c;
  c.set("head", "coord");
  c.set("net_stride", "16");
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("net_stride = 16: the coord head reads the trunk's own stride-32 map; expected 32"));
  c.set("net_stride", "32");
  c.set("batch", "1");
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("batch = 1: the coord head's BatchNorm1d needs a training batch of 2 or more"));
  TrainConfig m;
  m.set("head", "map");
  m.set("net_stride", "32");
  CHECK_THROWS_WITH(m.validate(), Catch::Contains("net_stride = 32: the map head's heatmaps have stride 1, 2, 4, 8 or 16"));
  m.set("net_stride", "4");
  m.set("input_size", "80");
  CHECK_THROWS_WITH(m.validate(), Catch::Contains("input_size 80: the map head reads the trunk's stride-32 map; expected a multiple of 32"));
  m.set("input_size", "64");
  m.set("backbone", "mobilenetv2");  // the baselines sit on any trunk's stride-32 map
  m.validate();
  TrainConfig p;
  p.set("net_stride", "4");
  CHECK_THROWS_WITH(p.validate(), Catch::Contains("net_stride = 4: expected 16, 32, 64 or 128"));
}

// ---- the whole path: train, save, load, test, infer ----------------------------------------------
// A few steps on synthetic faces for each head: the loss must fall, and the saved run must load, test (NME over the
// held-out faces) and infer one face as a PIP run does. Learning itself is tests/test_train.cpp's (PIP) and
// tools/reproduce.sh table2's (the baselines on lfw68).
TEST_CASE("train: Coord Net and Map Net (stride 4 and 1) train, save, load, test and infer on synthetic faces", "[heads][train]") {
  struct Case { const char* head; int stride; };
  for (Case k : {Case{"coord", 32}, Case{"map", 4}, Case{"map", 1}}) {
    INFO(k.head << " stride " << k.stride);
    TrainConfig cfg;
    cfg.set("head", k.head);
    cfg.model.net_stride = k.stride;
    cfg.model.width = 8;
    cfg.model.input_size = 64;
    cfg.recipe.epochs = 4;
    cfg.recipe.batch = 8;
    cfg.recipe.lr = 1e-3;
    cfg.recipe.decay = "";
    cfg.data.data = "synth:64";
    cfg.data.test_data = "synth-test:16";
    cfg.run.eval_every = 4;
    cfg.run.threads = 2;
    char tmpl[] = "/tmp/pipnet_test_heads.XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    cfg.run.out = std::string(tmpl) + "/run";
    REQUIRE(train(cfg, false) == 0);
    const std::vector<EpochLog> log = read_log(cfg.run.out + "/log.csv", 4);
    REQUIRE(log.size() == 4);
    INFO("loss " << log[0].loss << " -> " << log[3].loss << ", test NME " << log[3].test_nme);
    CHECK(log[3].loss < log[0].loss);
    CHECK(std::isfinite(log[3].test_nme));
    LoadedRun run = load_run(cfg.run.out);
    CHECK(run.cfg.model.head == k.head);
    CHECK(run.net->cfg.head == k.head);
    Dataset test = open_dataset(cfg.data.test_data, 64, cfg.data.crop_scale, cfg.run.seed);
    TestReport r = run_test(*run.net, run.nbr, test, 8);
    CHECK(r.merged.mean_nme == Approx(log[3].test_nme).epsilon(1e-6));  // the final model is the one tested
    CHECK(r.merged.mean_nme == r.unmerged.mean_nme);                    // nothing to merge
    run.net->fold_batchnorms();  // as infer does; the heads keep their BatchNorms
    ag::NoGradGuard ng;
    PipOutput out = run.net->run(Tensor::zeros({1, 3, 64, 64}));
    const Landmarks L = decode(out, run.nbr, 64, k.stride)[0];
    CHECK(L.merged.size() == 2 * 68u);
  }
}
