#include "data/dataset.h"

#include <algorithm>
#include <cmath>
#include <dirent.h>
#include <fstream>
#include <sstream>

#include "tensor/fileio.h"
#include "tensor/parse.h"
#include "tensor/tensor.h"

// Pixel coordinates read before the image is known: a point may lie outside its image by up to the image's own
// size (300W has points a little outside), so nothing beyond the largest image allowed can be right.
constexpr double kMinPixel = -kMaxImageSide, kMaxPixel = 2.0 * kMaxImageSide;
// Normalised coordinates (the list format): the crop is [0, 1]; points may fall slightly outside (spec 2.1).
constexpr double kMinNorm = -1, kMaxNorm = 2;

static float parse_coord(const std::string& tok, const std::string& where, double lo, double hi) {
  return (float)parse_double(tok, where, lo, hi);
}

void check_points_in_image(const std::vector<float>& pts, int w, int h, const std::string& where) {
  for (size_t i = 0; i + 1 < pts.size(); i += 2) {
    const double x = pts[i], y = pts[i + 1];
    if (!(x >= -w && x <= 2.0 * w && y >= -h && y <= 2.0 * h))
      throw Error(where + strf(": point %zu (%g, %g) is far outside the %dx%d image (expected x in [%d, %d], y in [%d, %d])",
                               i / 2, x, y, w, h, -w, 2 * w, -h, 2 * h));
  }
}

std::vector<float> read_pts(const std::string& path) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open .pts file");
  return read_pts(f, path);
}

std::vector<float> read_pts(std::istream& f, const std::string& path) {
  std::string line;
  int lineno = 0, n = -1;
  bool open = false, closed = false;
  std::vector<float> pts;
  while (std::getline(f, line)) {
    lineno++;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::istringstream is(line);
    std::string a, b, extra;
    if (!(is >> a)) continue;
    const std::string where = path + ":" + std::to_string(lineno);
    if (a == "version:") continue;
    if (a == "n_points:") {
      if (!(is >> b)) throw Error(where + ": n_points has no value");
      n = (int)parse_int(b, where + ": n_points", 1, 100000);
      continue;
    }
    if (a == "{") { open = true; continue; }
    if (a == "}") { closed = true; break; }
    if (!open) throw Error(where + ": expected the header (version, n_points, '{'), got '" + line + "'");
    if (!(is >> b) || (is >> extra)) throw Error(where + ": expected two numbers 'x y', got '" + line + "'");
    const std::string k = std::to_string(pts.size() / 2);
    pts.push_back(parse_coord(a, where + ": x of point " + k, kMinPixel, kMaxPixel));
    pts.push_back(parse_coord(b, where + ": y of point " + k, kMinPixel, kMaxPixel));
  }
  if (n < 0) throw Error(path + ": no 'n_points:' line");
  if (n < 0 && !pts.empty()) throw Error(path + ": points before any 'n_points:' line");
  if (!closed) throw Error(path + ": truncated: no closing '}' after " + std::to_string(pts.size() / 2) + " points");
  if ((int)pts.size() != 2 * n)
    throw Error(path + ": n_points says " + std::to_string(n) + " but " + std::to_string(pts.size() / 2) + " points follow");
  return pts;
}

void write_pts(const std::string& path, const std::vector<float>& pts) {
  std::string s = "version: 1\nn_points: " + std::to_string(pts.size() / 2) + "\n{\n";
  for (size_t i = 0; i + 1 < pts.size(); i += 2) s += strf("%.4f %.4f\n", pts[i], pts[i + 1]);
  write_file_atomic(path, s + "}\n");
}

