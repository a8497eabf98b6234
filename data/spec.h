// spec.h: a data set named by one string, as `--data` and `--test-data` take it, opened into samples and labels.
//
//   synth[:N] | synth-test[:N]         the built-in procedural faces (68 points; train and test seeds disjoint)
//   300w:DIR                           images with 300W .pts files beside them (landmark box x crop_scale)
//   list:FILE:IMAGEDIR                 the official preprocessed train.txt / test.txt (COFW, AFLW arrive so)
//   wflw:LIST:IMAGEDIR[:ATTRIBUTE]     WFLW's list_98pt_rect_attr_*.txt; ATTRIBUTE keeps one of the six subsets
#pragma once
#include <string>
#include <vector>

#include "data/loader.h"

struct Dataset {
  std::vector<FaceRecord> records;         // empty for synthetic data
  SampleSource source;                     // sample i as a crop of input x input with its normalised landmarks
  int64_t size = 0;
  int n_points = 0;
  std::vector<std::vector<float>> labels;  // normalised landmarks of each sample (for mean faces and evaluation)
};

// `seed` picks the synthetic faces; `input` is the crop size; `crop_scale` the 300W box enlargement.
Dataset open_dataset(const std::string& spec, int input, float crop_scale, uint64_t seed);
