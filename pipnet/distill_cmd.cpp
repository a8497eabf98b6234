// distill_cmd.cpp: `pipnet distill`. Round 0 trains on the labelled faces; each later round pseudo-labels every
// unlabelled face with the previous round's model (pipnet/distill.h) and trains on labelled + pseudo-labelled faces.
//
//   OUT/distill.txt          the distillation settings; OUT/train.txt the training settings of every round
//   OUT/labelled.txt, OUT/unlabelled.txt   the split of --labelled-fraction, as pts: lists (reusable as specs)
//   OUT/unlabelled_crops/    crops of unlabelled faces that are no files (synthetic faces), as PNG
//   OUT/roundR/              a run directory (pipnet test and infer work on it); for R >= 1 also
//     pseudo/NNNNNN_NAME.pts   the pseudo-labels as 300W .pts files, in the image's pixels
//     pseudo.txt               the pts: list of them, written last: it says the labelling is done
//     pseudo_labels.png        16 unlabelled faces, each view's prediction faint, the pseudo-label bold
//   OUT/results.json, OUT/results.png   round -> test NME / FR@0.1 / AUC@0.1, also printed
// Each step leaves the file that says it is done (pseudo.txt, model.safetensors), so --resume continues after a
// kill at any moment: a round's training resumes from its checkpoint, an unfinished labelling is redone.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

#include <stb/stb_image.h>

#include "data/spec.h"
#include "pipnet/cli.h"

#include "pipnet/distill.h"
#include "pipnet/evaluate.h"
#include "pipnet/plot.h"
#include "pipnet/progress.h"
#include "pipnet/run.h"
#include "pipnet/train.h"
#include "tensor/fileio.h"
#include "tensor/parse.h"

namespace {

// The distillation's own settings, kept in OUT/distill.txt (key = value lines) so that --resume finds them.
struct DistillSettings {
  std::map<std::string, std::string> kv = {
      {"unlabelled", ""},        {"labelled_fraction", "0"}, {"split_seed", "1"}, {"rounds", "3"},
      {"transform", "translate"}, {"shifts", "20,30"},       {"angles", "10,20"}, {"include_identity", "off"},
      {"retrain", "scratch"},    {"teacher", ""}};
  std::string text() const {
    std::string s = "# pipnet distill settings (the training settings of every round are in train.txt)\n";
    for (auto& [k, v] : kv) s += k + " = " + v + "\n";
    return s;
  }
  void load(const std::string& path) {
    std::ifstream f(path);
    if (!f) throw Error(path + ": cannot open");
    std::string line;
    for (int n = 1; std::getline(f, line); n++) {
      if (line.empty() || line[0] == '#') continue;
      const size_t eq = line.find(" = ");
      if (eq == std::string::npos || !kv.count(line.substr(0, eq)))
        throw Error(strf("%s:%d: expected 'key = value' with a distill setting, got '%s'", path.c_str(), n, line.c_str()));
      kv[line.substr(0, eq)] = line.substr(eq + 3);
    }
  }
};

std::vector<int> parse_ints_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) v.push_back((int)parse_int(t, "shifts '" + s + "'", 0, 128));
  if (v.empty()) throw Error("shifts: expected at least one value");
  return v;
}

std::vector<double> parse_doubles(const std::string& s, const std::string& what, double lo, double hi) {
  std::vector<double> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, ',');) v.push_back(parse_double(t, what + " '" + s + "'", lo, hi));
  if (v.empty()) throw Error(what + ": expected at least one value");
  return v;
}

// Test hook: --die-at R:step:K stops round R's training at step K, R:label:K after K pseudo-labels, as a kill would.
struct DieAt {
  int round = -1;
  int64_t step = 0, label = 0;
};

std::string absolute(const std::string& p) { return std::filesystem::absolute(p).lexically_normal().string(); }

std::string stem_of(const std::string& path) {
  std::string n = path.substr(path.find_last_of('/') + 1);
  return n.substr(0, n.find_last_of('.'));
}

