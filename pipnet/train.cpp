#include "pipnet/train.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

#include <stb/stb_image.h>

#include "data/synth.h"
#include "kernels/cuda/cuda.h"
#include "layers/optim.h"
#include "pipnet/plot.h"
#include "tensor/safetensors.h"

// ---- configuration ----------------------------------------------------------------------------------
std::map<std::string, std::string> TrainConfig::to_map() const {
  auto d = [](double v) { return strf("%.10g", v); };
  return {{"backbone", backbone}, {"width", std::to_string(width)}, {"input", std::to_string(input)},
          {"stride", std::to_string(stride)}, {"nb", std::to_string(nb)}, {"epochs", std::to_string(epochs)},
          {"batch", std::to_string(batch)}, {"lr", d(lr)}, {"gamma", d(gamma)}, {"wd", d(wd)}, {"decay", decay},
          {"cls_weight", d(cls_weight)}, {"reg_weight", d(reg_weight)}, {"reg_l2", reg_l2 ? "1" : "0"},
          {"cls_l1", cls_l1 ? "1" : "0"}, {"pretrained", pretrained}, {"data", data}, {"test_data", test_data},
          {"meanface", meanface}, {"flip_table", flip_table}, {"crop_scale", d(crop_scale)},
          {"augment", augment ? "1" : "0"}, {"out", out}, {"seed", std::to_string(seed)},
          {"workers", std::to_string(workers)}, {"threads", std::to_string(threads)}, {"device", device},
          {"eval_every", std::to_string(eval_every)}, {"max_batches", std::to_string(max_batches)},
          {"time_limit_s", d(time_limit_s)}};
}

void TrainConfig::set(const std::string& k, const std::string& v) {
  auto num = [&](double lo, double hi) {
    try {
      size_t used = 0;
      double x = std::stod(v, &used);
      if (used == v.size() && x >= lo && x <= hi) return x;
    } catch (const std::exception&) {
    }
    throw Error(strf("%s = '%s': expected a number in [%g, %g]", k.c_str(), v.c_str(), lo, hi));
  };
  auto flag = [&] {
    if (v == "1" || v == "true" || v == "on" || v == "yes") return true;
    if (v == "0" || v == "false" || v == "off" || v == "no") return false;
    throw Error(k + " = '" + v + "': expected on or off");
  };
  if (k == "backbone") { ResNetConfig::named(v); backbone = v; }
  else if (k == "width") width = (int)num(1, 4096);
  else if (k == "input") input = (int)num(32, 4096);
  else if (k == "stride") stride = (int)num(16, 128);
  else if (k == "nb") nb = (int)num(1, 200);
  else if (k == "epochs") epochs = (int)num(1, 100000);
  else if (k == "batch") batch = (int)num(1, 4096);
  else if (k == "lr") lr = num(0, 1e12);
  else if (k == "gamma") gamma = num(0, 1);
  else if (k == "wd") wd = num(-1, 1);
  else if (k == "decay") decay = v;
  else if (k == "cls_weight") cls_weight = num(0, 1e6);
  else if (k == "reg_weight") reg_weight = num(0, 1e6);
  else if (k == "reg_l2") reg_l2 = flag();
  else if (k == "cls_l1") cls_l1 = flag();
  else if (k == "pretrained") pretrained = v;
  else if (k == "data") data = v;
  else if (k == "test_data") test_data = v;
  else if (k == "meanface") meanface = v;
  else if (k == "flip_table") flip_table = v;
  else if (k == "crop_scale") crop_scale = (float)num(1, 3);
  else if (k == "augment") augment = flag();
  else if (k == "out") out = v;
  else if (k == "seed") seed = (uint64_t)num(0, 1e18);
  else if (k == "workers") workers = (int)num(1, 256);
  else if (k == "device") {
    if (v != "cpu" && v != "cuda") throw Error("device = '" + v + "': expected cpu or cuda");
    device = v;
  }
  else if (k == "threads") threads = (int)num(0, 1024);
  else if (k == "eval_every") eval_every = (int)num(1, 100000);
  else if (k == "max_batches") max_batches = (int64_t)num(0, 1e12);
  else if (k == "time_limit_s") time_limit_s = num(0, 1e9);
  else if (k == "die_at_step") die_at_step = (int64_t)num(0, 1e12);
  else throw Error("unknown setting '" + k + "'");
}

