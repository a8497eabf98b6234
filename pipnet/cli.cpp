// pipnet: train, evaluate and run PIP Net (Jin, Liao & Shao, ECCV 2020) on this project's engine.
//   pipnet demo | train | test | infer | bench | synth | import | distill | probe   (pipnet COMMAND --help for each)
// This file holds the option parser every command uses, main(), and the commands that fit on a screen; infer.cpp
// and bench.cpp hold the other two.
#include "pipnet/cli.h"

#include <omp.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "data/synth.h"
#include "kernels/cpu/gemm.h"
#include "pipnet/dist.h"
#include "pipnet/evaluate.h"
#include "pipnet/landmarks.h"
#include "pipnet/plot.h"
#include "pipnet/run.h"
#include "pipnet/train.h"
#include "tensor/fileio.h"
#include "tensor/parse.h"

// ---- options --------------------------------------------------------------------------------------
namespace {
std::string underscored(std::string s) {
  for (char& c : s) if (c == '-') c = '_';
  return s;
}
std::string dashed(std::string s) {
  for (char& c : s) if (c == '_') c = '-';
  return s;
}
}  // namespace

void usage_error(const std::string& msg) {
  std::fprintf(stderr, "pipnet: %s\n", msg.c_str());
  std::exit(2);
}

bool Args::has(const std::string& s) const {
  for (auto& x : switches) if (x == s) return true;
  return false;
}
std::string Args::get(const std::string& k, const std::string& def) const {
  for (auto& [a, b] : kv) if (a == k) return b;
  return def;
}
std::vector<std::string> Args::all(const std::string& k) const {
  std::vector<std::string> v;
  for (auto& [a, b] : kv) if (a == k) v.push_back(b);
  return v;
}
// A malformed value is a usage error: one line naming the flag (tensor/parse.h says what was expected).
double Args::get_double(const std::string& k, double def, double lo, double hi) const {
  const std::string v = get(k);
  if (v.empty()) return def;
  try {
    return parse_double(v, "--" + dashed(k), lo, hi);
  } catch (const Error& e) {
    usage_error(e.what());
  }
}
int Args::get_int(const std::string& k, int def, int lo, int hi) const {
  const std::string v = get(k);
  if (v.empty()) return def;
  try {
    return (int)parse_int(v, "--" + dashed(k), lo, hi);
  } catch (const Error& e) {
    usage_error(e.what());
  }
}
std::vector<int> Args::get_ints(const std::string& k, const std::string& def, int lo, int hi) const {
  const std::string v = get(k, def);
  std::vector<int> out;
  std::stringstream ss(v);
  for (std::string t; std::getline(ss, t, ',');) {
    try {
      out.push_back((int)parse_int(t, "--" + dashed(k) + " '" + v + "'", lo, hi));
    } catch (const Error& e) {
      usage_error(e.what());
    }
  }
  if (out.empty()) usage_error("--" + dashed(k) + ": expected at least one value");
  return out;
}

Args parse_args(int argc, char** argv, const std::vector<Option>& options, bool config_keys, int max_positional) {
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i < argc; i++) {
    const std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 && (int)a.positional.size() < max_positional) {
      a.positional.push_back(arg);
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2)
      usage_error(a.cmd + ": unexpected argument '" + arg + "' (options are --key value; pipnet " + a.cmd + " --help)");
    const std::string key = underscored(arg.substr(2));
    const Option* opt = nullptr;
    for (auto& o : options) if (underscored(o.name) == key) opt = &o;
    if (!opt && !(config_keys && is_config_key(key)))
      usage_error(a.cmd + ": unknown option " + arg + " (pipnet " + a.cmd + " --help lists the options)");
    if (opt && !opt->value) { a.switches.push_back(key); continue; }
    if (i + 1 >= argc) usage_error(a.cmd + ": " + arg + " needs a value");
    a.kv.push_back({key, argv[++i]});
  }
  return a;
}

