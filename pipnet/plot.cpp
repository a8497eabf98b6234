#include "pipnet/plot.h"

#include <algorithm>
#include <cmath>

#include "data/image.h"
#include "tensor/tensor.h"

void plot_png(const std::string& path, const std::string& title, const std::string& xlabel, const std::string& ylabel,
              const std::vector<Series>& series, bool log_y, int w, int h) {
  Image im(w, h, 255);
  const int L = 70, R = 20, T = 40, B = 50;
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  auto fy = [&](double v) { return log_y ? std::log10(std::max(v, 1e-12)) : v; };
  for (auto& s : series)
    for (size_t i = 0; i < s.x.size(); i++) {
      if (!std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]); x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, fy(s.y[i])); y1 = std::max(y1, fy(s.y[i]));
    }
  if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
  if (!(y1 > y0)) { y0 -= 1; y1 += 1; }
  if (!log_y && y0 > 0 && y0 < 0.5 * y1) y0 = 0;
  const double pad = (y1 - y0) * 0.05;
  const bool nonneg = y0 >= 0;
  y0 -= pad; y1 += pad;
  if (!log_y && nonneg) y0 = std::max(y0, 0.0);  // fractions and losses never go below 0
  auto px = [&](double x) { return L + (x - x0) / (x1 - x0) * (w - L - R); };
  auto py = [&](double y) { return h - B - (fy(y) - y0) / (y1 - y0) * (h - T - B); };
  const uint8_t black[3] = {0, 0, 0}, grey[3] = {215, 215, 215};
  for (int k = 0; k <= 5; k++) {  // grid and tick labels
    const double gy = y0 + (y1 - y0) * k / 5, gx = x0 + (x1 - x0) * k / 5;
    const float yy = (float)(h - B - (double)k / 5 * (h - T - B)), xx = (float)(L + (double)k / 5 * (w - L - R));
    draw_line(im, L, yy, (float)(w - R), yy, grey);
    draw_line(im, xx, (float)T, xx, (float)(h - B), grey);
    std::string ly = log_y ? strf("%.1e", std::pow(10.0, gy)) : strf("%.3g", gy);
    draw_text(im, 4, (int)yy - 3, ly, black);
    draw_text(im, (int)xx - 12, h - B + 6, strf("%.3g", gx), black);
  }
  draw_line(im, L, (float)T, L, (float)(h - B), black);
  draw_line(im, L, (float)(h - B), (float)(w - R), (float)(h - B), black);
  draw_text(im, L, 12, title, black, 2);
  draw_text(im, w / 2 - 3 * (int)xlabel.size(), h - 18, xlabel, black);
  draw_text(im, 4, T - 14, ylabel, black);
  // the legend goes in the corner away from where the first curve ends (a rising CED ends high, a loss low)
  const bool ends_high = !series.empty() && !series[0].y.empty() && py(series[0].y.back()) < (T + h - B) / 2.0;
  int legend_y = ends_high ? h - B - 12 * (int)series.size() - 6 : T + 6;
  for (auto& s : series) {
    for (size_t i = 1; i < s.x.size(); i++)
      if (std::isfinite(s.y[i]) && std::isfinite(s.y[i - 1])) {
        draw_line(im, (float)px(s.x[i - 1]), (float)py(s.y[i - 1]), (float)px(s.x[i]), (float)py(s.y[i]), s.rgb);
        draw_line(im, (float)px(s.x[i - 1]), (float)py(s.y[i - 1]) + 1, (float)px(s.x[i]), (float)py(s.y[i]) + 1, s.rgb);
      }
    if (!s.label.empty()) {
      draw_line(im, (float)(w - R - 150), (float)legend_y + 3, (float)(w - R - 130), (float)legend_y + 3, s.rgb);
      draw_text(im, w - R - 125, legend_y, s.label, black);
      legend_y += 12;
    }
  }
  save_png(im, path);
}

Image overlay(const Image& face, const std::vector<float>& pred, const std::vector<float>* gt, int scale) {
  Image im = resize_bilinear(face, face.w * scale, face.h * scale);
  const uint8_t red[3] = {230, 40, 40}, green[3] = {40, 240, 60};
  if (gt) for (size_t k = 0; k < gt->size(); k += 2) draw_disc(im, (*gt)[k] * im.w, (*gt)[k + 1] * im.h, 1.6f * scale, red);
  for (size_t k = 0; k < pred.size(); k += 2) draw_disc(im, pred[k] * im.w, pred[k + 1] * im.h, 1.2f * scale, green);
  return im;
}
