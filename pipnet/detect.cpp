// pipnet detect: faces only (FaceBoxesV2, pipnet/detector.h), as JSON boxes, for one image or a folder. Where the
// folder is 300W-style (a .pts beside each image) it also measures the detector's recall: a labelled face counts as
// found when its landmarks' centroid lies inside a detected box. With --run each face also gets its landmarks, and
// a labelled folder gets the NME with detected boxes beside the NME with ground-truth crops, both in image pixels.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>

#include "data/dataset.h"
#include "pipnet/cli.h"
#include "pipnet/detector.h"
#include "pipnet/landmarks.h"
#include "pipnet/progress.h"
#include "tensor/device.h"
#include "tensor/fileio.h"

std::string default_run() {
  const std::string src = PIPNET_SOURCE_DIR;
  for (const std::string& p : {std::string("models/pipnet_r18_lfw68"), src + "/models/pipnet_r18_lfw68"})
    if (path_exists(p + "/config.txt")) return p;
  return "";
}

std::string find_detector_weights() {
  const std::string src = PIPNET_SOURCE_DIR;
  for (const std::string& p : {std::string("models/faceboxes.safetensors"), src + "/models/faceboxes.safetensors",
                               src + "/../shared/data/faceboxes/FaceBoxesV2.pth"})
    if (path_exists(p) && !is_directory(p)) return p;
  return "";
}

std::string detector_weights(const std::string& given, const std::string& cmd) {
  if (!given.empty()) {
    if (!path_exists(given) || is_directory(given)) usage_error(cmd + ": --detector " + given + ": no such weights file");
    return given;
  }
  const std::string found = find_detector_weights();
  if (!found.empty()) return found;
  usage_error(cmd + ": no face detector weights (looked for models/faceboxes.safetensors and "
              "../shared/data/faceboxes/FaceBoxesV2.pth): get FaceBoxesV2/weights/FaceBoxesV2.pth from the official "
              "PIPNet repository (github.com/jhb86253817/PIPNet, MIT licence) and pass --detector FaceBoxesV2.pth, or "
              "put the output of `pipnet import FaceBoxesV2.pth --out models` in models/");
}

int cmd_detect(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"detector", "FILE", "FaceBoxesV2 weights, .pth or safetensors (default: models/faceboxes.safetensors, then "
                           "../shared/data/faceboxes/FaceBoxesV2.pth)"},
      {"threshold", "P", "face score threshold (default 0.6, the official demo's for photos)"},
      {"run", "DIR", "also the landmarks of a trained run; with labels, its NME with detected boxes and with "
                     "ground-truth crops"},
      {"device", "cpu|cuda", "where to run (default cpu)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, false, /*max_positional=*/1);
  if (!a.has("help") && a.positional.empty()) usage_error("detect: usage: pipnet detect IMAGE|DIR (pipnet detect --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet detect IMAGE|DIR [options]",
                                "  Face boxes (x0, y0, x1, y1 in pixels, and the face score) as one JSON document. A folder of\n"
                                "  images with 300W .pts labels beside them also gets the recall on stderr: a face counts as\n"
                                "  found when the centroid of its landmarks lies inside a detected box. With --run RUN the faces\n"
                                "  get landmarks too, and labelled images the NME (inter-ocular, points 36 and 45 of 68, in image\n"
                                "  pixels) of the landmarks from the detected face's crop (spec 6.4) beside those from the\n"
                                "  ground-truth crop the run was trained with (landmark box x crop_scale).\n", opts).c_str());
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
  std::unique_ptr<LoadedRun> run;
  std::unique_ptr<LandmarkRunner> lm;
  if (!a.get("run").empty()) {
    run = std::make_unique<LoadedRun>(load_run(a.get("run"), "", dev));
    run->net->fold_batchnorms();
    lm = std::make_unique<LandmarkRunner>(*run);
  }
  ag::NoGradGuard ng;
  double nme_det = 0, nme_gt = 0;
  int nme_n = 0;

  std::string js = "[\n";
  int found = 0, labelled_faces = 0;
  std::vector<std::string> missed;
  double ms_total = 0;
  Progress bar{"detect", (int64_t)images.size()};
  for (size_t i = 0; i < images.size(); i++) {
    const Image im = load_image(images[i]);
    std::vector<FaceResult> faces;
    if (lm) faces = find_landmarks(im, det, o, *lm);
    else for (const FaceBox& f : det.detect(im, o)) faces.push_back({f, {}, {}, {}});
    ms_total += det.last_ms();
    std::string b, extra;
    for (const FaceResult& r : faces) {
      const FaceBox& f = r.box;
      b += strf("%s[%.2f, %.2f, %.2f, %.2f, %.5f]", b.empty() ? "" : ", ", f.x0, f.y0, f.x1, f.y1, f.score);
    }
    if (labelled) {
      const std::vector<float>& p = recs[i].pts;
      double cx = 0, cy = 0;
      for (size_t k = 0; k < p.size(); k += 2) cx += p[k], cy += p[k + 1];
      cx /= p.size() / 2, cy /= p.size() / 2;
      const FaceResult* hit = nullptr;  // the best-scoring detection holding the labelled face
      for (const FaceResult& r : faces)
        if (!hit && cx >= r.box.x0 && cx <= r.box.x1 && cy >= r.box.y0 && cy <= r.box.y1) hit = &r;
      labelled_faces++;
      found += hit != nullptr;
      if (!hit) missed.push_back(images[i]);
      if (lm && hit && p.size() == 136 && hit->points.size() == p.size()) {
        // NME in pixels: mean landmark error over the outer-eye-corner distance, from the detected crop and from
        // the ground-truth crop (the training crop rule, its frame mapped back to pixels).
        const double io = std::hypot(p[72] - p[90], p[73] - p[91]);
        const Crop gc = crop_face(im, recs[i], CropRule::LandmarkBox, run->cfg.data.scales(), run->cfg.model.input_size);
        const Landmarks L = (*lm)(gc.image);
        double ed = 0, eg = 0;
        for (size_t k = 0; k < p.size(); k += 2) {
          ed += std::hypot(hit->points[k] - p[k], hit->points[k + 1] - p[k + 1]);
          eg += std::hypot(gc.x0 + L.merged[k] * gc.w - p[k], gc.y0 + L.merged[k + 1] * gc.h - p[k + 1]);
        }
        ed /= io * p.size() / 2, eg /= io * p.size() / 2;
        nme_det += ed, nme_gt += eg, nme_n++;
        extra = strf(", \"nme_detected\": %.5f, \"nme_gt_crop\": %.5f", ed, eg);
      }
    }
    std::string pts;
    for (const FaceResult& r : faces) {
      std::string one;
      for (size_t k = 0; k < r.points.size(); k += 2) one += strf("%s[%.2f, %.2f]", k ? ", " : "", r.points[k], r.points[k + 1]);
      pts += strf("%s[%s]", pts.empty() ? "" : ", ", one.c_str());
    }
    if (lm) extra = ", \"points\": [" + pts + "]" + extra;
    js += strf("  {\"image\": \"%s\", \"size\": [%d, %d], \"faces\": [%s]%s}%s\n", json_escape(images[i]).c_str(), im.w,
               im.h, b.c_str(), extra.c_str(), i + 1 < images.size() ? "," : "");
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
    if (nme_n)
      std::fprintf(stderr, "NME (%%, inter-ocular, image pixels) over the %d found faces: %.3f with detected boxes, %.3f with "
                   "ground-truth crops\n", nme_n, 100 * nme_det / nme_n, 100 * nme_gt / nme_n);
  }
  return 0;
}
