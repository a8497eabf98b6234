#include "data/spec.h"

#include <cmath>
#include <cstdlib>
#include <sstream>

#include <stb/stb_image.h>

#include "data/synth.h"
#include "tensor/parse.h"

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> v;
  std::stringstream ss(s);
  for (std::string t; std::getline(ss, t, sep);) v.push_back(t);
  return v;
}

// Normalised landmarks of a raw record without decoding the image (only its size is read).
std::vector<float> normalized_labels(const FaceRecord& r, CropRule rule, float scale) {
  if (r.normalized) return r.pts;
  int w, h, c;
  if (!stbi_info(r.image.c_str(), &w, &h, &c)) throw Error(r.image + ": cannot read image (" + stbi_failure_reason() + ")");
  Image probe;
  probe.w = w;
  probe.h = h;
  probe.px.assign((size_t)w * h * 3, 0);  // crop_face needs only the size here; the pixels are discarded
  return crop_face(probe, r, rule, scale, 8).lms;
}

const char* kSpecs = "synth[:N], synth-test[:N], 300w:DIR, list:FILE:IMAGEDIR or wflw:LIST:IMAGEDIR[:ATTRIBUTE]";

}  // namespace

Dataset open_dataset(const std::string& spec, int input, float crop_scale, uint64_t seed) {
  Dataset d;
  std::vector<std::string> f = split(spec, ':');
  if (f.empty()) throw Error(std::string("empty data specification: expected ") + kSpecs);
  if ((f[0] == "synth" || f[0] == "synth-test") && f.size() <= 2) {
    // training faces and test faces come from different seeds, so they never overlap
    const uint64_t s = f[0] == "synth" ? seed * 2 + 1 : seed * 2 + 2;
    d.size = f[0] == "synth" ? 4000 : 300;
    if (f.size() == 2) d.size = parse_int(f[1], "data '" + spec + "': the face count", 1, 10000000);
    d.source = synth_source(s, input);
    d.n_points = 68;
    for (int64_t i = 0; i < d.size; i++) d.labels.push_back(synth_landmarks(s, i, input));
    return d;
  }
  CropRule rule;
  if (f[0] == "300w" && f.size() == 2) { d.records = read_pts_folder(f[1]); rule = CropRule::LandmarkBox; }
  else if (f[0] == "list" && f.size() == 3) { d.records = read_list(f[1], f[2]); rule = CropRule::None; }
  else if (f[0] == "wflw" && (f.size() == 3 || f.size() == 4)) {
    d.records = read_wflw(f[1], f[2]);
    rule = CropRule::WFLW;
    if (f.size() == 4) {  // an attribute subset: the faces whose flag is set (spec §2.2's six test subsets)
      const char* names[6] = {"pose", "expression", "illumination", "makeup", "occlusion", "blur"};
      int a = -1;
      for (int k = 0; k < 6; k++) if (f[3] == names[k]) a = k;
      if (a < 0) throw Error("data '" + spec + "': attribute '" + f[3] + "', expected pose, expression, illumination, makeup, occlusion or blur");
      std::vector<FaceRecord> keep;
      for (auto& r : d.records) if (r.attrs[a]) keep.push_back(r);
      d.records = std::move(keep);
      if (d.records.empty()) throw Error("data '" + spec + "': no face has the " + f[3] + " flag");
    }
  }
  else throw Error("data '" + spec + "': expected " + kSpecs);
  if (d.records.empty()) throw Error("data '" + spec + "': no faces found");
  d.size = (int64_t)d.records.size();
  for (auto& r : d.records) {
    if (r.pts.empty()) throw Error(r.image + ": unlabelled image in a supervised data set");
    if (d.n_points == 0) d.n_points = r.n_points();
    if (r.n_points() != d.n_points)
      throw Error(strf("%s has %d points, but %s has %d: one data set has one point count", r.image.c_str(), r.n_points(),
                       d.records[0].image.c_str(), d.n_points));
    d.labels.push_back(normalized_labels(r, rule, crop_scale));
  }
  d.source = records_source(d.records, rule, crop_scale, input);
  return d;
}
