#include "pipnet/run.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "kernels/cuda/cuda.h"
#include "pipnet/plot.h"
#include "tensor/fileio.h"
#include "tensor/parse.h"
#include "tensor/pth.h"
#include "tensor/safetensors.h"

TrainConfig resume_config(const std::string& out, const KeyValues& overrides, const std::string& config_file) {
  const std::string path = config_file.empty() ? out + "/config.txt" : config_file;
  if (!path_exists(path)) throw Error(out + ": nothing to resume (no config.txt)");
  TrainConfig cfg;
  cfg.load(path);
  for (auto& [k, v] : overrides) {
    const std::string key = config_key(k);
    if (key.empty()) throw Error("unknown setting '" + k + "' (pipnet train --help lists them)");
    if (key == "out") continue;
    if (!may_change_on_resume(key)) {
      TrainConfig probe = cfg;
      probe.set(key, v);  // a bad value is reported as such first
      if (probe.get(key) == cfg.get(key)) continue;  // the same value again is harmless
      throw Error(strf("--%s %s: a resumed run keeps its %s (%s in %s); start a new run with another --out to change it",
                       k.c_str(), v.c_str(), key.c_str(), cfg.get(key).c_str(), path.c_str()));
    }
    cfg.set(key, v);
  }
  cfg.run.out = out;
  return cfg;
}

void write_meanface(const MeanFace& m, const std::string& path) {
  std::string s;
  for (size_t i = 0; i < m.xy.size(); i++) s += strf("%.10g ", m.xy[i]);
  write_file_atomic(path, s + "\n");
}

// ---- checkpoints ----------------------------------------------------------------------------------
void save_checkpoint(const std::string& path, PIPNet& net, const Adam& opt, int epochs_done, uint64_t seed) {
  NamedTensors all;
  for (auto& [n, t] : net.state_dict()) all.push_back({"model." + n, t});
  for (auto& [n, t] : opt.state()) all.push_back({"optim." + n, t});
  write_safetensors(path, all, {{"epochs_done", std::to_string(epochs_done)}, {"seed", std::to_string(seed)}});
}

int load_checkpoint(const std::string& path, PIPNet& net, Adam* opt, int max_epochs) {
  return load_checkpoint(read_safetensors(path), net, opt, max_epochs);
}

int load_checkpoint(const TensorFile& f, PIPNet& net, Adam* opt, int max_epochs) {
  const std::string& path = f.path;
  NamedTensors model, optim;
  for (auto& [n, t] : f.tensors) {
    if (n.rfind("model.", 0) == 0) model.push_back({n.substr(6), t});
    else if (n.rfind("optim.", 0) == 0) optim.push_back({n.substr(6), t});
    else throw Error(path + ": unexpected tensor '" + n + "' in a checkpoint (expected model.* and optim.*)");
  }
  auto it = f.metadata.find("epochs_done");
  if (it == f.metadata.end()) throw Error(path + ": checkpoint lacks the metadata 'epochs_done'");
  const int64_t e = parse_int(it->second, path + ": epochs_done", 0, max_epochs);
  load_state_dict(net, model, path);
  if (opt) opt->load_state(optim, path);
  return (int)e;
}

// ---- log ------------------------------------------------------------------------------------------
std::vector<EpochLog> read_log(const std::string& path, int upto) {
  std::vector<EpochLog> v;
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);  // header
  while (std::getline(f, line)) {
    EpochLog e{};
    if (std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &e.epoch, &e.lr, &e.loss,
                    &e.score, &e.x, &e.y, &e.nb_x, &e.nb_y, &e.seconds, &e.images_per_s, &e.test_nme, &e.test_fr,
                    &e.test_auc) >= 10 && e.epoch >= 0 && e.epoch < upto)
      v.push_back(e);
  }
  return v;
}

void write_log(const std::string& path, const std::vector<EpochLog>& log) {
  std::string s = "epoch,lr,loss,score,x,y,nb_x,nb_y,seconds,images_per_s,test_nme,test_fr,test_auc\n";
  for (auto& e : log)
    s += strf("%d,%.3g,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.2f,%.2f,%.6f,%.6f,%.6f\n", e.epoch, e.lr, e.loss, e.score, e.x,
              e.y, e.nb_x, e.nb_y, e.seconds, e.images_per_s, e.test_nme, e.test_fr, e.test_auc);
  write_file_atomic(path, s);
}

void plot_log(const std::string& path, const std::vector<EpochLog>& log) {
  Series total{"loss", {}, {}, {200, 30, 30}}, score{"10 x score", {}, {}, {30, 100, 200}}, reg{"offsets", {}, {}, {30, 160, 60}};
  bool has_score = false, has_reg = false;  // the baselines' runs have a single term (pipnet/heads.h): no zero curves
  for (auto& e : log) {
    total.x.push_back(e.epoch + 1); total.y.push_back(e.loss);
    score.x.push_back(e.epoch + 1); score.y.push_back(10 * e.score);
    reg.x.push_back(e.epoch + 1); reg.y.push_back(e.x + e.y + e.nb_x + e.nb_y);
    has_score |= e.score != 0 && e.score != e.loss;
    has_reg |= e.x + e.y + e.nb_x + e.nb_y != 0 && e.score != 0;
  }
  std::vector<Series> curves = {total};
  if (has_score) curves.push_back(score);
  if (has_reg) curves.push_back(reg);
  plot_png(path, "TRAINING LOSS", "EPOCH", "LOSS (LOG)", curves, true);
}

Device device_of(const std::string& device) {
  if (device == "cpu") return Device::CPU;
  if (device != "cuda") throw Error("device '" + device + "': expected cpu or cuda");
  if (!cuda_available()) throw Error("device cuda: no CUDA device here (or this build has no CUDA: nvcc was not found)");
  return Device::CUDA;
}

void load_model_weights(PIPNet& net, const std::string& path) {
  if (!path_exists(path)) throw Error(path + ": no such weights file");
  // a checkpoint (what a killed run leaves) holds the model under "model." beside the optimizer's state
  TensorFile f = read_weights_file(path);  // safetensors or a .pth
  if (f.metadata.count("epochs_done")) load_checkpoint(f, net, nullptr, 1 << 30);
  else load_state_dict(net, f.tensors, path);
}

// ---- a trained model ------------------------------------------------------------------------------
LoadedRun load_run(const std::string& dir, const std::string& weights, const std::string& device) {
  LoadedRun r;
  if (!is_directory(dir)) throw Error(dir + ": no such run directory");
  if (!path_exists(dir + "/config.txt")) throw Error(dir + ": not a run directory (no config.txt)");
  r.cfg.load(dir + "/config.txt");
  if (!device.empty()) r.cfg.set("device", device);
  r.cfg.validate();
  r.meanface = MeanFace::load(dir + "/meanface.txt");
  r.nbr = Neighbors::from_meanface(r.meanface, r.cfg.model.num_nb);
  Rng rng(0);
  PipConfig pc = r.cfg.model;
  pc.num_lms = r.meanface.N;
  r.net = std::make_unique<PIPNet>(pc, rng);
  std::string w = weights;
  if (!w.empty() && !path_exists(w)) throw Error(w + ": no such weights file");
  if (w.empty()) w = path_exists(dir + "/model.safetensors") ? dir + "/model.safetensors" : dir + "/checkpoint.safetensors";
  if (!path_exists(w)) throw Error(dir + ": no weights (neither model.safetensors nor checkpoint.safetensors)");
  load_model_weights(*r.net, w);
  r.net->to(device_of(r.cfg.run.device));
  r.net->eval();
  return r;
}