void TrainConfig::load(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open config file");
  std::string line;
  int n = 0;
  while (std::getline(f, line)) {
    n++;
    line = line.substr(0, line.find('#'));
    const size_t eq = line.find('=');
    auto trim = [](std::string s) {
      s.erase(0, s.find_first_not_of(" \t\r"));
      s.erase(s.find_last_not_of(" \t\r") + 1);
      return s;
    };
    if (trim(line).empty()) continue;
    if (eq == std::string::npos) throw Error(strf("%s:%d: expected 'key = value'", path.c_str(), n));
    try {
      set(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    } catch (const Error& e) {
      throw Error(strf("%s:%d: %s", path.c_str(), n, e.what()));
    }
  }
}

void TrainConfig::save(const std::string& path) const {
  std::ofstream f(path);
  if (!f) throw Error(path + ": cannot write");
  f << "# pipnet run configuration (pipnet train --config this-file reproduces the run)\n";
  for (auto& [k, v] : to_map()) f << k << " = " << v << "\n";
}

void TrainConfig::apply_preset(const std::string& name) {
  // pip_<stride>_<batch>_<epochs>_<r18|r50|r101>_<l2|l1>_<l1|l2>_<cls weight>_<reg weight>_nb<k>[_nopre]
  std::vector<std::string> f;
  std::stringstream ss(name);
  for (std::string t; std::getline(ss, t, '_');) f.push_back(t);
  const std::string bad = "preset '" + name + "': expected pip_STRIDE_BATCH_EPOCHS_rNN_l2_l1_CLSW_REGW_nbK, e.g. pip_32_16_60_r18_l2_l1_10_1_nb10";
  if (f.size() < 10 || f[0] != "pip" || f[4].size() < 2 || f[4][0] != 'r' || f[9].rfind("nb", 0) != 0) throw Error(bad);
  try {
    set("stride", f[1]);
    set("batch", f[2]);
    set("epochs", f[3]);
    set("backbone", "resnet" + f[4].substr(1));
    if (f[5] != "l1" && f[5] != "l2") throw Error(bad);
    if (f[6] != "l1" && f[6] != "l2") throw Error(bad);
    cls_l1 = f[5] == "l1";
    reg_l2 = f[6] == "l2";
    set("cls_weight", f[7]);
    set("reg_weight", f[8]);
    set("nb", f[9].substr(2));
  } catch (const Error& e) {
    throw Error(bad + " (" + e.what() + ")");
  }
  const int e = epochs;
  decay = std::to_string(e / 2) + "," + std::to_string(e * 5 / 6);  // 60 -> 30,50 as the repo
}

PipConfig TrainConfig::pip(int num_lms) const { return PipConfig{backbone, width, num_lms, nb, input, stride}; }

// ---- data ---------------------------------------------------------------------------------------
static std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, sep);) v.push_back(t);
  return v;
}

// Normalised landmarks of a raw record without decoding the image (only its size is read).
static std::vector<float> normalized_labels(const FaceRecord& r, CropRule rule, float scale) {
  if (r.normalized) return r.pts;
  int w, h, c;
  if (!stbi_info(r.image.c_str(), &w, &h, &c)) throw Error(r.image + ": cannot read image (" + stbi_failure_reason() + ")");
  Image probe;
  probe.w = w;
  probe.h = h;
  probe.px.assign((size_t)w * h * 3, 0);  // crop_face needs only the size here; the pixels are discarded
  return crop_face(probe, r, rule, scale, 8).lms;
}

