// detector.h: faces found in an image by FaceBoxesV2 (layers/faceboxes.h), as the official demo finds them (spec
// §6.4, PIPNet's FaceBoxesV2/faceboxes_detector.py and lib/demo.py), and the face box the landmark network crops.
//
//   image (RGB)  ->  [1, 3, H, W] BGR minus (104, 117, 123)  ->  the six head maps
//   priors: per source k (step 32, 64, 128) and cell (i, j), row-major, anchors of size 32 on a 4x4 grid of
//           centres (j + {0, .25, .5, .75}) * step, size 64 on a 2x2 grid, 128 / 256 / 512 at the cell centre;
//           the order is the heads' channel order (anchor a: loc channels 4a..4a+3, conf 2a, 2a+1)
//   decode:  centre = prior centre + loc[0:2] * 0.1 * prior size;  size = prior size * exp(loc[2:4] * 0.2);
//            corners in pixels; score = softmax(conf)[1]
//   keep:    score > threshold (0.6 photos, 0.9 video), the 5000 best, greedy NMS at IoU >= 0.3 (the Fast R-CNN
//            cpu_nms: +1 in widths and heights), at most 750, best first
// Arithmetic is float32 in PyTorch's order, so boxes and scores equal the official ones within float rounding
// (tests/test_faceboxes.cpp checks them against tools/faceboxes_golden.py).
#pragma once
#include <string>
#include <vector>

#include "data/image.h"
#include "layers/faceboxes.h"

struct FaceBox {
  float x0, y0, x1, y1;  // corners in image pixels (not clipped: a face at the border may reach outside)
  float score;           // face probability
};

struct DetectOptions {
  float threshold = 0.6f;  // the demo's: 0.6 for photos, 0.9 for video
  float nms_iou = 0.3f;
  int top_k = 5000;        // best boxes kept before NMS
  int keep = 750;          // at most this many after
  int max_short_side = 600;  // larger images are scaled down to this short side for detection (0: never), as the
                             // official detector does when not given a scale; boxes are mapped back
};

// [P][4] priors (cx, cy, w, h) relative to an H x W input, in the heads' order.
std::vector<float> faceboxes_priors(int H, int W);
// Every prior's box (pixels of the H x W input) and score from the raw head maps (any device): [P] each.
void decode_faceboxes(const FaceBoxesOutput& out, int H, int W, std::vector<FaceBox>& all);
// Threshold, top-k, NMS and the cap of DetectOptions, best first. `above` (optional) gets the count above threshold.
std::vector<FaceBox> select_faces(const std::vector<FaceBox>& all, const DetectOptions& o, int* above = nullptr);
// Greedy NMS over boxes sorted best first: the indices kept.
std::vector<int> nms(const std::vector<FaceBox>& sorted, float iou);

// The box the landmark network crops (spec §6.4, det_box_scale 1.2): corners truncated to integers, then the left,
// right and bottom edges moved out by a tenth of the width or height and the top edge moved *down* by a tenth (to
// leave out the forehead, as the network was trained), clipped to the image. Corners are inclusive; the demo's crop
// is [xmin, xmax) x [ymin, ymax) and its mapping uses width = xmax - xmin + 1. "A tenth" is computed as the demo
// does, int(w * (1.2 - 1) / 2) in double, which is 9 for w = 100 (0.2 is just below 0.2 in binary).
struct FaceCrop {
  int xmin, ymin, xmax, ymax;
  int width() const { return xmax - xmin + 1; }
  int height() const { return ymax - ymin + 1; }
};
FaceCrop face_crop(const FaceBox& b, int image_w, int image_h, double box_scale = 1.2);

class FaceDetector {
 public:
  // Weights: safetensors from `pipnet import`, or FaceBoxesV2.pth itself. BatchNorms are folded.
  FaceDetector(const std::string& weights, Device dev = Device::CPU);
  std::vector<FaceBox> detect(const Image& im, const DetectOptions& o = {});
  // The network's input for an image at its own size: [1, 3, H, W] BGR minus the mean.
  static Tensor input_of(const Image& im);
  FaceBoxesV2& net() { return *net_; }
  double last_ms() const { return last_ms_; }  // wall time of the last detect(), decoding and NMS included

 private:
  std::unique_ptr<FaceBoxesV2> net_;
  std::vector<FaceBox> all_;  // every prior's box, reused from image to image
  double last_ms_ = 0;
};
