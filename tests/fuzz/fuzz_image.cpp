// Fuzz target: the image loader (format sniffing, header checks, stb's decoders) and bilinear resize.
// Images over 2^22 pixels are skipped after the header check: a valid header may ask for up to 2^28 pixels
// (768 MB), which would only make the fuzzer slow; the limits themselves are tested in test_robust.cpp.
#include "data/image.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const ImageHeader h = check_image(data, size, "fuzz.img");
    if ((int64_t)h.w * h.h > (int64_t(1) << 22)) return 0;
    Image im = decode_image(data, size, "fuzz.img");
    const int w = 1 + (size > 0 ? data[size - 1] % 48 : 0), ht = 1 + (size > 1 ? data[size - 2] % 48 : 0);
    Image small = resize_bilinear(im, w, ht);
    if (im.w > 1 && im.h > 1) small = resize_bilinear(crop(im, 1, 1, im.w, im.h), ht, w);
  } catch (const Error&) {
  }
  return 0;
}
