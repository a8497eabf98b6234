#include "data/synth.h"

#include <algorithm>
#include <cmath>

#include "tensor/rng.h"

namespace {

struct P { double x, y, z; };  // canonical face frame: x right, y down, z towards the camera; face ~[-1, 1] wide

struct Params {
  double jaw_w, face_len, eye_open, brow_raise, mouth_w, mouth_open, smile, eye_gap;
  double yaw, pitch, roll, scale, cx, cy;
};

Params draw_params(Rng& r) {
  Params p;
  p.jaw_w = r.uniform(0.85, 1.1);
  p.face_len = r.uniform(0.9, 1.1);
  p.eye_open = r.uniform(0.015, 0.09);
  p.brow_raise = r.uniform(-0.04, 0.08);
  p.mouth_w = r.uniform(0.3, 0.46);
  p.mouth_open = r.uniform() < 0.5 ? 0.0 : r.uniform(0.0, 0.16);
  p.smile = r.uniform(-0.04, 0.08);
  p.eye_gap = r.uniform(0.38, 0.46);
  p.yaw = r.uniform(-0.5, 0.5);
  p.pitch = r.uniform(-0.2, 0.2);
  p.roll = r.uniform(-0.25, 0.25);
  p.scale = r.uniform(0.9, 1.08);
  p.cx = r.uniform(-0.04, 0.04);
  p.cy = r.uniform(-0.04, 0.04);
  return p;
}

// The 68 points in the canonical frame.
std::vector<P> shape68(const Params& s) {
  std::vector<P> v(68);
  for (int k = 0; k <= 16; k++) {  // jaw: temple, down round the chin, up to the other temple
    const double t = k / 16.0;
    v[k] = {-std::cos(M_PI * t) * s.jaw_w, -0.25 + 1.25 * s.face_len * std::pow(std::sin(M_PI * t), 0.8), 0.0};
  }
  for (int k = 0; k < 5; k++) {  // brows: outer to inner on the left, inner to outer on the right
    const double t = k / 4.0, arch = 0.11 * std::sin(M_PI * (0.15 + 0.85 * t));
    v[17 + k] = {-0.82 + 0.64 * t, -0.52 - s.brow_raise - arch, 0.25};
    v[26 - k] = {0.82 - 0.64 * t, -0.52 - s.brow_raise - arch, 0.25};
  }
  for (int k = 0; k < 4; k++) v[27 + k] = {0.0, -0.34 + k * 0.16, 0.35 + 0.15 * k};  // bridge to tip
  const double nb[5][3] = {{-0.2, 0.27, 0.3}, {-0.1, 0.31, 0.38}, {0, 0.33, 0.42}, {0.1, 0.31, 0.38}, {0.2, 0.27, 0.3}};
  for (int k = 0; k < 5; k++) v[31 + k] = {nb[k][0], nb[k][1], nb[k][2]};
  for (int e = 0; e < 2; e++) {  // eyes: corner, two upper, corner, two lower (clockwise as in 300W)
    const double sg = e == 0 ? -1 : 1, c = sg * s.eye_gap, y = -0.3, hw = 0.15, h = s.eye_open;
    const int b = 36 + 6 * e;
    const double outer = c + sg * hw, inner = c - sg * hw;
    const double a = e == 0 ? outer : inner, d = e == 0 ? inner : outer;  // 36/42 is the left end on screen
    v[b + 0] = {a, y, 0.2};
    v[b + 1] = {a + (d - a) / 3, y - h, 0.24};
    v[b + 2] = {a + 2 * (d - a) / 3, y - h, 0.24};
    v[b + 3] = {d, y, 0.2};
    v[b + 4] = {a + 2 * (d - a) / 3, y + h * 0.8, 0.24};
    v[b + 5] = {a + (d - a) / 3, y + h * 0.8, 0.24};
  }
  const double my = 0.62, w = s.mouth_w, o = s.mouth_open, sm = s.smile;
  v[48] = {-w, my - sm, 0.2};
  v[49] = {-0.6 * w, my - 0.06, 0.26};
  v[50] = {-0.25 * w, my - 0.08, 0.3};
  v[51] = {0.0, my - 0.065, 0.31};
  v[52] = {0.25 * w, my - 0.08, 0.3};
  v[53] = {0.6 * w, my - 0.06, 0.26};
  v[54] = {w, my - sm, 0.2};
  v[55] = {0.6 * w, my + 0.06 + o * 0.8, 0.26};
  v[56] = {0.25 * w, my + 0.09 + o, 0.3};
  v[57] = {0.0, my + 0.1 + o, 0.31};
  v[58] = {-0.25 * w, my + 0.09 + o, 0.3};
  v[59] = {-0.6 * w, my + 0.06 + o * 0.8, 0.26};
  v[60] = {-0.82 * w, my - sm * 0.8, 0.22};
  v[61] = {-0.35 * w, my - 0.02, 0.28};
  v[62] = {0.0, my - 0.015, 0.29};
  v[63] = {0.35 * w, my - 0.02, 0.28};
  v[64] = {0.82 * w, my - sm * 0.8, 0.22};
  v[65] = {0.35 * w, my + 0.01 + o * 0.85, 0.28};
  v[66] = {0.0, my + 0.015 + o, 0.29};
  v[67] = {-0.35 * w, my + 0.01 + o * 0.85, 0.28};
  return v;
}

// Pose: yaw and pitch move points by their depth (a cheap 3-D look), then roll, scale, shift. Returns pixels.
std::vector<P> pose(const std::vector<P>& v, const Params& s, int size) {
  std::vector<P> out;
  const double cr = std::cos(s.roll), sr = std::sin(s.roll);
  for (const P& p : v) {
    double x = p.x * std::cos(s.yaw) + (p.z + 0.3) * std::sin(s.yaw);
    double y = p.y * std::cos(s.pitch) + (p.z + 0.3) * std::sin(s.pitch);
    double xr = x * cr - y * sr, yr = x * sr + y * cr;
    // canonical [-1, 1] x [-0.75, 1.05] maps onto the crop with ~5% margins, as a x1.1 landmark-box crop
    out.push_back({size * (0.5 + s.cx + 0.45 * s.scale * xr), size * (0.42 + s.cy + 0.45 * s.scale * yr), p.z});
  }
  return out;
}

bool inside(const std::vector<P>& poly, double x, double y) {  // even-odd rule
  bool in = false;
  for (size_t i = 0, j = poly.size() - 1; i < poly.size(); j = i++)
    if ((poly[i].y > y) != (poly[j].y > y) && x < (poly[j].x - poly[i].x) * (y - poly[i].y) / (poly[j].y - poly[i].y) + poly[i].x)
      in = !in;
  return in;
}

template <class F> void fill(Image& im, const std::vector<P>& poly, F color) {
  double x0 = 1e9, x1 = -1e9, y0 = 1e9, y1 = -1e9;
  for (auto& p : poly) { x0 = std::min(x0, p.x); x1 = std::max(x1, p.x); y0 = std::min(y0, p.y); y1 = std::max(y1, p.y); }
  for (int y = std::max(0, (int)y0); y <= std::min(im.h - 1, (int)y1 + 1); y++)
    for (int x = std::max(0, (int)x0); x <= std::min(im.w - 1, (int)x1 + 1); x++)
      if (inside(poly, x + 0.5, y + 0.5)) color(x, y, im.at(x, y));
}

void stroke(Image& im, const std::vector<P>& pts, double r, const uint8_t c[3], bool closed = false) {
  for (size_t i = 0; i + (closed ? 0 : 1) < pts.size(); i++) {
    const P &a = pts[i], &b = pts[(i + 1) % pts.size()];
    const int n = (int)(std::hypot(b.x - a.x, b.y - a.y) / std::max(0.5, r * 0.5)) + 1;
    for (int k = 0; k <= n; k++) draw_disc(im, (float)(a.x + (b.x - a.x) * k / n), (float)(a.y + (b.y - a.y) * k / n), (float)r, c);
  }
}

uint8_t clamp8(double v) { return (uint8_t)std::clamp((int)std::lround(v), 0, 255); }

}  // namespace

