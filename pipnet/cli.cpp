// pipnet: train, evaluate and run PIP Net (Jin, Liao & Shao, ECCV 2020) on this project's engine.
//   pipnet demo | train | test | infer | bench   (pipnet COMMAND --help for each)
#include <omp.h>
#include <sys/stat.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "data/synth.h"
#include "kernels/cpu/gemm.h"
#include "kernels/dispatch.h"
#include "kernels/graph.h"
#include "layers/optim.h"
#include "pipnet/plot.h"
#include "pipnet/train.h"

namespace {

struct Args {
  std::string cmd;
  std::vector<std::pair<std::string, std::string>> kv;  // --key value, in order
  std::vector<std::string> flags;                        // --flag
  bool has(const std::string& f) const { for (auto& x : flags) if (x == f) return true; return false; }
  std::string get(const std::string& k, const std::string& def = "") const {
    for (auto& [a, b] : kv) if (a == k) return b;
    return def;
  }
};

const char* kUsage =
    "usage: pipnet COMMAND [options]     (pipnet COMMAND --help)\n"
    "  demo    train a small PIP Net on built-in synthetic faces for a few minutes, evaluate it, draw the results\n"
    "  train   train (official recipe by default: ResNet-18, 256x256, stride 32, Adam 1e-4, 60 epochs, batch 16)\n"
    "  test    NME / FR@0.1 / AUC@0.1 of a trained run on a data set; CED curve PNG and JSON\n"
    "  infer   landmarks for images (a face box or whole-image crops): JSON and PNG\n"
    "  bench   inference FPS and training images/s per backbone (the paper's Table 8 columns)\n"
    "  synth   a contact sheet of the built-in synthetic faces with their landmarks\n";

const char* kTrainHelp =
    "usage: pipnet train [--config FILE] [--preset pip_32_16_60_r18_l2_l1_10_1_nb10] [--resume] [--KEY VALUE ...]\n"
    "  data:   --data synth[:N] | 300w:DIR | list:FILE:IMAGEDIR | wflw:LIST:IMAGEDIR[:ATTRIBUTE]   (default synth:4000)\n"
    "          --test-data SPEC (default synth-test:300; '' for none)  --meanface auto|FILE  --flip-table FILE\n"
    "          --crop-scale 1.1  --augment on|off\n"
    "  model:  --backbone resnet18|resnet50|resnet101  --width 64  --input 256  --stride 16|32|64|128  --nb 10\n"
    "          --pretrained FILE.safetensors (torchvision ImageNet ResNet, see tools/pth_to_safetensors.py)\n"
    "  recipe: --epochs 60 --batch 16 --lr 1e-4 --decay 30,50 --gamma 0.1 --wd auto(-1) --cls-weight 10\n"
    "          --reg-weight 1 --reg-l2 on|off (seed paper's all-L2)  --cls-l1 on|off\n"
    "  run:    --out DIR (default runs/pip) --device cpu|cuda --seed 1 --workers 2 --threads N --eval-every 1\n"
    "          --max-batches N\n"
    "          --time-limit-s S (stop after the epoch that passes S seconds)\n"
    "  writes DIR/config.txt, meanface.txt, checkpoint.safetensors (every epoch, atomic), model.safetensors,\n"
    "  log.csv, loss.png. --resume continues DIR exactly where its last checkpoint stopped.\n";

[[noreturn]] void usage_error(const std::string& msg) {
  std::fprintf(stderr, "pipnet: %s\n", msg.c_str());
  std::exit(2);
}

Args parse(int argc, char** argv, const std::vector<std::string>& flag_names) {
  Args a;
  a.cmd = argv[1];
  for (int i = 2; i < argc; i++) {
    std::string s = argv[i];
    if (s.rfind("--", 0) != 0) usage_error("unexpected argument '" + s + "' (options are --key value)");
    s = s.substr(2);
    for (char& c : s) if (c == '-') c = '_';
    bool is_flag = false;
    for (auto& f : flag_names) if (f == s) is_flag = true;
    if (is_flag) { a.flags.push_back(s); continue; }
    if (i + 1 >= argc) usage_error("--" + s + " needs a value");
    a.kv.push_back({s, argv[++i]});
  }
  return a;
}

void set_threads(const Args& a) {
  const int t = std::atoi(a.get("threads", "0").c_str());
  if (t > 0) omp_set_num_threads(t);
}

bool is_dir(const std::string& p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::string report_json(const TestReport& r, const std::string& data) {
  auto block = [&](const EvalResult& e) {
    return strf("{\"nme\": %.6f, \"fr_0.1\": %.6f, \"auc_0.1\": %.6f, \"images\": %zu, \"zero_norm_skipped\": %d}",
                e.mean_nme, e.fr, e.auc, e.nme.size(), e.zero_norm);
  };
  return "{\n  \"data\": \"" + data + "\",\n  \"normalisation\": \"" + r.norm.name + "\",\n  \"merged\": " +
         block(r.merged) + ",\n  \"unmerged\": " + block(r.unmerged) +
         strf(",\n  \"ms_per_image\": %.3f\n}\n", 1e3 * r.seconds_per_image);
}

void write_report_json(const std::string& path, const TestReport& r, const std::string& data) {
  std::ofstream f(path);
  if (!f) throw Error(path + ": cannot write");
  f << report_json(r, data);
}

void plot_ced(const std::string& path, const TestReport& r) {
  Series m{"merged (NRM)", {}, {}, {200, 30, 30}}, u{"unmerged", {}, {}, {30, 100, 200}};
  for (size_t k = 0; k < r.merged.ced.size(); k++) {
    m.x.push_back(0.1 * k / 1000); m.y.push_back(r.merged.ced[k]);
    u.x.push_back(0.1 * k / 1000); u.y.push_back(r.unmerged.ced[k]);
  }
  plot_png(path, strf("CED  NME %.2f%%  AUC %.3f", 100 * r.merged.mean_nme, r.merged.auc), "NME", "FRACTION", {m, u});
}

void print_report(const TestReport& r) {
  std::printf("%-10s %8s %9s %9s   (%zu images, norm %s%s)\n", "decoding", "NME %", "FR@0.1 %", "AUC@0.1", r.merged.nme.size(),
              r.norm.name.c_str(), r.merged.zero_norm ? strf(", %d skipped: zero normaliser", r.merged.zero_norm).c_str() : "");
  std::printf("%-10s %8.3f %9.2f %9.4f\n", "merged", 100 * r.merged.mean_nme, 100 * r.merged.fr, r.merged.auc);
  std::printf("%-10s %8.3f %9.2f %9.4f\n", "unmerged", 100 * r.unmerged.mean_nme, 100 * r.unmerged.fr, r.unmerged.auc);
}

// Landmarks drawn on faces: predictions green, ground truth (if any) red underneath.
Image overlay(const Image& face, const std::vector<float>& pred, const std::vector<float>* gt, int scale = 2) {
  Image im = resize_bilinear(face, face.w * scale, face.h * scale);
  const uint8_t red[3] = {230, 40, 40}, green[3] = {40, 240, 60};
  if (gt) for (size_t k = 0; k < gt->size(); k += 2) draw_disc(im, (*gt)[k] * im.w, (*gt)[k + 1] * im.h, 1.6f * scale, red);
  for (size_t k = 0; k < pred.size(); k += 2) draw_disc(im, pred[k] * im.w, pred[k + 1] * im.h, 1.2f * scale, green);
  return im;
}

// ---- commands ---------------------------------------------------------------------------------------
int cmd_train(int argc, char** argv) {
  Args a = parse(argc, argv, {"resume", "help"});
  if (a.has("help")) { std::printf("%s", kTrainHelp); return 0; }
  TrainConfig cfg;
  if (a.get("preset").size()) cfg.apply_preset(a.get("preset"));
  if (a.get("config").size()) cfg.load(a.get("config"));
  for (auto& [k, v] : a.kv)
    if (k != "config" && k != "preset") cfg.set(k, v);
  if (a.has("resume") && a.get("config").empty() && a.kv.size() <= 1) {
    // `pipnet train --resume --out DIR`: everything else comes from DIR/config.txt
    const std::string out = cfg.out;
    cfg.load(out + "/config.txt");
    cfg.out = out;
  }
  if (cfg.threads > 0) omp_set_num_threads(cfg.threads);
  return train(cfg, a.has("resume"));
}

int cmd_test(int argc, char** argv) {
  Args a = parse(argc, argv, {"help"});
  if (a.has("help") || a.get("run").empty()) {
    std::printf("usage: pipnet test --run DIR [--weights FILE] [--data [NAME=]SPEC]... [--json FILE] [--ced FILE.png] [--device D]\n"
                "  --data defaults to the run's test data; repeat it for subsets, one row each, e.g. 300W's\n"
                "    --data full=list:test.txt:images_test --data common=list:test_common.txt:images_test\n"
                "    --data challenge=list:test_challenge.txt:images_test\n"
                "  or WFLW's six attribute subsets (--data pose=wflw:list_98pt_rect_attr_test.txt:WFLW_images:pose, and\n"
                "  expression, illumination, makeup, occlusion, blur).\n"
                "  JSON, CED curves and overlays go to the run directory (test.json, ced.png or ced_NAME.png per\n"
                "  subset, overlay_NAME.png: the first 16 faces, predicted landmarks green over the truth red).\n");
    return a.has("help") ? 0 : 2;
  }
  set_threads(a);
  LoadedRun run = load_run(a.get("run"), a.get("weights"), a.get("device"));
  std::vector<std::pair<std::string, std::string>> sets;
  for (auto& [k, v] : a.kv)
    if (k == "data") {
      const size_t eq = v.find('=');
      const bool named = eq != std::string::npos && v.find(':') > eq;
      sets.push_back({named ? v.substr(0, eq) : "test", named ? v.substr(eq + 1) : v});
    }
  if (sets.empty()) sets.push_back({"test", run.cfg.test_data});
  const std::string json = a.get("json", a.get("run") + "/test.json");
  std::ofstream js(json);
  if (!js) throw Error(json + ": cannot write");
  js << "{";
  for (size_t i = 0; i < sets.size(); i++) {
    auto& [name, spec] = sets[i];
    Dataset d = open_dataset(spec, run.cfg.input, run.cfg.crop_scale, run.cfg.seed);
    if (d.n_points != run.meanface.N) throw Error(strf("%s has %d points, the model %d", spec.c_str(), d.n_points, run.meanface.N));
    TestReport r = run_test(*run.net, run.nbr, d, run.cfg.batch);
    std::printf("== %s: %s\n", name.c_str(), spec.c_str());
    print_report(r);
    const std::string ced = sets.size() == 1 ? a.get("ced", a.get("run") + "/ced.png") : a.get("run") + "/ced_" + name + ".png";
    plot_ced(ced, r);
    // the first 16 test faces as the model saw them, predicted landmarks green over the true ones red
    std::vector<Image> tiles;
    for (int64_t k = 0; k < std::min<int64_t>(16, d.size); k++)
      tiles.push_back(overlay(d.source(k).image, r.pred[k], &r.gt[k], run.cfg.input >= 200 ? 1 : 2));
    const std::string ov = a.get("run") + "/overlay_" + name + ".png";
    save_png(contact_sheet(tiles, 4), ov);
    std::printf("wrote %s\n", ov.c_str());
    js << (i ? ",\n" : "\n") << "\"" << name << "\": " << report_json(r, spec);
    std::printf("wrote %s\n", ced.c_str());
  }
  js << "}\n";
  std::printf("wrote %s\n", json.c_str());
  return 0;
}

int cmd_infer(int argc, char** argv) {
  Args a = parse(argc, argv, {"help"});
  if (a.has("help") || a.get("run").empty() || a.get("image").empty()) {
    std::printf("usage: pipnet infer --run DIR --image FILE|DIR [--box XMIN,YMIN,XMAX,YMAX] [--out DIR] [--device D] [--threads N]\n"
                "  Without --box the whole image is the face crop. Points are printed as JSON (image pixels) and\n"
                "  drawn into OUT/<name>.png (default OUT: the run's infer/ folder). A folder is done image by image.\n");
    return a.has("help") ? 0 : 2;
  }
  set_threads(a);
  LoadedRun run = load_run(a.get("run"), "", a.get("device"));
  run.net->fold_batchnorms();  // eval mode: BN folded into the convolutions
  const std::string out = a.get("out", a.get("run") + "/infer");
  mkdir(out.c_str(), 0755);
  std::vector<std::string> images;
  const std::string img = a.get("image");
  if (is_dir(img)) {
    DIR* d = opendir(img.c_str());
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      std::string ext = n.substr(n.find_last_of('.') + 1);
      if (n.find('.') != std::string::npos && (ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "JPG"))
        images.push_back(img + "/" + n);
    }
    closedir(d);
    std::sort(images.begin(), images.end());
  } else {
    images.push_back(img);
  }
  ag::NoGradGuard ng;
  const int S = run.cfg.input;
  const Device dev = run.net->conv1.weight.device();
  Tensor xs = Tensor::empty({1, 3, S, S}, DType::F32, dev);  // the network's input, refilled for each image
  PipOutput pred;
  std::unique_ptr<Replay> replay;  // the network on xs: on CUDA captured as one graph, replayed for each image
  std::printf("[\n");
  for (size_t i = 0; i < images.size(); i++) {
    Image im = load_image(images[i]);
    int x0 = 0, y0 = 0, x1 = im.w, y1 = im.h;
    if (a.get("box").size() && std::sscanf(a.get("box").c_str(), "%d,%d,%d,%d", &x0, &y0, &x1, &y1) != 4)
      usage_error("--box '" + a.get("box") + "': expected XMIN,YMIN,XMAX,YMAX");
    x0 = std::max(x0, 0); y0 = std::max(y0, 0); x1 = std::min(x1, im.w); y1 = std::min(y1, im.h);
    if (x1 <= x0 || y1 <= y0) throw Error(images[i] + ": the face box is empty inside the image");
    Image face = resize_bilinear(crop(im, x0, y0, x1, y1), S, S);
    Tensor x = Tensor::empty({1, 3, S, S});
    normalize_imagenet(face, x.data<float>());
    const auto t0 = std::chrono::steady_clock::now();  // (the first image's time includes the capture)
    xs.copy_(x);
    if (replay) replay->run();
    else replay = std::make_unique<Replay>(dev, [&] { pred = run.net->run(xs); });  // runs it once
    Landmarks L = decode(pred, run.nbr, S, run.cfg.stride)[0];
    const double ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string pts;
    const uint8_t green[3] = {40, 240, 60};
    for (size_t k = 0; k < L.merged.size(); k += 2) {
      const float px = x0 + L.merged[k] * (x1 - x0), py = y0 + L.merged[k + 1] * (y1 - y0);
      pts += strf("%s[%.2f, %.2f]", k ? ", " : "", px, py);
      draw_disc(im, px, py, std::max(1.5f, im.w / 200.0f), green);
    }
    std::string name = images[i].substr(images[i].find_last_of('/') + 1);
    name = name.substr(0, name.find_last_of('.'));
    save_png(im, out + "/" + name + ".png");
    std::printf("  {\"image\": \"%s\", \"box\": [%d, %d, %d, %d], \"ms\": %.2f, \"points\": [%s]}%s\n", images[i].c_str(),
                x0, y0, x1, y1, ms, pts.c_str(), i + 1 < images.size() ? "," : "");
  }
  std::printf("]\n");
  std::fprintf(stderr, "drawn into %s/\n", out.c_str());
  return 0;
}

int cmd_demo(int argc, char** argv) {
  Args a = parse(argc, argv, {"help"});
  if (a.has("help")) {
    std::printf("usage: pipnet demo [--out DIR (default demo_out)] [--minutes M (default 4)] [--threads N]\n"
                "  Trains a small PIP Net (ResNet-18 at width 32, 128x128, stride 32) on synthetic faces on the CPU,\n"
                "  evaluates it on held-out synthetic faces, and writes DIR/faces.png (landmarks: green predicted,\n"
                "  red truth), DIR/scores.json, DIR/ced.png and DIR/run/loss.png.\n");
    return 0;
  }
  set_threads(a);
  const std::string out = a.get("out", "demo_out");
  const double minutes = std::atof(a.get("minutes", "4").c_str());
  mkdir(out.c_str(), 0755);
  TrainConfig cfg;
  cfg.width = 32;
  cfg.input = 128;
  cfg.stride = 32;
  cfg.batch = 16;
  cfg.lr = 1e-3;
  cfg.epochs = 12;           // ~17 s each on 2 cores; short epochs keep the time limit honest
  cfg.decay = "9";
  cfg.data = "synth:960";
  cfg.test_data = "synth-test:200";
  cfg.eval_every = 3;
  cfg.time_limit_s = minutes * 60;
  cfg.out = out + "/run";
  if (is_dir(cfg.out)) {  // the demo's own folder: a second demo starts afresh
    std::fprintf(stderr, "removing the previous demo run %s\n", cfg.out.c_str());
    std::filesystem::remove_all(cfg.out);
  }
  std::printf("pipnet demo: training for about %.1f minutes on synthetic faces (%s)\n", minutes, cfg.out.c_str());
  train(cfg, false);
  LoadedRun run = load_run(cfg.out);
  Dataset test = open_dataset(cfg.test_data, cfg.input, cfg.crop_scale, cfg.seed);
  TestReport r = run_test(*run.net, run.nbr, test, cfg.batch);
  print_report(r);
  write_report_json(out + "/scores.json", r, cfg.test_data);
  plot_ced(out + "/ced.png", r);
  std::vector<Image> tiles;
  for (int i = 0; i < 16; i++) {
    SynthFace f = synth_face(cfg.seed * 2 + 2, i, cfg.input);  // the held-out faces, as synth-test builds them
    tiles.push_back(overlay(f.image, r.pred[i], &r.gt[i]));
  }
  Image sheet = contact_sheet(tiles, 4);
  const uint8_t black[3] = {0, 0, 0};
  Image framed(sheet.w, sheet.h + 30, 255);
  for (int y = 0; y < sheet.h; y++) std::memcpy(framed.at(0, y + 30), sheet.at(0, y), (size_t)sheet.w * 3);
  draw_text(framed, 8, 8, strf("HELD-OUT FACES  NME %.2f%%  GREEN PREDICTED  RED TRUTH", 100 * r.merged.mean_nme), black, 2);
  save_png(framed, out + "/faces.png");
  std::printf("wrote %s/faces.png, %s/scores.json, %s/ced.png, %s/loss.png\n", out.c_str(), out.c_str(), out.c_str(), cfg.out.c_str());
  return 0;
}

// A contact sheet of synthetic faces with their landmarks (the built-in data set, seen as a person sees it).
int cmd_synth(int argc, char** argv) {
  Args a = parse(argc, argv, {"help"});
  if (a.has("help")) {
    std::printf("usage: pipnet synth [--out synth.png] [--n 16] [--size 128] [--seed 1]\n"
                "  Draws N synthetic training faces (seed's training set) with their 68 landmarks in a grid.\n");
    return 0;
  }
  const int n = std::atoi(a.get("n", "16").c_str()), size = std::atoi(a.get("size", "128").c_str());
  const uint64_t seed = std::strtoull(a.get("seed", "1").c_str(), nullptr, 10);
  if (n <= 0 || size < 32) usage_error("--n must be positive and --size at least 32");
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

int cmd_bench(int argc, char** argv);  // below

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  try {
    if (cmd == "train") return cmd_train(argc, argv);
    if (cmd == "test") return cmd_test(argc, argv);
    if (cmd == "infer") return cmd_infer(argc, argv);
    if (cmd == "demo") return cmd_demo(argc, argv);
    if (cmd == "bench") return cmd_bench(argc, argv);
    if (cmd == "synth") return cmd_synth(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pipnet: error: %s\n", e.what());
    return 2;
  }
  std::fprintf(stderr, "pipnet: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}

namespace {
int cmd_bench(int argc, char** argv) {
  Args a = parse(argc, argv, {"help", "no_torch"});
  if (a.has("help")) {
    std::printf("usage: pipnet bench [--backbones resnet18,resnet50] [--input 256] [--batches 16] [--device cpu|cuda]\n"
                "                    [--threads N] [--no-torch]\n"
                "  Inference latency and FPS at batch 1 (eval, BN folded, no grad, decoding included; on CUDA a\n"
                "  captured graph replayed), inference and training images/s at each of --batches (e.g. 16,64), per\n"
                "  backbone; beside PyTorch's (Debian python3-torch, same threads, same shapes, eager).\n");
    return 0;
  }
  set_threads(a);
  const int S = std::atoi(a.get("input", "256").c_str()), threads = omp_get_max_threads();
  TrainConfig dc;
  dc.set("device", a.get("device", "cpu"));
  const Device dev = device_of(dc);  // timings read results back to the host, so they include the device's work
  std::vector<std::string> bbs;
  std::vector<int> batches;
  {
    std::stringstream ss(a.get("backbones", "resnet18,resnet50"));
    for (std::string t; std::getline(ss, t, ',');) bbs.push_back(t);
    std::stringstream sb(a.get("batches", "16"));
    for (std::string t; std::getline(sb, t, ',');) {
      const int b = std::atoi(t.c_str());
      if (b < 1) usage_error("--batches '" + a.get("batches") + "': expected positive batch sizes separated by commas");
      batches.push_back(b);
    }
  }
  std::printf("pipnet bench: %dx%d input, 68 landmarks, nb 10, stride 32, %s, %d threads, sgemm %s\n", S, S,
              dc.device.c_str(), threads, cpu::gemm_active().name);
  std::string head = strf("%-10s %-8s %10s %8s", "backbone", "engine", "b=1 ms", "FPS");
  for (int b : batches) head += strf(" %11s", strf("img/s b=%d", b).c_str());
  for (int b : batches) head += strf(" %13s", strf("train b=%d", b).c_str());
  std::printf("%s\n", head.c_str());
  std::string json = "[";
  auto row = [&](const std::string& bb, const char* engine, const std::vector<double>& v) {  // ms, fps, ips..., train...
    std::string line = strf("%-10s %-8s %10.2f %8.1f", bb.c_str(), engine, v[0], v[1]);
    for (size_t i = 0; i < batches.size(); i++) line += strf(" %11.1f", v[2 + i]);
    for (size_t i = 0; i < batches.size(); i++) line += strf(" %13.1f", v[2 + batches.size() + i]);
    json += strf("%s{\"backbone\":\"%s\",\"engine\":\"%s\",\"device\":\"%s\",\"ms_b1\":%.3f,\"fps_b1\":%.2f",
                 json.size() > 1 ? "," : "", bb.c_str(), engine, dc.device.c_str(), v[0], v[1]);
    for (size_t i = 0; i < batches.size(); i++)
      json += strf(",\"ips_b%d\":%.2f,\"train_ips_b%d\":%.2f", batches[i], v[2 + i], batches[i], v[2 + batches.size() + i]);
    json += "}";
    return line;
  };
  for (const std::string& bb : bbs) {
    Rng rng(0);
    PIPNet net(PipConfig{bb, 64, 68, 10, S, 32}, rng);
    net.to(dev);
    MeanFace mf;
    mf.N = 68;
    mf.xy = synth_landmarks(1, 0, S);
    Neighbors nbr = Neighbors::from_meanface(mf, 10);
    std::vector<double> ips, train_ips;
    // training images/s at each batch size
    net.train();
    Adam opt(net.parameters(), 1e-4);
    for (int B : batches) {
      Tensor xb = Tensor::full({B, 3, S, S}, 0.1, DType::F32, dev);
      std::vector<std::vector<float>> lms(B, mf.xy);
      PipTargets t = make_targets(lms, nbr, S / 32);
      auto train_step = [&] {
        opt.zero_grad();
        PipLoss L = pip_loss(net.run(xb), t, PipLossConfig{});
        ag::backward(L.total);  // reads the loss back: the step's device work is done when this returns
        opt.step();
      };
      train_step();
      auto t0 = std::chrono::steady_clock::now();
      const int steps = 3;
      for (int i = 0; i < steps; i++) train_step();
      train_ips.push_back(steps * B / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    // inference: batch 1 through Replay (a CUDA graph on the GPU), the batches eagerly
    net.eval();
    net.fold_batchnorms();
    ag::NoGradGuard ng;
    Tensor x1 = Tensor::full({1, 3, S, S}, 0.1, DType::F32, dev);
    PipOutput out1;
    Replay replay(dev, [&] { out1 = net.run(x1); });
    decode(out1, nbr, S, 32);
    const int reps1 = dev == Device::CUDA ? 200 : 20;
    auto a0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps1; i++) {
      replay.run();
      decode(out1, nbr, S, 32);
    }
    const double s1 = std::chrono::duration<double>(std::chrono::steady_clock::now() - a0).count() / reps1;
    for (int B : batches) {
      Tensor xb = Tensor::full({B, 3, S, S}, 0.1, DType::F32, dev);
      decode(net.run(xb), nbr, S, 32);
      const int reps = dev == Device::CUDA ? 20 : 3;
      auto b0 = std::chrono::steady_clock::now();
      for (int i = 0; i < reps; i++) decode(net.run(xb), nbr, S, 32);
      ips.push_back(reps * B / std::chrono::duration<double>(std::chrono::steady_clock::now() - b0).count());
    }
    std::vector<double> v = {1e3 * s1, 1 / s1};
    v.insert(v.end(), ips.begin(), ips.end());
    v.insert(v.end(), train_ips.begin(), train_ips.end());
    std::printf("%s\n", row(bb, "pipnet", v).c_str());
    if (!a.has("no_torch")) {
      const std::string cmd = strf("/usr/bin/python3 %s/tools/bench_torch_pip.py %s %d %d %s %s 2>/dev/null",
                                   PIPNET_SOURCE_DIR, bb.c_str(), S, threads, dc.device.c_str(), a.get("batches", "16").c_str());
      std::vector<double> tv;
      if (FILE* p = popen(cmd.c_str(), "r")) {
        for (double d; std::fscanf(p, "%lf", &d) == 1;) tv.push_back(d);
        pclose(p);
      }
      if (tv.size() == v.size()) {
        std::string ratio = "   (ours / torch:";
        for (size_t i = 1; i < v.size(); i++) ratio += strf(" %.2fx", v[i] / tv[i]);
        std::printf("%s%s)\n", row(bb, "pytorch", tv).c_str(), ratio.c_str());
      } else {
        std::printf("%-10s %-8s (PyTorch unavailable: install python3-torch)\n", bb.c_str(), "pytorch");
      }
    }
  }
  std::printf("(b=1: one image at a time, %s; the ratios are ours / PyTorch's throughput: above 1 means we are faster)\n",
              dev == Device::CUDA ? "ours a replayed CUDA graph, PyTorch eager" : "both eager");
  std::printf("RESULT %s]\n", json.c_str());
  return 0;
}
}  // namespace
