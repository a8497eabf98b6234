// dataset.h: the dataset layouts (spec §2), each read into FaceRecords, and the per-dataset crop rules that turn a
// record into a square model input with landmarks in normalised crop coordinates (u = x / crop_w).
#pragma once
#include <istream>
#include <string>
#include <vector>

#include "data/image.h"

struct FaceRecord {
  std::string image;        // path of the image file
  std::string label;        // where the landmarks came from, for messages: "a/b.pts", "train.txt:12"
  std::vector<float> pts;   // [N*2]: pixels for raw layouts, normalised crop coordinates for the list format;
                            // empty for an unlabelled image
  bool normalized = false;  // the official preprocessed list format: the image already is the crop
  float box[4] = {0, 0, 0, 0};  // xmin ymin xmax ymax in pixels (WFLW rectangles, COFW/AFLW boxes)
  std::vector<int> attrs;   // WFLW: pose, expression, illumination, make-up, occlusion, blur flags
  int n_points() const { return (int)pts.size() / 2; }
};

// Label values are checked as they are read: counts are integers in range, coordinates finite and, for pixels,
// within [-32768, 65536] (no image is larger than kMaxImageSide), for the list format's normalised ones within
// [-1, 2]. Once the image size is known a point may lie outside the image by at most the image's own size.
// Errors name the file, the line, and the field or point.

// 300W .pts: "version: 1", "n_points: N", "{", N lines "x y", "}". N in 1..100000; errors name file and line.
std::vector<float> read_pts(const std::string& path);
std::vector<float> read_pts(std::istream& in, const std::string& path);  // `path` names it in messages
// Writes points in pixels as a 300W .pts file (atomically: temporary file, then rename).
void write_pts(const std::string& path, const std::vector<float>& pts);
// Error naming `where` and the point unless every point has -w <= x <= 2w and -h <= y <= 2h.
void check_points_in_image(const std::vector<float>& pts, int w, int h, const std::string& where);
// A 300W-style folder: every image (jpg/jpeg/png/bmp) with a .pts of the same stem beside it, sorted by name.
// Each image's header is checked (format, size, not truncated) and its points against its size.
std::vector<FaceRecord> read_pts_folder(const std::string& dir);
// The official preprocessed list (train.txt / test.txt): "name u0 v0 u1 v1 ..." per line, images in image_dir;
// a line with only a name is an unlabelled image. All labelled lines must have the same point count.
std::vector<FaceRecord> read_list(const std::string& list, const std::string& image_dir);
std::vector<FaceRecord> read_list(std::istream& in, const std::string& list, const std::string& image_dir);
// A list of labelled images: "IMAGE PTS" per line (paths relative to the list's folder unless absolute), each
// image with its 300W .pts file; what `pipnet distill` writes for its splits and pseudo-labels. Images' headers and
// points are checked as read_pts_folder does.
std::vector<FaceRecord> read_pts_list(const std::string& list);
// Face boxes for unlabelled images: "NAME X0 Y0 X1 Y1" per line (pixels, X1 > X0, Y1 > Y0), images in image_dir.
std::vector<FaceRecord> read_boxes(const std::string& list, const std::string& image_dir);
// A folder of ready face crops: every image (jpg/jpeg/png/bmp) in it, sorted by name, unlabelled.
std::vector<FaceRecord> read_crops_folder(const std::string& dir);
// WFLW list_98pt_rect_attr_*.txt: 196 coordinates, xmin ymin xmax ymax, 6 attribute flags, the image path.
std::vector<FaceRecord> read_wflw(const std::string& list, const std::string& image_dir);
std::vector<FaceRecord> read_wflw(std::istream& in, const std::string& list, const std::string& image_dir);

enum class CropRule {
  None,         // the image is already the crop (list format): only resized
  LandmarkBox,  // 300W: the tight box of the int-truncated points, enlarged by `scale` (1.1 repo, 1.3 seed/GSSL)
  WFLW,         // the given rectangle grown 10% per side (x1.2), float width
  Box,          // COFW / AFLW: the given box as it is (also unlabelled faces with a box: no landmarks needed)
};
// How much a crop rule enlarges the face's box: the 300W landmark box by `landmark_box` (1.1 repo, 1.3 seed paper);
// a given box (COFW, AFLW) by `box` about its centre (1.0 repo: as given; 1.5 the seed paper's COFW). A plain float
// is the landmark-box scale with boxes as given.
struct CropScale {
  float landmark_box = 1.1f, box = 1.0f;
  CropScale() = default;
  CropScale(float lb, float b = 1.0f) : landmark_box(lb), box(b) {}  // NOLINT: implicit from a float on purpose
};
struct Crop {
  Image image;             // size x size
  std::vector<float> lms;  // normalised to the crop, not clipped
  double x0 = 0, y0 = 0, w = 1, h = 1;  // the normalised frame in image pixels: x = x0 + u * w, y = y0 + v * h
};
Crop crop_face(const Image& im, const FaceRecord& r, CropRule rule, CropScale scales, int size);

// WFLW's 98 points as the 300W 68 (spec §2.5, the GSSL test set): jaw every second point, brows' lower and upper
// rims averaged in y, nose and mouth copied, eyes from weighted pairs. The repo's eye weights 0.666/0.333 sum to
// 0.999, a slight pull toward the origin that is kept so numbers match.
std::vector<float> wflw98_to_68(const std::vector<float>& p98);

// Horizontal-flip permutations (spec §2.3): flip[i] = the landmark that i becomes after mirroring.
std::vector<int> flip_table(int n_points);              // 68, 98, 29, 19, 106; Error for other counts
std::vector<int> read_flip_table(const std::string& path, int n_points);  // custom: N integers, an involution
