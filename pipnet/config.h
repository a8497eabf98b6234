// config.h: every setting of a training run, declared once.
//
// A TrainConfig is composed of the records the code already uses (the network's PipConfig, the loss's
// PipLossConfig) plus the recipe, the data and the run. Each setting has one name everywhere: the member, the
// config.txt key and the flag (`--net-stride` sets `net_stride`). The table in config.cpp, one row per setting
// with its key, member, range and help line, drives parsing, saving, the help text and validation alike; adding a
// setting is one row there.
//
// A few old flag spellings (--stride, --input, --nb) are read as their official names so that earlier run
// directories and commands keep working; config.txt is always written with the official ones.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "pipnet/pip.h"

struct Recipe {                      // the official pip_32_16_60_r18_l2_l1_10_1_nb10
  int epochs = 60, batch = 16;
  double lr = 1e-4, gamma = 0.1;
  std::string decay = "30,50";       // epochs at which lr is multiplied by gamma
  double wd = -1;                    // < 0: 5e-4 from scratch, 0 with pretrained weights (the repo's rule)
  std::string pretrained;            // safetensors of a torchvision ResNet (converted with tools/)
  std::string init;                  // a whole PIP Net's weights to start from (pipnet distill --init previous)
};

struct DataConfig {
  std::string data = "synth:4000", test_data = "synth-test:300";  // specs: data/spec.h
  std::string meanface = "auto";     // auto: the mean of the training landmarks
  std::string flip_table;            // file; empty: the built-in table for the point count
  float crop_scale = 1.1f;           // 300W landmark-box enlargement (1.1 repo, 1.3 seed/GSSL)
  float box_scale = 1.0f;            // COFW/AFLW given-box enlargement (1.0 repo, 1.5 the seed paper's COFW)
  bool augment = true;               // off: none of the six below
  AugmentConfig aug;                 // each augmentation's probability (0: off) and ranges
  CropScale scales() const { return {crop_scale, box_scale}; }
};

struct RunConfig {
  std::string out = "runs/pip";
  std::string device = "cpu";        // cpu | cuda
  uint64_t seed = 1;
  int workers = 2, threads = 0;      // threads 0: all cores
  int eval_every = 1;                // evaluate on test_data every N epochs (and after the last)
  int64_t max_batches = 0;           // per epoch, 0 = all (short runs, tests)
  double time_limit_s = 0;           // stop (after a whole epoch) once this much time has gone; 0 = none
  bool sync_bn = false;              // under mpirun: BatchNorm statistics all-reduced (pipnet/dist.h)
  double comm_timeout = 300;         // under mpirun: seconds before a collective gives up on a silent rank
  int64_t die_at_step = 0;           // test hook: exit at once at this global step, as a kill would
  int die_rank = -1;                 // test hook: only this rank dies (-1: every rank)
  int64_t stall_at_step = 0;         // test hook: die_rank (or every rank) sleeps for ever at this step
};

struct TrainConfig {
  PipConfig model;                   // head, backbone, width, input_size, net_stride, num_nb (num_lms comes from the data)
  PipLossConfig loss;                // cls_weight, reg_weight, reg_l2, cls_l1
  Recipe recipe;
  DataConfig data;
  RunConfig run;

  void set(const std::string& key, const std::string& value);  // Error naming the key and the expected value
  std::string get(const std::string& key) const;               // as config.txt writes it
  std::map<std::string, std::string> to_map() const;           // every saved key
  void load(const std::string& path);                          // key = value lines, # comments
  void parse(const std::string& text, const std::string& source);  // the same from memory; errors name source:line
  void save(const std::string& path) const;                    // atomically (temporary file, then rename)
  void apply_preset(const std::string& name);                  // pip_32_16_60_r18_l2_l1_10_1_nb10 and siblings, coord_r18_l1, map_4_16_60_r18_l2
  void validate() const;                                       // the rules between settings (stride vs backbone ...)
  double weight_decay() const { return recipe.wd >= 0 ? recipe.wd : recipe.pretrained.empty() ? 5e-4 : 0.0; }
  std::vector<int> decay_epochs() const;                       // parsed `decay`
};

// The official key for a key or an old spelling of it ("stride" -> "net_stride"); "" when there is none.
std::string config_key(const std::string& key_or_alias);
bool is_config_key(const std::string& key_or_alias);
// Keys a resumed run may change (the run's own settings and `epochs`); every other key is the run's for good.
bool may_change_on_resume(const std::string& key);
// The help text of every setting, grouped (pipnet train --help).
std::string config_help();
