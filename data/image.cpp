#include "data/image.h"

#include "tensor/fileio.h"

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cctype>
#include <cstdint>

#include "tensor/tensor.h"

// ---- reading: the container is checked here, before stb sees a byte ----------------------------------
// Debian's libstb trusts headers: a PGM that declares more pixels than it holds decodes with a black tail (or
// crashes for 16-bit), a truncated BMP decodes with a black lower half, and a file with no known magic may be
// taken for a TGA. (Truncated JPEGs and PNGs it mostly refuses itself, as "expected marker" or "outofdata"; a PNG
// cut inside its IEND chunk still decodes.) So the format is recognised by its magic bytes (JPEG,
// PNG, BMP, 8-bit PGM/PPM only), the header's size is checked against the limits and the file's length, and
// only then is stb asked to decode.
namespace {
uint32_t le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
uint16_t le16(const uint8_t* p) { return (uint16_t)(p[0] | p[1] << 8); }
uint32_t be32(const uint8_t* p) { return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]; }
uint16_t be16(const uint8_t* p) { return (uint16_t)(p[0] << 8 | p[1]); }

struct Reader {  // what the header checks need to say where they failed
  const uint8_t* d;
  size_t n;
  const std::string& name;
  [[noreturn]] void bad(const std::string& what) const { throw Error(name + ": " + what); }
};

// P5 (grey) / P6 (RGB): magic, width, height, maxval separated by whitespace or '#' comments, one whitespace
// byte, then w*h*channels bytes.
ImageHeader check_pnm(const Reader& r) {
  size_t i = 2;
  auto number = [&](const char* what) -> int64_t {
    for (;;) {
      while (i < r.n && std::isspace(r.d[i])) i++;
      if (i < r.n && r.d[i] == '#') { while (i < r.n && r.d[i] != '\n' && r.d[i] != '\r') i++; continue; }  // as stb
      break;
    }
    if (i >= r.n || !std::isdigit(r.d[i])) r.bad(std::string("PGM/PPM header: expected the ") + what + " (a number)");
    int64_t v = 0;
    while (i < r.n && std::isdigit(r.d[i])) {
      v = v * 10 + (r.d[i++] - '0');
      if (v > (int64_t(1) << 40)) r.bad(std::string("PGM/PPM header: the ") + what + " is absurdly large");
    }
    return v;
  };
  const int channels = r.d[1] == '5' ? 1 : 3;
  ImageHeader h{0, 0, channels == 1 ? "PGM" : "PPM"};
  const int64_t w = number("width"), ht = number("height"), maxval = number("maxval");
  if (maxval < 1 || maxval > 255)
    r.bad(strf("%s maxval %lld: only 8-bit files (maxval 1..255) are supported", h.format, (long long)maxval));
  check_image_size(w, ht, r.name);
  if (i >= r.n || !std::isspace(r.d[i])) r.bad(std::string(h.format) + " header: expected one whitespace byte before the pixels");
  i++;
  const uint64_t need = (uint64_t)w * ht * channels;
  if (r.n - i < need)
    r.bad(strf("truncated %s: %lldx%lld needs %llu pixel bytes, the file has %llu", h.format, (long long)w,
               (long long)ht, (unsigned long long)need, (unsigned long long)(r.n - i)));
  h.w = (int)w;
  h.h = (int)ht;
  return h;
}

// BMP: 14-byte file header (pixel data offset at 10), then an info header whose size picks the layout
// (12: OS/2 with 16-bit sizes; 40 and up: Windows with 32-bit sizes, negative height = top-down).
ImageHeader check_bmp(const Reader& r) {
  if (r.n < 26) r.bad("truncated BMP header");
  const uint32_t offset = le32(r.d + 10), hsize = le32(r.d + 14);
  int64_t w, ht;
  uint32_t bpp, compression = 0;
  if (hsize == 12) {
    w = le16(r.d + 18); ht = le16(r.d + 20); bpp = le16(r.d + 24);
  } else if (hsize >= 40 && hsize <= 124) {
    if (r.n < 54) r.bad("truncated BMP header");
    w = (int32_t)le32(r.d + 18); ht = (int32_t)le32(r.d + 22); bpp = le16(r.d + 28); compression = le32(r.d + 30);
  } else {
    r.bad(strf("BMP info header size %u is not one of 12, 40..124", hsize));
  }
  if (ht < 0) ht = -ht;  // top-down
  check_image_size(w, ht, r.name);
  if (compression != 0 && compression != 3)
    r.bad(strf("BMP compression %u is not supported (only uncompressed and bitfields)", compression));
  if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) r.bad(strf("BMP with %u bits per pixel", bpp));
  if (offset < 14 + hsize) r.bad(strf("BMP pixel data offset %u lies inside the headers", offset));
  const uint64_t stride = ((uint64_t)w * bpp + 31) / 32 * 4, need = (uint64_t)offset + stride * ht;
  if (r.n < need)
    r.bad(strf("truncated BMP: %lldx%lld at %u bits needs %llu bytes, the file has %zu", (long long)w, (long long)ht,
               bpp, (unsigned long long)need, r.n));
  return {(int)w, (int)ht, "BMP"};
}

