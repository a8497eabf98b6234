// plot.h: line charts as PNG (loss curves, CED curves), drawn with the image primitives; no plotting library.
#pragma once
#include <string>
#include <vector>

struct Series {
  std::string label;
  std::vector<double> x, y;
  unsigned char rgb[3];
};
void plot_png(const std::string& path, const std::string& title, const std::string& xlabel, const std::string& ylabel,
              const std::vector<Series>& series, bool log_y = false, int w = 640, int h = 420);
