// plot.h: pictures: line charts as PNG (loss curves, CED curves) and landmarks drawn on faces, made with the
// image primitives of data/image.h; no plotting library.
#pragma once
#include <string>
#include <vector>

#include "data/image.h"

struct Series {
  std::string label;
  std::vector<double> x, y;
  unsigned char rgb[3];
};
void plot_png(const std::string& path, const std::string& title, const std::string& xlabel, const std::string& ylabel,
              const std::vector<Series>& series, bool log_y = false, int w = 640, int h = 420);

// A face scaled up by `scale` with landmarks drawn on it (normalised coordinates [N*2]): predictions green over
// the ground truth (if given) red.
Image overlay(const Image& face, const std::vector<float>& pred, const std::vector<float>* gt, int scale = 2);
