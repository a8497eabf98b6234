// The data path: readers on files written here, malformed inputs, crop rules on hand-computed cases, flip tables,
// augmentation consistency (dots drawn at the landmarks must land where the landmarks go), loader determinism,
// and the real-photo lfw68 set through the 300W path when ../shared is present.
#include <sys/stat.h>

#include <fstream>

#include "data/loader.h"
#include "data/synth.h"
#include "pipnet/meanface.h"
#include "test_util.h"

namespace {
std::string tmp(const std::string& name) {
  const std::string d = "/tmp/pipnet_test_data";
  mkdir(d.c_str(), 0755);
  return d + "/" + name;
}
void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
std::string pts_text(int n, bool close = true) {
  std::string s = "version: 1\nn_points:  " + std::to_string(n) + "\n{\n";
  for (int i = 0; i < n; i++) s += std::to_string(10 + i) + ".7 " + std::to_string(20 + 2 * i) + ".2\n";
  return s + (close ? "}\n" : "");
}
}  // namespace

TEST_CASE("pts: reads any declared count / and names file and line for each malformed input", "[data]") {
  write(tmp("ok.pts"), pts_text(5));
  std::vector<float> p = read_pts(tmp("ok.pts"));
  REQUIRE(p.size() == 10);
  CHECK(p[0] == Approx(10.7));
  CHECK(p[9] == Approx(28.2));
  write(tmp("trunc.pts"), pts_text(5, false));
  CHECK_THROWS_WITH(read_pts(tmp("trunc.pts")), Catch::Contains("trunc.pts") && Catch::Contains("truncated"));
  std::string wrong = pts_text(5);
  wrong.replace(wrong.find("n_points:  5"), 12, "n_points:  6");
  write(tmp("count.pts"), wrong);
  CHECK_THROWS_WITH(read_pts(tmp("count.pts")), Catch::Contains("count.pts") && Catch::Contains("n_points says 6 but 5"));
  std::string nonnum = pts_text(3);
  nonnum.replace(nonnum.find("11.7"), 4, "1x.7");
  write(tmp("nonnum.pts"), nonnum);
  CHECK_THROWS_WITH(read_pts(tmp("nonnum.pts")), Catch::Contains("nonnum.pts:5: x of point 1") && Catch::Contains("got '1x.7'"));
  CHECK_THROWS_WITH(read_pts(tmp("missing.pts")), Catch::Contains("missing.pts") && Catch::Contains("cannot open"));
}

TEST_CASE("images: PNG and JPEG round trip / missing and corrupt files are named", "[data]") {
  Image im(9, 7);
  for (int y = 0; y < 7; y++) for (int x = 0; x < 9; x++) { im.at(x, y)[0] = x * 20; im.at(x, y)[1] = y * 30; im.at(x, y)[2] = 77; }
  save_png(im, tmp("a.png"));
  Image back = load_image(tmp("a.png"));
  CHECK(back.w == 9);
  CHECK(back.px == im.px);
  save_jpeg(im, tmp("a.jpg"));
  CHECK(load_image(tmp("a.jpg")).h == 7);
  write(tmp("corrupt.jpg"), "\xff\xd8\xff\xe0 this is not really a jpeg");
  CHECK_THROWS_WITH(load_image(tmp("corrupt.jpg")), Catch::Contains("corrupt.jpg") && Catch::Contains("truncated JPEG"));
  CHECK_THROWS_WITH(load_image(tmp("nope.jpg")), Catch::Contains("nope.jpg") && Catch::Contains("cannot open"));
  // a 300W folder whose image has no .pts beside it
  mkdir(tmp("folder").c_str(), 0755);
  save_png(im, tmp("folder/face.png"));
  CHECK_THROWS_WITH(read_pts_folder(tmp("folder")), Catch::Contains("face.pts"));
}

TEST_CASE("list format: labelled and unlabelled lines / inconsistent counts are errors", "[data]") {
  write(tmp("train.txt"), "a.jpg 0.1 0.2 0.3 0.4 \nb.jpg\nc.jpg 0.5 0.6 0.7 0.8\n");
  std::vector<FaceRecord> r = read_list(tmp("train.txt"), "/imgs");
  REQUIRE(r.size() == 3);
  CHECK(r[0].image == "/imgs/a.jpg");
  CHECK(r[0].pts == std::vector<float>{0.1f, 0.2f, 0.3f, 0.4f});
  CHECK(r[1].pts.empty());
  CHECK(r[2].normalized);
  write(tmp("bad.txt"), "a.jpg 0.1 0.2 0.3 0.4\nb.jpg 0.1 0.2\n");
  CHECK_THROWS_WITH(read_list(tmp("bad.txt"), "/i"), Catch::Contains("bad.txt:2") && Catch::Contains("1 points, earlier lines have 2"));
  std::string wl;
  for (int i = 0; i < 196; i++) wl += "1.5 ";
  wl += "10 20 110 120 1 0 0 0 1 0 sub/a.jpg\n";
  write(tmp("wflw_ok.txt"), wl);
  std::vector<FaceRecord> w = read_wflw(tmp("wflw_ok.txt"), "/img");
  REQUIRE(w.size() == 1);
  CHECK(w[0].n_points() == 98);
  CHECK(w[0].box[2] == 110);
  CHECK(w[0].attrs == std::vector<int>{1, 0, 0, 0, 1, 0});
  CHECK(w[0].image == "/img/sub/a.jpg");
  write(tmp("wflw.txt"), "1 2 3\n");
  CHECK_THROWS_WITH(read_wflw(tmp("wflw.txt"), "/i"), Catch::Contains("wflw.txt:1") && Catch::Contains("expected 207"));
}

