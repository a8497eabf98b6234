// golden.h: check the engine against a golden file written by tools/make_golden.py (PyTorch).
// Used by the ctest fixture test and by the `golden_check` program for the full-size runs.
#pragma once
#include <map>
#include <string>
#include <vector>

struct GoldenItem {
  std::string what;    // "out.cls", "grad.layer1.0.conv1.weight", ...
  double error;        // max |ours - torch| / max |torch|  (the tensor's own scale)
  double l2 = 0;       // |ours - torch|_2 / |torch|_2          (norm-wise, the usual "relative error" of a tensor)
};

struct GoldenReport {
  std::string config;
  double l1_margin = 0;
  std::map<std::string, double> torch32;  // with a float64 reference: PyTorch-float32's own error per category
  std::string reference = "float32";  // the file's smallest |prediction - target| of an L1 term (tools/make_golden.py)
  std::vector<GoldenItem> items;  // every compared tensor
  double worst(const std::string& prefix) const;  // largest error among items starting with prefix
  double worst_l2(const std::string& prefix) const;
  std::string worst_name(const std::string& prefix) const;
  double decode_abs = 0;          // max |ours - torch| of decoded coordinates, in crop widths
  bool targets_equal = false;     // score maps bit-equal, gathered offsets within float rounding
  bool neighbors_equal = false;
};

GoldenReport run_golden(const std::string& path);
