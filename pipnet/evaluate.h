// evaluate.h: a trained network on a data set: predictions, the scores of metrics.h, and what a person looks at
// (the CED curve, faces with their landmarks drawn).
#pragma once
#include <string>
#include <vector>

#include "data/spec.h"
#include "pipnet/metrics.h"
#include "pipnet/pip.h"

struct TestReport {
  EvalResult merged, unmerged;
  NormSpec norm;
  std::vector<std::vector<float>> pred, gt;  // per image [N*2], normalised crop coordinates
  double seconds_per_image = 0;              // forward + decoding, as the repo times it
};
// `progress`: a progress bar on stderr (pipnet test; training's evaluations run without one).
TestReport run_test(PIPNet& net, const Neighbors& nbr, const Dataset& data, int batch, bool progress = false);

std::string report_json(const TestReport& r, const std::string& data);  // one JSON object
void print_report(const TestReport& r);                                  // the table on stdout
void plot_ced(const std::string& path, const TestReport& r);             // merged and unmerged CED curves, PNG
