// pipnet detect: faces only (FaceBoxesV2, pipnet/detector.h), as JSON boxes, for one image or a folder. Where the
// folder is 300W-style (a .pts beside each image) it also measures the detector's recall: a labelled face counts as
// found when its landmarks' centroid lies inside a detected box.
#include <chrono>
#include <cstdio>

#include "data/dataset.h"
#include "pipnet/cli.h"
#include "pipnet/detector.h"
#include "pipnet/progress.h"
#include "tensor/device.h"
#include "tensor/fileio.h"

std::string detector_weights(const std::string& given, const std::string& cmd) {
  if (!given.empty()) {
    if (!path_exists(given) || is_directory(given)) usage_error(cmd + ": --detector " + given + ": no such weights file");
    return given;
  }
  const std::string src = PIPNET_SOURCE_DIR;
  for (const std::string& p : {std::string("models/faceboxes.safetensors"), src + "/models/faceboxes.safetensors",
                               src + "/../shared/data/faceboxes/FaceBoxesV2.pth"})
    if (path_exists(p) && !is_directory(p)) return p;
  usage_error(cmd + ": no face detector weights (looked for models/faceboxes.safetensors and "
              "../shared/data/faceboxes/FaceBoxesV2.pth): pass --detector FaceBoxesV2.pth, or the output of "
              "`pipnet import FaceBoxesV2.pth --out models`");
}

int cmd_detect(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"detector", "FILE", "FaceBoxesV2 weights, .pth or safetensors (default: models/faceboxes.safetensors, then "
                           "../shared/data/faceboxes/FaceBoxesV2.pth)"},
      {"threshold", "P", "face score threshold (default 0.6, the official demo's for photos)"},
      {"device", "cpu|cuda", "where to run (default cpu)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, false, /*max_positional=*/1);
  if (!a.has("help") && a.positional.empty()) usage_error("detect: usage: pipnet detect IMAGE|DIR (pipnet detect --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet detect IMAGE|DIR [options]",
                                "  Face boxes (x0, y0, x1, y1 in pixels, and the face score) as one JSON document. A folder of\n"
                                "  images with 300W .pts labels beside them also gets the recall on stderr: a face counts as\n"
                                "  found when the centroid of its landmarks lies inside a detected box.\n", opts).c_str());
    return 0;
  }
  set_threads(a);
  DetectOptions o;
  o.threshold = (float)a.get_double("threshold", 0.6, 0.0, 1.0);
  const std::string dev = a.get("device", "cpu");
  if (dev != "cpu" && dev != "cuda") usage_error("detect: --device '" + dev + "': expected cpu or cuda");
  if (dev == "cuda" && !cuda_available()) usage_error("detect: --device cuda: no CUDA device");
  const std::string in = a.positional[0];
  // A 300W folder when every image has its .pts; otherwise plain images.
  std::vector<FaceRecord> recs;
  if (is_directory(in)) {
    try {
      recs = read_pts_folder(in);
    } catch (const Error&) {
      recs.clear();
    }
  }
  const bool labelled = !recs.empty();
  std::vector<std::string> images;
  if (labelled) for (auto& r : recs) images.push_back(r.image);
  else images = list_images(in);
  FaceDetector det(detector_weights(a.get("detector"), "detect"), dev == "cuda" ? Device::CUDA : Device::CPU);

  std::string js = "[\n";
  int found = 0, labelled_faces = 0;
  std::vector<std::string> missed;
  double ms_total = 0;
  Progress bar{"detect", (int64_t)images.size()};
  for (size_t i = 0; i < images.size(); i++) {
    const Image im = load_image(images[i]);
    const auto t0 = std::chrono::steady_clock::now();
    const std::vector<FaceBox> boxes = det.detect(im, o);
    ms_total += 1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string b;
    for (const FaceBox& f : boxes)
      b += strf("%s[%.2f, %.2f, %.2f, %.2f, %.5f]", b.empty() ? "" : ", ", f.x0, f.y0, f.x1, f.y1, f.score);
    js += strf("  {\"image\": \"%s\", \"size\": [%d, %d], \"faces\": [%s]}%s\n", json_escape(images[i]).c_str(), im.w,
               im.h, b.c_str(), i + 1 < images.size() ? "," : "");
    if (labelled) {
      const std::vector<float>& p = recs[i].pts;
      double cx = 0, cy = 0;
      for (size_t k = 0; k < p.size(); k += 2) cx += p[k], cy += p[k + 1];
      cx /= p.size() / 2, cy /= p.size() / 2;
      bool hit = false;
      for (const FaceBox& f : boxes) hit |= cx >= f.x0 && cx <= f.x1 && cy >= f.y0 && cy <= f.y1;
      labelled_faces++;
      found += hit;
      if (!hit) missed.push_back(images[i]);
    }
    if (images.size() > 1) bar.update((int64_t)i + 1, (int64_t)i + 1);
  }
  js += "]\n";
  std::fputs(js.c_str(), stdout);
  std::fprintf(stderr, "%zu images, %.1f ms per image for detection (threshold %.2f)\n", images.size(),
               ms_total / std::max<size_t>(images.size(), 1), o.threshold);
  if (labelled) {
    std::fprintf(stderr, "recall: %d of %d labelled faces found (%.2f%%): the landmark centroid inside a detected box\n",
                 found, labelled_faces, 100.0 * found / labelled_faces);
    for (const std::string& m : missed) std::fprintf(stderr, "  missed: %s\n", m.c_str());
  }
  return 0;
}
