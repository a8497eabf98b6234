// meanface.h: the mean face and what PIP derives from it (spec §1.4).
//
// neighbours:  nb[i*nb + j] = the j-th nearest mean-face point to landmark i (squared Euclidean distance,
//              ascending, stable; position 0 of the sorted list is i itself and is skipped).
// reverse:     for every landmark k, the pairs (i, j) with nb[i*nb + j] == k, visiting i ascending then j; each
//              list is padded cyclically to M = max_k |R_k| and they are concatenated: rev_i, rev_j of length N*M.
//              Decoding averages landmark k's own estimate with the M neighbour estimates of k (spec §6.2).
#pragma once
#include <string>
#include <vector>

struct MeanFace {
  int N = 0;                  // landmarks
  std::vector<float> xy;      // [N][2], normalised crop coordinates
  static MeanFace load(const std::string& path);  // one line of 2N floats "x0 y0 x1 y1 ..."
  // The per-coordinate mean of normalised training landmarks (each sample N*2 floats), for custom datasets.
  static MeanFace from_samples(const std::vector<std::vector<float>>& samples);
};

struct Neighbors {
  int N = 0, nb = 0, M = 0;   // M = max_len: the padded reverse-list length
  std::vector<int> idx;       // [N][nb]
  std::vector<int> rev_i;     // [N][M]: the landmark whose neighbour slot holds an estimate of k
  std::vector<int> rev_j;     // [N][M]: that slot
  std::vector<int> rev_len;   // [N]: |R_k| before padding
  static Neighbors from_meanface(const MeanFace& mf, int nb);
};
