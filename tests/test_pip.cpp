// PIP Net pieces: mean-face neighbours and reverse index (spec §1.4 check values), targets on hand-made cases,
// decoding a hand-made one-hot map, the loss's terms, the network's names and shapes, weights I/O and its errors.
#include <sys/stat.h>

#include <fstream>

#include "pipnet/pip.h"
#include "tensor/safetensors.h"
#include "test_util.h"

static std::string meanface_path(const std::string& name) {
  std::string p = std::string(PIPNET_SHARED_DIR) + "/data/pipnet-meanface/" + name;
  struct stat st;
  if (stat(p.c_str(), &st) != 0) SKIP_TEST("../shared/data/pipnet-meanface is absent");
  return p;
}

TEST_CASE("meanface: M and min |R_k| for every shipped mean face (spec 1.4)", "[pip]") {
  struct Want { const char* file; int N, M, min_len; };
  for (Want w : {Want{"data_300W.txt", 68, 22, 4}, Want{"WFLW.txt", 98, 17, 3}, Want{"COFW.txt", 29, 19, 6},
                 Want{"AFLW.txt", 19, 18, 3}, Want{"LaPa.txt", 106, 20, 5}, Want{"data_300W_CELEBA.txt", 68, 22, 4},
                 Want{"data_300W_COFW_WFLW.txt", 68, 22, 4}}) {
    INFO(w.file);
    Neighbors n = Neighbors::from_meanface(MeanFace::load(meanface_path(w.file)), 10);
    CHECK(n.N == w.N);
    CHECK(n.M == w.M);
    CHECK(*std::min_element(n.rev_len.begin(), n.rev_len.end()) == w.min_len);
    CHECK(n.rev_i.size() == (size_t)w.N * w.M);
  }
}

TEST_CASE("meanface: 300W neighbour lists and reverse lengths (spec 1.4)", "[pip]") {
  Neighbors n = Neighbors::from_meanface(MeanFace::load(meanface_path("data_300W.txt")), 10);
  CHECK(std::vector<int>(n.idx.begin(), n.idx.begin() + 10) == std::vector<int>{17, 1, 36, 18, 41, 37, 2, 19, 40, 38});
  CHECK(std::vector<int>(n.idx.begin() + 300, n.idx.begin() + 310) == std::vector<int>{29, 34, 33, 32, 35, 31, 28, 50, 52, 51});
  CHECK(std::vector<int>(n.rev_len.begin(), n.rev_len.begin() + 20) ==
        std::vector<int>{5, 4, 4, 4, 4, 4, 5, 4, 4, 4, 5, 4, 4, 4, 4, 4, 5, 8, 9, 10});
  // cyclic padding: landmark 1's list (length 4) repeats from its start
  for (int m = 4; m < n.M; m++) CHECK(n.rev_i[1 * n.M + m] == n.rev_i[1 * n.M + m % 4]);
}

TEST_CASE("meanface: malformed files give errors naming the file", "[pip]") {
  const std::string p = "/tmp/pipnet_bad_meanface.txt";
  { std::ofstream(p) << "0.1 0.2 0.3"; }
  CHECK_THROWS_WITH(MeanFace::load(p), Catch::Contains(p) && Catch::Contains("expected 2N"));
  { std::ofstream(p) << "0.1 0.2 abc 0.4"; }
  CHECK_THROWS_WITH(MeanFace::load(p), Catch::Contains("value 3 is 'abc'"));
  CHECK_THROWS_WITH(MeanFace::load("/nonexistent/mf.txt"), Catch::Contains("/nonexistent/mf.txt"));
}

// A 3-landmark face, neighbours by hand: 0 -> [1, 2], 1 -> [0, 2], 2 -> [1, 0] (0.2,0.1 is nearer to 0.9,0.9).
// (With nb = 1 some landmark of any 3-point face is nobody's neighbour, which from_meanface rejects.)
static Neighbors tiny_neighbors() {
  MeanFace mf;
  mf.N = 3;
  mf.xy = {0.1f, 0.1f, 0.2f, 0.1f, 0.9f, 0.9f};
  return Neighbors::from_meanface(mf, 2);
}

