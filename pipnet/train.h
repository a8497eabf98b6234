// train.h: `pipnet train`: the training loop. What it reads and writes is in run.h, the settings in config.h,
// the data in data/spec.h, the scores in evaluate.h.
#pragma once
#include "pipnet/config.h"

// Trains cfg into cfg.run.out (continuing its last checkpoint when `resume`); returns the process exit code.
// Everything is checked (data, mean face, model, checkpoint) before the first file is written. `verbose` prints the
// network's layers (shapes, parameters, FLOPs) and the kernel each op dispatches to.
int train(const TrainConfig& cfg, bool resume, bool verbose = false);
