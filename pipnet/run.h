// run.h: the run directory, everything a training run leaves on disk, and the model rebuilt from it.
//
//   config.txt               every setting, key = value (test/infer rebuild the model from it)
//   meanface.txt             the mean face the neighbours come from
//   checkpoint.safetensors   model.<name>, optim.<i>.<state>, metadata epochs_done and seed; after every epoch
//   model.safetensors        the final weights (PyTorch names)
//   log.csv, loss.png        per-epoch losses and test scores, and their curve
// Every file is written atomically (tensor/fileio.h): a run killed at any instant resumes from its last checkpoint.
#pragma once
#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "layers/optim.h"
#include "pipnet/config.h"
#include "tensor/safetensors.h"

using KeyValues = std::vector<std::pair<std::string, std::string>>;

// The configuration of `pipnet train --resume --out DIR [--KEY VALUE ...]`: DIR/config.txt, then the overrides a
// resumed run may take (may_change_on_resume: the run's own settings and epochs). Any other override is refused
// with an Error naming it, before anything is written.
// `config_file` (default OUT/config.txt) is where the settings are read from.
TrainConfig resume_config(const std::string& out, const KeyValues& overrides, const std::string& config_file = "");

void write_meanface(const MeanFace& m, const std::string& path);

void save_checkpoint(const std::string& path, PIPNet& net, const Adam& opt, int epochs_done, uint64_t seed);
// Loads the model (and the optimizer when given); returns epochs_done, checked to lie in [0, max_epochs].
int load_checkpoint(const std::string& path, PIPNet& net, Adam* opt, int max_epochs);
int load_checkpoint(const TensorFile& file, PIPNet& net, Adam* opt, int max_epochs);

struct EpochLog {
  int epoch;
  double lr, loss, score, x, y, nb_x, nb_y, seconds, images_per_s;
  double test_nme = NAN, test_fr = NAN, test_auc = NAN;
};
std::vector<EpochLog> read_log(const std::string& path, int upto);  // the rows of epochs before `upto`
void write_log(const std::string& path, const std::vector<EpochLog>& log);
void plot_log(const std::string& path, const std::vector<EpochLog>& log);

// A whole PIP Net's weights into `net`: a model.safetensors (or .pth), or a checkpoint's model part.
void load_model_weights(PIPNet& net, const std::string& path);

Device device_of(const std::string& device);  // Error when cuda is asked for and none exists

// A trained model rebuilt from a run directory: config.txt, meanface.txt and the weights (`weights`, else
// model.safetensors, else the checkpoint a killed run leaves).
struct LoadedRun {
  TrainConfig cfg;
  MeanFace meanface;
  Neighbors nbr;
  std::unique_ptr<PIPNet> net;
};
LoadedRun load_run(const std::string& dir, const std::string& weights = "", const std::string& device = "");
