// Fuzz target: the WFLW list reader (196 coordinates, box, attribute flags, path), then the WFLW and box crop
// rules and the 98 -> 68 conversion on each record.
#include <sstream>

#include "data/dataset.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::istringstream in(fuzz_text(data, size));
    const std::vector<FaceRecord> recs = read_wflw(in, "fuzz.txt", "images");
    const Image im(64, 48, 9);
    for (const FaceRecord& r : recs) {
      try { crop_face(im, r, CropRule::WFLW, 1.0f, 16); } catch (const Error&) {}
      try { crop_face(im, r, CropRule::Box, 1.0f, 16); } catch (const Error&) {}
      wflw98_to_68(r.pts);
    }
  } catch (const Error&) {
  }
  return 0;
}
