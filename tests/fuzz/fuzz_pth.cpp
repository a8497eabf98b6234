// Fuzz target: a PyTorch .pth file (zip or legacy container, the pickle machine, tensors out of storages), then
// what import does with the tensors: the PIPNet configuration read from their shapes.
#include "pipnet/pipnet.h"
#include "tensor/pth.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    TensorFile f = parse_pth(data, size, "fuzz.pth");
    for (auto& [name, t] : f.tensors) (void)t.to_vector();
    pip_config_from_weights(f.tensors, "fuzz.pth");
  } catch (const Error&) {
  }
  return 0;
}
