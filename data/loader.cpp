#include "data/loader.h"

#include <algorithm>
#include <numeric>

#include "data/synth.h"

SampleSource records_source(std::vector<FaceRecord> records, CropRule rule, CropScale scale, int size) {
  auto recs = std::make_shared<std::vector<FaceRecord>>(std::move(records));
  return [recs, rule, scale, size](int64_t i) {
    const FaceRecord& r = (*recs)[i];
    Image im = load_image(r.image);
    return crop_face(im, r, r.normalized ? CropRule::None : rule, scale, size);
  };
}

SampleSource synth_source(uint64_t seed, int size) {
  return [seed, size](int64_t i) {
    SynthFace f = synth_face(seed, i, size);
    return Crop{std::move(f.image), std::move(f.lms), 0, 0, (double)size, (double)size};
  };
}

void make_sample(const SampleSource& src, int64_t index, bool do_augment, const AugmentConfig& aug,
                 const std::vector<int>& flip_table, Rng& rng, Crop& out) {
  out = src(index);
  if (do_augment) augment(out.image, out.lms, flip_table, aug, rng);
}

Loader::Loader(SampleSource source, int64_t n, int size, LoaderConfig cfg)
    : source_(std::move(source)), n_(n), size_(size), cfg_(std::move(cfg)) {
  CHECK_OR_FAIL(n_ > 0, "loader: no samples");
  CHECK_OR_FAIL(cfg_.batch > 0 && cfg_.workers > 0 && cfg_.prefetch > 0, "loader: batch, workers, prefetch must be positive");
  CHECK_OR_FAIL(cfg_.ranks >= 1 && cfg_.rank >= 0 && cfg_.rank < cfg_.ranks && cfg_.batch % cfg_.ranks == 0,
                strf("loader: a batch of %d cannot be split evenly over %d ranks", cfg_.batch, cfg_.ranks));
  CHECK_OR_FAIL(cfg_.ranks == 1 || cfg_.drop_last, "loader: ranks need whole batches (drop_last)");
  CHECK_OR_FAIL(!cfg_.drop_last || n_ >= cfg_.batch,
                strf("loader: %lld samples are fewer than one batch of %d (drop_last)", (long long)n_, cfg_.batch));
}

Loader::~Loader() { stop(); }

int64_t Loader::batches_per_epoch() const { return cfg_.drop_last ? n_ / cfg_.batch : (n_ + cfg_.batch - 1) / cfg_.batch; }

void Loader::stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  slots_.clear();
}

void Loader::start_epoch(int epoch) {
  stop();
  epoch_ = epoch;
  order_.resize(n_);
  std::iota(order_.begin(), order_.end(), 0);
  if (cfg_.shuffle) {
    Rng r(cfg_.seed * 1000003ull + (uint64_t)epoch);
    for (int64_t i = n_ - 1; i > 0; i--) std::swap(order_[i], order_[r.randint(i + 1)]);  // Fisher-Yates
  }
  next_b_ = 0;
  end_b_ = batches_per_epoch();
  stopping_ = false;
  error_ = nullptr;
  slots_.assign(cfg_.workers, Slot{});
  for (int w = 0; w < cfg_.workers; w++) threads_.emplace_back(&Loader::work, this, w);
}

Batch Loader::build(int64_t b) {
  const int64_t local = cfg_.batch / cfg_.ranks;
  const int64_t first = b * cfg_.batch + cfg_.rank * local, count = std::min<int64_t>(local, n_ - first);
  Batch out;
  out.images = Tensor::empty({count, 3, size_, size_});
  Crop c;
  for (int64_t k = 0; k < count; k++) {
    const int64_t pos = first + k, idx = order_[pos];
    Rng rng(cfg_.seed * 0x9E3779B97F4A7C15ull ^ ((uint64_t)epoch_ << 40) ^ (uint64_t)pos);
    make_sample(source_, idx, cfg_.augment, cfg_.aug, cfg_.flip_table, rng, c);
    CHECK_OR_FAIL(c.image.w == size_ && c.image.h == size_, "loader: sample has the wrong size");
    normalize_imagenet(c.image, out.images.data<float>() + k * 3 * size_ * size_);
    out.lms.push_back(c.lms);
    out.index.push_back(idx);
  }
  return out;
}

void Loader::work(int w) {
  const int W = cfg_.workers;
  // the first batch this worker owns at or after next_b_
  int64_t b = next_b_ + ((w - next_b_ % W) % W + W) % W;
  for (; b < end_b_; b += W) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return stopping_ || (int)slots_[w].q.size() < cfg_.prefetch; });
      if (stopping_) return;
    }
    Batch batch;
    try {
      batch = build(b);
    } catch (...) {
      std::lock_guard<std::mutex> l(mu_);
      if (!error_) error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    std::lock_guard<std::mutex> l(mu_);
    slots_[w].q.push_back({b, std::move(batch)});
    cv_.notify_all();
  }
}

bool Loader::next(Batch& out) {
  if (next_b_ >= end_b_) return false;
  const int w = (int)(next_b_ % cfg_.workers);
  std::unique_lock<std::mutex> l(mu_);
  cv_.wait(l, [&] { return error_ || !slots_[w].q.empty(); });
  if (error_) std::rethrow_exception(error_);
  out = std::move(slots_[w].q.front().second);
  slots_[w].q.pop_front();
  next_b_++;
  cv_.notify_all();
  return true;
}
