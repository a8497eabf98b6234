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
std::vector<float> normalized_labels(const FaceRecord& r, CropRule rule, CropScale scale) {
  if (r.normalized) return r.pts;
  int w, h, c;
  if (!stbi_info(r.image.c_str(), &w, &h, &c)) throw Error(r.image + ": cannot read image (" + stbi_failure_reason() + ")");
  Image probe;
  probe.w = w;
  probe.h = h;
  probe.px.assign((size_t)w * h * 3, 0);  // crop_face needs only the size here; the pixels are discarded
  return crop_face(probe, r, rule, scale, 8).lms;
}

const char* kSpecs = "synth[:N[:FIRST]], synth-test[:N], 300w:DIR, pts:LIST, list:FILE:IMAGEDIR, wflw:LIST:IMAGEDIR[:ATTRIBUTE], "
                     "black:SPEC, or SPEC+SPEC";

// Sets one after another: sample i of the joined set is sample i - offset of the part it falls in.
Dataset join(std::vector<Dataset> parts, const std::string& spec) {
  Dataset d;
  std::vector<int64_t> first;
  std::vector<SampleSource> sources;
  bool any_files = false;
  for (auto& p : parts) any_files |= !p.records.empty();
  for (auto& p : parts) {
    if (p.n_points != parts[0].n_points)
      throw Error(strf("data '%s': the parts have %d and %d points; one data set has one point count", spec.c_str(),
                       parts[0].n_points, p.n_points));
    first.push_back(d.size);
    sources.push_back(p.source);
    d.size += p.size;
    for (auto& l : p.labels) d.labels.push_back(std::move(l));
    if (any_files) {
      if (p.records.empty()) p.records.resize(p.size);  // synthetic samples: no file
      for (auto& r : p.records) d.records.push_back(std::move(r));
    }
  }
  d.n_points = parts[0].n_points;
  d.source = [first, sources](int64_t i) {
    size_t k = first.size() - 1;
    while (i < first[k]) k--;
    return sources[k](i - first[k]);
  };
  return d;
}

// A spec without '+'.
Dataset open_one(const std::string& spec, int input, CropScale crop_scale, uint64_t seed) {
  Dataset d;
  std::vector<std::string> f = split(spec, ':');
  if (f.empty()) throw Error(std::string("empty data specification: expected ") + kSpecs);
  if (f[0] == "black" && f.size() >= 2) {  // the labels of SPEC, every image black (nothing to see, only the prior)
    d = open_one(spec.substr(6), input, crop_scale, seed);
    d.records.clear();
    const std::vector<std::vector<float>> labels = d.labels;
    d.source = [labels, input](int64_t i) {
      Crop c;
      c.image = Image(input, input, 0);
      c.lms = labels[i];
      c.w = c.h = input;
      return c;
    };
    return d;
  }
  if ((f[0] == "synth" && f.size() <= 3) || (f[0] == "synth-test" && f.size() <= 2)) {
    // training faces and test faces come from different seeds, so they never overlap
    const uint64_t s = f[0] == "synth" ? seed * 2 + 1 : seed * 2 + 2;
    d.size = f[0] == "synth" ? 4000 : 300;
    if (f.size() >= 2) d.size = parse_int(f[1], "data '" + spec + "': the face count", 1, 10000000);
    const int64_t from = f.size() == 3 ? parse_int(f[2], "data '" + spec + "': the first face", 0, 1000000000) : 0;
    SampleSource faces = synth_source(s, input);
    d.source = [faces, from](int64_t i) { return faces(from + i); };
    d.n_points = 68;
    for (int64_t i = 0; i < d.size; i++) d.labels.push_back(synth_landmarks(s, from + i, input));
    return d;
  }
  CropRule rule;
  if (f[0] == "300w" && f.size() == 2) { d.records = read_pts_folder(f[1]); rule = CropRule::LandmarkBox; }
  else if (f[0] == "pts" && f.size() == 2) { d.records = read_pts_list(f[1]); rule = CropRule::LandmarkBox; }
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

Dataset open_one_unlabelled(const std::string& spec, int input, CropScale crop_scale, uint64_t seed) {
  std::vector<std::string> f = split(spec, ':');
  Dataset d;
  if (!f.empty() && f[0] == "boxes" && f.size() == 3) {
    d.records = read_boxes(f[1], f[2]);
    d.source = records_source(d.records, CropRule::Box, crop_scale, input);
  } else if (!f.empty() && f[0] == "crops" && f.size() == 2) {
    d.records = read_crops_folder(f[1]);
    d.source = records_source(d.records, CropRule::None, crop_scale, input);
  } else {
    const std::string kind = f.empty() ? "" : f[0];
    if (kind != "synth" && kind != "synth-test" && kind != "300w" && kind != "pts" && kind != "list" && kind != "wflw")
      throw Error("unlabelled data '" + spec + "': expected boxes:FILE:IMAGEDIR, crops:DIR, or a labelled set whose labels "
                  "are ignored (synth[:N[:FIRST]], 300w:DIR, pts:LIST, list:FILE:IMAGEDIR, wflw:LIST:IMAGEDIR[:ATTRIBUTE])");
    d = open_one(spec, input, crop_scale, seed);
    d.labels.clear();
    d.n_points = 0;
  }
  d.size = d.records.empty() ? d.size : (int64_t)d.records.size();
  SampleSource src = d.source;
  d.source = [src](int64_t i) {  // the labels never leave the crop rule
    Crop c = src(i);
    c.lms.clear();
    return c;
  };
  return d;
}

}  // namespace

Dataset open_dataset(const std::string& spec, int input, CropScale crop_scale, uint64_t seed) {
  if (spec.find('+') == std::string::npos) return open_one(spec, input, crop_scale, seed);
  std::vector<Dataset> parts;
  for (const std::string& s : split(spec, '+')) {
    if (s.empty()) throw Error("data '" + spec + "': an empty part between '+' signs");
    parts.push_back(open_one(s, input, crop_scale, seed));
  }
  return join(std::move(parts), spec);
}

Dataset open_unlabelled(const std::string& spec, int input, CropScale crop_scale, uint64_t seed) {
  std::vector<Dataset> parts;
  for (const std::string& s : split(spec, '+')) {
    if (s.empty()) throw Error("unlabelled data '" + spec + "': an empty part between '+' signs");
    parts.push_back(open_one_unlabelled(s, input, crop_scale, seed));
  }
  if (parts.empty()) throw Error("unlabelled data: empty specification");
  return parts.size() == 1 ? std::move(parts[0]) : join(std::move(parts), spec);
}
