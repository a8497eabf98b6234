#include "data/image.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>

#include "tensor/tensor.h"

Image load_image(const std::string& path) {
  int w, h, c;
  unsigned char* p = stbi_load(path.c_str(), &w, &h, &c, 3);
  if (!p) {
    FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) throw Error(path + ": cannot open image");
    std::fclose(f);
    throw Error(path + ": cannot decode image (" + stbi_failure_reason() + ")");
  }
  Image im(w, h);
  std::memcpy(im.px.data(), p, (size_t)w * h * 3);
  stbi_image_free(p);
  return im;
}

void save_png(const Image& im, const std::string& path) {
  if (!stbi_write_png(path.c_str(), im.w, im.h, 3, im.px.data(), im.w * 3)) throw Error(path + ": cannot write PNG");
}
void save_jpeg(const Image& im, const std::string& path, int quality) {
  if (!stbi_write_jpg(path.c_str(), im.w, im.h, 3, im.px.data(), quality)) throw Error(path + ": cannot write JPEG");
}

Image crop(const Image& im, int x0, int y0, int x1, int y1) {
  CHECK_OR_FAIL(0 <= x0 && x0 < x1 && x1 <= im.w && 0 <= y0 && y0 < y1 && y1 <= im.h,
                strf("crop [%d,%d)x[%d,%d) outside a %dx%d image", x0, x1, y0, y1, im.w, im.h));
  Image out(x1 - x0, y1 - y0);
  for (int y = y0; y < y1; y++) std::memcpy(out.at(0, y - y0), im.at(x0, y), (size_t)(x1 - x0) * 3);
  return out;
}

Image resize_bilinear(const Image& im, int w, int h) {
  Image out(w, h);
  const double sx = (double)im.w / w, sy = (double)im.h / h;
  std::vector<int> x0(w);
  std::vector<float> fx(w);
  for (int x = 0; x < w; x++) {
    double f = (x + 0.5) * sx - 0.5;
    int i = (int)std::floor(f);
    f -= i;
    if (i < 0) { i = 0; f = 0; }
    if (i >= im.w - 1) { i = im.w - 1; f = 0; }
    x0[x] = i;
    fx[x] = (float)f;
  }
  for (int y = 0; y < h; y++) {
    double f = (y + 0.5) * sy - 0.5;
    int j = (int)std::floor(f);
    f -= j;
    if (j < 0) { j = 0; f = 0; }
    if (j >= im.h - 1) { j = im.h - 1; f = 0; }
    const int j1 = std::min(j + 1, im.h - 1);
    for (int x = 0; x < w; x++) {
      const int i = x0[x], i1 = std::min(i + 1, im.w - 1);
      const float a = fx[x], b = (float)f;
      for (int c = 0; c < 3; c++) {
        float v = (1 - b) * ((1 - a) * im.at(i, j)[c] + a * im.at(i1, j)[c]) + b * ((1 - a) * im.at(i, j1)[c] + a * im.at(i1, j1)[c]);
        out.at(x, y)[c] = (uint8_t)std::clamp((int)std::lround(v), 0, 255);
      }
    }
  }
  return out;
}

void normalize_imagenet(const Image& im, float* dst) {
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdv[3] = {0.229f, 0.224f, 0.225f};
  const size_t n = (size_t)im.w * im.h;
  for (int c = 0; c < 3; c++)
    for (size_t i = 0; i < n; i++) dst[c * n + i] = (im.px[i * 3 + c] / 255.0f - mean[c]) / stdv[c];
}

