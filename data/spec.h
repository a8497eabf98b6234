// spec.h: a data set named by one string, as `--data` and `--test-data` take it, opened into samples and labels.
//
//   synth[:N[:FIRST]] | synth-test[:N]  the built-in procedural faces (68 points; train and test seeds disjoint);
//                                       FIRST skips the seed's first faces (synth:200:100 is faces 100..299)
//   300w:DIR                           images with 300W .pts files beside them (landmark box x crop_scale)
//   pts:LIST                           "IMAGE PTS" lines (pipnet distill's splits and pseudo-labels), cropped as 300w
//   list:FILE:IMAGEDIR                 the official preprocessed train.txt / test.txt (COFW, AFLW arrive so)
//   wflw:LIST:IMAGEDIR[:ATTRIBUTE]     WFLW's list_98pt_rect_attr_*.txt; ATTRIBUTE keeps one of the six subsets
//   black:SPEC                         SPEC's labels on all-black images (the position-prior probe, pipnet probe)
//   SPEC+SPEC...                       the sets one after another (one point count)
//
// Unlabelled faces (pipnet distill) are opened by open_unlabelled: any of the above with its labels dropped (the
// crop rule still reads them: a 300w face is cropped by its landmark box and nothing else), or
//   boxes:FILE:IMAGEDIR                "NAME X0 Y0 X1 Y1" lines: the face box in pixels, cropped as it is
//   crops:DIR                          a folder of ready face crops, each resized to the input size
#pragma once
#include <string>
#include <vector>

#include "data/loader.h"

struct Dataset {
  std::vector<FaceRecord> records;         // one per sample where samples are files (image "" for synthetic ones
                                           // in a joined set); empty for purely synthetic data
  SampleSource source;                     // sample i as a crop of input x input with its normalised landmarks
  int64_t size = 0;
  int n_points = 0;                        // 0 for unlabelled data
  std::vector<std::vector<float>> labels;  // normalised landmarks of each sample (for mean faces and evaluation);
                                           // empty for unlabelled data
};

// `seed` picks the synthetic faces; `input` is the crop size; `crop_scale` the 300W box enlargement.
Dataset open_dataset(const std::string& spec, int input, CropScale crop_scale, uint64_t seed);
// Faces without labels: crops only (their Crop::lms are empty). Error when the set is empty or the spec unknown.
Dataset open_unlabelled(const std::string& spec, int input, CropScale crop_scale, uint64_t seed);
