// image.h: 8-bit RGB images (height x width x 3, interleaved), their I/O through stb, and the few pixel operations
// the data path needs: crop, bilinear resize as OpenCV's INTER_LINEAR, drawing, ImageNet normalisation.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

struct Image {
  int w = 0, h = 0;
  std::vector<uint8_t> px;  // [h][w][3] RGB
  Image() = default;
  Image(int w_, int h_, uint8_t fill = 0) : w(w_), h(h_), px((size_t)w_ * h_ * 3, fill) {}
  uint8_t* at(int x, int y) { return &px[((size_t)y * w + x) * 3]; }
  const uint8_t* at(int x, int y) const { return &px[((size_t)y * w + x) * 3]; }
};

// Limits on an image's size, checked from the header before anything is allocated.
constexpr int kMaxImageSide = 32768;
constexpr int64_t kMaxImagePixels = int64_t(1) << 28;
// Error naming `name` unless 1 <= w, h <= kMaxImageSide and w * h <= kMaxImagePixels.
void check_image_size(int64_t w, int64_t h, const std::string& name);

// JPEG, PNG, BMP, 8-bit binary PGM/PPM (recognised by their magic bytes, whatever the file's extension): grey and
// RGBA become RGB. An unreadable, unsupported, truncated (the header declares more than the file holds), empty
// (0 pixels) or too large file is an Error naming it and the reason.
Image load_image(const std::string& path);
Image decode_image(const uint8_t* data, size_t size, const std::string& name);  // the same from memory
// The checks of load_image without decoding: format, size and completeness, from the header and the file length.
struct ImageHeader {
  int w = 0, h = 0;
  const char* format = "";  // "JPEG", "PNG", "BMP", "PGM", "PPM"
};
ImageHeader check_image(const uint8_t* data, size_t size, const std::string& name);
ImageHeader check_image_file(const std::string& path);
void save_png(const Image& im, const std::string& path);
void save_jpeg(const Image& im, const std::string& path, int quality = 95);

// Rows y0..y1-1, columns x0..x1-1 (end-exclusive, as numpy slicing); the rectangle must lie inside the image.
Image crop(const Image& im, int x0, int y0, int x1, int y1);
// OpenCV INTER_LINEAR: source coordinate (dst + 0.5) * src/dst - 0.5, edges clamped, no anti-aliasing.
Image resize_bilinear(const Image& im, int w, int h);
// dst [3][h][w] floats: RGB / 255, then (v - mean) / std with ImageNet's mean and std (spec §2.4).
void normalize_imagenet(const Image& im, float* dst);

// Drawing, for pictures people look at.
void draw_disc(Image& im, float cx, float cy, float r, const uint8_t rgb[3]);
void draw_line(Image& im, float x0, float y0, float x1, float y1, const uint8_t rgb[3]);
void draw_text(Image& im, int x, int y, const std::string& s, const uint8_t rgb[3], int scale = 1);  // 5x7 font
// Tile images (all the same size) into a grid with `cols` columns.
Image contact_sheet(const std::vector<Image>& tiles, int cols, int gap = 4);