// PNG: the 8-byte signature, then chunks (length, type, data, CRC) from IHDR to IEND, each inside the file.
ImageHeader check_png(const Reader& r) {
  if (r.n < 33 || std::memcmp(r.d + 12, "IHDR", 4) != 0) r.bad("truncated PNG or no IHDR chunk first");
  const int64_t w = be32(r.d + 16), ht = be32(r.d + 20);
  check_image_size(w, ht, r.name);
  for (size_t i = 8;;) {
    if (r.n - i < 12) r.bad(strf("truncated PNG: no IEND chunk (the file ends at byte %zu inside the chunk list)", r.n));
    const uint64_t len = be32(r.d + i);
    if (len > r.n - i - 12) r.bad(strf("truncated PNG: chunk '%.4s' at byte %zu declares %llu bytes, the file ends first",
                                       (const char*)r.d + i + 4, i, (unsigned long long)len));
    if (std::memcmp(r.d + i + 4, "IEND", 4) == 0) break;
    i += 12 + len;
  }
  return {(int)w, (int)ht, "PNG"};
}

// A JPEG DHT segment: tables of (class/id byte, 16 code counts, the symbols). stb 2.27 (Debian's libstb) copies
// as many symbols as the counts add up to into 256-entry arrays without checking: counts summing past 256
// overwrite its decoder state (found by fuzz_image with stb built in). Each table must hold at most 256
// symbols, have class 0/1 and id 0..3, and fit in the segment.
using JpegTables = bool[2][4];  // [class: 0 DC, 1 AC][id]: defined by a DHT so far
void check_jpeg_dht(const Reader& r, size_t at, size_t len, JpegTables& defined) {
  const size_t end = at + len;
  while (at < end) {
    if (end - at < 17) r.bad(strf("JPEG: Huffman table at byte %zu is cut short", at));
    const uint8_t q = r.d[at];
    if ((q >> 4) > 1 || (q & 15) > 3) r.bad(strf("JPEG: Huffman table at byte %zu has class %d, id %d", at, q >> 4, q & 15));
    size_t n = 0;
    for (int k = 1; k <= 16; k++) n += r.d[at + k];
    if (n > 256) r.bad(strf("JPEG: Huffman table at byte %zu declares %zu codes, at most 256", at, n));
    if (n > end - at - 17) r.bad(strf("JPEG: Huffman table at byte %zu runs past its segment", at));
    defined[q >> 4][q & 15] = true;
    at += 17 + n;
  }
}

// A JPEG SOS segment: Ns, then Ns (component, DC/AC table ids), then Ss, Se, Ah/Al. stb decodes with whatever
// table a scan names, defined or not (its tables are uninitialised heap: fuzz_image found reads 10^9 bytes out
// of bounds); so a scan may only use tables a DHT defined before it: DC ones if it starts at coefficient 0, AC
// ones if it ends past it in a progressive file; a baseline scan decodes whole blocks with both, whatever its
// Ss and Se say (found by fuzz_image too).
void check_jpeg_sos(const Reader& r, size_t at, size_t len, const JpegTables& defined, bool progressive) {
  const size_t ns = len >= 1 ? r.d[at] : 0;
  if (ns < 1 || ns > 4 || len != 4 + 2 * ns) r.bad(strf("JPEG: malformed scan header at byte %zu", at));
  const uint8_t ss = r.d[at + 1 + 2 * ns], se = r.d[at + 2 + 2 * ns];
  for (size_t c = 0; c < ns; c++) {
    const int td = r.d[at + 2 + 2 * c] >> 4, ta = r.d[at + 2 + 2 * c] & 15;
    if (td > 3 || ta > 3) r.bad(strf("JPEG: scan at byte %zu names Huffman table %d/%d; ids are 0..3", at, td, ta));
    if (((!progressive || ss == 0) && !defined[0][td]) || ((!progressive || se > 0) && !defined[1][ta]))
      r.bad(strf("JPEG: scan at byte %zu uses a Huffman table that no DHT segment defined (DC %d, AC %d)", at, td, ta));
  }
}