std::string help_text(const std::string& usage, const std::string& about, const std::vector<Option>& options) {
  std::string h = "usage: " + usage + "\n" + about + "  options:\n";
  for (auto& o : options) {
    if (o.hidden) continue;
    std::string flag = "--" + dashed(o.name) + (o.value ? std::string(" ") + o.value : "");
    h += strf("    %-22s %s\n", flag.c_str(), o.help);
  }
  return h;
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code e1, e2;
  const auto pa = std::filesystem::weakly_canonical(a, e1), pb = std::filesystem::weakly_canonical(b, e2);
  return !e1 && !e2 && pa == pb;
}

void refuse_run_file(const std::string& path, const std::string& run_dir) {
  for (const char* f : {"config.txt", "meanface.txt", "checkpoint.safetensors", "model.safetensors", "log.csv", "loss.png"})
    if (same_file(path, run_dir + "/" + f))
      usage_error("refusing to write " + path + ": it is the run's own " + f);
}

void set_threads(const Args& a) {
  const int t = a.get_int("threads", 0, 0, 1024);
  if (t > 0) omp_set_num_threads(t);
}

// ---- pipnet train ---------------------------------------------------------------------------------
namespace {

int cmd_train(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"config", "FILE", "settings file (key = value lines), applied before the flags"},
      {"preset", "NAME", "an official experiment name: pip_32_16_60_r18_l2_l1_10_1_nb10 (PIP), coord_r18_l1 (Coord Net), "
                         "map_4_16_60_r18_l2 / map_2_... / map_1_... (Map Net at net stride 4 / 2 / 1)"},
      {"resume", nullptr, "continue --out DIR from its checkpoint, with DIR/config.txt (only run settings and --epochs may change)"},
      {"verbose", nullptr, "print the network's layers and the kernel chosen for each op"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, /*config_keys=*/true);
  if (a.has("help")) {
    std::printf("%s  settings (flags, or key = value lines of --config; config.txt uses the same names):\n%s",
                help_text("pipnet train [--config FILE] [--preset NAME] [--resume] [--KEY VALUE ...]",
                          "  Trains PIP Net; the official recipe by default (ResNet-18, 256x256, stride 32, Adam 1e-4, 60 epochs).\n"
                          "  --head coord or map trains the paper's baselines instead (Coord Net, Map Net; README: Heads).\n"
                          "  Writes OUT/config.txt, meanface.txt, checkpoint.safetensors (every epoch), model.safetensors,\n"
                          "  log.csv and loss.png; every file atomically, so a killed run resumes with --resume.\n", opts).c_str(),
                config_help().c_str());
    return 0;
  }
  KeyValues overrides;
  for (auto& [k, v] : a.kv)
    if (k != "config" && k != "preset") overrides.push_back({k, v});
  TrainConfig cfg;
  if (a.has("resume")) {
    if (!a.get("config").empty() || !a.get("preset").empty())
      usage_error("train: --resume takes the run's settings from OUT/config.txt; it cannot be combined with --config or --preset");
    cfg = resume_config(a.get("out", cfg.run.out), overrides);
  } else {
    if (!a.get("preset").empty()) cfg.apply_preset(a.get("preset"));
    if (!a.get("config").empty()) cfg.load(a.get("config"));
    for (auto& [k, v] : overrides) cfg.set(k, v);
  }
  if (cfg.run.threads > 0) omp_set_num_threads(cfg.run.threads);
  return train(cfg, a.has("resume"), a.has("verbose"));
}

