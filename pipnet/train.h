// train.h: the training run, evaluation, checkpoints and run directories behind `pipnet train/test/infer/demo`.
//
// A run directory holds:
//   config.txt         every setting, key = value (written at the start; test/infer rebuild the model from it)
//   meanface.txt       the mean face the neighbours come from
//   checkpoint.safetensors   model + Adam state + epoch, written atomically (temp file + rename) after each epoch
//   model.safetensors  the final weights (PyTorch names)
//   log.csv, loss.png  per-epoch losses and test scores, and their curve
#pragma once
#include <map>
#include <string>
#include <vector>

#include "data/loader.h"
#include "pipnet/metrics.h"
#include "pipnet/pip.h"

struct TrainConfig {
  // model
  std::string backbone = "resnet18";
  int width = 64, input = 256, stride = 32, nb = 10;
  // recipe (the official pip_32_16_60_r18_l2_l1_10_1_nb10)
  int epochs = 60, batch = 16;
  double lr = 1e-4, gamma = 0.1, wd = -1;  // wd < 0: 5e-4 from scratch, 0 with pretrained weights (the repo's rule)
  std::string decay = "30,50";
  double cls_weight = 10, reg_weight = 1;
  bool reg_l2 = false, cls_l1 = false;
  std::string pretrained;                  // safetensors of a torchvision ResNet (converted with tools/)
  // data: synth[:N] | 300w:DIR | list:FILE:IMAGEDIR | wflw:LIST:IMAGEDIR
  std::string data = "synth:4000", test_data = "synth-test:300";
  std::string meanface = "auto";           // auto: the mean of the training landmarks
  std::string flip_table;                  // file; empty: the built-in table for the point count
  float crop_scale = 1.1f;                 // 300W landmark-box enlargement (1.1 repo, 1.3 seed/GSSL)
  bool augment = true;
  // run
  std::string out = "runs/pip";
  uint64_t seed = 1;
  int workers = 2, threads = 0;            // threads 0: all cores
  std::string device = "cpu";              // cpu | cuda
  int eval_every = 1;                      // evaluate on test_data every N epochs (and after the last)
  int64_t max_batches = 0;                 // per epoch, 0 = all (short runs, tests)
  double time_limit_s = 0;                 // stop (after a whole epoch) once this much time has gone; 0 = none
  int64_t die_at_step = 0;                 // test hook: exit at once at this global step, as a kill would

  std::map<std::string, std::string> to_map() const;
  void set(const std::string& key, const std::string& value);  // Error naming the key on a bad value
  void load(const std::string& path);      // config file: key = value lines, # comments
  void save(const std::string& path) const;
  void apply_preset(const std::string& name);  // pip_32_16_60_r18_l2_l1_10_1_nb10 and its siblings
  PipConfig pip(int num_lms) const;
};

struct Dataset {
  std::vector<FaceRecord> records;         // empty for synthetic data
  SampleSource source;
  int64_t size = 0;
  int n_points = 0;
  std::vector<std::vector<float>> labels;  // normalised landmarks of each sample (for mean faces and evaluation)
};
Dataset open_dataset(const std::string& spec, int input, float crop_scale, uint64_t seed);

struct EpochLog {
  int epoch;
  double lr, loss, score, x, y, nb_x, nb_y, seconds, images_per_s;
  double test_nme = NAN, test_fr = NAN, test_auc = NAN;
};

int train(const TrainConfig& cfg, bool resume);  // returns the process exit code
Device device_of(const TrainConfig& cfg);        // Error when cuda is asked for and none exists

struct TestReport {
  EvalResult merged, unmerged;
  NormSpec norm;
  std::vector<std::vector<float>> pred, gt;
  double seconds_per_image = 0;            // forward + decoding, as the repo times it
};
TestReport run_test(PIPNet& net, const Neighbors& nbr, const Dataset& data, int batch);

// Rebuild a trained model from a run directory (config.txt, meanface.txt, model or checkpoint weights).
struct LoadedRun {
  TrainConfig cfg;
  MeanFace meanface;
  Neighbors nbr;
  std::unique_ptr<PIPNet> net;
};
LoadedRun load_run(const std::string& dir, const std::string& weights = "", const std::string& device = "");
