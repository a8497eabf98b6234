// Fuzz target: the official preprocessed list reader (train.txt / test.txt), then the list format's crop (a
// resize of the image, landmarks as given).
#include <sstream>

#include "data/dataset.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::istringstream in(fuzz_text(data, size));
    const std::vector<FaceRecord> recs = read_list(in, "fuzz.txt", "images");
    const Image im(20, 20, 7);
    for (const FaceRecord& r : recs) crop_face(im, r, CropRule::None, 1.0f, 8);
  } catch (const Error&) {
  }
  return 0;
}