// JPEG: marker segments from SOI up to the first SOS (the frame size from the SOF segment), then the scans and
// the segments between them up to an EOI marker; every Huffman table is checked on the way.
ImageHeader check_jpeg(const Reader& r) {
  int64_t w = -1, ht = -1;
  JpegTables tables = {};
  bool progressive = false;  // SOF2 (stb decodes SOF0, SOF1 and SOF2)
  size_t i = 2;
  for (;;) {
    while (i < r.n && r.d[i] == 0xFF && i + 1 < r.n && r.d[i + 1] == 0xFF) i++;  // fill bytes
    if (r.n - i < 4) r.bad("truncated JPEG: the file ends inside its headers");
    if (r.d[i] != 0xFF) r.bad(strf("JPEG: expected a marker at byte %zu", i));
    const uint8_t m = r.d[i + 1];
    if (m == 0xD8 || (m >= 0xD0 && m <= 0xD7) || m == 0x01) { i += 2; continue; }  // no length
    if (m == 0xD9) r.bad("JPEG: end-of-image marker before any image data");
    const size_t len = be16(r.d + i + 2);
    if (len < 2 || len > r.n - i - 2) r.bad(strf("truncated JPEG: segment FF%02X at byte %zu runs past the end", m, i));
    if (m == 0xC4) check_jpeg_dht(r, i + 4, len - 2, tables);
    if (m == 0xDA) check_jpeg_sos(r, i + 4, len - 2, tables, progressive);
    if ((m >= 0xC0 && m <= 0xCF) && m != 0xC4 && m != 0xC8 && m != 0xCC) {  // SOFn
      if (len < 7) r.bad("JPEG: short frame header");
      progressive = m == 0xC2 || m == 0xC6 || m == 0xCA || m == 0xCE;
      ht = be16(r.d + i + 5);
      w = be16(r.d + i + 7);
    }
    i += 2 + len;
    if (m == 0xDA) break;  // SOS: entropy-coded data follows
  }
  if (w < 0) r.bad("JPEG: no frame header (SOF) before the image data");
  check_image_size(w, ht, r.name);
  // After the first scan header: entropy-coded data, where FF is followed only by 00 (a data byte) or a restart
  // marker D0..D7, up to the next marker. Progressive files put more tables (DHT, checked) and scans there.
  for (size_t k = i;;) {
    while (k < r.n && r.d[k] != 0xFF) k++;
    if (r.n - k < 2) r.bad("truncated JPEG: no end-of-image marker (FF D9) after the image data");
    const uint8_t m = r.d[k + 1];
    if (m == 0xFF) { k++; continue; }  // fill byte
    if (m == 0x00 || (m >= 0xD0 && m <= 0xD7)) { k += 2; continue; }
    if (m == 0xD9) break;
    if (r.n - k < 4) r.bad("truncated JPEG: the file ends inside a marker segment");
    const size_t len = be16(r.d + k + 2);
    if (len < 2 || len > r.n - k - 2) r.bad(strf("truncated JPEG: segment FF%02X at byte %zu runs past the end", m, k));
    if (m == 0xC4) check_jpeg_dht(r, k + 4, len - 2, tables);
    if (m == 0xDA) check_jpeg_sos(r, k + 4, len - 2, tables, progressive);
    k += 2 + len;
  }
  return {(int)w, (int)ht, "JPEG"};
}
}  // namespace

void check_image_size(int64_t w, int64_t h, const std::string& name) {
  if (w <= 0 || h <= 0)
    throw Error(name + strf(": image is %lldx%lld; width and height must be at least 1", (long long)w, (long long)h));
  if (w > kMaxImageSide || h > kMaxImageSide || w * h > kMaxImagePixels)
    throw Error(name + strf(": image too large: %lldx%lld, limit %d on a side and 2^28 pixels", (long long)w,
                            (long long)h, kMaxImageSide));
}

