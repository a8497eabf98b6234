// progress.h: a progress bar on stderr with the rate and the time left. On a terminal it redraws one line; in a
// log file it writes a line per tenth of the way.
#pragma once
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

struct Progress {
  std::string label;
  int64_t total;
  const char* unit = "img/s";
  std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
  bool tty = isatty(2);
  int last_decile = -1;

  // done of total steps, `items` processed so far (for the rate), and a short text such as the running loss
  void update(int64_t done, int64_t items, const std::string& extra = "") {
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double rate = s > 0 ? items / s : 0, eta = done > 0 ? s / done * (total - done) : 0;
    const int width = 24, fill = (int)(width * done / std::max<int64_t>(total, 1));
    const int decile = (int)(10 * done / std::max<int64_t>(total, 1));
    if (!tty && decile == last_decile && done != total) return;
    last_decile = decile;
    std::fprintf(stderr, "%s%s [%s%s] %lld/%lld %s %.1f %s ETA %02d:%02d%s", tty ? "\r" : "", label.c_str(),
                 std::string(fill, '#').c_str(), std::string(width - fill, '.').c_str(), (long long)done,
                 (long long)total, extra.c_str(), rate, unit, (int)eta / 60, (int)eta % 60, tty ? "  " : "\n");
    if (tty && done == total) std::fprintf(stderr, "\n");
  }
};