std::string read_all(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot read");
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// Trains one round unless it is done; a round killed part-way resumes from its checkpoint.
void train_round(TrainConfig c, int round, const DieAt& die) {
  const std::string& dir = c.run.out;
  if (path_exists(dir + "/model.safetensors")) {
    std::fprintf(stderr, "round %d: trained already (%s/model.safetensors)\n", round, dir.c_str());
    return;
  }
  if (die.round == round && die.step > 0) c.run.die_at_step = die.step;
  std::fprintf(stderr, "== round %d: training on %s\n", round, c.data.data.c_str());
  train(c, path_exists(dir + "/checkpoint.safetensors"));
}

// Round `round`'s pseudo-labels from the previous round's model: .pts files, their list, the contact sheet.
void label_round(const std::string& prev, const std::string& dir, const std::string& out, int round,
                 const std::string& unlabelled_spec, const DistillSettings& ds, const TrainConfig& cfg, const DieAt& die) {
  LoadedRun t = load_run(prev);
  const int S = t.cfg.model.input_size;
  Dataset u = open_unlabelled(unlabelled_spec, S, cfg.data.scales(), cfg.run.seed);
  const std::vector<View> views =
      make_views(ds.kv.at("transform"), parse_ints_list(ds.kv.at("shifts")), parse_doubles(ds.kv.at("angles"), "angles", 0, 180),
                 ds.kv.at("include_identity") == "on", S);
  bool flips = false;
  for (auto& v : views) flips |= v.kind == View::Flip;
  const std::vector<int> table = !flips ? std::vector<int>{}
                                 : cfg.data.flip_table.empty() ? flip_table(t.meanface.N)
                                                               : read_flip_table(cfg.data.flip_table, t.meanface.N);
  std::string names;
  for (auto& v : views) names += (names.empty() ? "" : ", ") + v.name();
  std::fprintf(stderr, "== round %d: pseudo-labels for %lld unlabelled faces from %s, %zu views (%s)\n", round,
               (long long)u.size, prev.c_str(), views.size(), names.c_str());
  make_dirs(dir + "/pseudo");
  const Predictor predict = network_predictor(*t.net, t.nbr);
  std::string list;
  std::vector<Image> tiles;
  const int64_t n_tiles = std::min<int64_t>(16, u.size);
  Progress bar{strf("round %d labels", round), u.size};
  int64_t outside = 0;  // faces whose pseudo-label has no box inside the image
  for (int64_t i = 0, next_tile = 0; i < u.size; i++) {
    const Crop c = u.source(i);
    const PseudoLabel p = pseudo_label(c.image, views, predict, table);
    std::string image = u.records.empty() ? "" : u.records[i].image;
    if (image.empty()) {  // a synthetic face: its crop becomes a file the pseudo-label can name
      make_dirs(out + "/unlabelled_crops");
      image = out + strf("/unlabelled_crops/%06lld.png", (long long)i);
      if (!path_exists(image)) save_png(c.image, image);
    }
    std::vector<float> px(p.mean.size());
    for (size_t k = 0; k < px.size(); k += 2) {  // crop coordinates to the image's pixels
      px[k] = (float)(c.x0 + p.mean[k] * c.w);
      px[k + 1] = (float)(c.y0 + p.mean[k + 1] * c.h);
    }
    // A pseudo-label whose face box does not survive the training crop rule (a weak model putting every point off
    // the picture, or onto one spot) cannot be trained on: the face is left out of this round, and counted. The
    // rule itself decides, on a blank image of the same size.
    int iw = c.image.w, ih = c.image.h, comp;
    if (!u.records.empty() && !stbi_info(image.c_str(), &iw, &ih, &comp)) throw Error(image + ": cannot read the image's size");
    bool croppable = true;
    try {
      Image probe;
      probe.w = iw, probe.h = ih;
      probe.px.assign((size_t)iw * ih * 3, 0);
      FaceRecord rec;
      rec.image = image;
      rec.pts = px;
      crop_face(probe, rec, CropRule::LandmarkBox, cfg.data.scales(), 8);
    } catch (const Error&) {
      croppable = false;
    }
    if (!croppable) {
      outside++;
    } else {
      const std::string pts = dir + strf("/pseudo/%06lld_", (long long)i) + stem_of(image) + ".pts";
      write_pts(pts, px);
      const std::string ai = absolute(image), ap = absolute(pts);
      if (ai.find_first_of(" \t") != std::string::npos || ap.find_first_of(" \t") != std::string::npos)
        throw Error(ai + ": a path with a space cannot go into a pts: list");
      list += ai + " " + ap + "\n";
    }
    if (next_tile < n_tiles && i == next_tile * u.size / n_tiles) {  // 16 faces spread over the set
      tiles.push_back(pseudo_label_tile(c.image, p, S >= 200 ? 1 : S >= 100 ? 2 : 3));
      next_tile++;
    }
    bar.update(i + 1, (i + 1) * (int64_t)views.size());
    if (die.round == round && die.label == i + 1) {
      std::fprintf(stderr, "\ndie-at %d:label:%lld: exiting as a kill would\n", round, (long long)die.label);
      std::_Exit(137);
    }
  }
  if (outside)
    std::fprintf(stderr, "%lld of %lld faces left out of round %d: their pseudo-labels have no face box inside the image\n",
                 (long long)outside, (long long)u.size, round);
  if (list.empty()) throw Error(strf("round %d: no unlabelled face has a pseudo-label inside its image", round));
  save_png(contact_sheet(tiles, 4), dir + "/pseudo_labels.png");
  write_file_atomic(dir + "/pseudo.txt", list);
  std::fprintf(stderr, "wrote %s/pseudo/*.pts, pseudo.txt, pseudo_labels.png\n", dir.c_str());
}

// The round -> score table: printed, OUT/results.json, OUT/results.png.
void results(const std::string& out, int rounds, const TrainConfig& cfg, int64_t n_labelled, int64_t n_unlabelled,
             const DistillSettings& ds) {
  if (cfg.data.test_data.empty()) {
    std::printf("no --test-data: the rounds are trained, no scores\n");
    return;
  }
  std::vector<std::string> lines = {strf("DISTILL  %s  TEST %s", ds.kv.at("transform").c_str(), cfg.data.test_data.c_str()),
                                    "", "ROUND  TRAIN FACES   NME %   FR 0.1 %   AUC 0.1"};
  std::string js = "{\n  \"test_data\": \"" + json_escape(cfg.data.test_data) + "\",\n  \"transform\": \"" +
                   json_escape(ds.kv.at("transform")) + strf("\",\n  \"labelled\": %lld,\n  \"unlabelled\": %lld,\n  \"rounds\": [",
                                                              (long long)n_labelled, (long long)n_unlabelled);
  std::printf("%-6s %12s %8s %9s %9s\n", "round", "train faces", "NME %", "FR@0.1 %", "AUC@0.1");
  for (int r = 0; r <= rounds; r++) {
    const std::string dir = out + strf("/round%d", r);
    LoadedRun run = load_run(dir);
    Dataset test = open_dataset(cfg.data.test_data, run.cfg.model.input_size, cfg.data.scales(), cfg.run.seed);
    const TestReport rep = run_test(*run.net, run.nbr, test, cfg.recipe.batch);
    const int64_t faces = n_labelled + (r > 0 ? n_unlabelled : 0);
    std::printf("%-6d %12lld %8.3f %9.2f %9.4f\n", r, (long long)faces, 100 * rep.merged.mean_nme, 100 * rep.merged.fr, rep.merged.auc);
    lines.push_back(strf("%5d  %11lld  %6.3f  %9.2f  %8.4f", r, (long long)faces, 100 * rep.merged.mean_nme, 100 * rep.merged.fr, rep.merged.auc));
    js += strf("%s\n    {\"round\": %d, \"train_faces\": %lld, \"nme\": %.6f, \"fr_0.1\": %.6f, \"auc_0.1\": %.6f, \"images\": %zu}",
               r ? "," : "", r, (long long)faces, rep.merged.mean_nme, rep.merged.fr, rep.merged.auc, rep.merged.nme.size());
  }
  write_file_atomic(out + "/results.json", js + "\n  ]\n}\n");
  Image im(40 + 12 * 48, 30 + 22 * (int)lines.size(), 255);
  const uint8_t black[3] = {0, 0, 0};
  for (size_t k = 0; k < lines.size(); k++) draw_text(im, 20, 20 + 22 * (int)k, lines[k], black, 2);
  save_png(im, out + "/results.png");
  std::printf("wrote %s/results.json, %s/results.png\n", out.c_str(), out.c_str());
}

}  // namespace

