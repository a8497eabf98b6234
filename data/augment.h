// augment.h: the training augmentations of spec §3, in the repo's order, on a square crop with landmarks in
// normalised crop coordinates. Each op draws its own uniform U (Python's random.random()) and fires when U passes
// its threshold; landmarks move exactly as the pixels do.
//   1 translation   U > 0.5   shift by dx, dy = trunc((U-0.5)*60*size/256) px, black outside; landmarks clamped to [0,1]
//   2 occlusion     U > 0.5   one random rectangle (up to 0.4 of the side) in one random colour
//   3 flip          U > 0.5   mirror; landmarks permuted by the flip table, u' = 1 - u
//   4 rotation      U > 0.5   theta ~ U(-30, 30) degrees, counter-clockwise on screen about the centre, nearest,
//                             black fill; landmarks rotated, not clamped
//   5 blur          U > 0.7   Gaussian, sigma = 5U (three box passes, as PIL approximates it)
//   6 grayscale     U < 0.2   L = (299R + 587G + 114B) / 1000 in all channels
#pragma once
#include <vector>

#include "data/image.h"
#include "tensor/rng.h"

// Each op's probability (0 turns it off and draws nothing); the repo's thresholds are U > 1 - p (so p = 0.5 and 0.3
// are exactly its U > 0.5 and U > 0.7) and, for grayscale, U < p.
struct AugmentConfig {
  double p_translate = 0.5, p_occlude = 0.5, p_flip = 0.5, p_rotate = 0.5, p_blur = 0.3, p_gray = 0.2;
  double max_shift = 30;     // in 256-pixel units, as the repo (scaled to the crop size)
  double max_angle = 30;     // degrees
};

void aug_translate(Image& im, std::vector<float>& lms, int dx, int dy);  // new(x, y) = old(x + dx, y + dy)
void aug_occlude(Image& im, int x0, int y0, int w, int h, const uint8_t rgb[3]);
void aug_flip(Image& im, std::vector<float>& lms, const std::vector<int>& flip_table);
void aug_rotate(Image& im, std::vector<float>& lms, double degrees);
void aug_blur(Image& im, double sigma);
void aug_grayscale(Image& im);

// The whole chain with the repo's probabilities; flip_table empty turns flipping off.
void augment(Image& im, std::vector<float>& lms, const std::vector<int>& flip_table, const AugmentConfig& cfg, Rng& rng);