// ---- pipnet test ----------------------------------------------------------------------------------
int cmd_test(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"run", "DIR", "the trained run (required)"},
      {"weights", "FILE", "weights instead of the run's model.safetensors"},
      {"data", "[NAME=]SPEC", "data to test on (repeat for subsets; default: the run's test data)"},
      {"json", "FILE", "scores as JSON (default RUN/test.json)"},
      {"ced", "FILE.png", "CED curve (default RUN/ced.png; RUN/ced_NAME.png per subset)"},
      {"device", "cpu|cuda", "where to run (default: the run's)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (!a.has("help") && a.get("run").empty()) usage_error("test: --run DIR is required (pipnet test --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet test --run DIR [--data [NAME=]SPEC]... [options]",
                                "  NME, FR@0.1 and AUC@0.1 (merged and unmerged decoding) per data set; e.g. 300W's subsets\n"
                                "    --data full=list:test.txt:images_test --data common=list:test_common.txt:images_test\n"
                                "  or WFLW's attributes (--data pose=wflw:list_98pt_rect_attr_test.txt:WFLW_images:pose ...).\n"
                                "  Writes the JSON, the CED curves and overlay_NAME.png (the first 16 faces, predicted\n"
                                "  landmarks green over the truth red) into the run directory.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  const std::string dir = a.get("run");
  LoadedRun run = load_run(dir, a.get("weights"), a.get("device"));
  std::vector<std::pair<std::string, std::string>> sets;
  for (const std::string& v : a.all("data")) {
    const size_t eq = v.find('=');
    const bool named = eq != std::string::npos && v.find(':') > eq;
    const std::string name = named ? v.substr(0, eq) : "test";
    if (name.empty() || name.find_first_of("/\\ ") != std::string::npos)
      usage_error("test: --data '" + v + "': a subset name is letters, digits, '-' or '_'");
    for (auto& [other, spec] : sets)
      if (other == name) usage_error("test: two --data sets are named '" + name + "'; give each its own NAME=SPEC");
    sets.push_back({name, named ? v.substr(eq + 1) : v});
  }
  if (sets.empty()) sets.push_back({"test", run.cfg.data.test_data});
  // Every data set is opened before anything is written: a bad one leaves the run's files as they were.
  std::vector<Dataset> data;
  for (auto& [name, spec] : sets) {
    if (spec.empty()) usage_error("test: the run has no test data; give --data SPEC");
    data.push_back(open_dataset(spec, run.cfg.model.input_size, run.cfg.data.scales(), run.cfg.run.seed));
    if (data.back().n_points != run.meanface.N)
      throw Error(strf("%s has %d points, the model %d", spec.c_str(), data.back().n_points, run.meanface.N));
  }
  // Outputs must not land on the run's own files (a --json or --ced typed wrong would destroy them).
  const std::string json = a.get("json", dir + "/test.json");
  std::vector<std::string> outputs = {json};
  for (auto& [name, spec] : sets) {
    outputs.push_back(sets.size() == 1 ? a.get("ced", dir + "/ced.png") : dir + "/ced_" + name + ".png");
    outputs.push_back(dir + "/overlay_" + name + ".png");
  }
  for (size_t i = 0; i < outputs.size(); i++) {
    refuse_run_file(outputs[i], dir);
    for (size_t j = 0; j < i; j++)
      if (same_file(outputs[i], outputs[j])) usage_error("test: two outputs would both be written to " + outputs[i]);
  }
  std::string js = "{";
  for (size_t i = 0; i < sets.size(); i++) {
    auto& [name, spec] = sets[i];
    const Dataset& d = data[i];
    TestReport r = run_test(*run.net, run.nbr, d, run.cfg.recipe.batch, /*progress=*/true);  // split over ranks
    if (!dist::is_root()) continue;  // under mpirun rank 0 alone prints and writes
    std::printf("== %s: %s\n", name.c_str(), spec.c_str());
    print_report(r);
    const std::string& ced = outputs[1 + 2 * i];  // the paths checked above
    plot_ced(ced, r);
    std::vector<Image> tiles;
    for (int64_t k = 0; k < std::min<int64_t>(16, d.size); k++)
      tiles.push_back(overlay(d.source(k).image, r.pred[k], &r.gt[k], run.cfg.model.input_size >= 200 ? 1 : 2));
    const std::string& ov = outputs[2 + 2 * i];
    save_png(contact_sheet(tiles, 4), ov);
    std::printf("wrote %s\nwrote %s\n", ov.c_str(), ced.c_str());
    js += (i ? ",\n" : "\n") + ("\"" + json_escape(name) + "\": ") + report_json(r, spec);
  }
  if (!dist::is_root()) return 0;
  write_file_atomic(json, js + "}\n");
  std::printf("wrote %s\n", json.c_str());
  return 0;
}

// Real photos beside the synthetic faces, when the shipped model (models/pipnet_r18_lfw68), the detector's weights
// and lfw68's test photos are all here (../shared beside the clone): eight photos, every face found by FaceBoxesV2
// and given its landmarks, into OUT/photos.png. Without them the demo says what it skipped.
static void demo_photos(const std::string& out) {
  const std::string photos = std::string(PIPNET_SOURCE_DIR) + "/../shared/data/lfw68/test", run_dir = default_run();
  const std::string weights = find_detector_weights();
  if (run_dir.empty() || weights.empty() || !is_directory(photos)) {
    std::printf("real photos skipped: they need models/pipnet_r18_lfw68, the FaceBoxesV2 weights and "
                "../shared/data/lfw68 (see pipnet infer --help)\n");
    return;
  }
  LoadedRun run = load_run(run_dir);
  run.net->fold_batchnorms();
  FaceDetector det(weights, run.net->device());
  LandmarkRunner lm(run);
  ag::NoGradGuard ng;
  std::vector<std::string> images = list_images(photos);
  std::vector<Image> tiles;
  for (size_t i = 0; i < images.size() && tiles.size() < 8; i += std::max<size_t>(1, images.size() / 8)) {
    Image im = load_image(images[i]);
    draw_faces(im, find_landmarks(im, det, DetectOptions{}, lm));
    tiles.push_back(im);
  }
  save_png(contact_sheet(tiles, 4), out + "/photos.png");
  std::printf("wrote %s/photos.png: %zu lfw68 test photos, faces found by FaceBoxesV2, landmarks by %s\n", out.c_str(),
              tiles.size(), run_dir.c_str());
}

// ---- pipnet demo ----------------------------------------------------------------------------------
static std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) v.push_back(t);
  return v;
}

