#include "tests/golden.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "kernels/dispatch.h"
#include "layers/optim.h"
#include "pipnet/pip.h"
#include "tensor/safetensors.h"

namespace {

double l2_error(const Tensor& ours, const Tensor& ref) {
  std::vector<float> a = ours.to_vector(), b = ref.to_vector();
  double d = 0, n = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); i++) { d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]); n += (double)b[i] * b[i]; }
  return n > 0 ? std::sqrt(d / n) : std::sqrt(d);
}

double rel_error(const Tensor& ours, const Tensor& ref, const std::string& what) {
  if (ours.shape() != ref.shape() && ours.numel() != ref.numel())
    throw Error("golden: " + what + " has shape " + ours.shape().str() + ", the file " + ref.shape().str());
  std::vector<float> a = ours.to_vector(), b = ref.to_vector();
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); i++) {
    double d = std::fabs((double)a[i] - b[i]);
    diff = std::isnan(d) ? INFINITY : std::max(diff, d);
    scale = std::max(scale, std::fabs((double)b[i]));
  }
  return scale > 0 ? diff / scale : diff;
}

std::string meta(const TensorFile& f, const char* key) {
  auto it = f.metadata.find(key);
  if (it == f.metadata.end()) throw Error(f.path + ": golden metadata lacks '" + key + "'");
  return it->second;
}

}  // namespace

double GoldenReport::worst_l2(const std::string& prefix) const {
  double w = 0;
  for (auto& i : items) if (i.what.rfind(prefix, 0) == 0) w = std::max(w, i.l2);
  return w;
}
double GoldenReport::worst(const std::string& prefix) const {
  double w = 0;
  for (auto& i : items) if (i.what.rfind(prefix, 0) == 0) w = std::max(w, i.error);
  return w;
}
std::string GoldenReport::worst_name(const std::string& prefix) const {
  double w = -1;
  std::string n;
  for (auto& i : items) if (i.what.rfind(prefix, 0) == 0 && i.error > w) { w = i.error; n = i.what; }
  return n;
}

