// distill.cpp: the views, their inverses, the pseudo-label, the contact-sheet tile and the identity split.
#include "pipnet/distill.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "data/augment.h"
#include "pipnet/plot.h"

std::string View::name() const {
  switch (kind) {
    case Identity: return "identity";
    case Shift: return strf("shift %+d,%+d", dx, dy);
    case Flip: return "flip";
    case Rotate: return strf("rotate %+g", degrees);
  }
  return "?";
}

std::vector<View> make_views(const std::string& transform, const std::vector<int>& shifts,
                             const std::vector<double>& angles, bool include_identity, int size) {
  const std::string bad = "transform '" + transform + "': expected translate, flip, rotate or none, or several joined by '+'";
  if (transform.empty() || transform.back() == '+') throw Error(bad);
  std::vector<View> v;
  bool identity = false;
  std::stringstream ss(transform);
  for (std::string t; std::getline(ss, t, '+');) {
    if (t == "translate") {
      for (int s : shifts) {
        const int p = (int)std::lround(s * size / 256.0);  // the paper's pixels are pixels of a 256 crop
        for (auto [dx, dy] : {std::pair{0, p}, {0, -p}, {p, 0}, {-p, 0}}) v.push_back({View::Shift, dx, dy, 0});
      }
    } else if (t == "flip") {
      v.push_back({View::Flip, 0, 0, 0});
      identity = true;  // a mirror alone is one view; the face and its mirror are the pair averaged
    } else if (t == "rotate") {
      for (double a : angles) { v.push_back({View::Rotate, 0, 0, a}); v.push_back({View::Rotate, 0, 0, -a}); }
    } else if (t == "none") {
      identity = true;
    } else {
      throw Error(bad);
    }
  }
  if (identity || include_identity) v.insert(v.begin(), View{});
  return v;
}

Image apply_view(const Image& face, const View& v, const std::vector<int>& flip_table) {
  Image im = face;
  std::vector<float> none;
  switch (v.kind) {
    case View::Identity: break;
    case View::Shift: aug_translate(im, none, v.dx, v.dy); break;
    case View::Flip: {
      std::vector<float> dummy(flip_table.size() * 2, 0.5f);
      aug_flip(im, dummy, flip_table);
      break;
    }
    case View::Rotate: aug_rotate(im, none, v.degrees); break;
  }
  return im;
}

std::vector<float> undo_view(const std::vector<float>& lms, const View& v, const std::vector<int>& flip_table, int size) {
  std::vector<float> out = lms;
  switch (v.kind) {
    case View::Identity: break;
    case View::Shift:  // aug_translate moves landmarks by u -= dx / size: add it back (no clamping)
      for (size_t i = 0; i < out.size(); i += 2) {
        out[i] = (float)(lms[i] + (double)v.dx / size);
        out[i + 1] = (float)(lms[i + 1] + (double)v.dy / size);
      }
      break;
    case View::Flip:  // u'_i = 1 - u_{t(i)} is its own inverse, t being an involution
      CHECK_OR_FAIL(flip_table.size() * 2 == lms.size(), strf("flip table of %zu for %zu landmarks", flip_table.size(), lms.size() / 2));
      for (size_t i = 0; i < flip_table.size(); i++) {
        out[2 * i] = 1.0f - lms[2 * flip_table[i]];
        out[2 * i + 1] = lms[2 * flip_table[i] + 1];
      }
      break;
    case View::Rotate: {  // aug_rotate: d' = [[c, s], [-s, c]] d about (0.5, 0.5); its inverse is the transpose
      const double t = v.degrees * M_PI / 180.0, c = std::cos(t), s = std::sin(t);
      for (size_t i = 0; i < out.size(); i += 2) {
        const double du = lms[i] - 0.5, dv = lms[i + 1] - 0.5;
        out[i] = (float)(0.5 + c * du - s * dv);
        out[i + 1] = (float)(0.5 + s * du + c * dv);
      }
      break;
    }
  }
  return out;
}

Predictor network_predictor(PIPNet& net, const Neighbors& nbr) {
  return [&net, &nbr](const std::vector<Image>& images) {
    ag::NoGradGuard ng;
    const bool was_training = net.is_training();
    net.eval();
    const int S = net.cfg.input_size, B = (int)images.size();
    Tensor x = Tensor::empty({B, 3, S, S});  // [B, 3, S, S] ImageNet-normalised
    for (int b = 0; b < B; b++) {
      CHECK_OR_FAIL(images[b].w == S && images[b].h == S, strf("predictor: a %dx%d image for a %dx%d network", images[b].w, images[b].h, S, S));
      normalize_imagenet(images[b], x.data<float>() + (size_t)b * 3 * S * S);
    }
    std::vector<Landmarks> dec = decode(net.run(x.to(net.device())), nbr, S, net.cfg.net_stride);
    net.train(was_training);
    std::vector<std::vector<float>> out;
    for (auto& d : dec) out.push_back(d.merged);
    return out;
  };
}

