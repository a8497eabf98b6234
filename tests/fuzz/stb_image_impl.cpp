// stb_image_impl.cpp: stb_image and stb_image_write compiled from Debian's headers into the libFuzzer binaries
// (PIPNET_FUZZ), so that the decoders are instrumented: libFuzzer then sees coverage inside stb and the
// sanitizers check its memory accesses. These definitions take precedence over the prebuilt libstb the engine
// links; it is the same source (libstb-dev and libstb0 come from one Debian package).
#define STB_IMAGE_IMPLEMENTATION
#include <stb/stb_image.h>
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