TEST_CASE("crop rules: the 300W landmark box x1.1 and the WFLW rectangle on hand-computed cases", "[data]") {
  Image im(200, 100);
  FaceRecord r;
  // points (truncated): x in [40, 140], y in [20, 70] -> w0 = 100, h0 = 50
  r.pts = {40.9f, 20.5f, 140.2f, 70.9f, 90, 45};
  // xmin = 40 - trunc(5) = 35, ymin = 20 - trunc(2.5) = 18, w = trunc(110) = 110, h = trunc(55) = 55
  Crop c = crop_face(im, r, CropRule::LandmarkBox, 1.1f, 64);
  CHECK(c.image.w == 64);
  CHECK(c.lms[0] == Approx((40 - 35) / 110.0));
  CHECK(c.lms[1] == Approx((20 - 18) / 55.0));
  CHECK(c.lms[2] == Approx((140 - 35) / 110.0));
  CHECK(c.lms[3] == Approx((70 - 18) / 55.0));
  // clipped at the image border: x in [0, 190] -> xmin max(0 - 9, 0) = 0, w = min(209, 200 - 0 - 1) = 199
  r.pts = {0, 20, 190, 70};
  c = crop_face(im, r, CropRule::LandmarkBox, 1.1f, 64);
  CHECK(c.lms[2] == Approx(190 / 199.0));
  // WFLW: box (50, 20)-(150, 70) grows 10% per side -> (40, 15)-(160, 75), w 120, h 60
  FaceRecord wr;
  wr.pts = {100, 45};
  wr.box[0] = 50; wr.box[1] = 20; wr.box[2] = 150; wr.box[3] = 70;
  c = crop_face(im, wr, CropRule::WFLW, 1.0f, 32);
  CHECK(c.lms[0] == Approx(60 / 120.0));
  CHECK(c.lms[1] == Approx(30 / 60.0));
  // a given box (COFW/AFLW): as it is by default; x1.5 about its centre (the seed paper's COFW) -> (25, 7.5)-(175, 82.5)
  c = crop_face(im, wr, CropRule::Box, 1.1f, 32);
  CHECK(c.x0 == 50);
  CHECK(c.w == 100);
  c = crop_face(im, wr, CropRule::Box, CropScale(1.1f, 1.5f), 32);
  CHECK(c.x0 == 25);
  CHECK(c.y0 == 7.5);
  CHECK(c.w == 150);
  CHECK(c.h == 75);
  CHECK(c.lms[0] == Approx(75 / 150.0));
  CHECK_THROWS_AS(crop_face(im, wr, CropRule::Box, CropScale(1.1f, 0.0f), 32), Error);
}

TEST_CASE("augmentation: each op fires with its own probability, 0 turns it off, the defaults are the repo's", "[data]") {
  const AugmentConfig def;
  CHECK(def.p_translate == 0.5);
  CHECK(def.p_blur == 0.3);
  CHECK(1 - def.p_blur == 0.7);  // the repo's U > 0.7, exactly
  CHECK(def.p_gray == 0.2);
  auto fraction = [](AugmentConfig cfg, auto fired) {
    Rng r(5);
    int n = 0;
    for (int k = 0; k < 2000; k++) {
      Image im(16, 16);
      for (size_t i = 0; i < im.px.size(); i++) im.px[i] = (uint8_t)(i * 37 % 251);  // colourful
      std::vector<float> l = {0.25f, 0.5f};
      augment(im, l, {0}, cfg, r);
      n += fired(im, l);
    }
    return n / 2000.0;
  };
  auto gray = [](const Image& im, const std::vector<float>&) { return im.px[0] == im.px[1] && im.px[3] == im.px[5]; };
  auto flipped = [](const Image&, const std::vector<float>& l) { return l[0] == 0.75f; };
  AugmentConfig none;
  none.p_translate = none.p_occlude = none.p_flip = none.p_rotate = none.p_blur = none.p_gray = 0;
  AugmentConfig g = none;
  g.p_gray = 0.7;
  CHECK(fraction(g, gray) == Approx(0.7).margin(0.04));
  CHECK(fraction(none, gray) == 0);
  AugmentConfig f = none;
  f.p_flip = 1;
  CHECK(fraction(f, flipped) == 1);
  f.p_flip = 0.25;
  CHECK(fraction(f, flipped) == Approx(0.25).margin(0.04));
}

