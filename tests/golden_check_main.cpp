// golden_check FILE...: compares the engine with each golden file and prints the largest errors per category.
// Exit code 0 when every category is within the bar, 1 otherwise. The bar: relative error 1e-4, or, against a
// float64 reference (make_golden.py --ref64), no worse than twice PyTorch-float32's own error; decoded points 1e-4
// crop widths.
#include <algorithm>
#include <cstdio>

#include "tests/golden.h"
#include "tensor/tensor.h"

int main(int argc, char** argv) {
  if (argc < 2) { std::fprintf(stderr, "usage: golden_check FILE.pipgold...\n"); return 2; }
  bool ok = true;
  for (int i = 1; i < argc; i++) {
    try {
      GoldenReport r = run_golden(argv[i]);
      std::printf("%s\n  %s\n", argv[i], r.config.c_str());
      if (r.l1_margin < 1e-5)
        std::printf("  warning: an L1 term came within %.1e of its kink in PyTorch's run; 'after.' may differ by a\n"
                    "  flipped gradient sign without any bug (regenerate with another --seed)\n", r.l1_margin);
      std::printf("  reference: PyTorch %s\n", r.reference.c_str());
      for (const char* p : {"out.", "loss.", "grad.", "after."}) {
        const bool has = r.torch32.count(p);
        std::printf("  %-7s max rel error %.3e, norm-wise %.3e  (%s)", p, r.worst(p), r.worst_l2(p), r.worst_name(p).c_str());
        if (has) std::printf("   PyTorch float32's own: %.3e", r.torch32.at(p));
        std::printf("\n");
        // the bar: 1e-4, or no worse than twice PyTorch's own float32 error against the float64 reference
        ok = ok && r.worst(p) < std::max(1e-4, has ? 2 * r.torch32.at(p) : 0.0);
      }
      std::printf("  decoded landmarks max abs error %.3e crop widths; targets %s; neighbours %s\n", r.decode_abs,
                  r.targets_equal ? "equal" : "DIFFER", r.neighbors_equal ? "equal" : "DIFFER");
      ok = ok && r.decode_abs < 1e-4 && r.targets_equal && r.neighbors_equal;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 2;
    }
  }
  std::printf("%s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