GoldenReport run_golden(const std::string& path) {
  char head[16] = {};
  std::ifstream(path, std::ios::binary).read(head, 16);
  uint32_t version;
  std::memcpy(&version, head + 8, 4);
  if (std::memcmp(head, "PIPGOLD\0", 8) != 0) throw Error(path + ": not a golden file (bad magic)");
  if (version != 1) throw Error(path + ": golden file version " + std::to_string(version) + ", this reader knows 1");
  TensorFile f = read_safetensors(path, 16);

  PipConfig cfg{meta(f, "backbone"), std::stoi(meta(f, "width")), std::stoi(meta(f, "num_lms")),
                std::stoi(meta(f, "num_nb")), std::stoi(meta(f, "input_size")), std::stoi(meta(f, "net_stride"))};
  const bool training = meta(f, "mode") == "train";
  const int steps = std::stoi(meta(f, "steps"));
  GoldenReport rep;
  rep.config = strf("%s width %d, %d landmarks, input %d, stride %d, batch %s, %s mode, %d Adam steps",
                    cfg.backbone.c_str(), cfg.width, cfg.num_lms, cfg.input_size, cfg.net_stride,
                    meta(f, "batch").c_str(), training ? "train" : "eval", steps);

  rep.l1_margin = f.metadata.count("l1_margin") ? std::stod(f.metadata.at("l1_margin")) : 1.0;
  if (f.metadata.count("reference")) rep.reference = f.metadata.at("reference");
  for (const char* k : {"out.", "loss.", "grad.", "after."}) {
    std::string key = std::string("torch32_") + std::string(k).substr(0, std::strlen(k) - 1);
    if (f.metadata.count(key)) rep.torch32[k] = std::stod(f.metadata.at(key));
  }
  Rng rng(0);
  PIPNet net(cfg, rng);
  NamedTensors params;
  for (auto& [n, t] : f.tensors) if (n.rfind("param.", 0) == 0) params.push_back({n.substr(6), t});
  load_state_dict(net, params, path);
  net.train(training);

  // neighbours and targets
  MeanFace mf;
  mf.N = cfg.num_lms;
  mf.xy = f.at("meanface").to_vector();
  Neighbors nbr = Neighbors::from_meanface(mf, cfg.num_nb);
  std::vector<float> idx = f.at("nb_idx").to_vector();
  rep.neighbors_equal = std::equal(idx.begin(), idx.end(), nbr.idx.begin(), [](float a, int b) { return (int)a == b; });
  const Tensor& lm = f.at("landmarks");
  std::vector<std::vector<float>> lms;
  for (int64_t b = 0; b < lm.size(0); b++) {
    std::vector<float> v = lm.slice(b, b + 1).to_vector();
    lms.push_back(v);
  }
  const int G = cfg.grid();
  PipTargets t = make_targets(lms, nbr, G);
  rep.targets_equal = t.score.to_vector() == f.at("target.score").to_vector();
  // the file has full maps; read them at our cells
  auto gathered = [&](const char* name, int rep_) {
    const Tensor& full = f.at(name);
    Tensor g = Tensor::empty({full.size(0), full.size(1)});
    kern::gather_cells(full, t.cell, rep_, g);
    return g;
  };
  double terr = std::max(rel_error(t.off_x, gathered("target.off_x", 1), "off_x"),
                          rel_error(t.off_y, gathered("target.off_y", 1), "off_y"));
  if (cfg.num_nb > 0)  // num_nb 0: the seed paper's head has no neighbour targets
    terr = std::max({terr, rel_error(t.nb_x, gathered("target.nb_x", cfg.num_nb), "nb_x"),
                     rel_error(t.nb_y, gathered("target.nb_y", cfg.num_nb), "nb_y")});
  rep.targets_equal = rep.targets_equal && terr < 1e-6;

  auto add = [&](const std::string& what, const Tensor& ours, const Tensor& ref) {
    rep.items.push_back({what, rel_error(ours, ref, what), l2_error(ours, ref)});
  };
  // forward, loss, gradients
  const Tensor& x = f.at("input");
  PipOutput out = net.run(x);
  add("out.cls", out.cls, f.at("out.cls"));
  add("out.x", out.x, f.at("out.x"));
  add("out.y", out.y, f.at("out.y"));
  if (cfg.num_nb > 0) {
    add("out.nb_x", out.nb_x, f.at("out.nb_x"));
    add("out.nb_y", out.nb_y, f.at("out.nb_y"));
  } else {
    rep.items.push_back({"out.no_neighbour_head", f.find("out.nb_x") || out.nb_x.defined() ? 1.0 : 0.0, 0.0});
  }
  PipLoss L = pip_loss(out, t, PipLossConfig{});
  add("loss.total", L.total, f.at("loss.total"));
  add("loss.score", L.score, f.at("loss.score"));
  add("loss.x", L.x, f.at("loss.x"));
  add("loss.y", L.y, f.at("loss.y"));
  add("loss.nb_x", L.nb_x, f.at("loss.nb_x"));
  add("loss.nb_y", L.nb_y, f.at("loss.nb_y"));
  ag::backward(L.total);
  for (auto& [n, p] : net.named_parameters())
    add("grad." + n, p.grad(), f.at("grad." + n));
  if (const char* dump = std::getenv("PIPNET_GOLDEN_DUMP_GRADS")) {  // debugging
    NamedTensors g;
    for (auto& [n, p] : net.named_parameters()) g.push_back({n, p.grad()});
    write_safetensors(dump, g);
  }

  // decoding of these outputs (the repo decodes in eval mode; the arithmetic is the same in either)
  std::vector<Landmarks> dec = decode(out, nbr, cfg.input_size, cfg.net_stride);
  std::vector<float> want_m = f.at("decoded.merged").to_vector(), want_u = f.at("decoded.unmerged").to_vector();
  for (size_t b = 0; b < dec.size(); b++)
    for (size_t i = 0; i < dec[b].merged.size(); i++) {
      rep.decode_abs = std::max(rep.decode_abs, (double)std::fabs(dec[b].merged[i] - want_m[b * dec[b].merged.size() + i]));
      rep.decode_abs = std::max(rep.decode_abs, (double)std::fabs(dec[b].unmerged[i] - want_u[b * dec[b].unmerged.size() + i]));
    }

  // Adam: the step that follows these gradients, then steps-1 more full iterations
  Adam opt(net.parameters(), std::stod(meta(f, "lr")), 0.9, 0.999, 1e-8, std::stod(meta(f, "weight_decay")));
  opt.step();
  for (int s = 1; s < steps; s++) {
    opt.zero_grad();
    PipLoss l = pip_loss(net.run(x), t, PipLossConfig{});
    ag::backward(l.total);
    opt.step();
  }
  if (const char* dump = std::getenv("PIPNET_GOLDEN_DUMP")) write_safetensors(dump, net.state_dict());  // debugging
  for (auto& [n, v] : net.state_dict())
    add("after." + n, v, f.at("after." + n));
  return rep;
}
