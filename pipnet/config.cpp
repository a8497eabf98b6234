// config.cpp: the table of settings (one row each) and everything it drives: set, get, save, load, help.
#include "pipnet/config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <variant>

#include "layers/resnet.h"
#include "tensor/fileio.h"
#include "tensor/parse.h"

namespace {

enum class Group { Data, Model, Recipe, Loss, Run };
const char* kGroupNames[] = {"data", "model", "recipe", "loss", "run"};

// One setting: its key, where it lives, the values it takes, and one line of help. Numbers are range-checked;
// strings may have a list of choices; `hidden` keeps test hooks out of --help.
struct Setting {
  const char* key;
  Group group;
  std::variant<int*, int64_t*, uint64_t*, double*, float*, bool*, std::string*> member;
  double lo, hi;
  const char* help;
  std::vector<std::string> choices = {};
  bool hidden = false;
};

std::vector<Setting> settings(TrainConfig& c) {
  return {
      {"data", Group::Data, &c.data.data, 0, 0, "training data: synth[:N[:FIRST]] | 300w:DIR | pts:LIST | list:FILE:IMAGEDIR | wflw:LIST:IMAGEDIR[:ATTR] | black:SPEC | SPEC+SPEC"},
      {"test_data", Group::Data, &c.data.test_data, 0, 0, "evaluated every --eval-every epochs ('' for none)"},
      {"meanface", Group::Data, &c.data.meanface, 0, 0, "auto (mean of the training landmarks) or a file of 2N numbers"},
      {"flip_table", Group::Data, &c.data.flip_table, 0, 0, "file of N indices; empty: the built-in table for N points"},
      {"crop_scale", Group::Data, &c.data.crop_scale, 1, 3, "300W landmark-box enlargement (1.1 repo, 1.3 paper)"},
      {"box_scale", Group::Data, &c.data.box_scale, 1, 3, "COFW/AFLW given-box enlargement (1.0 repo, 1.5 paper's COFW)"},
      {"augment", Group::Data, &c.data.augment, 0, 0, "the repo's six augmentations, on|off"},
      {"aug_translate", Group::Data, &c.data.aug.p_translate, 0, 1, "probability of the shift (0: off; repo 0.5)"},
      {"aug_max_shift", Group::Data, &c.data.aug.max_shift, 0, 128, "largest shift, pixels of a 256 crop (repo 30)"},
      {"aug_occlude", Group::Data, &c.data.aug.p_occlude, 0, 1, "probability of the occluding rectangle (repo 0.5)"},
      {"aug_flip", Group::Data, &c.data.aug.p_flip, 0, 1, "probability of the mirror (repo 0.5)"},
      {"aug_rotate", Group::Data, &c.data.aug.p_rotate, 0, 1, "probability of the rotation (repo 0.5)"},
      {"aug_max_angle", Group::Data, &c.data.aug.max_angle, 0, 180, "largest rotation in degrees (repo 30)"},
      {"aug_blur", Group::Data, &c.data.aug.p_blur, 0, 1, "probability of the Gaussian blur (repo 0.3)"},
      {"aug_gray", Group::Data, &c.data.aug.p_gray, 0, 1, "probability of grayscale (repo 0.2; not in the paper)"},
      {"head", Group::Model, &c.model.head, 0, 0, "pip (PIP Net), coord (Coord Net: fully connected, L1) or map (Map Net: heatmaps, L2)", {"pip", "coord", "map"}},
      {"backbone", Group::Model, &c.model.backbone, 0, 0, "the trunk", {"resnet18", "resnet34", "resnet50", "resnet101", "mobilenetv2"}},
      {"width", Group::Model, &c.model.width, 1, 4096, "64 = torchvision: ResNet's first width; MobileNetV2's multiplier x 64 (16 = 0.25); smaller for tests"},
      {"input_size", Group::Model, &c.model.input_size, 32, 4096, "crop size in pixels (square)"},
      {"net_stride", Group::Model, &c.model.net_stride, 1, 128, "pip: 16 (resnet18 only), 32, 64 or 128; map: 1, 2, 4, 8 or 16; coord: 32"},
      {"num_nb", Group::Model, &c.model.num_nb, 0, 200, "neighbours each landmark predicts (0: the seed paper's head, no merging)"},
      {"epochs", Group::Recipe, &c.recipe.epochs, 1, 100000, "epochs to train"},
      {"batch", Group::Recipe, &c.recipe.batch, 1, 4096, "images per step (the last partial batch is dropped)"},
      {"lr", Group::Recipe, &c.recipe.lr, 0, 1e12, "Adam learning rate"},
      {"decay", Group::Recipe, &c.recipe.decay, 0, 0, "epochs at which lr is multiplied by gamma, e.g. 30,50"},
      {"gamma", Group::Recipe, &c.recipe.gamma, 0, 1, "learning-rate decay factor"},
      {"wd", Group::Recipe, &c.recipe.wd, -1, 1, "weight decay; -1: 5e-4 from scratch, 0 with --pretrained"},
      {"pretrained", Group::Recipe, &c.recipe.pretrained, 0, 0, "torchvision ResNet weights (.safetensors) for the trunk"},
      {"init", Group::Recipe, &c.recipe.init, 0, 0, "a whole PIP Net's weights to start from (a run's model.safetensors); '' for none"},
      {"cls_weight", Group::Loss, &c.loss.cls_weight, 0, 1e6, "weight of the score-map loss"},
      {"reg_weight", Group::Loss, &c.loss.reg_weight, 0, 1e6, "weight of the offset losses"},
      {"reg_l2", Group::Loss, &c.loss.reg_l2, 0, 0, "offsets with L2 (the seed paper) instead of L1, on|off"},
      {"cls_l1", Group::Loss, &c.loss.cls_l1, 0, 0, "score maps with L1 instead of L2, on|off"},
      {"out", Group::Run, &c.run.out, 0, 0, "the run directory"},
      {"device", Group::Run, &c.run.device, 0, 0, "where the network runs", {"cpu", "cuda"}},
      {"seed", Group::Run, &c.run.seed, 0, 1e18, "initialisation, shuffling and augmentation seed"},
      {"workers", Group::Run, &c.run.workers, 1, 256, "data-loading threads"},
      {"threads", Group::Run, &c.run.threads, 0, 1024, "compute threads (0: all cores)"},
      {"eval_every", Group::Run, &c.run.eval_every, 1, 100000, "test every N epochs (and after the last)"},
      {"max_batches", Group::Run, &c.run.max_batches, 0, 1e12, "batches per epoch, 0 = all (short runs)"},
      {"time_limit_s", Group::Run, &c.run.time_limit_s, 0, 1e9, "stop after the epoch that passes S seconds; 0 = none"},
      {"sync_bn", Group::Run, &c.run.sync_bn, 0, 0, "under mpirun: BatchNorm statistics over the global batch, on|off"},
      {"comm_timeout", Group::Run, &c.run.comm_timeout, 1, 1e6, "under mpirun: seconds a collective may wait for a rank"},
      {"die_at_step", Group::Run, &c.run.die_at_step, 0, 1e12, "test hook: exit as a kill would", {}, true},
      {"die_rank", Group::Run, &c.run.die_rank, -1, 1e6, "test hook: the rank die_at_step applies to (-1 all)", {}, true},
      {"stall_at_step", Group::Run, &c.run.stall_at_step, 0, 1e12, "test hook: hang as a wedged rank would", {}, true},
  };
}

// Old spellings, read and never written.
const std::map<std::string, std::string> kAliases = {{"stride", "net_stride"}, {"input", "input_size"}, {"nb", "num_nb"}};

void assign(const Setting& s, const std::string& v) {
  auto number = [&](bool integer) {
    return integer ? (double)parse_int(v, s.key, (int64_t)s.lo, (int64_t)s.hi) : parse_double(v, s.key, s.lo, s.hi);
  };
  std::visit([&](auto* m) {
    using T = std::remove_pointer_t<decltype(m)>;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!s.choices.empty()) {
        bool ok = false;
        for (auto& c : s.choices) ok |= c == v;
        if (!ok) {
          std::string list;
          for (auto& c : s.choices) list += (list.empty() ? "" : ", ") + c;
          throw Error(strf("%s = '%s': expected one of %s", s.key, v.c_str(), list.c_str()));
        }
      }
      *m = v;
    } else if constexpr (std::is_same_v<T, bool>) {
      if (v == "1" || v == "true" || v == "on" || v == "yes") *m = true;
      else if (v == "0" || v == "false" || v == "off" || v == "no") *m = false;
      else throw Error(strf("%s = '%s': expected on or off", s.key, v.c_str()));
    } else if constexpr (std::is_floating_point_v<T>) {
      *m = (T)number(false);
    } else {
      *m = (T)number(true);
    }
  }, s.member);
}