// Several runs on their own test data, their merged CED curves on one chart (tools/reproduce.sh's pictures).
int cmd_ced(int argc, char** argv) {
  const std::vector<Option> opts = {{"runs", "A,B,...", "run directories (required)"},
                                    {"labels", "a,b,...", "a label per run (default: each directory's name)"},
                                    {"out", "FILE.png", "the chart (required)"},
                                    {"title", "TEXT", "the chart's title"},
                                    {"threads", "N", "compute threads (0: all cores)"},
                                    {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet ced --runs A,B,... --out FILE.png [--labels a,b,...]",
                                "  Tests each run on its own test data and draws the merged CED curves together.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  const std::vector<std::string> runs = split_commas(a.get("runs")), labels = split_commas(a.get("labels"));
  if (runs.empty() || a.get("out").empty()) usage_error("ced: --runs and --out are required");
  if (!labels.empty() && labels.size() != runs.size())
    usage_error(strf("ced: --labels has %zu names for %zu runs", labels.size(), runs.size()));
  static const unsigned char palette[8][3] = {{200, 30, 30}, {30, 100, 200}, {40, 160, 60}, {230, 140, 0},
                                              {140, 60, 180}, {0, 170, 170}, {120, 120, 120}, {0, 0, 0}};
  std::vector<Series> series;
  for (size_t i = 0; i < runs.size(); i++) {
    LoadedRun run = load_run(runs[i]);
    const Dataset test = open_dataset(run.cfg.data.test_data, run.cfg.model.input_size, run.cfg.data.scales(), run.cfg.run.seed);
    const TestReport r = run_test(*run.net, run.nbr, test, 16);
    std::string name = labels.empty() ? std::filesystem::path(runs[i]).filename().string() : labels[i];
    Series s{strf("%s %.2f%%", name.c_str(), 100 * r.merged.mean_nme), {}, {}, {}};
    std::memcpy(s.rgb, palette[i % 8], 3);
    for (size_t k = 0; k < r.merged.ced.size(); k++) s.x.push_back(0.1 * k / 1000), s.y.push_back(r.merged.ced[k]);
    series.push_back(s);
  }
  plot_png(a.get("out"), a.get("title", "CED"), "NME", "FRACTION", series);
  std::printf("wrote %s\n", a.get("out").c_str());
  return 0;
}

int cmd_demo(int argc, char** argv) {
  const std::vector<Option> opts = {{"out", "DIR", "where the pictures and scores go (default demo_out)"},
                                    {"minutes", "M", "training time (default 4)"},
                                    {"threads", "N", "compute threads (0: all cores)"},
                                    {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet demo [--out DIR] [--minutes M] [--threads N]",
                                "  Trains a small PIP Net (ResNet-18 at width 32, 128x128, stride 32) on synthetic faces on the CPU,\n"
                                "  evaluates it on held-out synthetic faces, and writes DIR/faces.png (landmarks: green predicted,\n"
                                "  red truth), DIR/scores.json, DIR/ced.png and DIR/run/loss.png. Then, when the shipped model, the\n"
                                "  FaceBoxesV2 weights and ../shared/data/lfw68 are here, real photos: DIR/photos.png, eight lfw68\n"
                                "  test photos with every face found and its landmarks drawn.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  const std::string out = a.get("out", "demo_out");
  const double minutes = a.get_double("minutes", 4, 0.05, 600);
  make_dirs(out);
  TrainConfig cfg;
  cfg.model.width = 32;
  cfg.model.input_size = 128;
  cfg.model.net_stride = 32;
  cfg.recipe.batch = 16;
  cfg.recipe.lr = 1e-3;
  cfg.recipe.epochs = 12;  // ~17 s each on 2 cores; short epochs keep the time limit honest
  cfg.recipe.decay = "9";
  cfg.data.data = "synth:960";
  cfg.data.test_data = "synth-test:200";
  cfg.run.eval_every = 3;
  cfg.run.time_limit_s = minutes * 60;
  cfg.run.out = out + "/run";
  if (is_directory(cfg.run.out)) {  // the demo's own folder: a second demo starts afresh
    std::fprintf(stderr, "removing the previous demo run %s\n", cfg.run.out.c_str());
    std::filesystem::remove_all(cfg.run.out);
  }
  std::printf("pipnet demo: training for about %.1f minutes on synthetic faces (%s)\n", minutes, cfg.run.out.c_str());
  train(cfg, false);
  LoadedRun run = load_run(cfg.run.out);
  Dataset test = open_dataset(cfg.data.test_data, cfg.model.input_size, cfg.data.scales(), cfg.run.seed);
  TestReport r = run_test(*run.net, run.nbr, test, cfg.recipe.batch);
  print_report(r);
  write_file_atomic(out + "/scores.json", report_json(r, cfg.data.test_data));
  plot_ced(out + "/ced.png", r);
  std::vector<Image> tiles;
  for (int i = 0; i < 16; i++) {
    SynthFace f = synth_face(cfg.run.seed * 2 + 2, i, cfg.model.input_size);  // the held-out faces, as synth-test builds them
    tiles.push_back(overlay(f.image, r.pred[i], &r.gt[i]));
  }
  Image sheet = contact_sheet(tiles, 4);
  const uint8_t black[3] = {0, 0, 0};
  Image framed(sheet.w, sheet.h + 30, 255);
  for (int y = 0; y < sheet.h; y++) std::memcpy(framed.at(0, y + 30), sheet.at(0, y), (size_t)sheet.w * 3);
  draw_text(framed, 8, 8, strf("HELD-OUT FACES  NME %.2f%%  GREEN PREDICTED  RED TRUTH", 100 * r.merged.mean_nme), black, 2);
  save_png(framed, out + "/faces.png");
  std::printf("wrote %s/faces.png, %s/scores.json, %s/ced.png, %s/loss.png\n", out.c_str(), out.c_str(), out.c_str(),
              cfg.run.out.c_str());
  demo_photos(out);
  return 0;
}

// ---- pipnet synth ---------------------------------------------------------------------------------
int cmd_synth(int argc, char** argv) {
  const std::vector<Option> opts = {{"out", "FILE.png", "the contact sheet (default synth.png)"},
                                    {"n", "N", "faces (default 16)"},
                                    {"size", "S", "face size in pixels (default 128)"},
                                    {"seed", "S", "the training seed whose faces to draw (default 1)"},
                                    {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet synth [--out synth.png] [--n 16] [--size 128] [--seed 1]",
                                "  Draws N synthetic training faces (the seed's training set) with their 68 landmarks in a grid.\n",
                                opts).c_str());
    return 0;
  }
  const int n = a.get_int("n", 16, 1, 4096), size = a.get_int("size", 128, 32, 2048);
  const uint64_t seed = (uint64_t)a.get_double("seed", 1, 0, 1e15);
  std::vector<Image> tiles;
  for (int i = 0; i < n; i++) {
    SynthFace f = synth_face(seed * 2 + 1, i, size);  // as `--data synth` builds them for this seed
    tiles.push_back(overlay(f.image, f.lms, nullptr));
  }
  const std::string out = a.get("out", "synth.png");
  save_png(contact_sheet(tiles, (int)std::ceil(std::sqrt((double)n))), out);
  std::printf("wrote %s (%d faces, %dx%d, landmarks in green)\n", out.c_str(), n, size, size);
  return 0;
}

const char* kUsage =
    "usage: pipnet COMMAND [options]     (pipnet COMMAND --help)\n"
    "  demo    train a small PIP Net on built-in synthetic faces for a few minutes, evaluate it, draw the results\n"
    "  train   train (official recipe by default: ResNet-18, 256x256, stride 32, Adam 1e-4, 60 epochs, batch 16);\n"
    "          --head coord|map (or --preset coord_r18_l1, map_4_16_60_r18_l2) trains the paper's baselines\n"
    "  test    NME / FR@0.1 / AUC@0.1 of a trained run on a data set; CED curve PNG and JSON\n"
    "  ced     several runs' CED curves on one chart (each on its own test data)\n"
    "  infer   landmarks of every face in images or a video (FaceBoxesV2 finds them, or a given box): JSON, PNG, MP4\n"
    "  detect  face boxes only (FaceBoxesV2); on a labelled folder, the detector's recall\n"
    "  bench   inference FPS and training images/s per backbone (the paper's Table 8 columns)\n"
    "  synth   a contact sheet of the built-in synthetic faces with their landmarks\n"
    "  distill translation-based data distillation: pseudo-labels for unlabelled faces, round after round\n"
    "  probe   the position prior: what a network predicts on black images and on images without a face\n"
    "  import  a PyTorch .pth (official PIPNet, torchvision ResNet, FaceBoxesV2) into a run directory or weights\n"
    "  export  a run's model alone (config, mean face, weights), optionally in float16\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  bool verbose = false;
  for (int i = 2; i < argc; i++) verbose |= !std::strcmp(argv[i], "--verbose");
  try {
    dist::init(&argc, &argv);  // under mpirun: join the job (pipnet/dist.h); otherwise rank 0 of 1
    cpu::flush_denormals();    // subnormals as zero (kernels/cpu/gemm.h)
    int rc = -1;
    if (cmd == "train") rc = cmd_train(argc, argv);
    else if (cmd == "test") rc = cmd_test(argc, argv);
    else if (cmd == "ced") rc = cmd_ced(argc, argv);
    else if (cmd == "infer") rc = cmd_infer(argc, argv);
    else if (cmd == "demo") rc = cmd_demo(argc, argv);
    else if (cmd == "bench") rc = cmd_bench(argc, argv);
    else if (cmd == "synth") rc = cmd_synth(argc, argv);
    else if (cmd == "import") rc = cmd_import(argc, argv);
    else if (cmd == "detect") rc = cmd_detect(argc, argv);
    else if (cmd == "distill") rc = cmd_distill(argc, argv);
    else if (cmd == "probe") rc = cmd_probe(argc, argv);
    else if (cmd == "export") rc = cmd_export(argc, argv);
    if (rc >= 0) {
      if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw Error("cannot write to standard output (disk full or closed pipe?)");
      dist::finalize();
      return rc;
    }
  } catch (const Error& e) {
    if (verbose && e.file) std::fprintf(stderr, "pipnet: error: %s (raised at %s:%d)\n", e.what(), e.file, e.line);
    else std::fprintf(stderr, "pipnet: error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipnet: error: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "pipnet: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}
