// Fuzz target: a run's config.txt (TrainConfig::parse), then what train/test do with it before any file is
// written: the rules between settings, the decay epochs, and saving it again.
#include "pipnet/config.h"
#include "tests/fuzz/fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    TrainConfig c;
    c.parse(fuzz_text(data, size), "fuzz.txt");
    c.validate();
    TrainConfig again;  // what save() writes must read back the same
    for (auto& [k, v] : c.to_map()) again.set(k, v);
    if (again.to_map() != c.to_map()) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