static Rng face_rng(uint64_t seed, int64_t index) {
  return Rng(seed * 0x9E3779B97F4A7C15ull + (uint64_t)index * 0xD1B54A32D192ED03ull + 12345);
}

std::vector<float> synth_landmarks(uint64_t seed, int64_t index, int size) {
  Rng r = face_rng(seed, index);
  const Params s = draw_params(r);  // the shape's draws come first, as in synth_face
  std::vector<float> out;
  for (const P& p : pose(shape68(s), s, size)) {
    out.push_back((float)(p.x / size));
    out.push_back((float)(p.y / size));
  }
  return out;
}

SynthFace synth_face(uint64_t seed, int64_t index, int size) {
  Rng r = face_rng(seed, index);
  const Params s = draw_params(r);
  const std::vector<P> pts = pose(shape68(s), s, size);
  const double u = size / 256.0;  // line widths scale with the image
  Image im(size, size);

  // background: a two-colour gradient with soft blobs
  double bg0[3], bg1[3];
  for (int c = 0; c < 3; c++) { bg0[c] = r.uniform(20, 235); bg1[c] = r.uniform(20, 235); }
  const double ga = r.uniform(0, 2 * M_PI);
  for (int y = 0; y < size; y++)
    for (int x = 0; x < size; x++) {
      const double t = 0.5 + 0.5 * std::sin(std::cos(ga) * x / size * 3 + std::sin(ga) * y / size * 3);
      for (int c = 0; c < 3; c++) im.at(x, y)[c] = clamp8(bg0[c] * (1 - t) + bg1[c] * t);
    }
  for (int b = 0; b < 6; b++) {
    const uint8_t col[3] = {(uint8_t)r.uniform(0, 255), (uint8_t)r.uniform(0, 255), (uint8_t)r.uniform(0, 255)};
    draw_disc(im, (float)r.uniform(0, size), (float)r.uniform(0, size), (float)r.uniform(5, 40) * (float)u, col);
  }

  // hair behind the head, then the face: jaw contour closed by a forehead arc
  const double tone = r.uniform(90, 240);
  const double skin_rgb[3] = {tone, tone * r.uniform(0.7, 0.85), tone * r.uniform(0.55, 0.75)};
  const uint8_t hair[3] = {(uint8_t)r.uniform(10, 120), (uint8_t)r.uniform(5, 90), (uint8_t)r.uniform(0, 60)};
  std::vector<P> head(pts.begin(), pts.begin() + 17);
  const P &L = pts[0], &R = pts[16];
  const double mx = (L.x + R.x) / 2, my = (L.y + R.y) / 2, hw = std::hypot(R.x - L.x, R.y - L.y) / 2;
  const double nx = (R.y - L.y) / (2 * hw), ny = -(R.x - L.x) / (2 * hw);  // "up" unit vector of the face (y down)
  for (int k = 1; k < 16; k++) {  // forehead: half an ellipse from the right temple back to the left
    const double a = M_PI * k / 16;
    head.push_back({mx + std::cos(a) * (R.x - mx) + std::sin(a) * nx * hw * 0.9,
                    my + std::cos(a) * (R.y - my) + std::sin(a) * ny * hw * 0.9, 0});
  }
  std::vector<P> hair_poly;
  for (auto& p : head) hair_poly.push_back({mx + (p.x - mx) * 1.12 + nx * 0.08 * hw, my + (p.y - my) * 1.12 + ny * 0.08 * hw, 0});
  if (r.uniform() < 0.8) fill(im, hair_poly, [&](int, int, uint8_t* px) { std::copy(hair, hair + 3, px); });
  const double lx = r.uniform(-1, 1), ly = r.uniform(-1, 1);  // light direction
  fill(im, head, [&](int x, int y, uint8_t* px) {
    const double shade = 1.0 + 0.25 * (lx * (x - mx) + ly * (y - my)) / hw;
    for (int c = 0; c < 3; c++) px[c] = clamp8(skin_rgb[c] * shade);
  });

  // brows, eyes, nose, mouth
  const uint8_t brow[3] = {(uint8_t)(hair[0] * 0.8), (uint8_t)(hair[1] * 0.8), (uint8_t)(hair[2] * 0.8)};
  stroke(im, std::vector<P>(pts.begin() + 17, pts.begin() + 22), 3.2 * u, brow);
  stroke(im, std::vector<P>(pts.begin() + 22, pts.begin() + 27), 3.2 * u, brow);
  const uint8_t iris[3] = {(uint8_t)r.uniform(20, 120), (uint8_t)r.uniform(20, 110), (uint8_t)r.uniform(10, 90)};
  const uint8_t lid[3] = {40, 25, 20};
  for (int e = 0; e < 2; e++) {
    std::vector<P> eye(pts.begin() + 36 + 6 * e, pts.begin() + 42 + 6 * e);
    double ex = 0, ey = 0;
    for (auto& p : eye) { ex += p.x / 6; ey += p.y / 6; }
    const double ir = std::hypot(eye[3].x - eye[0].x, eye[3].y - eye[0].y) * 0.22;
    fill(im, eye, [&](int x, int y, uint8_t* px) {
      const bool in_iris = std::hypot(x + 0.5 - ex, y + 0.5 - ey) < ir;
      const uint8_t white[3] = {235, 232, 225};
      std::copy(in_iris ? iris : white, (in_iris ? iris : white) + 3, px);
    });
    stroke(im, eye, 1.0 * u, lid, true);
  }
  const uint8_t nose[3] = {clamp8(skin_rgb[0] * 0.7), clamp8(skin_rgb[1] * 0.65), clamp8(skin_rgb[2] * 0.6)};
  stroke(im, std::vector<P>(pts.begin() + 27, pts.begin() + 31), 1.2 * u, nose);
  stroke(im, std::vector<P>(pts.begin() + 31, pts.begin() + 36), 1.5 * u, nose);
  const uint8_t nostril[3] = {60, 35, 30};
  draw_disc(im, (float)pts[32].x, (float)pts[32].y - 1.2f * (float)u, 2.0f * (float)u, nostril);
  draw_disc(im, (float)pts[34].x, (float)pts[34].y - 1.2f * (float)u, 2.0f * (float)u, nostril);
  const uint8_t lip[3] = {clamp8(r.uniform(140, 220)), clamp8(r.uniform(50, 110)), clamp8(r.uniform(60, 120))};
  fill(im, std::vector<P>(pts.begin() + 48, pts.begin() + 60), [&](int, int, uint8_t* px) { std::copy(lip, lip + 3, px); });
  if (s.mouth_open > 0.02) {
    const uint8_t dark[3] = {50, 15, 20};
    fill(im, std::vector<P>(pts.begin() + 60, pts.begin() + 68), [&](int, int, uint8_t* px) { std::copy(dark, dark + 3, px); });
  }

  // camera: blur, noise, contrast
  if (r.uniform() < 0.5) {  // a light 3x3 blur
      Image t = im;
      for (int y = 1; y < size - 1; y++)
        for (int x = 1; x < size - 1; x++)
          for (int c = 0; c < 3; c++)
            im.at(x, y)[c] = (uint8_t)((t.at(x - 1, y)[c] + t.at(x + 1, y)[c] + t.at(x, y - 1)[c] + t.at(x, y + 1)[c] + 4 * t.at(x, y)[c]) / 8);
    }
  const double contrast = r.uniform(0.7, 1.2), bright = r.uniform(-25, 25), noise = r.uniform(0, 10);
  for (auto& v : im.px) v = clamp8((v - 128) * contrast + 128 + bright + noise * r.normal());

  SynthFace out;
  out.image = std::move(im);
  for (const P& p : pts) {
    out.lms.push_back((float)(p.x / size));
    out.lms.push_back((float)(p.y / size));
  }
  return out;
}
