// bench_loader: samples per second through the data path (decode, crop, augment, normalise, batch) with 1 and 2
// workers, on ../shared/data/lfw68 (the 300W path) when present, and on the built-in synthetic faces.
//   bench_loader [--batches N] [--input 256]
#include <sys/stat.h>

#include <chrono>
#include <cstdio>

#include "bench/bench_common.h"
#include "data/loader.h"
#include "data/spec.h"

int main(int argc, char** argv) {
  const int batches = bench::arg_int(argc, argv, "--batches", 12), input = bench::arg_int(argc, argv, "--input", 256);
  std::vector<std::pair<std::string, std::string>> sets = {{"synthetic faces", "synth:2000"}};
  struct stat st;
  const std::string lfw = std::string(PIPNET_SOURCE_DIR) + "/../shared/data/lfw68/train";
  if (stat(lfw.c_str(), &st) == 0) sets.insert(sets.begin(), {"lfw68 (300W layout, JPEG)", "300w:" + lfw});
  else std::printf("(../shared/data/lfw68 absent: synthetic faces only)\n");
  for (auto& [name, spec] : sets) {
    Dataset d = open_dataset(spec, input, 1.1f, 1);
    for (int workers : {1, 2}) {
      LoaderConfig lc;
      lc.batch = 16;
      lc.workers = workers;
      lc.flip_table = flip_table(68);
      Loader loader(d.source, d.size, input, lc);
      loader.start_epoch(0);
      Batch b;
      loader.next(b);  // warm-up
      auto t0 = std::chrono::steady_clock::now();
      int n = 0;
      for (int i = 0; i < batches && loader.next(b); i++) n += (int)b.index.size();
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::printf("%-28s %dx%d, augmented, %d worker%s: %7.1f samples/s\n", name.c_str(), input, input, workers,
                  workers > 1 ? "s" : "", n / s);
      bench::result_line(strf("{\"bench\":\"loader\",\"data\":\"%s\",\"input\":%d,\"workers\":%d,\"samples_per_s\":%.1f}",
                              name.c_str(), input, workers, n / s));
    }
  }
  return 0;
}
