// pipnet infer: landmarks for images, as JSON and drawn PNGs. Without --box, FaceBoxesV2 (pipnet/detector.h) finds
// every face and each is cropped and mapped back as the official demo does (spec §6.4, pipnet/landmarks.h); with
// --box, or --whole-image, one given box per image. A video goes to infer_video.cpp.
#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstdio>
#include <memory>

#include "data/image.h"
#include "pipnet/dist.h"
#include "pipnet/landmarks.h"
#include "pipnet/cli.h"
#include "pipnet/progress.h"
#include "pipnet/run.h"
#include "pipnet/video.h"
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


const uint8_t kGreen[3] = {40, 240, 60};

// One image, every face (pipnet/landmarks.h), as a JSON record; the faces are drawn into `im`. The record lists the
// faces best first; an image without a face has an empty list.
std::string infer_faces(const std::string& path, Image& im, FaceDetector& det, const DetectOptions& o,
                        LandmarkRunner& lm) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::vector<FaceResult> found = find_landmarks(im, det, o, lm);
  const double ms = 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::string faces;
  for (const FaceResult& f : found) {
    std::string pts, conf;
    for (size_t k = 0; k < f.points.size(); k += 2) {
      pts += strf("%s[%.2f, %.2f]", k ? ", " : "", f.points[k], f.points[k + 1]);
      conf += strf("%s%.4f", k ? ", " : "", f.confidence[k / 2]);
    }
    const FaceBox& b = f.box;
    const FaceCrop& c = f.crop;
    faces += strf("%s\n    {\"box\": [%.2f, %.2f, %.2f, %.2f], \"score\": %.5f, \"crop\": [%d, %d, %d, %d], "
                  "\"points\": [%s], \"confidence\": [%s]}",
                  faces.empty() ? "" : ",", b.x0, b.y0, b.x1, b.y1, b.score, c.xmin, c.ymin, c.xmax, c.ymax,
                  pts.c_str(), conf.c_str());
  }
  draw_faces(im, found);
  return strf("  {\"image\": \"%s\", \"size\": [%d, %d], \"detect_ms\": %.2f, \"ms\": %.2f, \"faces\": [%s%s]}",
              json_escape(path).c_str(), im.w, im.h, det.last_ms(), ms, faces.c_str(), faces.empty() ? "" : "\n  ");
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
      {"run", "DIR", "the trained run (default: models/pipnet_r18_lfw68, the model shipped here)"},
      {"image", "FILE|DIR|VIDEO", "an image, a folder of them, or a video (or give it as the first argument)"},
      {"box", "X0,Y0,X1,Y1", "one face box in pixels for every image, instead of detecting faces"},
      {"whole_image", nullptr, "the whole image is the face, instead of detecting faces"},
      {"detector", "FILE", "FaceBoxesV2 weights, .pth or safetensors (default: models/faceboxes.safetensors, then "
                           "../shared/data/faceboxes/FaceBoxesV2.pth)"},
      {"threshold", "P", "the detector's face score threshold (default 0.6 for photos, 0.9 for videos, as the official demos)"},
      {"smooth", nullptr, "video: smooth each landmark over time (One Euro filter; faces followed by box IoU)"},
      {"min_cutoff", "HZ", "video --smooth: the filter's cutoff for a still landmark (default 1; lower is smoother)"},
      {"beta", "B", "video --smooth: how fast the cutoff rises with speed, per pixel/s (default 0.05; higher lags less)"},
      {"d_cutoff", "HZ", "video --smooth: the cutoff of the speed estimate (default 1)"},
      {"out", "DIR", "where the drawn PNGs go (default RUN/infer; infer_out with the shipped model)"},
      {"skip_bad", nullptr, "skip images that cannot be read (their records say why, under \"skipped\")"},
      {"device", "cpu|cuda", "where to run (default: the run's)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, false, /*max_positional=*/1);
  if (!a.positional.empty() && !a.get("image").empty()) usage_error("infer: give the image either as an argument or as --image, not both");
  const std::string image_arg = a.positional.empty() ? a.get("image") : a.positional[0];
  if (!a.has("help") && image_arg.empty())
    usage_error("infer: an image is required (pipnet infer IMAGE|DIR|VIDEO [--run DIR]; pipnet infer --help)");
  const std::string run_dir = a.get("run").empty() ? default_run() : a.get("run");
  if (!a.has("help") && run_dir.empty())
    usage_error("infer: no --run DIR given and no models/pipnet_r18_lfw68 (the shipped model) found");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet infer IMAGE|DIR|VIDEO [--run DIR] [options]",
                                "  Finds every face (FaceBoxesV2, as the official demo) and prints its landmarks in image pixels,\n"
                                "  each with a confidence (its peak score), as one JSON document once every image is done; draws\n"
                                "  them into OUT/<name>.png. An image without a face gives an empty list. Without --skip-bad, an\n"
                                "  unreadable image stops the command before anything is printed.\n"
                                "  A video (.mp4 .mov .avi .mkv .webm ...; needs ffmpeg) gives one JSON line per frame on stdout\n"
                                "  and in OUT/<name>.jsonl, and OUT/<name>_landmarks.mp4 with the faces drawn.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  int box[4] = {0, 0, 0, 0};
  const bool has_box = !a.get("box").empty(), whole = a.has("whole_image"), detect = !has_box && !whole;
  if (has_box && whole) usage_error("infer: --box and --whole-image exclude each other");
  if (has_box && !parse_box(a.get("box"), box)) usage_error("infer: --box '" + a.get("box") + "': expected XMIN,YMIN,XMAX,YMAX (integers)");
  const bool video = !is_directory(image_arg) && is_video_path(image_arg);
  DetectOptions dopt;
  dopt.threshold = (float)a.get_double("threshold", video ? 0.9 : 0.6, 0.0, 1.0);
  VideoOptions vo;
  vo.smooth = a.has("smooth");
  vo.filter.min_cutoff = a.get_double("min_cutoff", 1.0, 1e-6, 1e6);
  vo.filter.beta = a.get_double("beta", 0.05, 0.0, 1e6);
  vo.filter.d_cutoff = a.get_double("d_cutoff", 1.0, 1e-6, 1e6);
  if (!video && (vo.smooth || !a.get("min_cutoff").empty() || !a.get("beta").empty() || !a.get("d_cutoff").empty()))
    usage_error("infer: --smooth, --min-cutoff, --beta and --d-cutoff apply to videos only");
  if (video) {
    if (!detect) usage_error("infer: a video's faces are always detected (no --box or --whole-image)");
    if (!path_exists(image_arg)) usage_error("infer: " + image_arg + ": no such video file");
    if (find_program("ffmpeg").empty() || find_program("ffprobe").empty())
      usage_error("infer: " + image_arg + ": videos are read and written by ffmpeg, which is not installed (apt-get install ffmpeg)");
  }
  const std::vector<std::string> images = video ? std::vector<std::string>{image_arg} : list_images(image_arg);
  const std::string weights = detect ? detector_weights(a.get("detector"), "infer") : "";
  LoadedRun run = load_run(run_dir, "", a.get("device"));
  run.net->fold_batchnorms();  // eval mode: BN folded into the convolutions
  std::unique_ptr<FaceDetector> det;
  if (detect) det = std::make_unique<FaceDetector>(weights, run.net->device());
  const std::string out = a.get("out", a.get("run").empty() ? std::string("infer_out") : a.get("run") + "/infer");
  make_dirs(out);

  ag::NoGradGuard ng;
  LandmarkRunner lm(run);
  if (video) {
    if (dist::size() > 1) throw Error("a video is one stream, read by one process: run pipnet infer VIDEO without mpirun");
    vo.out_dir = out;
    infer_video(image_arg, vo, *det, dopt, lm);
    return 0;
  }
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