std::string value_of(const Setting& s) {
  return std::visit([](auto* m) -> std::string {
    using T = std::remove_pointer_t<decltype(m)>;
    if constexpr (std::is_same_v<T, std::string>) return *m;
    else if constexpr (std::is_same_v<T, bool>) return *m ? "1" : "0";
    else if constexpr (std::is_same_v<T, float>) return strf("%.7g", (double)*m);  // a float's own digits
    else if constexpr (std::is_floating_point_v<T>) return strf("%.10g", (double)*m);
    else return std::to_string(*m);
  }, s.member);
}

const Setting* find(std::vector<Setting>& table, const std::string& key) {
  for (auto& s : table) if (key == s.key) return &s;
  return nullptr;
}

std::string trim(std::string s) {
  s.erase(0, s.find_first_not_of(" \t\r"));
  s.erase(s.find_last_not_of(" \t\r") + 1);
  return s;
}

}  // namespace

std::string config_key(const std::string& k) {
  auto a = kAliases.find(k);
  const std::string key = a != kAliases.end() ? a->second : k;
  TrainConfig c;
  auto table = settings(c);
  return find(table, key) ? key : "";
}
bool is_config_key(const std::string& k) { return !config_key(k).empty(); }

bool may_change_on_resume(const std::string& k) {
  const std::string key = config_key(k);
  if (key == "epochs" || key == "test_data") return true;  // train longer; evaluate on other data
  TrainConfig c;
  auto table = settings(c);
  const Setting* s = find(table, key);
  return s && s->group == Group::Run;
}