ImageHeader check_image(const uint8_t* d, size_t n, const std::string& name) {
  const Reader r{d, n, name};
  if (n == 0) r.bad("empty image file");
  if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF) return check_jpeg(r);
  if (n >= 8 && std::memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0) return check_png(r);
  if (n >= 2 && d[0] == 'B' && d[1] == 'M') return check_bmp(r);
  if (n >= 2 && d[0] == 'P' && (d[1] == '5' || d[1] == '6')) return check_pnm(r);
  if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '4')
    r.bad(strf("P%c (ASCII or 1-bit) PBM/PGM/PPM is not supported; use binary P5/P6", d[1]));
  r.bad("unknown image type (supported: JPEG, PNG, BMP, 8-bit binary PGM/PPM)");
}

static std::vector<uint8_t> read_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw Error(path + ": cannot open image");
  std::vector<uint8_t> buf;
  uint8_t chunk[1 << 16];
  size_t got;
  while ((got = std::fread(chunk, 1, sizeof chunk, f)) > 0) buf.insert(buf.end(), chunk, chunk + got);
  const bool err = std::ferror(f);
  std::fclose(f);
  if (err) throw Error(path + ": read error (a directory?)");
  return buf;
}

ImageHeader check_image_file(const std::string& path) {
  const std::vector<uint8_t> buf = read_file(path);
  return check_image(buf.data(), buf.size(), path);
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name) {
  const ImageHeader hd = check_image(data, size, name);
  if (size > (size_t)INT32_MAX) throw Error(name + ": image file over 2 GB");
  // The decoder must read the header as check_image did: a parser differential (a PGM comment ending at '\r',
  // say, that hid a 16-bit maxval from one and not the other) made stb overflow its buffer (found by fuzz_image).
  int w, h, c;
  if (!stbi_info_from_memory(data, (int)size, &w, &h, &c))
    throw Error(name + ": cannot decode " + hd.format + " (" + stbi_failure_reason() + ")");
  if (w != hd.w || h != hd.h || ((hd.format[0] == 'P' && hd.format[1] != 'N') && stbi_is_16_bit_from_memory(data, (int)size)))
    throw Error(name + strf(": the %s header reads as %dx%d 8-bit here but as %dx%d%s to the decoder", hd.format, hd.w,
                            hd.h, w, h, stbi_is_16_bit_from_memory(data, (int)size) ? " 16-bit" : ""));
  unsigned char* p = stbi_load_from_memory(data, (int)size, &w, &h, &c, 3);
  if (!p) throw Error(name + ": cannot decode " + hd.format + " (" + stbi_failure_reason() + ")");
  if (w != hd.w || h != hd.h) {
    stbi_image_free(p);
    throw Error(name + strf(": %s header says %dx%d, the decoder gave %dx%d", hd.format, hd.w, hd.h, w, h));
  }
  Image im(w, h);
  std::memcpy(im.px.data(), p, (size_t)w * h * 3);
  stbi_image_free(p);
  return im;
}

Image load_image(const std::string& path) {
  const std::vector<uint8_t> buf = read_file(path);
  return decode_image(buf.data(), buf.size(), path);
}

// Encoded in memory, then written atomically (tensor/fileio.h): a picture is never left half-written.
static void append_bytes(void* ctx, void* data, int size) { static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size); }
void save_png(const Image& im, const std::string& path) {
  std::string bytes;
  if (im.w <= 0 || im.h <= 0 || !stbi_write_png_to_func(append_bytes, &bytes, im.w, im.h, 3, im.px.data(), im.w * 3))
    throw Error(path + ": cannot encode PNG");
  write_file_atomic(path, bytes);
}
void save_jpeg(const Image& im, const std::string& path, int quality) {
  std::string bytes;
  if (im.w <= 0 || im.h <= 0 || !stbi_write_jpg_to_func(append_bytes, &bytes, im.w, im.h, 3, im.px.data(), quality))
    throw Error(path + ": cannot encode JPEG");
  write_file_atomic(path, bytes);
}

