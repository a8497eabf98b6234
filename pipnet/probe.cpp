// pipnet probe: the position prior of the seed paper's Fig. 3, the argument for translating the views in data
// distillation. (1) A PIP Net trained on all-black images that carry real landmarks (data spec black:SPEC) has
// nothing to see, so it can only learn where landmarks usually are: its prediction on a black image is the mean
// face. (2) A face model shown images with no face in them (noise, textures, a grey card) still answers with a
// face-shaped set of points near the mean face: part of what it predicts is that prior, not the image. A shifted
// view moves the image but not the prior, which is why averaging undone shifts removes some of it.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>

#include "data/augment.h"
#include "data/spec.h"
#include "pipnet/cli.h"
#include "pipnet/distill.h"
#include "pipnet/metrics.h"
#include "pipnet/plot.h"
#include "pipnet/run.h"
#include "pipnet/train.h"
#include "tensor/fileio.h"

namespace {

// Mean NME of each prediction against the mean face, with the mean face's own normaliser (inter-ocular for 68).
double nme_to(const std::vector<std::vector<float>>& pred, const std::vector<float>& mean, int n_points) {
  std::vector<std::vector<float>> gt(pred.size(), mean);
  return evaluate(pred, gt, norm_for(n_points)).mean_nme;
}

// Images without a face, size x size: noise, smooth noise, stripes, a checkerboard, a grey card.
std::vector<std::pair<std::string, Image>> no_face_images(int size, uint64_t seed) {
  std::vector<std::pair<std::string, Image>> out;
  Rng r(seed);
  for (int k = 0; k < 2; k++) {
    Image im(size, size);
    for (auto& v : im.px) v = (uint8_t)r.randint(256);
    out.push_back({"NOISE", im});
    Image smooth = im;
    aug_blur(smooth, size / 16.0);
    for (auto& v : smooth.px) v = (uint8_t)std::clamp(128 + 4 * ((int)v - 128), 0, 255);  // contrast back up
    out.push_back({"SMOOTH NOISE", smooth});
  }
  Image stripes(size, size), diag(size, size), checks(size, size);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++) {
      const uint8_t s = (y / (size / 8)) % 2 ? 220 : 40, d = ((x + y) / (size / 6)) % 2 ? 200 : 60;
      const uint8_t c = ((x / (size / 8)) + (y / (size / 8))) % 2 ? 230 : 25;
      for (int ch = 0; ch < 3; ch++) { stripes.at(x, y)[ch] = s; diag.at(x, y)[ch] = ch == 1 ? d : d / 2; checks.at(x, y)[ch] = c; }
    }
  out.push_back({"STRIPES", stripes});
  out.push_back({"DIAGONAL", diag});
  out.push_back({"CHECKS", checks});
  out.push_back({"GREY", Image(size, size, 128)});
  return out;
}

Image captioned(const Image& tile, const std::string& text) {
  Image out(tile.w, tile.h + 20, 255);
  for (int y = 0; y < tile.h; y++) std::memcpy(out.at(0, y + 20), tile.at(0, y), (size_t)tile.w * 3);
  const uint8_t black[3] = {0, 0, 0};
  draw_text(out, 4, 6, text, black);
  return out;
}

}  // namespace

