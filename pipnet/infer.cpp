// pipnet infer: landmarks for images, as JSON and drawn PNGs. Without --box, FaceBoxesV2 (pipnet/detector.h) finds
// every face and each is cropped and mapped back as the official demo does (spec §6.4); with --box, or
// --whole-image, one given box per image.
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <memory>

#include "data/image.h"
#include "pipnet/detector.h"
#include "pipnet/dist.h"
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


void draw_rect(Image& im, float x0, float y0, float x1, float y1, const uint8_t rgb[3]) {
  draw_line(im, x0, y0, x1, y0, rgb);
  draw_line(im, x1, y0, x1, y1, rgb);
  draw_line(im, x1, y1, x0, y1, rgb);
  draw_line(im, x0, y1, x0, y0, rgb);
}

// The landmark network on one face image of any size: resized to S x S, normalised, run (on CUDA replayed from a
// captured graph), decoded. Coordinates come back in [0, 1] of the face image.
struct LandmarkRunner {
  LoadedRun& run;
  int S;
  Device dev;
  Tensor xs;  // [1, 3, S, S] the network's input, refilled for each face
  PipOutput pred;
  std::unique_ptr<Replay> replay;
  LandmarkRunner(LoadedRun& r) : run(r), S(r.cfg.model.input_size), dev(r.net->device()), xs(Tensor::empty({1, 3, S, S}, DType::F32, dev)) {}
  Landmarks operator()(const Image& face) {
    Image in = resize_bilinear(face, S, S);
    Tensor x = Tensor::empty({1, 3, S, S});
    normalize_imagenet(in, x.data<float>());
    xs.copy_(x);
    if (replay) replay->run();
    else replay = std::make_unique<Replay>(dev, [&] { pred = run.net->run(xs); });  // runs it once
    return decode(pred, run.nbr, S, run.cfg.model.net_stride)[0];
  }
};

const uint8_t kGreen[3] = {40, 240, 60}, kRed[3] = {240, 60, 40};

// One image, every face: detection, the demo's crop, landmarks mapped back to image pixels (x = xmin + u * width,
// width = xmax - xmin + 1, as spec §6.4 without its final truncation to whole pixels, which the demo needs only to
// draw). The record lists the faces best first; an image without a face has an empty list.
std::string infer_faces(const std::string& path, Image& im, FaceDetector& det, const DetectOptions& o,
                        LandmarkRunner& lm) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<FaceBox> boxes = det.detect(im, o);
  const double det_ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string faces;
  std::vector<std::pair<FaceCrop, Landmarks>> drawn;
  for (const FaceBox& b : boxes) {
    const FaceCrop c = face_crop(b, im.w, im.h);
    if (c.xmax <= c.xmin || c.ymax <= c.ymin) continue;  // nothing left to crop once clipped
    Landmarks L = lm(crop(im, c.xmin, c.ymin, c.xmax, c.ymax));
    std::string pts, conf;
    for (size_t k = 0; k < L.merged.size(); k += 2) {
      L.merged[k] = c.xmin + L.merged[k] * c.width();
      L.merged[k + 1] = c.ymin + L.merged[k + 1] * c.height();
      pts += strf("%s[%.2f, %.2f]", k ? ", " : "", L.merged[k], L.merged[k + 1]);
      conf += strf("%s%.4f", k ? ", " : "", L.max_cls[k / 2]);
    }
    faces += strf("%s\n    {\"box\": [%.2f, %.2f, %.2f, %.2f], \"score\": %.5f, \"crop\": [%d, %d, %d, %d], "
                  "\"points\": [%s], \"confidence\": [%s]}",
                  faces.empty() ? "" : ",", b.x0, b.y0, b.x1, b.y1, b.score, c.xmin, c.ymin, c.xmax, c.ymax,
                  pts.c_str(), conf.c_str());
    drawn.push_back({c, std::move(L)});
  }
  const double ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& [c, L] : drawn) {  // drawn after every crop was taken, so no face sees another's drawing
    draw_rect(im, (float)c.xmin, (float)c.ymin, (float)c.xmax, (float)c.ymax, kRed);
    for (size_t k = 0; k < L.merged.size(); k += 2)
      draw_disc(im, L.merged[k], L.merged[k + 1], std::max(1.5f, c.width() / 80.0f), kGreen);
  }
  return strf("  {\"image\": \"%s\", \"size\": [%d, %d], \"detect_ms\": %.2f, \"ms\": %.2f, \"faces\": [%s%s]}",
              json_escape(path).c_str(), im.w, im.h, det_ms, ms, faces.c_str(), faces.empty() ? "" : "\n  ");
}

}  // namespace