void draw_disc(Image& im, float cx, float cy, float r, const uint8_t rgb[3]) {
  for (int y = (int)std::floor(cy - r); y <= (int)std::ceil(cy + r); y++)
    for (int x = (int)std::floor(cx - r); x <= (int)std::ceil(cx + r); x++)
      if (x >= 0 && y >= 0 && x < im.w && y < im.h && (x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r)
        std::memcpy(im.at(x, y), rgb, 3);
}

void draw_line(Image& im, float x0, float y0, float x1, float y1, const uint8_t rgb[3]) {
  const int n = (int)std::ceil(std::max(std::fabs(x1 - x0), std::fabs(y1 - y0))) + 1;
  for (int i = 0; i <= n; i++) {
    const int x = (int)std::lround(x0 + (x1 - x0) * i / n), y = (int)std::lround(y0 + (y1 - y0) * i / n);
    if (x >= 0 && y >= 0 && x < im.w && y < im.h) std::memcpy(im.at(x, y), rgb, 3);
  }
}

// A 5x7 bitmap font for digits, letters (upper case), and a little punctuation: each glyph is 7 rows of 5 bits.
static const uint8_t* glyph(char ch) {
  static const struct { char c; uint8_t rows[7]; } font[] = {
      {'0', {14, 17, 19, 21, 25, 17, 14}}, {'1', {4, 12, 4, 4, 4, 4, 14}},   {'2', {14, 17, 1, 2, 4, 8, 31}},
      {'3', {30, 1, 1, 14, 1, 1, 30}},     {'4', {2, 6, 10, 18, 31, 2, 2}},   {'5', {31, 16, 30, 1, 1, 17, 14}},
      {'6', {6, 8, 16, 30, 17, 17, 14}},   {'7', {31, 1, 2, 4, 8, 8, 8}},     {'8', {14, 17, 17, 14, 17, 17, 14}},
      {'9', {14, 17, 17, 15, 1, 2, 12}},   {'.', {0, 0, 0, 0, 0, 12, 12}},    {'%', {24, 25, 2, 4, 8, 19, 3}},
      {':', {0, 12, 12, 0, 12, 12, 0}},    {'-', {0, 0, 0, 31, 0, 0, 0}},     {'=', {0, 0, 31, 0, 31, 0, 0}},
      {'/', {1, 1, 2, 4, 8, 16, 16}},      {'+', {0, 4, 4, 31, 4, 4, 0}},      {'(', {2, 4, 8, 8, 8, 4, 2}},      {')', {8, 4, 2, 2, 2, 4, 8}},
      {'A', {14, 17, 17, 31, 17, 17, 17}}, {'B', {30, 17, 17, 30, 17, 17, 30}}, {'C', {14, 17, 16, 16, 16, 17, 14}},
      {'D', {30, 17, 17, 17, 17, 17, 30}}, {'E', {31, 16, 16, 30, 16, 16, 31}}, {'F', {31, 16, 16, 30, 16, 16, 16}},
      {'G', {14, 17, 16, 23, 17, 17, 15}}, {'H', {17, 17, 17, 31, 17, 17, 17}}, {'I', {14, 4, 4, 4, 4, 4, 14}},
      {'J', {7, 2, 2, 2, 2, 18, 12}},      {'K', {17, 18, 20, 24, 20, 18, 17}}, {'L', {16, 16, 16, 16, 16, 16, 31}},
      {'M', {17, 27, 21, 21, 17, 17, 17}}, {'N', {17, 17, 25, 21, 19, 17, 17}}, {'O', {14, 17, 17, 17, 17, 17, 14}},
      {'P', {30, 17, 17, 30, 16, 16, 16}}, {'Q', {14, 17, 17, 17, 21, 18, 13}}, {'R', {30, 17, 17, 30, 20, 18, 17}},
      {'S', {15, 16, 16, 14, 1, 1, 30}},   {'T', {31, 4, 4, 4, 4, 4, 4}},     {'U', {17, 17, 17, 17, 17, 17, 14}},
      {'V', {17, 17, 17, 17, 17, 10, 4}},  {'W', {17, 17, 17, 21, 21, 21, 10}}, {'X', {17, 17, 10, 4, 10, 17, 17}},
      {'Y', {17, 17, 10, 4, 4, 4, 4}},     {'Z', {31, 1, 2, 4, 8, 16, 31}},   {' ', {0, 0, 0, 0, 0, 0, 0}},
  };
  ch = (char)std::toupper((unsigned char)ch);
  for (auto& g : font) if (g.c == ch) return g.rows;
  return font[sizeof(font) / sizeof(font[0]) - 1].rows;
}

void draw_text(Image& im, int x, int y, const std::string& s, const uint8_t rgb[3], int scale) {
  for (size_t k = 0; k < s.size(); k++) {
    const uint8_t* g = glyph(s[k]);
    for (int r = 0; r < 7; r++)
      for (int c = 0; c < 5; c++)
        if (g[r] & (16 >> c))
          for (int dy = 0; dy < scale; dy++)
            for (int dx = 0; dx < scale; dx++) {
              const int px = x + ((int)k * 6 + c) * scale + dx, py = y + r * scale + dy;
              if (px >= 0 && py >= 0 && px < im.w && py < im.h) std::memcpy(im.at(px, py), rgb, 3);
            }
  }
}

Image contact_sheet(const std::vector<Image>& tiles, int cols, int gap) {
  CHECK_OR_FAIL(!tiles.empty(), "contact sheet of no images");
  const int tw = tiles[0].w, th = tiles[0].h, rows = ((int)tiles.size() + cols - 1) / cols;
  Image out(cols * tw + (cols + 1) * gap, rows * th + (rows + 1) * gap, 255);
  for (size_t i = 0; i < tiles.size(); i++) {
    const int ox = gap + (int)(i % cols) * (tw + gap), oy = gap + (int)(i / cols) * (th + gap);
    for (int y = 0; y < th; y++) std::memcpy(out.at(ox, oy + y), tiles[i].at(0, y), (size_t)tw * 3);
  }
  return out;
}
