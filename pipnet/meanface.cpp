#include "pipnet/meanface.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <numeric>
#include <sstream>

#include "tensor/fileio.h"
#include "tensor/parse.h"
#include "tensor/tensor.h"

MeanFace MeanFace::load(const std::string& path) {
  if (is_directory(path)) throw Error(path + ": is a folder, expected a mean-face file");
  std::ifstream f(path);
  if (!f) throw Error(path + ": cannot open mean-face file");
  std::string line, all;
  while (std::getline(f, line)) all += line + " ";
  std::istringstream is(all);
  std::vector<float> v;
  std::string tok;
  while (is >> tok) {
    // normalised crop coordinates: a mean face lies in the crop, give or take its margin
    try {
      v.push_back((float)parse_double(tok, "mean face", -1, 2));
    } catch (const Error&) {
      throw Error(path + ": value " + std::to_string(v.size() + 1) + " is '" + tok +
                  "', expected a number in [-1, 2] (normalised crop coordinates)");
    }
  }
  if (v.empty() || v.size() % 2) throw Error(path + ": " + std::to_string(v.size()) + " values, expected 2N (x y per landmark)");
  MeanFace m;
  m.N = (int)v.size() / 2;
  m.xy = std::move(v);
  return m;
}

MeanFace MeanFace::from_samples(const std::vector<std::vector<float>>& samples) {
  CHECK_OR_FAIL(!samples.empty(), "mean face of no samples");
  MeanFace m;
  m.N = (int)samples[0].size() / 2;
  std::vector<double> acc(samples[0].size(), 0.0);
  for (auto& s : samples) {
    CHECK_OR_FAIL(s.size() == acc.size(), "mean face: samples have different landmark counts");
    for (size_t i = 0; i < s.size(); i++) acc[i] += s[i];
  }
  for (double a : acc) m.xy.push_back((float)(a / samples.size()));
  return m;
}

Neighbors Neighbors::from_meanface(const MeanFace& mf, int nb) {
  CHECK_OR_FAIL(nb >= 0 && nb < mf.N, strf("num_nb = %d, but the mean face has %d landmarks", nb, mf.N));
  Neighbors n;
  n.N = mf.N;
  n.nb = nb;
  std::vector<int> order(mf.N);
  for (int i = 0; i < mf.N; i++) {
    std::vector<double> d(mf.N);
    for (int k = 0; k < mf.N; k++) {
      // same arithmetic as numpy on float64: (x_i - x_k)^2 + (y_i - y_k)^2
      double dx = (double)mf.xy[2 * i] - mf.xy[2 * k], dy = (double)mf.xy[2 * i + 1] - mf.xy[2 * k + 1];
      d[k] = dx * dx + dy * dy;
    }
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return d[a] < d[b]; });
    // order[0] is i itself (distance 0), unless another point coincides with it; skip i explicitly either way
    int taken = 0;
    for (int k : order) {
      if (k == i) continue;
      if (taken == nb) break;
      n.idx.push_back(k);
      taken++;
    }
  }
  std::vector<std::vector<std::pair<int, int>>> rev(mf.N);
  for (int i = 0; i < mf.N; i++)
    for (int j = 0; j < nb; j++) rev[n.idx[i * nb + j]].push_back({i, j});
  for (auto& r : rev) n.M = std::max(n.M, (int)r.size());
  for (int k = 0; k < mf.N; k++) {
    if (nb == 0) continue;  // no neighbours, nothing to merge (the seed paper's head)
    if (rev[k].empty())
      throw Error(strf("mean face: landmark %d is nobody's neighbour with num_nb = %d; use a larger num_nb", k, nb));
    n.rev_len.push_back((int)rev[k].size());
    for (int m = 0; m < n.M; m++) {  // cyclic padding
      n.rev_i.push_back(rev[k][m % rev[k].size()].first);
      n.rev_j.push_back(rev[k][m % rev[k].size()].second);
    }
  }
  return n;
}