Dataset open_dataset(const std::string& spec, int input, float crop_scale, uint64_t seed) {
  Dataset d;
  std::vector<std::string> f = split(spec, ':');
  if (f.empty()) throw Error("empty data specification");
  if (f[0] == "synth" || f[0] == "synth-test") {
    // training faces and test faces come from different seeds, so they never overlap
    const uint64_t s = f[0] == "synth" ? seed * 2 + 1 : seed * 2 + 2;
    d.size = f.size() > 1 ? std::stoll(f[1]) : (f[0] == "synth" ? 4000 : 300);
    d.source = synth_source(s, input);
    d.n_points = 68;
    for (int64_t i = 0; i < d.size; i++) d.labels.push_back(synth_landmarks(s, i, input));
    return d;
  }
  CropRule rule;
  if (f[0] == "300w" && f.size() == 2) { d.records = read_pts_folder(f[1]); rule = CropRule::LandmarkBox; }
  else if (f[0] == "list" && f.size() == 3) { d.records = read_list(f[1], f[2]); rule = CropRule::None; }
  else if (f[0] == "wflw" && (f.size() == 3 || f.size() == 4)) {
    d.records = read_wflw(f[1], f[2]);
    rule = CropRule::WFLW;
    if (f.size() == 4) {  // an attribute subset: the faces whose flag is set (spec §2.2's six test subsets)
      const char* names[6] = {"pose", "expression", "illumination", "makeup", "occlusion", "blur"};
      int a = -1;
      for (int k = 0; k < 6; k++) if (f[3] == names[k]) a = k;
      if (a < 0) throw Error("data '" + spec + "': attribute '" + f[3] + "', expected pose, expression, illumination, makeup, occlusion or blur");
      std::vector<FaceRecord> keep;
      for (auto& r : d.records) if (r.attrs[a]) keep.push_back(r);
      d.records = std::move(keep);
      if (d.records.empty()) throw Error("data '" + spec + "': no face has the " + f[3] + " flag");
    }
  }
  else throw Error("data '" + spec + "': expected synth[:N], synth-test[:N], 300w:DIR, list:FILE:IMAGEDIR or wflw:LIST:IMAGEDIR[:ATTRIBUTE]");
  d.size = (int64_t)d.records.size();
  for (auto& r : d.records) {
    if (r.pts.empty()) throw Error(r.image + ": unlabelled image in a supervised data set");
    d.labels.push_back(normalized_labels(r, rule, crop_scale));
    if (d.n_points == 0) d.n_points = r.n_points();
    if (r.n_points() != d.n_points) throw Error(r.image + strf(": %d points, the data set has %d", r.n_points(), d.n_points));
  }
  d.source = records_source(d.records, rule, crop_scale, input);
  return d;
}

// ---- progress bar ---------------------------------------------------------------------------------
namespace {
struct Progress {
  std::string label;
  int64_t total;
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  bool tty = isatty(2);
  int last_decile = -1;
  void update(int64_t done, int64_t images, const std::string& extra) {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = s > 0 ? images / s : 0, eta = done > 0 ? s / done * (total - done) : 0;
    const int width = 24, fill = (int)(width * done / std::max<int64_t>(total, 1));
    const int decile = (int)(10 * done / std::max<int64_t>(total, 1));
    if (!tty && decile == last_decile && done != total) return;  // logs: a line per 10%
    last_decile = decile;
    std::fprintf(stderr, "%s%s [%s%s] %lld/%lld %s %.1f img/s ETA %02d:%02d%s", tty ? "\r" : "", label.c_str(),
                 std::string(fill, '#').c_str(), std::string(width - fill, '.').c_str(), (long long)done,
                 (long long)total, extra.c_str(), rate, (int)eta / 60, (int)eta % 60, tty ? "  " : "\n");
    if (tty && done == total) std::fprintf(stderr, "\n");
  }
};

bool exists(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0;
}
void make_dirs(const std::string& p) {
  std::string cur;
  for (auto& part : split(p, '/')) {
    cur += (cur.empty() && p[0] != '/' ? "" : "/") + part;
    if (!part.empty()) mkdir(cur.c_str(), 0755);
  }
  if (!exists(p)) throw Error(p + ": cannot create directory");
}

void write_meanface(const MeanFace& m, const std::string& path) {
  std::ofstream f(path);
  for (size_t i = 0; i < m.xy.size(); i++) f << strf("%.10g ", m.xy[i]);
  f << "\n";
}

std::vector<int> parse_decay(const std::string& s) {
  std::vector<int> v;
  for (auto& t : split(s, ',')) if (!t.empty()) v.push_back(std::stoi(t));
  return v;
}

// checkpoint: model.<name>, optim.<i>.<state>, metadata epoch (completed epochs) and seed
void save_checkpoint(const std::string& path, PIPNet& net, const Adam& opt, int epochs_done, uint64_t seed) {
  NamedTensors all;
  for (auto& [n, t] : net.state_dict()) all.push_back({"model." + n, t});
  for (auto& [n, t] : opt.state()) all.push_back({"optim." + n, t});
  write_safetensors(path, all, {{"epochs_done", std::to_string(epochs_done)}, {"seed", std::to_string(seed)}});
}

int load_checkpoint(const std::string& path, PIPNet& net, Adam* opt) {
  TensorFile f = read_safetensors(path);
  NamedTensors model, optim;
  for (auto& [n, t] : f.tensors) {
    if (n.rfind("model.", 0) == 0) model.push_back({n.substr(6), t});
    else if (n.rfind("optim.", 0) == 0) optim.push_back({n.substr(6), t});
  }
  load_state_dict(net, model, path);
  if (opt) opt->load_state(optim);
  auto it = f.metadata.find("epochs_done");
  if (it == f.metadata.end()) throw Error(path + ": checkpoint lacks 'epochs_done'");
  return std::stoi(it->second);
}

std::vector<EpochLog> read_log(const std::string& path, int upto) {
  std::vector<EpochLog> v;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    EpochLog e{};
    if (std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &e.epoch, &e.lr, &e.loss,
                    &e.score, &e.x, &e.y, &e.nb_x, &e.nb_y, &e.seconds, &e.images_per_s, &e.test_nme, &e.test_fr,
                    &e.test_auc) >= 10 && e.epoch < upto)
      v.push_back(e);
  }
  return v;
}