void TrainConfig::set(const std::string& k, const std::string& v) {
  const std::string key = config_key(k);
  auto table = settings(*this);
  const Setting* s = find(table, key);
  if (!s) throw Error("unknown setting '" + k + "' (pipnet train --help lists them)");
  assign(*s, v);
}

std::string TrainConfig::get(const std::string& k) const {
  auto table = settings(const_cast<TrainConfig&>(*this));  // read only
  const Setting* s = find(table, config_key(k));
  if (!s) throw Error("unknown setting '" + k + "'");
  return value_of(*s);
}

std::map<std::string, std::string> TrainConfig::to_map() const {
  std::map<std::string, std::string> m;
  for (auto& s : settings(const_cast<TrainConfig&>(*this)))
    if (!s.hidden) m[s.key] = value_of(s);
  return m;
}

void TrainConfig::load(const std::string& path) {
  if (is_directory(path)) throw Error(path + ": is a folder, expected a config file (key = value lines)");
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open config file");
  parse(std::string(std::istreambuf_iterator<char>(f), {}), path);
}

void TrainConfig::parse(const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    line = line.substr(0, line.find('#'));
    if (trim(line).empty()) continue;
    const size_t eq = line.find('=');
    if (eq == std::string::npos) throw Error(strf("%s:%d: expected 'key = value'", source.c_str(), n));
    try {
      set(trim(line.substr(0, eq)), trim(line.substr(eq + 1)));
    } catch (const Error& e) {
      throw Error(strf("%s:%d: %s", source.c_str(), n, e.what()));
    }
  }
}

void TrainConfig::save(const std::string& path) const {
  std::string text = "# pipnet run configuration (pipnet train --config this-file reproduces the run)\n";
  for (auto& [k, v] : to_map()) text += k + " = " + v + "\n";
  write_file_atomic(path, text);
}

std::vector<int> TrainConfig::decay_epochs() const {
  std::vector<int> v;
  std::stringstream ss(recipe.decay);
  for (std::string t; std::getline(ss, t, ',');) {
    if (t.empty()) continue;
    v.push_back((int)parse_int(t, "decay = '" + recipe.decay + "': an epoch", 1, 1000000));
  }
  return v;
}

void TrainConfig::validate() const {
  check_config(model);  // pipnet/pipnet.h: stride vs backbone vs head
  if (model.head == "coord" && recipe.batch < 2)
    throw Error(strf("batch = %d: the coord head's BatchNorm1d needs a training batch of 2 or more", recipe.batch));
  decay_epochs();
}

