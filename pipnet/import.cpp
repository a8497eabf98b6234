// pipnet import: PyTorch checkpoints (.pth, read natively by tensor/pth.h) into this project's files.
//   an official PIPNet state_dict   -> a run directory (config.txt from the shapes, meanface.txt, model.safetensors)
//   a torchvision ImageNet ResNet   -> OUT/pretrained.safetensors, for `pipnet train --pretrained`
//   the FaceBoxesV2 detector        -> OUT/faceboxes.safetensors
#include <cstdio>

#include "pipnet/cli.h"
#include "pipnet/run.h"
#include "tensor/fileio.h"
#include "tensor/pth.h"

namespace {

// The official mean face for a point count, from ../shared/data/pipnet-meanface (not shipped in this repository).
std::string official_meanface(int n) {
  const char* name = n == 68 ? "data_300W.txt" : n == 98 ? "WFLW.txt" : n == 29 ? "COFW.txt" : n == 19 ? "AFLW.txt"
                     : n == 106 ? "LaPa.txt" : nullptr;
  if (!name) return "";
  const std::string p = std::string(PIPNET_SOURCE_DIR) + "/../shared/data/pipnet-meanface/" + name;
  return path_exists(p) ? p : "";
}

bool has(const TensorFile& f, const std::string& name) { return f.find(name) != nullptr; }

}  // namespace

int cmd_import(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"out", "DIR", "where to write (required)"},
      {"meanface", "FILE", "the mean face a PIPNet was trained with (default: the official one for its point count)"},
      {"input_size", "S", "a PIPNet's input size (not stored in its weights; default 256)"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, false, /*max_positional=*/1);
  if (!a.has("help") && (a.get("out").empty() || a.positional.empty()))
    usage_error("import: usage: pipnet import FILE.pth --out DIR (pipnet import --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet import FILE.pth --out DIR [options]",
                                "  Reads a torch.save file (zip or legacy) without Python and writes, for an official PIPNet\n"
                                "  state_dict, a run directory that test and infer use; for a torchvision ResNet,\n"
                                "  DIR/pretrained.safetensors (train --pretrained); for FaceBoxesV2, DIR/faceboxes.safetensors.\n",
                                opts).c_str());
    return 0;
  }
  const std::string out = a.get("out"), file = a.positional[0];
  if (!is_pth_file(file)) throw Error(file + ": not a PyTorch file (neither a zip archive nor a legacy pickle)");
  TensorFile f = read_weights_file(file);
  if (has(f, "cls_layer.weight")) {  // an official PIPNet
    PipConfig pc = pip_config_from_weights(f.tensors, file, a.get_int("input_size", 256, 32, 4096));
    std::string mf_path = a.get("meanface", official_meanface(pc.num_lms));
    if (mf_path.empty())
      usage_error(strf("import: %s has %d landmarks: give the mean face it was trained with (--meanface FILE)", file.c_str(), pc.num_lms));
    MeanFace mf = MeanFace::load(mf_path);
    if (mf.N != pc.num_lms) throw Error(strf("%s has %d points, the model %d", mf_path.c_str(), mf.N, pc.num_lms));
    TrainConfig cfg;
    cfg.model = pc;
    cfg.run.out = out;
    cfg.data.meanface = mf_path;
    cfg.validate();
    Rng rng(0);
    PIPNet net(pc, rng);
    load_state_dict(net, f.tensors, file);  // every tensor checked before anything is written
    make_dirs(out);
    cfg.save(out + "/config.txt");
    write_meanface(mf, out + "/meanface.txt");
    save_weights(net, out + "/model.safetensors");
    std::printf("%s: PIPNet %s, stride %d, %d landmarks, %d neighbours -> %s (config.txt, meanface.txt, model.safetensors)\n",
                file.c_str(), pc.backbone.c_str(), pc.net_stride, pc.num_lms, pc.num_nb, out.c_str());
    return 0;
  }
  if (has(f, "fc.weight") && has(f, "layer4.0.conv1.weight")) {  // a torchvision classifier: its trunk
    NamedTensors trunk;
    for (auto& [n, t] : f.tensors)
      if (n.rfind("fc.", 0) != 0) trunk.push_back({n, t});
    make_dirs(out);
    write_safetensors(out + "/pretrained.safetensors", trunk, {{"format", "pt"}, {"source", file}});
    std::printf("%s: torchvision ResNet, %zu trunk tensors -> %s/pretrained.safetensors (pipnet train --pretrained)\n",
                file.c_str(), trunk.size(), out.c_str());
    return 0;
  }
  if (has(f, "classifier.1.weight") && has(f, "features.18.0.weight")) {  // a torchvision MobileNetV2: its features
    NamedTensors trunk;
    for (auto& [n, t] : f.tensors)
      if (n.rfind("classifier.", 0) != 0) trunk.push_back({n, t});
    make_dirs(out);
    write_safetensors(out + "/pretrained.safetensors", trunk, {{"format", "pt"}, {"source", file}});
    std::printf("%s: torchvision MobileNetV2, %zu trunk tensors -> %s/pretrained.safetensors (pipnet train --backbone "
                "mobilenetv2 --pretrained)\n", file.c_str(), trunk.size(), out.c_str());
    return 0;
  }
  if (has(f, "conv1.conv.weight") && has(f, "inception1.branch1x1.conv.weight")) {  // FaceBoxesV2
    make_dirs(out);
    write_safetensors(out + "/faceboxes.safetensors", f.tensors, {{"format", "pt"}, {"source", file}});
    std::printf("%s: FaceBoxesV2, %zu tensors -> %s/faceboxes.safetensors\n", file.c_str(), f.tensors.size(), out.c_str());
    return 0;
  }
  throw Error(file + ": neither a PIPNet, a torchvision ResNet or MobileNetV2 nor FaceBoxesV2 state_dict (first tensor '" +
              (f.tensors.empty() ? std::string() : f.tensors[0].first) + "')");
}

// pipnet export RUN --out DIR [--float16]: a run's model as a run directory of three files (config.txt,
// meanface.txt, model.safetensors) to ship, its float32 weights optionally stored as float16 (half the size; the
// engine reads them back into float32 and computes in float32).
int cmd_export(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"out", "DIR", "where to write (required; not the run itself)"},
      {"float16", nullptr, "store the weights as float16"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts, false, /*max_positional=*/1);
  if (!a.has("help") && (a.get("out").empty() || a.positional.empty()))
    usage_error("export: usage: pipnet export RUN --out DIR [--float16] (pipnet export --help)");
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet export RUN --out DIR [--float16]",
                                "  Writes the run's model alone (config.txt, meanface.txt, model.safetensors), the weights as\n"
                                "  float16 with --float16, for infer and test to use like any run.\n", opts).c_str());
    return 0;
  }
  const std::string run_dir = a.positional[0], out = a.get("out");
  if (is_directory(out) && same_file(out, run_dir)) usage_error("export: --out " + out + " is the run itself");
  LoadedRun r = load_run(run_dir, "", "cpu");
  make_dirs(out);
  r.cfg.save(out + "/config.txt");
  write_meanface(r.meanface, out + "/meanface.txt");
  write_safetensors(out + "/model.safetensors", r.net->state_dict(), {{"format", "pt"}, {"source", run_dir}}, "",
                    a.has("float16"));
  std::printf("%s -> %s (config.txt, meanface.txt, model.safetensors%s)\n", run_dir.c_str(), out.c_str(),
              a.has("float16") ? " in float16" : "");
  return 0;
}