void write_log(const std::string& path, const std::vector<EpochLog>& log) {
  std::ofstream f(path + ".tmp");
  f << "epoch,lr,loss,score,x,y,nb_x,nb_y,seconds,images_per_s,test_nme,test_fr,test_auc\n";
  for (auto& e : log)
    f << strf("%d,%.3g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.2f,%.6f,%.6f,%.6f\n", e.epoch, e.lr, e.loss, e.score, e.x,
              e.y, e.nb_x, e.nb_y, e.seconds, e.images_per_s, e.test_nme, e.test_fr, e.test_auc);
  f.close();
  std::rename((path + ".tmp").c_str(), path.c_str());
}

void plot_log(const std::string& path, const std::vector<EpochLog>& log) {
  Series total{"loss", {}, {}, {200, 30, 30}}, score{"10 x score", {}, {}, {30, 100, 200}}, reg{"offsets", {}, {}, {30, 160, 60}};
  for (auto& e : log) {
    total.x.push_back(e.epoch + 1); total.y.push_back(e.loss);
    score.x.push_back(e.epoch + 1); score.y.push_back(10 * e.score);
    reg.x.push_back(e.epoch + 1); reg.y.push_back(e.x + e.y + e.nb_x + e.nb_y);
  }
  plot_png(path, "TRAINING LOSS", "EPOCH", "LOSS (LOG)", {total, score, reg}, true);
}
}  // namespace

Device device_of(const TrainConfig& cfg) {
  if (cfg.device == "cpu") return Device::CPU;
  if (!cuda_available()) throw Error("device cuda: no CUDA device here (or this build has no CUDA: nvcc was not found)");
  return Device::CUDA;
}

// ---- evaluation ---------------------------------------------------------------------------------
TestReport run_test(PIPNet& net, const Neighbors& nbr, const Dataset& data, int batch) {
  ag::NoGradGuard ng;
  const bool was_training = net.is_training();
  net.eval();
  LoaderConfig lc;
  lc.batch = batch;
  lc.shuffle = false;
  lc.drop_last = false;
  lc.augment = false;
  lc.workers = 2;
  Loader loader(data.source, data.size, net.cfg.input_size, lc);
  loader.start_epoch(0);
  TestReport rep;
  std::vector<std::vector<float>> unmerged;
  Batch b;
  double seconds = 0;
  while (loader.next(b)) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Landmarks> dec = decode(net.run(b.images.to(net.conv1.weight.device())), nbr, net.cfg.input_size, net.cfg.net_stride);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t k = 0; k < dec.size(); k++) {
      rep.pred.push_back(dec[k].merged);
      unmerged.push_back(dec[k].unmerged);
      rep.gt.push_back(data.labels[b.index[k]]);
    }
  }
  rep.norm = norm_for(data.n_points);
  rep.merged = evaluate(rep.pred, rep.gt, rep.norm);
  rep.unmerged = evaluate(unmerged, rep.gt, rep.norm);
  rep.seconds_per_image = seconds / std::max<size_t>(1, rep.pred.size());
  net.train(was_training);
  return rep;
}