// Fields separated by '_'.
static std::vector<std::string> fields(const std::string& name) {
  std::vector<std::string> f;
  std::stringstream ss(name);
  for (std::string t; std::getline(ss, t, '_');) f.push_back(t);
  return f;
}

void TrainConfig::apply_preset(const std::string& name) {
  // pip_<stride>_<batch>_<epochs>_<r18|r50|r101>_<l2|l1>_<l1|l2>_<cls weight>_<reg weight>_nb<k>   (spec §5)
  // coord_<r18|r50|r101>_<l1|l2>: Coord Net, batch 32, 120 epochs (the paper's §4.3)
  // map_<stride>_<batch>_<epochs>_<r18|r50|r101>_<l2|l1>: Map Net, e.g. map_4_16_60_r18_l2
  const std::vector<std::string> f = fields(name);
  const std::string bad = "preset '" + name + "': expected pip_STRIDE_BATCH_EPOCHS_rNN_l2_l1_CLSW_REGW_nbK (e.g. "
                          "pip_32_16_60_r18_l2_l1_10_1_nb10), coord_rNN_l1 (coord_r18_l1) or "
                          "map_STRIDE_BATCH_EPOCHS_rNN_l2 (map_4_16_60_r18_l2)";
  auto is_loss = [](const std::string& t) { return t == "l1" || t == "l2"; };
  auto is_backbone = [](const std::string& t) { return t.size() >= 2 && t[0] == 'r'; };
  const bool pip = f.size() == 10 && f[0] == "pip" && is_backbone(f[4]) && f[9].rfind("nb", 0) == 0 && is_loss(f[5]) && is_loss(f[6]);
  const bool coord = f.size() == 3 && f[0] == "coord" && is_backbone(f[1]) && is_loss(f[2]);
  const bool map = f.size() == 6 && f[0] == "map" && is_backbone(f[4]) && is_loss(f[5]);
  if (!pip && !coord && !map) throw Error(bad);
  try {
    if (pip) {
      set("head", "pip");
      set("net_stride", f[1]);
      set("batch", f[2]);
      set("epochs", f[3]);
      set("backbone", "resnet" + f[4].substr(1));
      set("cls_l1", f[5] == "l1" ? "on" : "off");
      set("reg_l2", f[6] == "l2" ? "on" : "off");
      set("cls_weight", f[7]);
      set("reg_weight", f[8]);
      set("num_nb", f[9].substr(2));
    } else if (coord) {  // the regression loss is the reg criterion
      set("head", "coord");
      set("net_stride", "32");
      set("batch", "32");
      set("epochs", "120");
      set("backbone", "resnet" + f[1].substr(1));
      set("reg_l2", f[2] == "l2" ? "on" : "off");
    } else {  // the heatmap loss is the cls criterion
      set("head", "map");
      set("net_stride", f[1]);
      set("batch", f[2]);
      set("epochs", f[3]);
      set("backbone", "resnet" + f[4].substr(1));
      set("cls_l1", f[5] == "l1" ? "on" : "off");
    }
  } catch (const Error& e) {
    throw Error(bad + " (" + e.what() + ")");
  }
  const int e = recipe.epochs;
  recipe.decay = std::to_string(e / 2) + "," + std::to_string(e * 5 / 6);  // 60 -> 30,50 as the repo; 120 -> 60,100
}

std::string config_help() {
  TrainConfig c;
  auto table = settings(c);
  std::string h;
  for (int g = 0; g < 5; g++) {
    h += strf("  %s:\n", kGroupNames[g]);
    for (auto& s : table) {
      if ((int)s.group != g || s.hidden) continue;
      std::string flag = std::string("--") + s.key;
      for (char& ch : flag) if (ch == '_') ch = '-';
      std::string def = value_of(s), choices;
      if (std::holds_alternative<std::string*>(s.member)) def = "'" + def + "'";
      if (std::holds_alternative<bool*>(s.member)) def = def == "1" ? "on" : "off";
      for (auto& c : s.choices) choices += (choices.empty() ? ": " : "|") + c;
      h += strf("    %-16s %s%s (default %s)\n", flag.c_str(), s.help, choices.c_str(), def.c_str());
    }
  }
  return h;
}
