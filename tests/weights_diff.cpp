// weights_diff BEFORE A B: how far apart two trained weight files are, measured against how far training moved
// them: ratio = |A - B| / |A - BEFORE| over every float tensor of A (the Euclidean norm of all elements).
// tests/test_mpi.sh uses it to say "these two runs trained to the same weights" with a tolerance that means something.
#include <cmath>
#include <cstdio>

#include "tensor/safetensors.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: weights_diff BEFORE.safetensors A.safetensors B.safetensors\n");
    return 2;
  }
  try {
    const TensorFile before = read_safetensors(argv[1]), a = read_safetensors(argv[2]), b = read_safetensors(argv[3]);
    double diff = 0, moved = 0, max_abs = 0;
    for (const auto& [name, ta] : a.tensors) {
      if (ta.dtype() != DType::F32) continue;
      const std::vector<float> x = ta.to_vector(), y = b.at(name).to_vector(), z = before.at(name).to_vector();
      if (x.size() != y.size() || x.size() != z.size()) throw Error(name + ": shapes differ");
      for (size_t i = 0; i < x.size(); i++) {
        diff += (double)(x[i] - y[i]) * (x[i] - y[i]);
        moved += (double)(x[i] - z[i]) * (x[i] - z[i]);
        max_abs = std::max(max_abs, (double)std::fabs(x[i] - y[i]));
      }
    }
    std::printf("diff %.3g moved %.3g ratio %.3g max_abs %.3g\n", std::sqrt(diff), std::sqrt(moved),
                std::sqrt(diff) / std::max(1e-30, std::sqrt(moved)), max_abs);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weights_diff: %s\n", e.what());
    return 2;
  }
}