std::vector<std::string> list_images(const std::string& path) {
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

int cmd_infer(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"run", "DIR", "the trained run (required)"},
      {"image", "FILE|DIR", "an image, or a folder of them (or give it as the first argument)"},
      {"box", "X0,Y0,X1,Y1", "one face box in pixels for every image, instead of detecting faces"},
      {"whole_image", nullptr, "the whole image is the face, instead of detecting faces"},
      {"detector", "FILE", "FaceBoxesV2 weights, .pth or safetensors (default: models/faceboxes.safetensors, then "
                           "../shared/data/faceboxes/FaceBoxesV2.pth)"},
      {"threshold", "P", "the detector's face score threshold (default 0.6, the official demo's for photos)"},
      {"out", "DIR", "where the drawn PNGs go (default RUN/infer)"},
      {"skip_bad", nullptr, "skip images that cannot be read (their records say why, under \"skipped\")"},
      {"device", "cpu|cuda", "where to run (default: the run's)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, false, /*max_positional=*/1);
  if (!a.positional.empty() && !a.get("image").empty()) usage_error("infer: give the image either as an argument or as --image, not both");
  const std::string image_arg = a.positional.empty() ? a.get("image") : a.positional[0];
  if (!a.has("help") && (a.get("run").empty() || image_arg.empty()))
    usage_error("infer: --run DIR and an image (pipnet infer IMAGE|DIR --run DIR) are required (pipnet infer --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet infer IMAGE|DIR --run DIR [options]",
                                "  Finds every face (FaceBoxesV2, as the official demo) and prints its landmarks in image pixels,\n"
                                "  each with a confidence (its peak score), as one JSON document once every image is done; draws\n"
                                "  them into OUT/<name>.png. An image without a face gives an empty list. Without --skip-bad, an\n"
                                "  unreadable image stops the command before anything is printed.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  int box[4] = {0, 0, 0, 0};
  const bool has_box = !a.get("box").empty(), whole = a.has("whole_image"), detect = !has_box && !whole;
  if (has_box && whole) usage_error("infer: --box and --whole-image exclude each other");
  if (has_box && !parse_box(a.get("box"), box)) usage_error("infer: --box '" + a.get("box") + "': expected XMIN,YMIN,XMAX,YMAX (integers)");
  DetectOptions dopt;
  dopt.threshold = (float)a.get_double("threshold", 0.6, 0.0, 1.0);
  const std::vector<std::string> images = list_images(image_arg);
  const std::string weights = detect ? detector_weights(a.get("detector"), "infer") : "";
  LoadedRun run = load_run(a.get("run"), "", a.get("device"));
  run.net->fold_batchnorms();  // eval mode: BN folded into the convolutions
  std::unique_ptr<FaceDetector> det;
  if (detect) det = std::make_unique<FaceDetector>(weights, run.net->device());
  const std::string out = a.get("out", a.get("run") + "/infer");
  make_dirs(out);

  ag::NoGradGuard ng;
  LandmarkRunner lm(run);
  std::vector<std::string> records;
  double skipped = 0;  // unreadable images passed over (--skip-bad)
  // Under mpirun each rank takes one contiguous slice of the images; rank 0 prints them all, in order.
  const size_t n = images.size(), first = n * dist::rank() / dist::size(), end = n * (dist::rank() + 1) / dist::size();
  Progress bar{"infer", (int64_t)(end - first)};
  for (size_t i = first; i < end; i++) {
    Image im;
    try {
      im = load_image(images[i]);
    } catch (const Error& e) {
      if (!a.has("skip_bad")) throw;
      std::fprintf(stderr, "skipped: %s\n", e.what());
      skipped++;
      records.push_back(strf("  {\"image\": \"%s\", \"skipped\": \"%s\"}", json_escape(images[i]).c_str(),
                             json_escape(e.what()).c_str()));
      continue;
    }
    std::string name = images[i].substr(images[i].find_last_of('/') + 1);
    name = name.substr(0, name.find_last_of('.'));
    if (detect) {
      records.push_back(infer_faces(images[i], im, *det, dopt, lm));
    } else {
      int x0 = 0, y0 = 0, x1 = im.w, y1 = im.h;
      if (has_box) x0 = std::max(box[0], 0), y0 = std::max(box[1], 0), x1 = std::min(box[2], im.w), y1 = std::min(box[3], im.h);
      if (x1 <= x0 || y1 <= y0) throw Error(images[i] + ": the face box is empty inside the image");
      const auto t0 = std::chrono::steady_clock::now();  // (the first image's time includes the capture)
      Landmarks L = lm(crop(im, x0, y0, x1, y1));
      const double ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::string pts;
      for (size_t k = 0; k < L.merged.size(); k += 2) {
        const float px = x0 + L.merged[k] * (x1 - x0), py = y0 + L.merged[k + 1] * (y1 - y0);
        pts += strf("%s[%.2f, %.2f]", k ? ", " : "", px, py);
        draw_disc(im, px, py, std::max(1.5f, im.w / 200.0f), kGreen);
      }
      records.push_back(strf("  {\"image\": \"%s\", \"box\": [%d, %d, %d, %d], \"ms\": %.2f, \"points\": [%s]}",
                             json_escape(images[i]).c_str(), x0, y0, x1, y1, ms, pts.c_str()));
    }
    save_png(im, out + "/" + name + ".png");
    if (images.size() > 1 && dist::is_root()) bar.update((int64_t)(i + 1 - first), (int64_t)(i + 1 - first));
  }
  if (dist::size() > 1) {  // every rank's records, in rank order: the images' order
    std::string mine;
    for (const std::string& r : records) mine += r + '\0';
    records.clear();
    for (const std::string& part : dist::allgather(mine, "the inference records"))
      for (size_t a = 0, b; (b = part.find('\0', a)) != std::string::npos; a = b + 1) records.push_back(part.substr(a, b - a));
    dist::allreduce_sum(&skipped, 1, "the count of skipped images");
    if (!dist::is_root()) return 0;
  }
  std::string js = "[\n";
  for (size_t i = 0; i < records.size(); i++) js += records[i] + (i + 1 < records.size() ? ",\n" : "\n");
  js += "]\n";
  std::fputs(js.c_str(), stdout);
  std::fprintf(stderr, "drawn into %s/%s\n", out.c_str(),
               skipped == 0 ? "" : strf(" (%.0f unreadable images skipped)", skipped).c_str());
  return 0;
}
