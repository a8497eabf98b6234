// landmarks.h: the path from an image to every face's landmarks in image pixels, shared by `pipnet infer` (photos,
// folders, videos), `pipnet test --detect` and `pipnet bench`: FaceBoxesV2 finds the faces (pipnet/detector.h), each
// is cropped as the official demo crops it (spec §6.4), the landmark network runs on the crop, and its [0, 1]
// coordinates are mapped back (x = xmin + u * width, width = xmax - xmin + 1, without the demo's final truncation
// to whole pixels, which it needs only to draw).
#pragma once
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "data/image.h"
#include "kernels/graph.h"
#include "pipnet/detector.h"
#include "pipnet/pip.h"
#include "pipnet/pipnet.h"
#include "pipnet/run.h"

// The landmark network on one face image of any size: resized to S x S, normalised, run (on CUDA replayed from a
// captured graph), decoded. Coordinates come back in [0, 1] of the face image.
struct LandmarkRunner {
  LoadedRun& run;
  int S;
  Device dev;
  Tensor xs;  // [1, 3, S, S] the network's input, refilled for each face
  PipOutput pred;
  std::unique_ptr<Replay> replay;
  explicit LandmarkRunner(LoadedRun& r)
      : run(r), S(r.cfg.model.input_size), dev(r.net->device()), xs(Tensor::empty({1, 3, S, S}, DType::F32, dev)) {}
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

struct FaceResult {
  FaceBox box;               // the detector's box and score
  FaceCrop crop;             // the crop the landmarks were found in
  std::vector<float> points;      // [N*2] x, y in image pixels
  std::vector<float> confidence;  // [N] each landmark's peak score
};

// Every face of the image, best first; faces whose crop is empty once clipped are left out.
inline std::vector<FaceResult> find_landmarks(const Image& im, FaceDetector& det, const DetectOptions& o,
                                              LandmarkRunner& lm) {
  std::vector<FaceResult> faces;
  for (const FaceBox& b : det.detect(im, o)) {
    const FaceCrop c = face_crop(b, im.w, im.h);
    if (c.xmax <= c.xmin || c.ymax <= c.ymin) continue;  // nothing left to crop once clipped
    Landmarks L = lm(crop(im, c.xmin, c.ymin, c.xmax, c.ymax));
    for (size_t k = 0; k < L.merged.size(); k += 2) {
      L.merged[k] = c.xmin + L.merged[k] * c.width();
      L.merged[k + 1] = c.ymin + L.merged[k + 1] * c.height();
    }
    faces.push_back({b, c, std::move(L.merged), std::move(L.max_cls)});
  }
  return faces;
}

// Boxes red, landmarks green, into `im` (after every crop was taken, so no face sees another's drawing).
inline void draw_faces(Image& im, const std::vector<FaceResult>& faces) {
  const uint8_t green[3] = {40, 240, 60}, red[3] = {240, 60, 40};
  for (const FaceResult& f : faces) {
    const float x0 = (float)f.crop.xmin, y0 = (float)f.crop.ymin, x1 = (float)f.crop.xmax, y1 = (float)f.crop.ymax;
    draw_line(im, x0, y0, x1, y0, red);
    draw_line(im, x1, y0, x1, y1, red);
    draw_line(im, x1, y1, x0, y1, red);
    draw_line(im, x0, y1, x0, y0, red);
    for (size_t k = 0; k < f.points.size(); k += 2)
      draw_disc(im, f.points[k], f.points[k + 1], std::max(1.5f, f.crop.width() / 80.0f), green);
  }
}
