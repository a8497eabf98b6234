// pipnet infer: landmarks for images, a face box (or the whole image) at a time, as JSON and drawn PNGs.
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <memory>

#include "data/image.h"
#include "kernels/graph.h"
#include "pipnet/cli.h"
#include "pipnet/progress.h"
#include "pipnet/run.h"
#include "tensor/fileio.h"

namespace {

// --box XMIN,YMIN,XMAX,YMAX: four integers of at most 2^24 in size and nothing else (spaces after commas allowed).
bool parse_box(const std::string& s, int box[4]) {
  const char* p = s.c_str();
  for (int k = 0; k < 4; k++) {
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(p, &end, 10);
    if (end == p || errno || v < -(1 << 24) || v > (1 << 24)) return false;
    box[k] = (int)v;
    p = end;
    if (k < 3 && *p++ != ',') return false;
  }
  return *p == 0;
}

std::vector<std::string> images_of(const std::string& path) {
  if (!is_directory(path)) return {path};
  std::vector<std::string> images;
  DIR* d = opendir(path.c_str());
  if (!d) throw Error(path + ": cannot read the folder");
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name, ext = n.substr(n.find_last_of('.') + 1);
    for (char& c : ext) c = (char)std::tolower((unsigned char)c);
    if (n.find('.') != std::string::npos && n[0] != '.' &&
        (ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp" || ext == "ppm" || ext == "pgm"))
      images.push_back(path + "/" + n);
  }
  closedir(d);
  std::sort(images.begin(), images.end());
  if (images.empty()) throw Error(path + ": no images (jpg, jpeg, png, bmp, ppm, pgm) in the folder");
  return images;
}

}  // namespace

int cmd_infer(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"run", "DIR", "the trained run (required)"},
      {"image", "FILE|DIR", "an image, or a folder of them (required)"},
      {"box", "X0,Y0,X1,Y1", "the face box in pixels (default: the whole image)"},
      {"out", "DIR", "where the drawn PNGs go (default RUN/infer)"},
      {"skip_bad", nullptr, "skip images that cannot be read (their records say why, under \"skipped\")"},
      {"device", "cpu|cuda", "where to run (default: the run's)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (!a.has("help") && (a.get("run").empty() || a.get("image").empty()))
    usage_error("infer: --run DIR and --image FILE|DIR are required (pipnet infer --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet infer --run DIR --image FILE|DIR [options]",
                                "  Landmarks in image pixels, printed as one JSON document once every image is done, and drawn\n"
                                "  into OUT/<name>.png. Without --skip-bad, an unreadable image stops the command before anything\n"
                                "  is printed.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  int box[4] = {0, 0, 0, 0};
  const bool has_box = !a.get("box").empty();
  if (has_box && !parse_box(a.get("box"), box)) usage_error("infer: --box '" + a.get("box") + "': expected XMIN,YMIN,XMAX,YMAX (integers)");
  const std::vector<std::string> images = images_of(a.get("image"));
  LoadedRun run = load_run(a.get("run"), "", a.get("device"));
  run.net->fold_batchnorms();  // eval mode: BN folded into the convolutions
  const std::string out = a.get("out", a.get("run") + "/infer");
  make_dirs(out);

  ag::NoGradGuard ng;
  const int S = run.cfg.model.input_size;
  const Device dev = run.net->device();
  Tensor xs = Tensor::empty({1, 3, S, S}, DType::F32, dev);  // the network's input, refilled for each image
  PipOutput pred;
  std::unique_ptr<Replay> replay;  // the network on xs: on CUDA captured as one graph, replayed for each image
  std::vector<std::string> records, skipped;
  Progress bar{"infer", (int64_t)images.size()};
  for (size_t i = 0; i < images.size(); i++) {
    Image im;
    try {
      im = load_image(images[i]);
    } catch (const Error& e) {
      if (!a.has("skip_bad")) throw;
      std::fprintf(stderr, "skipped: %s\n", e.what());
      skipped.push_back(images[i]);
      records.push_back(strf("  {\"image\": \"%s\", \"skipped\": \"%s\"}", json_escape(images[i]).c_str(),
                             json_escape(e.what()).c_str()));
      continue;
    }
    int x0 = 0, y0 = 0, x1 = im.w, y1 = im.h;
    if (has_box) x0 = std::max(box[0], 0), y0 = std::max(box[1], 0), x1 = std::min(box[2], im.w), y1 = std::min(box[3], im.h);
    if (x1 <= x0 || y1 <= y0) throw Error(images[i] + ": the face box is empty inside the image");
    Image face = resize_bilinear(crop(im, x0, y0, x1, y1), S, S);
    Tensor x = Tensor::empty({1, 3, S, S});
    normalize_imagenet(face, x.data<float>());
    const auto t0 = std::chrono::steady_clock::now();  // (the first image's time includes the capture)
    xs.copy_(x);
    if (replay) replay->run();
    else replay = std::make_unique<Replay>(dev, [&] { pred = run.net->run(xs); });  // runs it once
    Landmarks L = decode(pred, run.nbr, S, run.cfg.model.net_stride)[0];
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
    records.push_back(strf("  {\"image\": \"%s\", \"box\": [%d, %d, %d, %d], \"ms\": %.2f, \"points\": [%s]}",
                           json_escape(images[i]).c_str(), x0, y0, x1, y1, ms, pts.c_str()));
    if (images.size() > 1) bar.update((int64_t)i + 1, (int64_t)i + 1);
  }
  std::string js = "[\n";
  for (size_t i = 0; i < records.size(); i++) js += records[i] + (i + 1 < records.size() ? ",\n" : "\n");
  js += "]\n";
  std::fputs(js.c_str(), stdout);
  std::fprintf(stderr, "drawn into %s/%s\n", out.c_str(),
               skipped.empty() ? "" : strf(" (%zu unreadable images skipped)", skipped.size()).c_str());
  return 0;
}