int cmd_distill(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"unlabelled", "SPEC", "the unlabelled faces: boxes:FILE:IMAGEDIR, crops:DIR, or any --data spec with its labels\n"
                             "                           ignored (a 300w:DIR face is cropped by its landmark box and nothing else)"},
      {"labelled_fraction", "F", "instead: split --data (300w:DIR or pts:LIST) by identity, F in (0, 1) labelled"},
      {"split_seed", "S", "the split's shuffle (default 1); the split goes to OUT/labelled.txt, unlabelled.txt"},
      {"rounds", "N", "pseudo-label-and-retrain rounds after round 0 (default 3, as the paper)"},
      {"transform", "T", "views averaged: translate (default), flip, rotate, none, or joined: translate+flip+rotate"},
      {"shifts", "S1,S2", "translate: shifts in pixels of a 256 crop, each up/down/left/right (default 20,30)"},
      {"angles", "A1,A2", "rotate: +-A degrees for each A (default 10,20)"},
      {"include_identity", nullptr, "add the unshifted face to the views (flip and none always have it)"},
      {"retrain", "HOW", "scratch (default): each round trains anew; previous: from the previous round's model"},
      {"teacher", "RUN", "a trained run used as round 0 (its files are copied into OUT/round0)"},
      {"out", "DIR", "the distillation's folder (required)"},
      {"resume", nullptr, "continue OUT after a kill; only run settings and --rounds may change"},
      {"die_at", "R:step:K", "test hook", true},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, /*config_keys=*/true);
  if (a.has("help")) {
    std::printf("%s  training settings, applied to every round (pipnet train's flags; --data is the labelled set,\n"
                "  --test-data scores each round):\n%s",
                help_text("pipnet distill --out DIR --data LABELLED (--unlabelled SPEC | --labelled-fraction F) [options]",
                          "  Translation-based data distillation (the seed paper's section 3.2). Round 0 trains on the labelled\n"
                          "  faces. Each later round predicts every unlabelled face under the views of --transform (by default\n"
                          "  the 8 shifts: 20 and 30 px up, down, left, right), maps each prediction back, averages them into a\n"
                          "  pseudo-label, and trains on labelled + pseudo-labelled faces. OUT/roundR is a run directory; for\n"
                          "  R >= 1 it also holds pseudo/*.pts (300W files in image pixels), pseudo.txt (their list) and\n"
                          "  pseudo_labels.png. At the end the table round -> test NME / FR@0.1 / AUC@0.1 is printed and\n"
                          "  written to OUT/results.json and OUT/results.png. --resume continues after a kill at any moment.\n",
                          opts).c_str(), config_help().c_str());
    return 0;
  }
  if (a.get("out").empty()) usage_error("distill: --out DIR is required (pipnet distill --help)");
  const std::string out = absolute(a.get("out"));
  if (out.find_first_of(":+ ") != std::string::npos)
    usage_error("distill: --out '" + out + "' contains ':', '+' or a space; it becomes part of data specs");
  const bool resume = a.has("resume");
  KeyValues train_kv;
  DistillSettings ds, asked;
  for (auto& [k, v] : a.kv) {
    if (ds.kv.count(k)) asked.kv[k] = v;
    else if (k != "die_at") train_kv.push_back({k, v});
  }
  if (a.has("include_identity")) asked.kv["include_identity"] = "on";
  TrainConfig cfg;
  if (resume) {
    if (!path_exists(out + "/distill.txt")) throw Error(out + ": nothing to resume (no distill.txt)");
    ds.load(out + "/distill.txt");
    for (auto& [k, v] : a.kv)
      if (ds.kv.count(k) && k != "rounds" && v != ds.kv[k])
        throw Error(strf("--%s %s: a resumed distillation keeps its %s (%s in %s/distill.txt)", k.c_str(), v.c_str(), k.c_str(),
                         ds.kv[k].c_str(), out.c_str()));
    if (a.has("include_identity") && ds.kv["include_identity"] != "on")
      throw Error("--include-identity: a resumed distillation keeps its views (include_identity off in " + out + "/distill.txt)");
    if (!a.get("rounds").empty()) ds.kv["rounds"] = a.get("rounds");
    cfg = resume_config(out, train_kv, out + "/train.txt");
  } else {
    if (path_exists(out + "/distill.txt"))
      throw Error(out + " already holds a distillation (distill.txt): use --resume, or another --out");
    ds = asked;
    for (auto& [k, v] : train_kv) cfg.set(k, v);
    cfg.run.out = out;
  }
  if (cfg.run.threads > 0) omp_set_num_threads(cfg.run.threads);

  // ---- every setting and data set checked before anything is written ----
  cfg.validate();
  const int rounds = (int)parse_int(ds.kv["rounds"], "--rounds", 0, 100);
  const double fraction = parse_double(ds.kv["labelled_fraction"], "--labelled-fraction", 0, 1);
  const uint64_t split_seed = (uint64_t)parse_int(ds.kv["split_seed"], "--split-seed", 0, (int64_t)1e15);
  if (!a.get("labelled_fraction").empty() && !(fraction > 0 && fraction < 1))
    throw Error("--labelled-fraction " + a.get("labelled_fraction") + ": expected a number in (0, 1), exclusive");
  if ((fraction > 0) == !ds.kv["unlabelled"].empty())
    throw Error("distill: give the unlabelled faces with --unlabelled SPEC, or split --data with --labelled-fraction F (one of them)");
  if (ds.kv["retrain"] != "scratch" && ds.kv["retrain"] != "previous")
    throw Error("--retrain '" + ds.kv["retrain"] + "': expected scratch or previous");
  make_views(ds.kv["transform"], parse_ints_list(ds.kv["shifts"]), parse_doubles(ds.kv["angles"], "--angles", 0, 180),
             ds.kv["include_identity"] == "on", cfg.model.input_size);  // an unknown transform is an Error here
  DieAt die;
  if (!a.get("die_at").empty()) {
    std::vector<std::string> f;
    std::stringstream ss(a.get("die_at"));
    for (std::string t; std::getline(ss, t, ':');) f.push_back(t);
    if (f.size() != 3 || (f[1] != "step" && f[1] != "label")) usage_error("distill: --die-at R:step:K or R:label:K");
    die.round = (int)parse_int(f[0], "--die-at round", 0, 100);
    (f[1] == "step" ? die.step : die.label) = parse_int(f[2], "--die-at count", 1, (int64_t)1e12);
  }
  const std::string teacher = ds.kv["teacher"];
  if (!teacher.empty() && !path_exists(teacher + "/model.safetensors"))
    throw Error(teacher + ": --teacher needs a finished run (no model.safetensors)");
  std::string labelled = cfg.data.data, unlabelled = ds.kv["unlabelled"];
  std::string labelled_list, unlabelled_list;  // the split's files, when it is made now
  const int S = cfg.model.input_size;
  if (fraction > 0) {
    if (!(resume && path_exists(out + "/labelled.txt") && path_exists(out + "/unlabelled.txt"))) {
      Dataset all = open_dataset(cfg.data.data, S, cfg.data.scales(), cfg.run.seed);
      std::vector<std::string> names;
      for (auto& r : all.records) {
        if (r.label.size() < 4 || r.label.substr(r.label.size() - 4) != ".pts")
          throw Error("--labelled-fraction splits a set of images with .pts files (300w:DIR or pts:LIST); '" + cfg.data.data + "' is not one");
        names.push_back(r.image);
      }
      if (names.empty()) throw Error("--labelled-fraction splits a set of images with .pts files (300w:DIR or pts:LIST); '" + cfg.data.data + "' is not one");
      const Split sp = split_by_identity(names, fraction, split_seed);
      for (int64_t i : sp.labelled) labelled_list += absolute(all.records[i].image) + " " + absolute(all.records[i].label) + "\n";
      for (int64_t i : sp.unlabelled) unlabelled_list += absolute(all.records[i].image) + " " + absolute(all.records[i].label) + "\n";
      std::fprintf(stderr, "split %s by identity: %zu labelled, %zu unlabelled faces (seed %llu)\n", cfg.data.data.c_str(),
                   sp.labelled.size(), sp.unlabelled.size(), (unsigned long long)split_seed);
    }
    labelled = "pts:" + out + "/labelled.txt";
    unlabelled = "pts:" + out + "/unlabelled.txt";
  }
  int64_t n_labelled = 0, n_unlabelled = 0;
  if (labelled_list.empty()) {
    n_labelled = open_dataset(labelled, S, cfg.data.scales(), cfg.run.seed).size;
    n_unlabelled = open_unlabelled(unlabelled, S, cfg.data.scales(), cfg.run.seed).size;
  } else {
    n_labelled = std::count(labelled_list.begin(), labelled_list.end(), '\n');
    n_unlabelled = std::count(unlabelled_list.begin(), unlabelled_list.end(), '\n');
  }

  // ---- the folder ----
  make_dirs(out);
  if (!labelled_list.empty()) {
    write_file_atomic(out + "/labelled.txt", labelled_list);
    write_file_atomic(out + "/unlabelled.txt", unlabelled_list);
  }
  cfg.save(out + "/train.txt");
  write_file_atomic(out + "/distill.txt", ds.text());  // last: a folder with it has all it needs to resume

  // ---- round 0: the labelled faces (or the teacher) ----
  const std::string r0 = out + "/round0";
  if (!teacher.empty()) {
    if (!path_exists(r0 + "/model.safetensors")) {
      make_dirs(r0);
      for (const char* f : {"config.txt", "meanface.txt", "log.csv", "loss.png", "model.safetensors"})  // the model last
        if (path_exists(teacher + "/" + f)) write_file_atomic(r0 + "/" + f, read_all(teacher + "/" + f));
      std::fprintf(stderr, "round 0: the teacher %s, copied into %s\n", teacher.c_str(), r0.c_str());
    }
  } else {
    TrainConfig c = cfg;
    c.data.data = labelled;
    c.run.out = r0;
    train_round(c, 0, die);
  }
  // ---- rounds 1..: pseudo-label with the previous model, train on labelled + pseudo-labelled ----
  for (int r = 1; r <= rounds; r++) {
    const std::string prev = out + strf("/round%d", r - 1), dir = out + strf("/round%d", r);
    if (!path_exists(dir + "/pseudo.txt")) label_round(prev, dir, out, r, unlabelled, ds, cfg, die);
    TrainConfig c = cfg;
    c.data.data = labelled + "+pts:" + dir + "/pseudo.txt";
    c.data.meanface = r0 + "/meanface.txt";  // one mean face, so neighbours mean the same in every round
    if (ds.kv["retrain"] == "previous") c.recipe.init = prev + "/model.safetensors";
    c.run.out = dir;
    train_round(c, r, die);
  }
  results(out, rounds, cfg, n_labelled, n_unlabelled, ds);
  return 0;
}
