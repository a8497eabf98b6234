// Fuzz target: the 300W .pts reader, then what the training path does with its points: the check against an
// image's size and the 300W landmark-box crop.
#include <sstream>

#include "data/dataset.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::istringstream in(fuzz_text(data, size));
    FaceRecord r;
    r.image = "fuzz.png";
    r.label = "fuzz.pts";
    r.pts = read_pts(in, r.label);
    const Image im(64, 48, 128);
    check_points_in_image(r.pts, im.w, im.h, r.label);
    crop_face(im, r, CropRule::LandmarkBox, 1.1f, 16);
  } catch (const Error&) {
  }
  return 0;
}
