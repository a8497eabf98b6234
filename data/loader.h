// loader.h: a pool of worker threads that decode, crop, augment and assemble NCHW batches ahead of training.
//
// Each epoch shuffles the sample order from (seed, epoch) and drops the last partial batch, as the official
// training does. Batch b is built by worker b % workers; each sample's augmentation draws from its own RNG seeded
// from (seed, epoch, its position in the epoch's order), so a run is reproducible from its seed whatever the number
// of workers, their timing, or the number of ranks. Each worker keeps up to `prefetch` finished batches queued;
// next() hands them out in order.
//
// Data-parallel training (pipnet/dist.h): with `ranks` R > 1, `batch` is the global batch and this rank builds only
// its slice of it, positions [b*batch + rank*batch/R, b*batch + (rank+1)*batch/R) of the one shuffled order a single
// process would use. So R ranks together see exactly the samples, and the augmentations, of one process.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "data/augment.h"
#include "data/dataset.h"
#include "tensor/tensor.h"

// One training sample before augmentation: a size x size crop and its normalised landmarks.
using SampleSource = std::function<Crop(int64_t index)>;
SampleSource records_source(std::vector<FaceRecord> records, CropRule rule, CropScale scale, int size);
SampleSource synth_source(uint64_t seed, int size);

struct Batch {
  Tensor images;                          // [B, 3, S, S] ImageNet-normalised
  std::vector<std::vector<float>> lms;    // B x [N*2]
  std::vector<int64_t> index;             // which samples
};

struct LoaderConfig {
  int batch = 16, workers = 2, prefetch = 2;
  bool shuffle = true, drop_last = true, augment = true;
  uint64_t seed = 0;
  int rank = 0, ranks = 1;                // this process's slice of each global batch (batch % ranks == 0)
  AugmentConfig aug;
  std::vector<int> flip_table;            // empty: no flipping
};

class Loader {
 public:
  Loader(SampleSource source, int64_t n_samples, int size, LoaderConfig cfg);
  ~Loader();
  void start_epoch(int epoch);            // shuffles (seed, epoch) and starts the workers on batch 0
  bool next(Batch& out);                  // false at the end of the epoch
  int64_t batches_per_epoch() const;
  int local_batch() const { return cfg_.batch / cfg_.ranks; }  // samples per batch on this rank

 private:
  void stop();
  void work(int w);
  Batch build(int64_t b);
  SampleSource source_;
  int64_t n_;
  int size_;
  LoaderConfig cfg_;
  std::vector<int64_t> order_;
  int epoch_ = 0;
  int64_t next_b_ = 0, end_b_ = 0;
  std::vector<std::thread> threads_;
  struct Slot { std::deque<std::pair<int64_t, Batch>> q; };
  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::exception_ptr error_;
};

// Builds one augmented sample (exposed for tests and the loader benchmark).
void make_sample(const SampleSource& src, int64_t index, bool do_augment, const AugmentConfig& aug,
                 const std::vector<int>& flip_table, Rng& rng, Crop& out);