TEST_CASE("targets: one-hot cells / offsets / neighbour offsets / clamping on hand-made cases", "[pip]") {
  Neighbors n = tiny_neighbors();
  REQUIRE(n.idx == std::vector<int>{1, 2, 0, 2, 1, 0});
  // G = 4. Landmark 0 at (0.30, 0.55): cell c = 1, r = 2, offsets (0.2, 0.2).
  // Landmark 1 at (1.00, -0.10): c = clamp(4) = 3, r = clamp(-1) = 0, offsets (1.0, -0.4) (outside [0,1]).
  // Landmark 2 at (0.50, 0.50): c = 2, r = 2, offsets (0, 0).
  PipTargets t = make_targets({{0.30f, 0.55f, 1.00f, -0.10f, 0.50f, 0.50f}}, n, 4);
  const int32_t* cell = t.cell.data<int32_t>();
  CHECK(cell[0] == 2 * 4 + 1);
  CHECK(cell[1] == 0 * 4 + 3);
  CHECK(cell[2] == 2 * 4 + 2);
  std::vector<float> score = t.score.to_vector();
  CHECK(std::count(score.begin(), score.end(), 1.0f) == 3);
  CHECK(score[(0 * 4 + 2) * 4 + 1] == 1.0f);
  CHECK(score[(1 * 4 + 0) * 4 + 3] == 1.0f);
  CHECK(t.off_x.to_vector()[0] == Approx(0.2));
  CHECK(t.off_y.to_vector()[0] == Approx(0.2));
  CHECK(t.off_x.to_vector()[1] == Approx(1.0));
  CHECK(t.off_y.to_vector()[1] == Approx(-0.4));
  // slot (0,0) is landmark 1 seen from 0's cell (c 1, r 2): (1.0*4 - 1, -0.1*4 - 2) = (3, -2.4)
  // slot (2,0) is landmark 1 seen from 2's cell (c 2, r 2): (4 - 2, -0.4 - 2) = (2, -2.4)
  // slot (1,1) is landmark 2 seen from 1's cell (c 3, r 0): (0.5*4 - 3, 0.5*4 - 0) = (-1, 2)
  CHECK(t.nb_x.to_vector()[0 * 2 + 0] == Approx(3.0));
  CHECK(t.nb_y.to_vector()[0 * 2 + 0] == Approx(-2.4));
  CHECK(t.nb_x.to_vector()[2 * 2 + 0] == Approx(2.0));
  CHECK(t.nb_y.to_vector()[2 * 2 + 0] == Approx(-2.4));
  CHECK(t.nb_x.to_vector()[1 * 2 + 1] == Approx(-1.0));
  CHECK(t.nb_y.to_vector()[1 * 2 + 1] == Approx(2.0));
}

