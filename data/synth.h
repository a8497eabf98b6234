// synth.h: procedural face images with exact 68-point landmarks (iBUG 300-W order: 0-16 jaw, 17-26 brows,
// 27-35 nose, 36-47 eyes, 48-67 mouth). The project's built-in dataset: the demo and the convergence tests train on
// it, since real benchmark images cannot ship with the project.
//
// A face is a deformable 68-point shape (jaw width, face length, eye openness, brow raise, mouth width/opening,
// smile) posed with yaw, pitch (pseudo-3D: points move by their depth), roll, scale and shift, then drawn: textured
// background, shaded skin, hair, brows, eyes with irises, nose, lips, lighting, blur and noise. Sample i of a seed
// is always the same image. The face fills the crop as a 300W landmark-box crop does (spec §2.2).
#pragma once
#include <cstdint>
#include <vector>

#include "data/image.h"

struct SynthFace {
  Image image;             // size x size RGB
  std::vector<float> lms;  // [68*2], normalised: u = x / size
};

SynthFace synth_face(uint64_t seed, int64_t index, int size);
// The landmarks of synth_face(seed, index, size) alone, without drawing (cheap).
std::vector<float> synth_landmarks(uint64_t seed, int64_t index, int size);