// ---- training -----------------------------------------------------------------------------------
int train(const TrainConfig& cfg, bool resume) {
  make_dirs(cfg.out);
  const std::string ckpt = cfg.out + "/checkpoint.safetensors", logf = cfg.out + "/log.csv";
  if (!resume && exists(ckpt))
    throw Error(cfg.out + " already holds a run (checkpoint.safetensors): use --resume, or another --out");
  if (resume && !exists(ckpt)) throw Error(ckpt + ": nothing to resume");
  cfg.save(cfg.out + "/config.txt");

  Dataset train_set = open_dataset(cfg.data, cfg.input, cfg.crop_scale, cfg.seed);
  Dataset test_set;
  if (!cfg.test_data.empty()) test_set = open_dataset(cfg.test_data, cfg.input, cfg.crop_scale, cfg.seed);
  const int N = train_set.n_points;
  MeanFace mf = cfg.meanface == "auto" ? MeanFace::from_samples(train_set.labels) : MeanFace::load(cfg.meanface);
  if (mf.N != N) throw Error(strf("mean face has %d points, the data %d", mf.N, N));
  write_meanface(mf, cfg.out + "/meanface.txt");
  Neighbors nbr = Neighbors::from_meanface(mf, cfg.nb);
  std::vector<int> flip = cfg.flip_table.empty() ? flip_table(N) : read_flip_table(cfg.flip_table, N);

  Rng rng(cfg.seed);
  PIPNet net(cfg.pip(N), rng);
  if (!cfg.pretrained.empty()) {  // a torchvision ResNet: the trunk's tensors, the head keeps its init
    TensorFile f = read_safetensors(cfg.pretrained);
    NamedTensors trunk;
    std::map<std::string, Tensor> given;
    for (auto& [n, t] : f.tensors) given[n] = t;
    for (auto& [n, t] : net.state_dict()) {
      if (n.find("_layer.") != std::string::npos || n.rfind("layer5", 0) == 0 || n.rfind("bn5", 0) == 0 ||
          n.rfind("layer6", 0) == 0 || n.rfind("bn6", 0) == 0 || n.rfind("deconv1", 0) == 0 || n.rfind("bn_deconv1", 0) == 0)
        trunk.push_back({n, t});  // not in an ImageNet file: keep ours
      else if (given.count(n)) trunk.push_back({n, given[n]});
    }
    load_state_dict(net, trunk, cfg.pretrained);
  }
  const Device dev = device_of(cfg);
  net.to(dev);  // before the optimizer: its state lives beside the parameters
  const double wd = cfg.wd >= 0 ? cfg.wd : (cfg.pretrained.empty() ? 5e-4 : 0.0);
  Adam opt(net.parameters(), cfg.lr, 0.9, 0.999, 1e-8, wd);
  MultiStepLR sched{cfg.lr, parse_decay(cfg.decay), cfg.gamma};
  int start_epoch = 0;
  std::vector<EpochLog> log;
  if (resume) {
    start_epoch = load_checkpoint(ckpt, net, &opt);
    log = read_log(logf, start_epoch);
    std::fprintf(stderr, "resuming %s after epoch %d\n", cfg.out.c_str(), start_epoch);
  }

  LoaderConfig lc;
  lc.batch = cfg.batch;
  lc.workers = cfg.workers;
  lc.seed = cfg.seed;
  lc.augment = cfg.augment;
  lc.flip_table = flip;
  Loader loader(train_set.source, train_set.size, cfg.input, lc);
  const int64_t per_epoch = cfg.max_batches > 0 ? std::min(cfg.max_batches, loader.batches_per_epoch()) : loader.batches_per_epoch();
  const PipLossConfig lcfg{cfg.cls_weight, cfg.reg_weight, cfg.reg_l2, cfg.cls_l1};
  std::fprintf(stderr, "training %s %dx%d stride %d, %d landmarks, %lld samples (%lld batches of %d per epoch), "
                       "Adam lr %g wd %g, %d epochs, decay at [%s]\n",
               cfg.backbone.c_str(), cfg.input, cfg.input, cfg.stride, N, (long long)train_set.size,
               (long long)per_epoch, cfg.batch, cfg.lr, wd, cfg.epochs, cfg.decay.c_str());
  const auto run_t0 = std::chrono::steady_clock::now();
  net.train();
  for (int epoch = start_epoch; epoch < cfg.epochs; epoch++) {
    opt.set_lr(sched.lr_at(epoch));
    loader.start_epoch(epoch);
    Progress bar{strf("epoch %d/%d", epoch + 1, cfg.epochs), per_epoch};
    EpochLog e{epoch, opt.lr(), 0, 0, 0, 0, 0, 0, 0, 0};
    const auto t0 = std::chrono::steady_clock::now();
    Batch b;
    for (int64_t step = 0; step < per_epoch && loader.next(b); step++) {
      const int64_t global = (int64_t)epoch * per_epoch + step + 1;
      if (cfg.die_at_step && global == cfg.die_at_step) {
        std::fprintf(stderr, "\ndie_at_step %lld: exiting as a kill would\n", (long long)global);
        std::_Exit(137);
      }
      PipTargets t = make_targets(b.lms, nbr, cfg.input / cfg.stride);
      PipLoss L = pip_loss(net.run(b.images.to(dev)), t, lcfg);
      const double loss = L.total.item();
      if (!std::isfinite(loss)) {
        ag::clear_tape();
        throw Error(strf("loss is %g at epoch %d step %lld: stopping; the last good checkpoint (%s, after epoch %d) "
                         "is kept. Lower --lr or check the data.", loss, epoch + 1, (long long)step + 1, ckpt.c_str(), epoch));
      }
      opt.zero_grad();
      ag::backward(L.total);
      opt.step();
      e.loss += loss / per_epoch;
      e.score += L.score.item() / per_epoch;
      e.x += L.x.item() / per_epoch;
      e.y += L.y.item() / per_epoch;
      e.nb_x += L.nb_x.item() / per_epoch;
      e.nb_y += L.nb_y.item() / per_epoch;
      bar.update(step + 1, (step + 1) * cfg.batch, strf("loss %.4f", e.loss * per_epoch / (step + 1)));
    }
    e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    e.images_per_s = per_epoch * cfg.batch / e.seconds;
    const bool last = epoch + 1 == cfg.epochs;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - run_t0).count();
    const bool out_of_time = cfg.time_limit_s > 0 && elapsed > cfg.time_limit_s;
    if (test_set.size && ((epoch + 1) % cfg.eval_every == 0 || last || out_of_time)) {
      TestReport r = run_test(net, nbr, test_set, cfg.batch);
      e.test_nme = r.merged.mean_nme;
      e.test_fr = r.merged.fr;
      e.test_auc = r.merged.auc;
      std::fprintf(stderr, "  test: NME %.3f%%  FR@0.1 %.2f%%  AUC@0.1 %.4f  (unmerged NME %.3f%%)\n", 100 * e.test_nme,
                   100 * e.test_fr, e.test_auc, 100 * r.unmerged.mean_nme);
    }
    log.push_back(e);
    save_checkpoint(ckpt, net, opt, epoch + 1, cfg.seed);  // atomic: temp file + rename
    write_log(logf, log);
    plot_log(cfg.out + "/loss.png", log);
    if (out_of_time && !last) {
      std::fprintf(stderr, "time limit %.0f s reached after epoch %d\n", cfg.time_limit_s, epoch + 1);
      break;
    }
  }
  save_weights(net, cfg.out + "/model.safetensors");
  std::fprintf(stderr, "wrote %s/model.safetensors, log.csv, loss.png\n", cfg.out.c_str());
  return 0;
}

LoadedRun load_run(const std::string& dir, const std::string& weights, const std::string& device) {
  LoadedRun r;
  if (!exists(dir + "/config.txt")) throw Error(dir + ": not a run directory (no config.txt)");
  r.cfg.load(dir + "/config.txt");
  if (!device.empty()) r.cfg.set("device", device);
  r.meanface = MeanFace::load(dir + "/meanface.txt");
  r.nbr = Neighbors::from_meanface(r.meanface, r.cfg.nb);
  Rng rng(0);
  r.net = std::make_unique<PIPNet>(r.cfg.pip(r.meanface.N), rng);
  const std::string w = !weights.empty() ? weights : exists(dir + "/model.safetensors") ? dir + "/model.safetensors" : dir + "/checkpoint.safetensors";
  if (w.size() > 23 && w.compare(w.size() - 23, 23, "checkpoint.safetensors") == 0) load_checkpoint(w, *r.net, nullptr);
  else load_weights(*r.net, w);
  r.net->to(device_of(r.cfg));
  r.net->eval();
  return r;
}