TEST_CASE("wflw98_to_68: spec 2.5's mapping on a hand-made face", "[data]") {
  std::vector<float> p(196);
  for (int i = 0; i < 98; i++) { p[2 * i] = (float)i; p[2 * i + 1] = 1000.0f + i; }
  std::vector<float> q = wflw98_to_68(p);
  REQUIRE(q.size() == 136);
  CHECK(q[2 * 16] == 32);                                 // jaw 16 = WFLW 32
  CHECK(q[2 * 18] == 34);                                 // brow: x of 34,
  CHECK(q[2 * 18 + 1] == Approx((1034 + 1041) / 2.0));    // y averaged with 41
  CHECK(q[2 * 26] == 46);
  CHECK(q[2 * 27] == 51);                                 // nose 27 = 51
  CHECK(q[2 * 37] == Approx(0.666 * 61 + 0.333 * 62));   // eye weights sum to 0.999, as the repo
  CHECK(q[2 * 45] == 72);
  CHECK(q[2 * 67] == 95);                                 // mouth 67 = 95
}

TEST_CASE("flip tables: involutions for 68 / 98 / 29 / 19 / 106 points / and the mean faces are symmetric", "[data]") {
  for (int n : {68, 98, 29, 19, 106}) {
    std::vector<int> t = flip_table(n);
    REQUIRE((int)t.size() == n);
    for (int i = 0; i < n; i++) CHECK(t[t[i]] == i);
  }
  CHECK_THROWS_WITH(flip_table(7), Catch::Contains("no built-in flip table for 7"));
  write(tmp("flip.txt"), "1 0 2");
  CHECK(read_flip_table(tmp("flip.txt"), 3) == std::vector<int>{1, 0, 2});
  write(tmp("flip_bad.txt"), "1 2 0");
  CHECK_THROWS_WITH(read_flip_table(tmp("flip_bad.txt"), 3), Catch::Contains("involution"));
  // spec 2.3: flipping the official mean faces reproduces them within 0.03, and "within 0.07" for COFW (its worst
  // coordinate measures 0.0707: the spec rounds)
  struct stat st;
  const std::string dir = std::string(PIPNET_SHARED_DIR) + "/data/pipnet-meanface/";
  if (stat(dir.c_str(), &st) != 0) return;
  for (auto [file, tol] : std::vector<std::pair<std::string, double>>{{"data_300W.txt", 0.03}, {"WFLW.txt", 0.03},
                                                                      {"COFW.txt", 0.075}, {"AFLW.txt", 0.03}, {"LaPa.txt", 0.03}}) {
    MeanFace m = MeanFace::load(dir + file);
    std::vector<int> t = flip_table(m.N);
    double worst = 0;
    for (int i = 0; i < m.N; i++)
      worst = std::max({worst, (double)std::fabs(1 - m.xy[2 * t[i]] - m.xy[2 * i]), (double)std::fabs(m.xy[2 * t[i] + 1] - m.xy[2 * i + 1])});
    INFO(file << " worst " << worst);
    CHECK(worst < tol);
  }
}

// Dots of unique colours at the landmarks; after a geometric op, each dot's centroid must sit within 1 px of where
// the op says its landmark went. A flip renumbers landmarks: dot i then marks landmark perm[i].
static void check_dots(const char* what, const std::function<void(Image&, std::vector<float>&)>& op,
                       const std::vector<int>& perm = {}) {
  const int S = 256, n = 40;
  Image im(S, S);
  std::vector<float> lms;
  Rng r(11);
  for (int i = 0; i < n; i++) {
    const int px = 40 + (int)r.randint(S - 80), py = 40 + (int)r.randint(S - 80);
    lms.push_back((px + 0.5f) / S);
    lms.push_back((py + 0.5f) / S);
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) { uint8_t* p = im.at(px + dx, py + dy); p[0] = 10 + 5 * i; p[1] = 255; p[2] = 0; }
  }
  op(im, lms);
  std::vector<double> sx(n), sy(n), cnt(n);
  for (int y = 0; y < S; y++)
    for (int x = 0; x < S; x++) {
      const uint8_t* p = im.at(x, y);
      if (p[1] == 255 && p[0] >= 10 && (p[0] - 10) % 5 == 0) { int i = (p[0] - 10) / 5; sx[i] += x + 0.5; sy[i] += y + 0.5; cnt[i]++; }
    }
  int checked = 0;
  for (int i = 0; i < n; i++) {
    const int j = perm.empty() ? i : perm[i];
    const double ex = lms[2 * j] * S, ey = lms[2 * j + 1] * S;
    if (ex < 3 || ey < 3 || ex > S - 3 || ey > S - 3) continue;  // left the image (or clamped to its edge)
    REQUIRE(cnt[i] > 0);
    INFO(what << ": dot " << i << " at (" << sx[i] / cnt[i] << ", " << sy[i] / cnt[i] << "), landmark (" << ex << ", " << ey << ")");
    CHECK(std::hypot(sx[i] / cnt[i] - ex, sy[i] / cnt[i] - ey) <= 1.0);
    checked++;
  }
  CHECK(checked >= n / 2);
}