TEST_CASE("decode: a hand-made one-hot map gives (c + off) / G and the neighbour merge", "[pip]") {
  MeanFace mf;
  mf.N = 3;
  mf.xy = {0.1f, 0.1f, 0.2f, 0.1f, 0.15f, 0.12f};
  Neighbors n = Neighbors::from_meanface(mf, 2);  // everyone neighbours everyone: M = 2
  REQUIRE(n.M == 2);
  const int G = 8;
  PipOutput o{Tensor::zeros({1, 3, G, G}), Tensor::zeros({1, 3, G, G}), Tensor::zeros({1, 3, G, G}),
              Tensor::zeros({1, 6, G, G}), Tensor::zeros({1, 6, G, G})};
  // landmark i peaks at cell (r, c) = (i+1, 2i); ties elsewhere are lower
  for (int i = 0; i < 3; i++) {
    const int cell = (i + 1) * G + 2 * i;
    o.cls.data<float>()[i * 64 + cell] = 5.0f;
    o.x.data<float>()[i * 64 + cell] = 0.25f;
    o.y.data<float>()[i * 64 + cell] = 0.75f;
    for (int j = 0; j < 2; j++) {
      o.nb_x.data<float>()[(i * 2 + j) * 64 + cell] = 1.0f * (j + 1);
      o.nb_y.data<float>()[(i * 2 + j) * 64 + cell] = -1.0f;
    }
  }
  Landmarks L = decode(o, n, 256, 32)[0];
  for (int i = 0; i < 3; i++) {
    CHECK(L.unmerged[2 * i] == Approx((2 * i + 0.25) / 8.0));
    CHECK(L.unmerged[2 * i + 1] == Approx((i + 1 + 0.75) / 8.0));
    CHECK(L.max_cls[i] == 5.0f);
  }
  // merged x_k = (x_k + sum over (i,j) in R_k of (c_i + nbx[i,j]) / G) / (1 + M)
  for (int k = 0; k < 3; k++) {
    double sx = L.unmerged[2 * k];
    for (int m = 0; m < n.M; m++) {
      const int i = n.rev_i[k * n.M + m], j = n.rev_j[k * n.M + m];  // estimate (c_i + nbx[i,j]) / G
      sx += (2 * i + 1.0 * (j + 1)) / 8.0;
    }
    CHECK(L.merged[2 * k] == Approx(sx / 3));
  }
}

TEST_CASE("pipnet: official parameter names / head shapes / stride variants", "[pip]") {
  Rng rng(0);
  PIPNet net(PipConfig{"resnet18", 64, 98, 10, 256, 32}, rng);
  NamedTensors sd = net.state_dict();
  auto shape_of = [&](const std::string& n) { for (auto& [k, t] : sd) if (k == n) return t.shape(); return Shape{}; };
  CHECK(shape_of("cls_layer.weight") == Shape({98, 512, 1, 1}));
  CHECK(shape_of("nb_y_layer.weight") == Shape({980, 512, 1, 1}));
  CHECK(shape_of("nb_x_layer.bias") == Shape({980}));
  CHECK(shape_of("layer4.1.bn2.running_var") == Shape({512}));
  CHECK(sd.back().first == "nb_y_layer.bias");
  // head width 23*N for nb = 10 (spec 1.3): 2254 channels, 512*2254 + 2254 parameters
  int64_t head = 0;
  for (auto& [k, t] : net.named_parameters()) if (k.find("_layer.") != std::string::npos) head += t.numel();
  CHECK(head == 512 * 2254 + 2254);
  for (int S : {16, 64, 128}) {
    PIPNet v(PipConfig{"resnet18", 4, 5, 2, 128, S}, rng);
    Tensor x = random_tensor({1, 3, 128, 128}, 1);
    ag::NoGradGuard ng;
    PipOutput o = v.run(x);
    CHECK(o.cls.shape() == Shape({1, 5, 128 / S, 128 / S}));
    CHECK(o.nb_x.shape() == Shape({1, 10, 128 / S, 128 / S}));
  }
  CHECK_THROWS_AS(PIPNet(PipConfig{"resnet50", 4, 5, 2, 64, 16}, rng), Error);
  CHECK_THROWS_AS(PIPNet(PipConfig{"resnet18", 4, 5, 2, 64, 8}, rng), Error);
}