static std::vector<std::string> list_dir(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (!d) throw Error(dir + ": cannot open directory");
  std::vector<std::string> names;
  while (dirent* e = readdir(d)) names.push_back(e->d_name);
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

static bool is_image_name(const std::string& n) {
  std::string ext = n.substr(n.find_last_of('.') + 1);
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return n.find('.') != std::string::npos && (ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "bmp");
}

std::vector<FaceRecord> read_pts_folder(const std::string& dir) {
  std::vector<FaceRecord> out;
  for (const std::string& n : list_dir(dir)) {
    if (!is_image_name(n)) continue;
    FaceRecord r;
    r.image = dir + "/" + n;
    r.label = dir + "/" + n.substr(0, n.find_last_of('.')) + ".pts";
    r.pts = read_pts(r.label);
    const ImageHeader hd = check_image_file(r.image);  // reads the file, not the pixels
    check_points_in_image(r.pts, hd.w, hd.h, r.label + " (image " + n + ")");
    out.push_back(std::move(r));
  }
  if (out.empty()) throw Error(dir + ": no images with .pts files");
  return out;
}

static std::string dir_of(const std::string& path) {
  const size_t k = path.find_last_of('/');
  return k == std::string::npos ? "." : path.substr(0, k);
}

std::vector<FaceRecord> read_pts_list(const std::string& list) {
  std::ifstream f(list);
  if (!f) throw Error(list + ": cannot open the list of images and .pts files");
  const std::string base = dir_of(list);
  auto resolve = [&](const std::string& p) { return p[0] == '/' ? p : base + "/" + p; };
  std::vector<FaceRecord> out;
  std::string line;
  for (int lineno = 1; std::getline(f, line); lineno++) {
    std::istringstream is(line);
    std::string image, pts, extra;
    if (!(is >> image) || image[0] == '#') continue;
    const std::string where = list + ":" + std::to_string(lineno);
    if (!(is >> pts) || (is >> extra)) throw Error(where + ": expected 'IMAGE PTS' (two paths), got '" + line + "'");
    FaceRecord r;
    r.image = resolve(image);
    r.label = resolve(pts);
    r.pts = read_pts(r.label);
    const ImageHeader hd = check_image_file(r.image);
    check_points_in_image(r.pts, hd.w, hd.h, r.label + " (image " + r.image + ", " + where + ")");
    out.push_back(std::move(r));
  }
  if (out.empty()) throw Error(list + ": no images listed (expected 'IMAGE PTS' lines)");
  return out;
}

std::vector<FaceRecord> read_boxes(const std::string& list, const std::string& image_dir) {
  std::ifstream f(list);
  if (!f) throw Error(list + ": cannot open the box list");
  std::vector<FaceRecord> out;
  std::string line;
  for (int lineno = 1; std::getline(f, line); lineno++) {
    std::istringstream is(line);
    std::vector<std::string> tok;
    for (std::string t; is >> t;) tok.push_back(t);
    if (tok.empty() || tok[0][0] == '#') continue;
    const std::string where = list + ":" + std::to_string(lineno);
    if (tok.size() != 5) throw Error(where + strf(": %zu fields, expected 5 (NAME X0 Y0 X1 Y1)", tok.size()));
    FaceRecord r;
    r.image = image_dir + "/" + tok[0];
    r.label = where;
    static const char* names[4] = {"x0", "y0", "x1", "y1"};
    for (int k = 0; k < 4; k++) r.box[k] = parse_coord(tok[1 + k], where + ": " + names[k], kMinPixel, kMaxPixel);
    if (!(r.box[2] > r.box[0] && r.box[3] > r.box[1]))
      throw Error(where + strf(": box (%g, %g)-(%g, %g) is empty (expected x1 > x0 and y1 > y0)", r.box[0], r.box[1], r.box[2], r.box[3]));
    const ImageHeader hd = check_image_file(r.image);
    if (r.box[2] <= 0 || r.box[3] <= 0 || r.box[0] >= hd.w - 1 || r.box[1] >= hd.h - 1)
      throw Error(where + strf(": box (%g, %g)-(%g, %g) lies outside the %dx%d image %s", r.box[0], r.box[1], r.box[2], r.box[3],
                               hd.w, hd.h, r.image.c_str()));
    out.push_back(std::move(r));
  }
  if (out.empty()) throw Error(list + ": no boxes (expected 'NAME X0 Y0 X1 Y1' lines)");
  return out;
}

std::vector<FaceRecord> read_crops_folder(const std::string& dir) {
  std::vector<FaceRecord> out;
  for (const std::string& n : list_dir(dir)) {
    if (!is_image_name(n) || n[0] == '.') continue;
    FaceRecord r;
    r.image = dir + "/" + n;
    r.label = r.image;
    r.normalized = true;  // the image is the crop
    check_image_file(r.image);
    out.push_back(std::move(r));
  }
  if (out.empty()) throw Error(dir + ": no face crops (jpg, jpeg, png, bmp) in the folder");
  return out;
}

std::vector<FaceRecord> read_list(const std::string& list, const std::string& image_dir) {
  std::ifstream f(list);
  if (!f) throw Error(list + ": cannot open list file");
  return read_list(f, list, image_dir);
}

std::vector<FaceRecord> read_list(std::istream& f, const std::string& list, const std::string& image_dir) {
  std::vector<FaceRecord> out;
  std::string line;
  int lineno = 0, npts = -1;
  while (std::getline(f, line)) {
    lineno++;
    std::istringstream is(line);
    std::string name, tok;
    if (!(is >> name)) continue;
    const std::string where = list + ":" + std::to_string(lineno);
    FaceRecord r;
    r.image = image_dir + "/" + name;
    r.label = where;
    r.normalized = true;
    for (int field = 2; is >> tok; field++)
      r.pts.push_back(parse_coord(tok, strf("%s: field %d (%c of point %zu)", where.c_str(), field,
                                            r.pts.size() % 2 ? 'v' : 'u', r.pts.size() / 2), kMinNorm, kMaxNorm));
    if (r.pts.size() % 2) throw Error(where + ": odd number of coordinates (" + std::to_string(r.pts.size()) + ")");
    if (!r.pts.empty()) {
      if (npts < 0) npts = r.n_points();
      if (r.n_points() != npts)
        throw Error(where + ": " + std::to_string(r.n_points()) + " points, earlier lines have " + std::to_string(npts));
    }
    out.push_back(std::move(r));
  }
  if (out.empty()) throw Error(list + ": no samples");
  return out;
}

std::vector<FaceRecord> read_wflw(const std::string& list, const std::string& image_dir) {
  std::ifstream f(list);
  if (!f) throw Error(list + ": cannot open WFLW list");
  return read_wflw(f, list, image_dir);
}

std::vector<FaceRecord> read_wflw(std::istream& f, const std::string& list, const std::string& image_dir) {
  std::vector<FaceRecord> out;
  std::string line;
  int lineno = 0;
  while (std::getline(f, line)) {
    lineno++;
    std::istringstream is(line);
    std::vector<std::string> tok;
    std::string t;
    while (is >> t) tok.push_back(t);
    if (tok.empty()) continue;
    const std::string where = list + ":" + std::to_string(lineno);
    if (tok.size() != 196 + 4 + 6 + 1)
      throw Error(where + ": " + std::to_string(tok.size()) + " fields, expected 207 (196 coordinates, 4 box, 6 attributes, path)");
    FaceRecord r;
    r.label = where;
    for (int i = 0; i < 196; i++)
      r.pts.push_back(parse_coord(tok[i], strf("%s: field %d (%c of point %d)", where.c_str(), i + 1, i % 2 ? 'y' : 'x', i / 2),
                                  kMinPixel, kMaxPixel));
    static const char* box_names[4] = {"xmin", "ymin", "xmax", "ymax"};
    for (int i = 0; i < 4; i++)
      r.box[i] = parse_coord(tok[196 + i], strf("%s: field %d (box %s)", where.c_str(), 197 + i, box_names[i]), kMinPixel, kMaxPixel);
    for (int i = 0; i < 6; i++)
      r.attrs.push_back((int)parse_int(tok[200 + i], strf("%s: field %d (attribute flag %d)", where.c_str(), 201 + i, i), 0, 1));
    r.image = image_dir + "/" + tok[206];
    out.push_back(std::move(r));
  }
  return out;
}

Crop crop_face(const Image& im, const FaceRecord& r, CropRule rule, CropScale scales, int size) {
  const float scale = scales.landmark_box;
  Crop c;
  if (rule == CropRule::None) {
    c.image = (im.w == size && im.h == size) ? im : resize_bilinear(im, size, size);
    c.lms = r.pts;
    c.w = im.w, c.h = im.h;
    return c;
  }
  CHECK_OR_FAIL(rule != CropRule::LandmarkBox || !r.pts.empty(), r.image + ": the landmark-box crop needs landmarks");
  CHECK_OR_FAIL(std::isfinite(scale) && scale > 0 && scale <= 100, strf("crop_face: scale %g; expected (0, 100]", scale));
  CHECK_OR_FAIL(std::isfinite(scales.box) && scales.box > 0 && scales.box <= 100,
                strf("crop_face: box scale %g; expected (0, 100]", scales.box));
  const int W = im.w, H = im.h, N = r.n_points();
  // Points and box far outside the image are bad labels, and would overflow the int pixel rectangle below.
  const std::string who = (r.label.empty() ? r.image : r.label) + " (image " + r.image + ")";
  check_points_in_image(r.pts, W, H, who);
  if (rule != CropRule::LandmarkBox) {
    const std::vector<float> corners(r.box, r.box + 4);
    try { check_points_in_image(corners, W, H, who); }
    catch (const Error&) {
      throw Error(who + strf(": box (%g, %g)-(%g, %g) is far outside the %dx%d image", r.box[0], r.box[1], r.box[2], r.box[3], W, H));
    }
  }
  double x0, y0, w, h;  // crop origin and the width/height used to normalise
  int cx0, cy0, cx1, cy1;  // pixel rectangle, end-exclusive
  std::vector<double> p(r.pts.begin(), r.pts.end());
  if (rule == CropRule::LandmarkBox) {  // 300W preprocess.py, with int-truncated points
    for (double& v : p) v = std::trunc(v);
    double xmin = p[0], xmax = p[0], ymin = p[1], ymax = p[1];
    for (int i = 0; i < N; i++) {
      xmin = std::min(xmin, p[2 * i]); xmax = std::max(xmax, p[2 * i]);
      ymin = std::min(ymin, p[2 * i + 1]); ymax = std::max(ymax, p[2 * i + 1]);
    }
    const double w0 = xmax - xmin, h0 = ymax - ymin;
    xmin -= std::trunc((scale - 1) / 2 * w0);
    ymin -= std::trunc((scale - 1) / 2 * h0);
    w = std::trunc(scale * w0);
    h = std::trunc(scale * h0);
    xmin = std::max(xmin, 0.0);
    ymin = std::max(ymin, 0.0);
    w = std::min(w, W - xmin - 1);
    h = std::min(h, H - ymin - 1);
    x0 = xmin; y0 = ymin;
    cx0 = (int)xmin; cy0 = (int)ymin; cx1 = (int)(xmin + w); cy1 = (int)(ymin + h);
  } else {
    double xmin = r.box[0], ymin = r.box[1], xmax = r.box[2], ymax = r.box[3];
    for (int i = 0; i < N; i++) {  // landmarks clipped into the image first (WFLW, AFLW)
      p[2 * i] = std::clamp(p[2 * i], 0.0, (double)W);
      p[2 * i + 1] = std::clamp(p[2 * i + 1], 0.0, (double)H);
    }
    if (rule == CropRule::WFLW) {
      const double bw = xmax - xmin, bh = ymax - ymin;
      xmin -= 0.1 * bw; xmax += 0.1 * bw; ymin -= 0.1 * bh; ymax += 0.1 * bh;
    } else if (scales.box != 1.0f) {  // a given box enlarged about its centre (the seed paper's COFW x1.5)
      const double g = (scales.box - 1) / 2, bw = xmax - xmin, bh = ymax - ymin;
      xmin -= g * bw; xmax += g * bw; ymin -= g * bh; ymax += g * bh;
    }
    xmin = std::max(xmin, 0.0); ymin = std::max(ymin, 0.0);
    xmax = std::min(xmax, (double)W - 1); ymax = std::min(ymax, (double)H - 1);
    x0 = xmin; y0 = ymin; w = xmax - xmin; h = ymax - ymin;
    cx0 = (int)xmin; cy0 = (int)ymin; cx1 = (int)xmax; cy1 = (int)ymax;
  }
  if (w <= 1 || h <= 1 || cx1 <= cx0 || cy1 <= cy0) throw Error(r.image + ": face box is empty after clipping");
  c.image = resize_bilinear(crop(im, cx0, cy0, cx1, cy1), size, size);
  c.x0 = x0, c.y0 = y0, c.w = w, c.h = h;
  for (int i = 0; i < N; i++) {
    c.lms.push_back((float)((p[2 * i] - x0) / w));
    c.lms.push_back((float)((p[2 * i + 1] - y0) / h));
  }
  return c;
}

std::vector<float> wflw98_to_68(const std::vector<float>& p) {
  CHECK_OR_FAIL(p.size() == 196, strf("wflw98_to_68: %zu coordinates, expected 196", p.size()));
  std::vector<float> o;
  auto pt = [&](int i) { o.push_back(p[2 * i]); o.push_back(p[2 * i + 1]); };
  auto brow = [&](int i, int j) { o.push_back(p[2 * i]); o.push_back((p[2 * i + 1] + p[2 * j + 1]) / 2); };
  auto mix = [&](int i, int j) {  // 0.666 * p_i + 0.333 * p_j
    o.push_back(0.666f * p[2 * i] + 0.333f * p[2 * j]);
    o.push_back(0.666f * p[2 * i + 1] + 0.333f * p[2 * j + 1]);
  };
  for (int i = 0; i <= 32; i += 2) pt(i);                        // jaw 0..16
  pt(33); brow(34, 41); brow(35, 40); brow(36, 39); brow(37, 38);  // left brow 17..21
  brow(42, 50); brow(43, 49); brow(44, 48); brow(45, 47); pt(46);  // right brow 22..26
  for (int i = 51; i <= 59; i++) pt(i);                          // nose 27..35
  pt(60); mix(61, 62); mix(63, 62); pt(64); mix(65, 66); mix(67, 66);  // left eye 36..41
  pt(68); mix(69, 70); mix(71, 70); pt(72); mix(73, 74); mix(75, 74);  // right eye 42..47
  for (int i = 76; i <= 95; i++) pt(i);                          // mouth 48..67
  return o;
}

// ---- flip tables --------------------------------------------------------------------------------
static std::vector<int> from_pairs(int n, std::initializer_list<std::pair<int, int>> pairs) {
  std::vector<int> t(n);
  for (int i = 0; i < n; i++) t[i] = i;
  for (auto [a, b] : pairs) { t[a] = b; t[b] = a; }
  return t;
}

std::vector<int> flip_table(int n) {
  if (n == 68)
    return from_pairs(68, {{0, 16}, {1, 15}, {2, 14}, {3, 13}, {4, 12}, {5, 11}, {6, 10}, {7, 9}, {17, 26}, {18, 25},
                           {19, 24}, {20, 23}, {21, 22}, {31, 35}, {32, 34}, {36, 45}, {37, 44}, {38, 43}, {39, 42},
                           {40, 47}, {41, 46}, {48, 54}, {49, 53}, {50, 52}, {55, 59}, {56, 58}, {60, 64}, {61, 63},
                           {65, 67}});
  if (n == 98 || n == 106) {
    std::vector<int> t(n);
    for (int i = 0; i < n; i++) t[i] = i;
    for (int i = 0; i <= 15; i++) { t[i] = 32 - i; t[32 - i] = i; }  // jaw 0-32 mirrored
    auto sw = [&](int a, int b) { t[a] = b; t[b] = a; };
    for (auto [a, b] : std::initializer_list<std::pair<int, int>>{{33, 46}, {34, 45}, {35, 44}, {36, 43}, {37, 42},
                                                                  {38, 50}, {39, 49}, {40, 48}, {41, 47}})
      sw(a, b);
    if (n == 98) {
      for (auto [a, b] : std::initializer_list<std::pair<int, int>>{
               {55, 59}, {56, 58}, {60, 72}, {61, 71}, {62, 70}, {63, 69}, {64, 68}, {65, 75}, {66, 74}, {67, 73},
               {76, 82}, {77, 81}, {78, 80}, {83, 87}, {84, 86}, {88, 92}, {89, 91}, {93, 95}, {96, 97}})
        sw(a, b);
    } else {
      for (auto [a, b] : std::initializer_list<std::pair<int, int>>{
               {55, 65}, {56, 64}, {57, 63}, {58, 62}, {59, 61}, {66, 79}, {67, 78}, {68, 77}, {69, 76}, {70, 75},
               {71, 82}, {72, 81}, {73, 80}, {74, 83}, {84, 90}, {85, 89}, {86, 88}, {91, 95}, {92, 94}, {96, 100},
               {97, 99}, {101, 103}, {104, 105}})
        sw(a, b);
    }
    return t;
  }
  if (n == 29)
    return from_pairs(29, {{0, 1}, {2, 3}, {4, 6}, {5, 7}, {8, 9}, {10, 11}, {12, 14}, {13, 15}, {16, 17}, {18, 19}, {22, 23}});
  if (n == 19) return from_pairs(19, {{0, 5}, {1, 4}, {2, 3}, {6, 11}, {7, 10}, {8, 9}, {12, 14}, {15, 17}});
  throw Error("no built-in flip table for " + std::to_string(n) +
              " landmarks (built in: 68, 98, 29, 19, 106); give one with --flip-table FILE or turn flipping off");
}

std::vector<int> read_flip_table(const std::string& path, int n) {
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open flip table");
  std::vector<int> t;
  std::string tok;
  while (f >> tok && (int)t.size() <= n)
    t.push_back((int)parse_int(tok, path + ": entry " + std::to_string(t.size()), 0, std::max(n - 1, 0)));
  if ((int)t.size() != n) throw Error(path + ": " + std::to_string(t.size()) + " entries, expected " + std::to_string(n));
  for (int i = 0; i < n; i++)
    if (t[i] < 0 || t[i] >= n || t[t[i]] != i)
      throw Error(path + ": entry " + std::to_string(i) + " makes the table not an involution (flip twice must be identity)");
  return t;
}