Image crop(const Image& im, int x0, int y0, int x1, int y1) {
  CHECK_OR_FAIL(0 <= x0 && x0 < x1 && x1 <= im.w && 0 <= y0 && y0 < y1 && y1 <= im.h,
                strf("crop [%d,%d)x[%d,%d) outside a %dx%d image", x0, x1, y0, y1, im.w, im.h));
  Image out(x1 - x0, y1 - y0);
  for (int y = y0; y < y1; y++) std::memcpy(out.at(0, y - y0), im.at(x0, y), (size_t)(x1 - x0) * 3);
  return out;
}

Image resize_bilinear(const Image& im, int w, int h) {
  CHECK_OR_FAIL(im.w > 0 && im.h > 0 && im.px.size() == (size_t)im.w * im.h * 3,
                strf("resize_bilinear: the source image is %dx%d; it needs at least one pixel", im.w, im.h));
  CHECK_OR_FAIL(w > 0 && h > 0 && w <= kMaxImageSide && h <= kMaxImageSide,
                strf("resize_bilinear: target size %dx%d; expected 1..%d on a side", w, h, kMaxImageSide));
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

// Drawing takes any floats (a diverged network predicts 1e30 or NaN): bounds are clipped to the image in double
// before any conversion to int.
void draw_disc(Image& im, float cx, float cy, float r, const uint8_t rgb[3]) {
  if (!std::isfinite(cx) || !std::isfinite(cy) || !std::isfinite(r)) return;
  // each bound clamped to the image on both sides: an empty range when the disc misses it
  const int ylo = (int)std::clamp(std::floor((double)cy - r), 0.0, (double)im.h), yhi = (int)std::clamp(std::ceil((double)cy + r), -1.0, im.h - 1.0);
  const int xlo = (int)std::clamp(std::floor((double)cx - r), 0.0, (double)im.w), xhi = (int)std::clamp(std::ceil((double)cx + r), -1.0, im.w - 1.0);
  for (int y = ylo; y <= yhi; y++)
    for (int x = xlo; x <= xhi; x++)
      if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= r * r) std::memcpy(im.at(x, y), rgb, 3);
}

void draw_line(Image& im, float x0, float y0, float x1, float y1, const uint8_t rgb[3]) {
  if (!std::isfinite(x0) || !std::isfinite(y0) || !std::isfinite(x1) || !std::isfinite(y1)) return;
  // Clip the segment to the image's box grown by one pixel (Liang-Barsky), so the step count stays small.
  double t0 = 0, t1 = 1;
  const double dx = (double)x1 - x0, dy = (double)y1 - y0;
  const double p[4] = {-dx, dx, -dy, dy}, q[4] = {x0 + 1.0, im.w - (double)x0, y0 + 1.0, im.h - (double)y0};
  for (int k = 0; k < 4; k++) {
    if (p[k] == 0) { if (q[k] < 0) return; continue; }
    const double t = q[k] / p[k];
    if (p[k] < 0) t0 = std::max(t0, t); else t1 = std::min(t1, t);
  }
  if (t0 > t1) return;
  // inside the grown box up to rounding (which is large for endpoints near 1e30): clamp to it
  auto cx = [&](double v) { return (float)std::clamp(v, -1.0, (double)im.w); };
  auto cy = [&](double v) { return (float)std::clamp(v, -1.0, (double)im.h); };
  x1 = cx(x0 + t1 * dx); y1 = cy(y0 + t1 * dy);
  x0 = cx(x0 + t0 * dx); y0 = cy(y0 + t0 * dy);
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
  CHECK_OR_FAIL(!tiles.empty() && cols > 0, "contact sheet of no images or no columns");
  const int tw = tiles[0].w, th = tiles[0].h, rows = ((int)tiles.size() + cols - 1) / cols;
  for (const Image& t : tiles)
    CHECK_OR_FAIL(t.w == tw && t.h == th && tw > 0 && th > 0,
                  strf("contact sheet: tiles must share one non-empty size (%dx%d and %dx%d)", tw, th, t.w, t.h));
  Image out(cols * tw + (cols + 1) * gap, rows * th + (rows + 1) * gap, 255);
  for (size_t i = 0; i < tiles.size(); i++) {
    const int ox = gap + (int)(i % cols) * (tw + gap), oy = gap + (int)(i / cols) * (th + gap);
    for (int y = 0; y < th; y++) std::memcpy(out.at(ox, oy + y), tiles[i].at(0, y), (size_t)tw * 3);
  }
  return out;
}