TEST_CASE("weights: safetensors round trip / and errors for missing / extra / mis-shaped tensors", "[pip]") {
  Rng rng(1);
  PIPNet a(PipConfig{"resnet18", 4, 5, 2, 64, 32}, rng), b(PipConfig{"resnet18", 4, 5, 2, 64, 32}, rng);
  const std::string p = "/tmp/pipnet_test_weights.safetensors";
  save_weights(a, p);
  load_weights(b, p);
  NamedTensors sa = a.state_dict(), sb = b.state_dict();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); i++) CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  PIPNet c(PipConfig{"resnet18", 4, 6, 2, 64, 32}, rng);  // 6 landmarks: head shapes differ
  CHECK_THROWS_WITH(load_weights(c, p), Catch::Contains(p) && Catch::Contains("wrong shape") && Catch::Contains("cls_layer.weight"));
  NamedTensors part(sa.begin() + 1, sa.end());
  part.push_back({"layer1.0.bn1.num_batches_tracked", Tensor::zeros({1}, DType::I32)});  // skipped silently
  part.push_back({"fc.weight", Tensor::zeros({2})});
  CHECK_THROWS_WITH(load_state_dict(b, part, "x.safetensors"), Catch::Contains("missing: conv1.weight") && Catch::Contains("unexpected: fc.weight"));
  { std::ofstream(p, std::ios::binary) << "garbage!"; }
  CHECK_THROWS_WITH(load_weights(b, p), Catch::Contains(p));
}

TEST_CASE("loss: the five terms and their weights / and a step lowers it", "[pip]") {
  Rng rng(2);
  PIPNet net(PipConfig{"resnet18", 4, 5, 2, 64, 32}, rng);
  MeanFace mf;
  mf.N = 5;
  mf.xy = {0.3f, 0.3f, 0.7f, 0.3f, 0.5f, 0.5f, 0.35f, 0.75f, 0.65f, 0.75f};
  Neighbors n = Neighbors::from_meanface(mf, 2);
  PipTargets t = make_targets({mf.xy, mf.xy}, n, 2);
  Tensor x = random_tensor({2, 3, 64, 64}, 3);
  PipLoss L = pip_loss(net.run(x), t, PipLossConfig{});
  CHECK(L.total.item() == Approx(10 * L.score.item() + L.x.item() + L.y.item() + L.nb_x.item() + L.nb_y.item()));
  ag::backward(L.total);
  CHECK(net.cls_layer->weight.grad().defined());
}

TEST_CASE("num_nb 0: the seed paper's head has no neighbour layers, no neighbour loss, and decodes without merging", "[pip]") {
  Rng rng(0);
  PIPNet net(PipConfig{"resnet18", 8, 5, 0, 64, 32}, rng);
  NamedTensors sd = net.state_dict();
  CHECK(sd.back().first == "y_layer.bias");
  for (auto& [k, t] : sd) CHECK(k.find("nb_") == std::string::npos);
  CHECK(pip_config_from_weights(sd, "test", 64).num_nb == 0);  // as `pipnet import` reads it
  MeanFace mf;
  mf.N = 5;
  mf.xy = {0.2f, 0.3f, 0.7f, 0.3f, 0.5f, 0.5f, 0.3f, 0.7f, 0.7f, 0.7f};
  const Neighbors nbr = Neighbors::from_meanface(mf, 0);
  CHECK(nbr.M == 0);
  Tensor x = Tensor::empty({2, 3, 64, 64});
  init_normal(x, rng, 0, 1);
  PipOutput out = net.run(x);
  CHECK_FALSE(out.nb_x.defined());
  PipTargets t = make_targets({mf.xy, mf.xy}, nbr, 2);
  PipLoss L = pip_loss(out, t, PipLossConfig{});
  CHECK(L.nb_x.item() == 0);
  CHECK(L.total.item() == Approx(10 * L.score.item() + L.x.item() + L.y.item()));
  ag::backward(L.total);
  for (auto& [k, p] : net.named_parameters()) CHECK(p.grad().defined());
  for (const Landmarks& d : decode(out, nbr, 64, 32)) CHECK(d.merged == d.unmerged);
  CHECK_THROWS_WITH(decode(out, Neighbors::from_meanface(mf, 4), 64, 32), Catch::Contains("do not match the neighbour table"));
}
