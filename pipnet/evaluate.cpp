#include "pipnet/evaluate.h"

#include <chrono>
#include <cstdio>

#include "pipnet/dist.h"
#include "pipnet/plot.h"
#include "pipnet/progress.h"
#include "tensor/fileio.h"

// Under mpirun each rank tests one contiguous slice of the data; the predictions are gathered in the data's order,
// so every rank ends with the report one process would make.
TestReport run_test(PIPNet& net, const Neighbors& nbr, const Dataset& data, int batch, bool progress) {
  ag::NoGradGuard ng;
  const bool was_training = net.is_training();
  net.eval();
  const int R = dist::size(), r = dist::rank();
  const int64_t begin = data.size * r / R, end = data.size * (r + 1) / R;
  TestReport rep;
  std::vector<float> mine;  // [merged N*2, unmerged N*2] per image of this rank's slice
  double seconds = 0;
  if (end > begin) {
    LoaderConfig lc;
    lc.batch = batch;
    lc.shuffle = false;
    lc.drop_last = false;
    lc.augment = false;
    lc.workers = 2;
    const SampleSource& src = data.source;
    Loader loader([&src, begin](int64_t i) { return src(begin + i); }, end - begin, net.cfg.input_size, lc);
    loader.start_epoch(0);
    Batch b;
    Progress bar{"test", end - begin};
    int64_t done = 0;
    while (loader.next(b)) {
      auto t0 = std::chrono::steady_clock::now();
      std::vector<Landmarks> dec = decode(net.run(b.images.to(net.device())), nbr, net.cfg.input_size, net.cfg.net_stride);
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      for (const Landmarks& L : dec) {
        mine.insert(mine.end(), L.merged.begin(), L.merged.end());
        mine.insert(mine.end(), L.unmerged.begin(), L.unmerged.end());
      }
      done += (int64_t)dec.size();
      if (progress && dist::is_root()) bar.update(done, done);
    }
  }
  const std::vector<std::string> all = dist::allgather(
      std::string(reinterpret_cast<const char*>(mine.data()), mine.size() * sizeof(float)), "the test predictions");
  const size_t P = (size_t)data.n_points * 2;
  std::vector<std::vector<float>> unmerged;
  for (const std::string& part : all) {
    const float* f = reinterpret_cast<const float*>(part.data());
    for (size_t k = 0; k + 2 * P <= part.size() / sizeof(float); k += 2 * P) {
      rep.pred.emplace_back(f + k, f + k + P);
      unmerged.emplace_back(f + k + P, f + k + 2 * P);
    }
  }
  CHECK_OR_FAIL((int64_t)rep.pred.size() == data.size, "run_test: the ranks' predictions do not add up to the data set");
  rep.gt = data.labels;
  rep.norm = norm_for(data.n_points);
  rep.merged = evaluate(rep.pred, rep.gt, rep.norm);
  rep.unmerged = evaluate(unmerged, rep.gt, rep.norm);
  double sec_img[2] = {seconds, (double)(end - begin)};
  dist::allreduce_sum(sec_img, 2, "the test timing");
  rep.seconds_per_image = sec_img[0] / std::max(1.0, sec_img[1]);
  net.train(was_training);
  return rep;
}

std::string report_json(const TestReport& r, const std::string& data) {
  auto block = [&](const EvalResult& e) {
    return strf("{\"nme\": %.6f, \"fr_0.1\": %.6f, \"auc_0.1\": %.6f, \"images\": %zu, \"zero_norm_skipped\": %d}",
                e.mean_nme, e.fr, e.auc, e.nme.size(), e.zero_norm);
  };
  return "{\n  \"data\": \"" + json_escape(data) + "\",\n  \"normalisation\": \"" + r.norm.name + "\",\n  \"merged\": " +
         block(r.merged) + ",\n  \"unmerged\": " + block(r.unmerged) +
         strf(",\n  \"ms_per_image\": %.3f\n}\n", 1e3 * r.seconds_per_image);
}

void print_report(const TestReport& r) {
  std::printf("%-10s %8s %9s %9s   (%zu images, norm %s%s)\n", "decoding", "NME %", "FR@0.1 %", "AUC@0.1", r.merged.nme.size(),
              r.norm.name.c_str(), r.merged.zero_norm ? strf(", %d skipped: zero normaliser", r.merged.zero_norm).c_str() : "");
  std::printf("%-10s %8.3f %9.2f %9.4f\n", "merged", 100 * r.merged.mean_nme, 100 * r.merged.fr, r.merged.auc);
  std::printf("%-10s %8.3f %9.2f %9.4f\n", "unmerged", 100 * r.unmerged.mean_nme, 100 * r.unmerged.fr, r.unmerged.auc);
}

void plot_ced(const std::string& path, const TestReport& r) {
  Series m{"merged (NRM)", {}, {}, {200, 30, 30}}, u{"unmerged", {}, {}, {30, 100, 200}};
  for (size_t k = 0; k < r.merged.ced.size(); k++) {
    m.x.push_back(0.1 * k / 1000); m.y.push_back(r.merged.ced[k]);
    u.x.push_back(0.1 * k / 1000); u.y.push_back(r.unmerged.ced[k]);
  }
  plot_png(path, strf("CED  NME %.2f%%  AUC %.3f", 100 * r.merged.mean_nme, r.merged.auc), "NME", "FRACTION", {m, u});
}
