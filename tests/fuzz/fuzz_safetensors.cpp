// Fuzz target: the safetensors reader (header JSON, shapes, offsets, dtype conversion) from a memory buffer.
#include "tensor/safetensors.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    TensorFile f = parse_safetensors(data, size, "fuzz.safetensors");
    for (auto& [name, t] : f.tensors) {  // touch every element of what was read
      double sum = 0;
      for (float v : t.to_vector()) sum += v;
      (void)sum;
    }
  } catch (const Error&) {
  }
  return 0;
}