TEST_CASE("augmentation: dots follow their landmarks through translation / flip / rotation and chains", "[data]") {
  std::vector<int> flip(40);
  for (int i = 0; i < 40; i++) flip[i] = i ^ 1;  // an involution pairing neighbours
  check_dots("translate", [](Image& im, std::vector<float>& l) { aug_translate(im, l, 17, -23); });
  check_dots("flip", [&](Image& im, std::vector<float>& l) { aug_flip(im, l, flip); }, flip);
  for (double deg : {-30.0, -7.5, 12.0, 29.0})
    check_dots("rotate", [&](Image& im, std::vector<float>& l) { aug_rotate(im, l, deg); });
  check_dots("translate+flip+rotate", [&](Image& im, std::vector<float>& l) {
    aug_translate(im, l, -11, 9);
    aug_flip(im, l, flip);
    aug_rotate(im, l, 21.0);
  }, flip);
  // occlusion, blur and grayscale leave landmarks where they are
  Image im(64, 64, 100);
  std::vector<float> l = {0.3f, 0.4f}, l0 = l;
  Rng r(1);
  AugmentConfig only;
  only.p_translate = only.p_flip = only.p_rotate = 0;
  for (int k = 0; k < 20; k++) augment(im, l, {}, only, r);
  CHECK(l == l0);
}

TEST_CASE("loader: reproducible from its seed whatever the worker count / drop_last / shuffles per epoch", "[data]") {
  SampleSource src = synth_source(3, 64);
  auto epoch_of = [&](int workers, int epoch) {
    LoaderConfig c;
    c.batch = 4;
    c.workers = workers;
    c.seed = 9;
    c.flip_table = flip_table(68);
    Loader L(src, 10, 64, c);
    REQUIRE(L.batches_per_epoch() == 2);  // 10 samples, batch 4, drop_last
    L.start_epoch(epoch);
    std::vector<Batch> out;
    Batch b;
    while (L.next(b)) out.push_back(b);
    return out;
  };
  std::vector<Batch> a = epoch_of(1, 0), b = epoch_of(2, 0), c = epoch_of(2, 1);
  REQUIRE(a.size() == 2);
  REQUIRE(b.size() == 2);
  for (int k = 0; k < 2; k++) {
    CHECK(a[k].index == b[k].index);
    CHECK(a[k].lms == b[k].lms);
    CHECK(a[k].images.to_vector() == b[k].images.to_vector());
  }
  CHECK(a[0].index != c[0].index);
}

TEST_CASE("synthetic faces: deterministic / landmarks match synth_landmarks / inside the crop", "[data]") {
  SynthFace a = synth_face(5, 17, 96), b = synth_face(5, 17, 96);
  CHECK(a.image.px == b.image.px);
  CHECK(a.lms == synth_landmarks(5, 17, 96));
  CHECK(a.lms.size() == 136);
  for (float v : a.lms) { CHECK(v > -0.1f); CHECK(v < 1.1f); }
  CHECK(synth_face(5, 18, 96).image.px != a.image.px);
}

TEST_CASE("lfw68: real photos through the 300W path (skipped without ../shared)", "[data]") {
  const std::string dir = std::string(PIPNET_SHARED_DIR) + "/data/lfw68/test";
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) SKIP_TEST("../shared/data/lfw68 is absent");
  std::vector<FaceRecord> r = read_pts_folder(dir);
  CHECK(r.size() == 600);
  CHECK(r[0].n_points() == 68);
  Crop c = crop_face(load_image(r[0].image), r[0], CropRule::LandmarkBox, 1.1f, 256);
  CHECK(c.image.w == 256);
  float lo = 1, hi = 0;
  for (float v : c.lms) { lo = std::min(lo, v); hi = std::max(hi, v); }
  CHECK(lo == Approx(0.0455).margin(0.01));  // the x1.1 box leaves 5% on each side
  CHECK(hi == Approx(0.955).margin(0.01));
}
