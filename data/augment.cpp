#include "data/augment.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/tensor.h"

void aug_translate(Image& im, std::vector<float>& lms, int dx, int dy) {
  Image out(im.w, im.h, 0);
  for (int y = 0; y < im.h; y++)
    for (int x = 0; x < im.w; x++) {
      const int sx = x + dx, sy = y + dy;
      if (sx >= 0 && sy >= 0 && sx < im.w && sy < im.h) std::memcpy(out.at(x, y), im.at(sx, sy), 3);
    }
  im = std::move(out);
  for (size_t i = 0; i < lms.size(); i += 2) {
    lms[i] = std::clamp(lms[i] - (float)dx / im.w, 0.0f, 1.0f);
    lms[i + 1] = std::clamp(lms[i + 1] - (float)dy / im.h, 0.0f, 1.0f);
  }
}

void aug_occlude(Image& im, int x0, int y0, int w, int h, const uint8_t rgb[3]) {
  for (int y = std::max(y0, 0); y < std::min(y0 + h, im.h); y++)
    for (int x = std::max(x0, 0); x < std::min(x0 + w, im.w); x++) std::memcpy(im.at(x, y), rgb, 3);
}

void aug_flip(Image& im, std::vector<float>& lms, const std::vector<int>& table) {
  CHECK_OR_FAIL(table.size() * 2 == lms.size(), strf("flip table has %zu entries for %zu landmarks", table.size(), lms.size() / 2));
  for (int y = 0; y < im.h; y++)
    for (int x = 0; x < im.w / 2; x++) std::swap_ranges(im.at(x, y), im.at(x, y) + 3, im.at(im.w - 1 - x, y));
  std::vector<float> out(lms.size());
  for (size_t i = 0; i < table.size(); i++) {  // point i of the mirrored face is the mirror of point table[i]
    out[2 * i] = 1.0f - lms[2 * table[i]];
    out[2 * i + 1] = lms[2 * table[i] + 1];
  }
  lms = std::move(out);
}

void aug_rotate(Image& im, std::vector<float>& lms, double degrees) {
  const double t = degrees * M_PI / 180.0, c = std::cos(t), s = std::sin(t);
  const double cx = im.w / 2.0, cy = im.h / 2.0;
  Image out(im.w, im.h, 0);
  for (int y = 0; y < im.h; y++)
    for (int x = 0; x < im.w; x++) {
      // inverse map of a counter-clockwise (on screen, y down) rotation, at pixel centres
      const double dx = x + 0.5 - cx, dy = y + 0.5 - cy;
      const int sx = (int)std::floor(c * dx - s * dy + cx), sy = (int)std::floor(s * dx + c * dy + cy);
      if (sx >= 0 && sy >= 0 && sx < im.w && sy < im.h) std::memcpy(out.at(x, y), im.at(sx, sy), 3);
    }
  im = std::move(out);
  for (size_t i = 0; i < lms.size(); i += 2) {
    const double du = lms[i] - 0.5, dv = lms[i + 1] - 0.5;
    lms[i] = (float)(0.5 + du * c + dv * s);
    lms[i + 1] = (float)(0.5 - du * s + dv * c);
  }
}

// One box pass of half-width r along rows (horizontal) or columns, edges clamped.
static void box_pass(Image& im, int r, bool horizontal) {
  const int n = horizontal ? im.w : im.h, lines = horizontal ? im.h : im.w;
  std::vector<int> acc(3);
  std::vector<uint8_t> line((size_t)n * 3);
  for (int l = 0; l < lines; l++) {
    auto px = [&](int i) { return horizontal ? im.at(i, l) : im.at(l, i); };
    for (int i = 0; i < n; i++) std::memcpy(&line[i * 3], px(i), 3);
    for (int c = 0; c < 3; c++) {
      int sum = 0;
      for (int k = -r; k <= r; k++) sum += line[std::clamp(k, 0, n - 1) * 3 + c];
      for (int i = 0; i < n; i++) {
        px(i)[c] = (uint8_t)((sum + r) / (2 * r + 1));
        sum += line[std::clamp(i + r + 1, 0, n - 1) * 3 + c] - line[std::clamp(i - r, 0, n - 1) * 3 + c];
      }
    }
  }
}

void aug_blur(Image& im, double sigma) {
  // three box passes of width w have variance 3 (w^2 - 1) / 12 = sigma^2
  const int r = (int)std::lround((std::sqrt(4 * sigma * sigma + 1) - 1) / 2);
  if (r < 1) return;
  for (int k = 0; k < 3; k++) { box_pass(im, r, true); box_pass(im, r, false); }
}

void aug_grayscale(Image& im) {
  for (size_t i = 0; i < im.px.size(); i += 3) {
    const uint8_t L = (uint8_t)((299 * im.px[i] + 587 * im.px[i + 1] + 114 * im.px[i + 2]) / 1000);
    im.px[i] = im.px[i + 1] = im.px[i + 2] = L;
  }
}

void augment(Image& im, std::vector<float>& lms, const std::vector<int>& flip_table, const AugmentConfig& cfg, Rng& rng) {
  // The shift becomes an int below; a huge or NaN max_shift (from a config) would make that conversion undefined.
  CHECK_OR_FAIL(std::isfinite(cfg.max_shift) && std::fabs(cfg.max_shift) <= 1e6 && std::isfinite(cfg.max_angle),
                strf("augment: max_shift %g / max_angle %g; expected finite values, |max_shift| <= 1e6", cfg.max_shift,
                     cfg.max_angle));
  const double k = im.w / 256.0;  // the repo's pixel constants are for 256x256 crops
  if (cfg.p_translate > 0 && rng.uniform() > 1 - cfg.p_translate) {
    const int dx = (int)std::trunc((rng.uniform() - 0.5) * 2 * cfg.max_shift * k);
    const int dy = (int)std::trunc((rng.uniform() - 0.5) * 2 * cfg.max_shift * k);
    aug_translate(im, lms, dx, dy);
  }
  if (cfg.p_occlude > 0 && rng.uniform() > 1 - cfg.p_occlude) {
    const int oh = (int)(0.4 * im.h * rng.uniform()), ow = (int)(0.4 * im.w * rng.uniform());
    const int x0 = (int)((im.w - ow - 10 * k) * rng.uniform()), y0 = (int)((im.h - oh - 10 * k) * rng.uniform());
    const uint8_t rgb[3] = {(uint8_t)(255 * rng.uniform()), (uint8_t)(255 * rng.uniform()), (uint8_t)(255 * rng.uniform())};
    aug_occlude(im, x0, y0, ow, oh, rgb);
  }
  if (cfg.p_flip > 0 && !flip_table.empty() && rng.uniform() > 1 - cfg.p_flip) aug_flip(im, lms, flip_table);
  if (cfg.p_rotate > 0 && rng.uniform() > 1 - cfg.p_rotate) aug_rotate(im, lms, rng.uniform(-cfg.max_angle, cfg.max_angle));
  if (cfg.p_blur > 0 && rng.uniform() > 1 - cfg.p_blur) aug_blur(im, 5 * rng.uniform() * k);
  if (cfg.p_gray > 0 && rng.uniform() < cfg.p_gray) aug_grayscale(im);
}