int cmd_probe(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"out", "DIR", "where the runs, pictures and probe.json go (required)"},
      {"data", "SPEC", "the faces whose labels the black images carry, and the face model's data (default synth:2000)"},
      {"run", "DIR", "a trained face model for part 2 (default: train one on --data with the same budget)"},
      {"input_size", "S", "crop size of the probe's models (default 64)"},
      {"net_stride", "N", "their net stride (default 16: a 4x4 grid at 64)"},
      {"width", "W", "their ResNet-18 width (default 16)"},
      {"epochs", "N", "epochs of each model (default 6)"},
      {"max_batches", "N", "batches of 16 per epoch (default 50)"},
      {"lr", "LR", "Adam learning rate (default 1e-3)"},
      {"seed", "S", "initialisation and shuffling seed (default 1)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet probe --out DIR [--data SPEC] [--run FACE_RUN] [options]",
                                "  The position prior (the seed paper's Fig. 3). Part 1 trains a small PIP Net on all-black images that\n"
                                "  carry the real landmarks of --data, and draws its prediction on a black image (green) over the mean\n"
                                "  face of those landmarks (red): OUT/black.png. Part 2 shows a face model (--run, or one trained here\n"
                                "  on --data) images with no face (noise, smooth noise, stripes, checks, grey) and draws what it\n"
                                "  predicts: OUT/noface.png. OUT/probe.json holds the NMEs to the mean face; a few minutes on 2 cores.\n",
                                opts).c_str());
    return 0;
  }
  if (a.get("out").empty()) usage_error("probe: --out DIR is required (pipnet probe --help)");
  set_threads(a);
  const std::string out = a.get("out"), data = a.get("data", "synth:2000");
  if (data.rfind("black:", 0) == 0) usage_error("probe: --data is the faces; the probe blackens them itself");
  TrainConfig cfg;
  cfg.model.input_size = a.get_int("input_size", 64, 32, 1024);
  cfg.model.net_stride = a.get_int("net_stride", 16, 16, 128);
  cfg.model.width = a.get_int("width", 16, 1, 256);
  cfg.recipe.epochs = a.get_int("epochs", 6, 1, 10000);
  cfg.recipe.decay = std::to_string(std::max(1, cfg.recipe.epochs * 3 / 4));
  cfg.recipe.lr = a.get_double("lr", 1e-3, 1e-8, 1);
  cfg.run.max_batches = a.get_int("max_batches", 50, 1, 1000000);
  cfg.run.seed = (uint64_t)a.get_int("seed", 1, 0, 1 << 30);
  cfg.run.threads = a.get_int("threads", 0, 0, 1024);
  cfg.data.test_data = "";
  cfg.validate();
  const std::string face_run_arg = a.get("run");
  if (!face_run_arg.empty() && !path_exists(face_run_arg + "/config.txt")) throw Error(face_run_arg + ": not a run directory (no config.txt)");
  Dataset faces = open_dataset(data, cfg.model.input_size, cfg.data.crop_scale, cfg.run.seed);  // checked before writing
  make_dirs(out);

  // ---- part 1: black images, real labels ----
  TrainConfig black = cfg;
  black.data.data = "black:" + data;
  black.data.augment = false;  // a black image moved is still black; the labels would only be jittered
  black.run.out = out + "/black_run";
  if (!path_exists(black.run.out + "/model.safetensors")) train(black, path_exists(black.run.out + "/checkpoint.safetensors"));
  LoadedRun br = load_run(black.run.out);
  const int S = cfg.model.input_size, N = br.meanface.N;
  const std::vector<float> on_black = network_predictor(*br.net, br.nbr)({Image(S, S, 0)})[0];
  const double black_nme = nme_to({on_black}, br.meanface.xy, N);
  const double spread = nme_to(faces.labels, br.meanface.xy, N);  // how far real faces lie from the mean face
  {
    const int scale = std::max(1, 256 / S);
    Image im(S * scale, S * scale, 0);
    const uint8_t red[3] = {230, 40, 40}, green[3] = {40, 240, 60};
    for (int i = 0; i < N; i++) draw_disc(im, br.meanface.xy[2 * i] * im.w, br.meanface.xy[2 * i + 1] * im.h, 2.2f * scale / 2 + 1, red);
    for (int i = 0; i < N; i++) draw_disc(im, on_black[2 * i] * im.w, on_black[2 * i + 1] * im.h, 1.2f * scale / 2 + 0.5f, green);
    save_png(captioned(captioned(im, strf("NME TO MEAN FACE %.2f%%", 100 * black_nme)), "BLACK IN: GREEN OUT, RED MEAN FACE"),
             out + "/black.png");
  }
  std::printf("part 1: trained on black images carrying the labels of %s; on a black image it predicts the mean face\n"
              "        within NME %.2f%% (real faces lie %.2f%% from the mean face on average)\n",
              data.c_str(), 100 * black_nme, 100 * spread);

  // ---- part 2: a face model on images with no face ----
  std::string face_run = face_run_arg;
  if (face_run.empty()) {
    TrainConfig f = cfg;
    f.data.data = data;
    f.run.out = out + "/face_run";
    if (!path_exists(f.run.out + "/model.safetensors")) train(f, path_exists(f.run.out + "/checkpoint.safetensors"));
    face_run = f.run.out;
  }
  LoadedRun fr = load_run(face_run);
  const int FS = fr.cfg.model.input_size;
  const Predictor predict = network_predictor(*fr.net, fr.nbr);
  std::vector<Image> tiles;
  std::vector<std::vector<float>> preds;
  std::string js_images;
  const int scale = std::max(1, 192 / FS);
  for (auto& [name, im] : no_face_images(FS, cfg.run.seed)) {
    const std::vector<float> p = predict({im})[0];
    preds.push_back(p);
    const double d = nme_to({p}, fr.meanface.xy, fr.meanface.N);
    tiles.push_back(captioned(overlay(im, p, &fr.meanface.xy, scale), strf("%s %.1f%%", name.c_str(), 100 * d)));
    js_images += strf("%s{\"image\": \"%s\", \"nme_to_mean_face\": %.6f}", js_images.empty() ? "" : ", ", name.c_str(), d);
  }
  const double noface_nme = nme_to(preds, fr.meanface.xy, fr.meanface.N);
  save_png(contact_sheet(tiles, 4), out + "/noface.png");
  std::printf("part 2: the face model %s on 8 images without a face predicts points %.2f%% (NME) from its mean face\n"
              "wrote %s/black.png, %s/noface.png, %s/probe.json\n",
              face_run.c_str(), 100 * noface_nme, out.c_str(), out.c_str(), out.c_str());
  write_file_atomic(out + "/probe.json",
                    strf("{\n  \"data\": \"%s\",\n  \"black_prediction_nme_to_mean_face\": %.6f,\n  \"real_faces_nme_to_mean_face\": %.6f,\n"
                         "  \"face_model\": \"%s\",\n  \"no_face_nme_to_mean_face\": %.6f,\n  \"no_face\": [%s]\n}\n",
                         json_escape(data).c_str(), black_nme, spread, json_escape(face_run).c_str(), noface_nme, js_images.c_str()));
  return 0;
}
