// distill.h: translation-based data distillation (the seed paper's §3.2, spec §8.1): a model trained on labelled
// faces predicts each unlabelled face under several transformed views, each prediction is mapped back to the face,
// and their average becomes the face's pseudo-label. The views are the training augmentations' own pixel ops
// (data/augment.h); undo_view is the exact inverse of their landmark maps.
//
//   translate   shifts of s px (s of a 256 crop, scaled to the input size) up, down, left and right, for each s
//   flip        the face and its mirror (flipped back with the flip table)
//   rotate      +-a degrees for each a (rotated back)
//   none        the face itself: plain self-training
// Joined with '+' (translate+flip+rotate) they add up; include_identity adds the unchanged face where no transform
// already has it. This file is the method; pipnet/distill_cmd.cpp runs it round after round.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "data/image.h"
#include "pipnet/pip.h"

struct View {
  enum Kind { Identity, Shift, Flip, Rotate } kind = Identity;
  int dx = 0, dy = 0;   // Shift: the view's pixel (x, y) is the face's (x + dx, y + dy)
  double degrees = 0;   // Rotate: counter-clockwise on screen about the centre
  std::string name() const;
};

// The views of `transform` ("translate", "flip", "rotate", "none", or several joined by '+'); shifts in pixels of a
// 256 crop (scaled to `size` and rounded), angles in degrees. Error naming the transform when it is unknown.
std::vector<View> make_views(const std::string& transform, const std::vector<int>& shifts,
                             const std::vector<double>& angles, bool include_identity, int size);
// The view's pixels, made from the face crop (black where the view looks outside it).
Image apply_view(const Image& face, const View& v, const std::vector<int>& flip_table);
// Landmarks predicted on the view (normalised [N*2]) mapped back onto the face: the inverse of the view's
// landmark map (a shift adds it back, a mirror mirrors again through the flip table, a rotation turns back).
std::vector<float> undo_view(const std::vector<float>& lms, const View& v, const std::vector<int>& flip_table, int size);

// Landmarks (normalised [N*2]) for each image of a batch of crops.
using Predictor = std::function<std::vector<std::vector<float>>(const std::vector<Image>&)>;
// The trained network (eval mode, merged decoding) as a Predictor.
Predictor network_predictor(PIPNet& net, const Neighbors& nbr);

struct PseudoLabel {
  std::vector<float> mean;                 // [N*2] the pseudo-label: the average of the undone predictions
  std::vector<std::vector<float>> views;   // each view's prediction, undone (for the contact sheet)
};
// Predicts every view of `face` in one batch, undoes each, and averages them per landmark coordinate.
PseudoLabel pseudo_label(const Image& face, const std::vector<View>& views, const Predictor& predict,
                         const std::vector<int>& flip_table);

// One tile of the contact sheet (the paper's Fig. 4): the face scaled up, each view's prediction drawn faintly in
// its own colour, the pseudo-label boldly on top.
Image pseudo_label_tile(const Image& face, const PseudoLabel& p, int scale);

// ---- the labelled / unlabelled split (the paper's TSD setting) --------------------------------------------------
// The identity in a file name: the stem with a trailing _NNNN taken off (LFW: George_W_Bush_0003.jpg ->
// George_W_Bush); a name without one is its own identity.
std::string identity_of(const std::string& path);
struct Split {
  std::vector<int64_t> labelled, unlabelled;  // sample indices, ascending
};
// Whole identities go to one side: they are shuffled with `seed`, and each is put on the labelled side while that
// side stays within round(fraction * n) faces, so the split is deterministic, disjoint and never divides a person.
// Error when either side would be empty or the fraction lies outside (0, 1).
Split split_by_identity(const std::vector<std::string>& names, double fraction, uint64_t seed);
