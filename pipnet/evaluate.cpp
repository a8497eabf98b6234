#include "pipnet/evaluate.h"

#include <chrono>
#include <cstdio>

#include "pipnet/plot.h"
#include "pipnet/progress.h"
#include "tensor/fileio.h"

TestReport run_test(PIPNet& net, const Neighbors& nbr, const Dataset& data, int batch, bool progress) {
  ag::NoGradGuard ng;
  const bool was_training = net.is_training();
  net.eval();
  LoaderConfig lc;
  lc.batch = batch;
  lc.shuffle = false;
  lc.drop_last = false;
  lc.augment = false;
  lc.workers = 2;
  Loader loader(data.source, data.size, net.cfg.input_size, lc);
  loader.start_epoch(0);
  TestReport rep;
  std::vector<std::vector<float>> unmerged;
  Batch b;
  double seconds = 0;
  Progress bar{"test", data.size};
  while (loader.next(b)) {
    auto t0 = std::chrono::steady_clock::now();
    std::vector<Landmarks> dec = decode(net.run(b.images.to(net.device())), nbr, net.cfg.input_size, net.cfg.net_stride);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (size_t k = 0; k < dec.size(); k++) {
      rep.pred.push_back(dec[k].merged);
      unmerged.push_back(dec[k].unmerged);
      rep.gt.push_back(data.labels[b.index[k]]);
    }
    if (progress) bar.update((int64_t)rep.pred.size(), (int64_t)rep.pred.size());
  }
  rep.norm = norm_for(data.n_points);
  rep.merged = evaluate(rep.pred, rep.gt, rep.norm);
  rep.unmerged = evaluate(unmerged, rep.gt, rep.norm);
  rep.seconds_per_image = seconds / std::max<size_t>(1, rep.pred.size());
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