PseudoLabel pseudo_label(const Image& face, const std::vector<View>& views, const Predictor& predict,
                         const std::vector<int>& flip_table) {
  CHECK_OR_FAIL(!views.empty(), "pseudo_label: no views");
  std::vector<Image> batch;
  for (const View& v : views) batch.push_back(apply_view(face, v, flip_table));
  std::vector<std::vector<float>> pred = predict(batch);
  CHECK_OR_FAIL(pred.size() == views.size(), "pseudo_label: the predictor returned the wrong number of faces");
  PseudoLabel p;
  std::vector<double> sum(pred[0].size(), 0.0);
  for (size_t k = 0; k < views.size(); k++) {
    p.views.push_back(undo_view(pred[k], views[k], flip_table, face.w));
    for (size_t i = 0; i < sum.size(); i++) sum[i] += p.views.back()[i];
  }
  for (double s : sum) p.mean.push_back((float)(s / views.size()));
  return p;
}

Image pseudo_label_tile(const Image& face, const PseudoLabel& p, int scale) {
  Image im = resize_bilinear(face, face.w * scale, face.h * scale);
  // each view in its own hue, half-blended into the face: faint; the average solid, with a dark rim: bold
  static const uint8_t hues[8][3] = {{255, 80, 80}, {255, 200, 60}, {120, 255, 90}, {60, 220, 255},
                                     {90, 120, 255}, {220, 90, 255}, {255, 120, 200}, {200, 255, 200}};
  for (size_t k = 0; k < p.views.size(); k++) {
    Image layer = im;
    for (size_t i = 0; i < p.views[k].size(); i += 2)
      draw_disc(layer, p.views[k][i] * im.w, p.views[k][i + 1] * im.h, 0.8f * scale, hues[k % 8]);
    for (size_t j = 0; j < im.px.size(); j++) im.px[j] = (uint8_t)((im.px[j] + layer.px[j] + 1) / 2);
  }
  const uint8_t rim[3] = {0, 0, 0}, bold[3] = {255, 255, 255};
  for (size_t i = 0; i < p.mean.size(); i += 2) {
    draw_disc(im, p.mean[i] * im.w, p.mean[i + 1] * im.h, 1.3f * scale, rim);
    draw_disc(im, p.mean[i] * im.w, p.mean[i + 1] * im.h, 0.8f * scale, bold);
  }
  return im;
}

// ---- the split ----------------------------------------------------------------------------------------------------
std::string identity_of(const std::string& path) {
  std::string stem = path.substr(path.find_last_of('/') + 1);
  stem = stem.substr(0, stem.find_last_of('.'));
  const size_t u = stem.find_last_of('_');
  if (u == std::string::npos || u == 0 || u + 1 == stem.size()) return stem;
  for (size_t i = u + 1; i < stem.size(); i++)
    if (!std::isdigit((unsigned char)stem[i])) return stem;
  return stem.substr(0, u);
}

Split split_by_identity(const std::vector<std::string>& names, double fraction, uint64_t seed) {
  if (!(fraction > 0 && fraction < 1)) throw Error(strf("labelled fraction %g: expected a number in (0, 1)", fraction));
  std::map<std::string, std::vector<int64_t>> people;  // sorted by identity: the shuffle below sees one order
  for (size_t i = 0; i < names.size(); i++) people[identity_of(names[i])].push_back((int64_t)i);
  std::vector<const std::vector<int64_t>*> order;
  for (auto& [id, idx] : people) order.push_back(&idx);
  Rng r(seed);
  for (int64_t i = (int64_t)order.size() - 1; i > 0; i--) std::swap(order[i], order[r.randint(i + 1)]);
  const int64_t target = std::llround(fraction * (double)names.size());
  Split s;
  for (auto* idx : order) {
    auto& side = (int64_t)(s.labelled.size() + idx->size()) <= target ? s.labelled : s.unlabelled;
    side.insert(side.end(), idx->begin(), idx->end());
  }
  std::sort(s.labelled.begin(), s.labelled.end());
  std::sort(s.unlabelled.begin(), s.unlabelled.end());
  if (s.labelled.empty() || s.unlabelled.empty())
    throw Error(strf("labelled fraction %g of %zu faces (%zu identities) leaves the %s side empty", fraction, names.size(),
                     people.size(), s.labelled.empty() ? "labelled" : "unlabelled"));
  return s;
}
