// replay_main.cpp: runs a fuzz target over files, for compilers without libFuzzer and for ctest.
//   fuzz_image_replay tests/fuzz/corpus/fuzz_image [more files or folders]
// Every regular file under each argument is one input, in sorted order. The program exits 0 when all inputs
// ran; a bug aborts it (sanitizer report, signal, or an exception other than Error escaping the target).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "tests/fuzz/fuzz.h"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_FOLDER...\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> inputs;
  for (int a = 1; a < argc; a++) {
    if (fs::is_directory(argv[a])) {
      for (auto& e : fs::recursive_directory_iterator(argv[a])) if (e.is_regular_file()) inputs.push_back(e.path());
    } else if (fs::is_regular_file(argv[a])) {
      inputs.push_back(argv[a]);
    } else {
      std::fprintf(stderr, "%s: no such file or folder\n", argv[a]);
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  if (inputs.empty()) {
    std::fprintf(stderr, "no inputs under the given folders\n");
    return 2;
  }
  for (const fs::path& p : inputs) {
    std::ifstream f(p, std::ios::binary);
    const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::fprintf(stderr, "%s (%zu bytes)\n", p.c_str(), bytes.size());
    static const uint8_t nothing = 0;  // as libFuzzer, never a null pointer, even for an empty input
    LLVMFuzzerTestOneInput(bytes.empty() ? &nothing : reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  }
  std::fprintf(stderr, "%zu inputs ran\n", inputs.size());
  return 0;
}
