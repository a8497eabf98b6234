// pipnet bench: inference latency and FPS at batch 1, inference and training images/s at larger batches, per
// backbone, beside PyTorch on the same threads and shapes (the paper's Table 8 columns). The protocol is
// bench/protocol.h's: each batch size's output is checked against the batch-1 path before it is timed, a warm-up
// call, then the median of the timed calls (b=1: as many as fill 2 s, with their min-max printed).
#include <omp.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <cstdio>
#include <functional>
#include <optional>
#include <sstream>

#include "bench/peer_process.h"
#include "bench/protocol.h"
#include "data/synth.h"
#include "kernels/cpu/gemm.h"
#include "kernels/dispatch.h"
#include "kernels/graph.h"
#include "layers/optim.h"
#include "pipnet/cli.h"
#include "pipnet/detector.h"
#include "pipnet/landmarks.h"
#include "pipnet/run.h"
#include "tensor/fileio.h"
#include "tensor/rng.h"
#include "tensor/safetensors.h"

namespace {

// The neighbours a 68-point PIP Net decodes with, from a synthetic mean face at S x S (speed does not depend on it).
Neighbors bench_neighbors(int S) {
  MeanFace mf;
  mf.N = 68;
  mf.xy = synth_landmarks(1, 0, S);
  return Neighbors::from_meanface(mf, 10);
}
int64_t parameter_count(Module& net) {
  int64_t n = 0;
  for (auto& [name, t] : net.named_parameters()) n += t.numel();
  return n;
}


// The face detector on one frame: FaceBoxesV2 (random weights: the time does not depend on them) plus decoding and
// NMS, ms per frame. Validated first: the float heads against the same network in double on the reference kernels.
int bench_detector(int W, int H, Device dev) {
  Rng rng(0);
  FaceBoxesV2 net(rng);
  net.eval();
  for (auto& [n, t] : net.state_dict())  // plausible BN statistics, so activations stay in range
    if (n.find("running_var") != std::string::npos) t.fill_(4.0);
  Image frame(W, H);
  Rng px(1);
  for (auto& v : frame.px) v = (uint8_t)px.randint(256);
  const Tensor x = FaceDetector::input_of(frame);
  ag::NoGradGuard ng;
  FaceBoxesOutput want;
  {
    Rng r2(0);
    FaceBoxesV2 ref(r2);
    ref.eval();
    load_state_dict(ref, net.state_dict(), "bench");
    ref.to(DType::F64);
    want = ref.run(x.to(DType::F64));
  }
  net.fold_batchnorms();
  net.to(dev);
  const Tensor xd = x.to(dev);
  FaceBoxesOutput got = net.run(xd);
  for (int k = 0; k < 3; k++) {
    const std::vector<float> g = got.conf[k].to_vector(), w = want.conf[k].to_vector();
    if (!bench::validate(strf("FaceBoxes conf.%d, float vs the reference in double", k), g.data(), w.data(), w.size(), 1e-3, 1e-3))
      throw Error("pipnet bench: the detector disagrees with the reference: not timed");
  }
  std::vector<FaceBox> all;
  DetectOptions o;
  const bench::Timing t = bench::time_for([&] {
    Tensor xi = FaceDetector::input_of(frame);
    decode_faceboxes(net.run(dev == Device::CPU ? xi : xi.to(dev)), H, W, all);
    select_faces(all, o);
  }, 2.0);
  std::printf("FaceBoxesV2 detector, %dx%d frame, %s, %d threads: %.2f ms per frame (median of %d, min-max %s ms), "
              "%.1f frames/s; input conversion, network, decoding and NMS included\n",
              W, H, dev == Device::CUDA ? "cuda" : "cpu", omp_get_max_threads(), t.median_ms, t.reps, t.spread().c_str(),
              1e3 / t.median_ms);
  std::printf("RESULT {\"bench\":\"detector\",\"width\":%d,\"height\":%d,\"device\":\"%s\",\"ms\":%.3f}\n", W, H,
              dev == Device::CUDA ? "cuda" : "cpu", t.median_ms);
  return 0;
}

// End to end on a real image: FaceBoxesV2 with its real weights, then the landmark network on every face found, as
// `pipnet infer` runs them (pipnet/landmarks.h). Median ms per frame of the whole, of the detector within it, and
// the whole divided by the faces: ms per face with the detector's share included.
int bench_end_to_end(const std::string& image, const std::string& run_dir, const std::string& weights, Device dev) {
  const Image im = load_image(image);
  LoadedRun run = load_run(run_dir, "", dev == Device::CUDA ? "cuda" : "cpu");
  run.net->fold_batchnorms();
  FaceDetector det(weights, dev);
  ag::NoGradGuard ng;
  LandmarkRunner lm(run);
  DetectOptions o;
  size_t faces = find_landmarks(im, det, o, lm).size();  // warm-up, and the face count
  if (faces == 0) throw Error(image + ": no face found, nothing to time end to end (use a photo with a face)");
  // Each call timed whole and split: the detector's share from the same call, so the two medians are comparable.
  std::vector<double> total_ms, det_ms, face_ms;
  const auto start = std::chrono::steady_clock::now();
  while (total_ms.size() < 5 || (total_ms.size() < 200 &&
                                 std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() < 3.0)) {
    const auto t0 = std::chrono::steady_clock::now();
    faces = find_landmarks(im, det, o, lm).size();
    total_ms.push_back(1e3 * std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    det_ms.push_back(det.last_ms());
    face_ms.push_back((total_ms.back() - det_ms.back()) / std::max<size_t>(faces, 1));
  }
  const bench::Timing t = bench::summarize(total_ms);
  const double d = bench::summarize(det_ms).median_ms, per_face = bench::summarize(face_ms).median_ms;
  std::printf("end to end on %s (%dx%d, %zu face%s, %s, %d threads, landmarks: %s %dx%d): %.2f ms per frame (median "
              "of %d, min-max %s ms) = detector %.2f ms + landmarks %.2f ms per face; %.2f ms per face with the "
              "detector's share\n",
              image.c_str(), im.w, im.h, faces, faces == 1 ? "" : "s", dev == Device::CUDA ? "cuda" : "cpu",
              omp_get_max_threads(), run.cfg.model.backbone.c_str(), run.cfg.model.input_size, run.cfg.model.input_size,
              t.median_ms, t.reps, t.spread().c_str(), d, per_face, t.median_ms / faces);
  std::printf("RESULT {\"bench\":\"end_to_end\",\"width\":%d,\"height\":%d,\"faces\":%zu,\"device\":\"%s\","
              "\"ms_frame\":%.3f,\"ms_detector\":%.3f,\"ms_landmarks_per_face\":%.3f,\"ms_per_face\":%.3f}\n",
              im.w, im.h, faces, dev == Device::CUDA ? "cuda" : "cpu", t.median_ms, d, per_face, t.median_ms / faces);
  return 0;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  const std::vector<Option> opts = {
      {"backbones", "LIST", "comma-separated: resnet18/34/50/101, mobilenetv2 (default resnet18,resnet50)"},
      {"heads", "LIST", "pip (default; the full bench), coord, map4, map2, map1: the others inference only, no peers"},
      {"input", "S", "input size (default 256)"},
      {"batches", "LIST", "batch sizes for throughput, e.g. 16,64 (default 16)"},
      {"device", "cpu|cuda", "where to run (default cpu)"},
      {"threads", "N", "compute threads (0: all cores)"},
      {"no_peers", nullptr, "skip the peers (PyTorch eager, PyTorch channels_last + freeze, ONNX Runtime)"},
      {"rounds", "N", "inference timed N times in turn with the peers, medians reported (default 3; 1 without peers)"},
      {"pairs", "N", "then ours and ONNX Runtime in N alternated pairs, each side ~0.5 s a pair (default 8; 0: none)"},
      {"no_torch", nullptr, "the old name of --no-peers"},
      {"detector", nullptr, "time the face detector instead (FaceBoxesV2, decoding and NMS) on one --frame"},
      {"frame", "WxH", "the detector's frame size (default 640x480)"},
      {"end_to_end", "IMAGE", "time detector plus landmarks on a photo, per frame and per face"},
      {"run", "DIR", "--end-to-end: the landmark model (default: models/pipnet_r18_lfw68)"},
      {"detector_weights", "FILE", "--end-to-end: FaceBoxesV2 weights (default as pipnet infer --detector)"},
      {"verbose", nullptr, "print each network's layers and the kernel chosen for each op"},
      {"profile", nullptr, "after the timings, a per-layer profile of each: ms per op and shapes, largest first"},
      {"help", nullptr, "this text"}};
  Args a = parse_args(argc, argv, opts);
  if (a.has("help")) {
    std::printf("%s", help_text("pipnet bench [--backbones resnet18,resnet50] [--input 256] [--batches 16] [options]",
                                "  Inference latency and FPS at batch 1 (eval, BN folded, no grad, decoding included; on CUDA a\n"
                                "  captured graph replayed), inference and training images/s at each of --batches, per backbone;\n"
                                "  beside the peers (tools/bench_peers.py: PyTorch eager, PyTorch channels_last + TorchScript\n"
                                "  freeze, ONNX Runtime), run on the same weights, shapes and threads after their outputs on one\n"
                                "  image are checked against ours, in --rounds rounds (3) that time ours, then theirs, then our\n"
                                "  batch 1 again (a round's batch 1: the mean of before and after the peers); medians over the\n"
                                "  rounds (the peers' training: the last round's), and each ratio's range; then ours and ONNX\n"
                                "  Runtime head to head in --pairs alternated pairs (8), a second or two apart: the ratio's\n"
                                "  median and range over the pairs;\n"
                                "  tools/install_deps.sh --ref installs them.\n",
                                opts).c_str());
    return 0;
  }
  set_threads(a);
  if (!a.get("end_to_end").empty()) {
    const std::string run = a.get("run").empty() ? default_run() : a.get("run");
    if (run.empty()) usage_error("bench: --end-to-end needs --run DIR (no shipped model in models/pipnet_r18_lfw68)");
    if (!path_exists(a.get("end_to_end"))) usage_error("bench: --end-to-end " + a.get("end_to_end") + ": no such image");
    return bench_end_to_end(a.get("end_to_end"), run, detector_weights(a.get("detector_weights"), "bench"),
                            device_of(a.get("device", "cpu")));
  }
  if (a.has("detector")) {
    int W = 640, H = 480;
    const std::string f = a.get("frame", "640x480");
    if (std::sscanf(f.c_str(), "%dx%d", &W, &H) != 2 || W < 1 || H < 1 || W > 8192 || H > 8192 ||
        f != strf("%dx%d", W, H))
      usage_error("bench: --frame '" + f + "': expected WIDTHxHEIGHT, such as 640x480");
    return bench_detector(W, H, device_of(a.get("device", "cpu")));
  }
  const int S = a.get_int("input", 256, 32, 4096), threads = omp_get_max_threads();
  if (S % 32) usage_error(strf("bench: --input %d: expected a multiple of 32", S));
  const std::string device = a.get("device", "cpu");
  const Device dev = device_of(device);  // timings read results back to the host, so they include the device's work
  std::vector<std::string> bbs;
  {
    std::stringstream ss(a.get("backbones", "resnet18,resnet50"));
    for (std::string t; std::getline(ss, t, ',');) {
      if (t != "mobilenetv2") ResNetConfig::named(t);  // an Error naming an unknown backbone
      bbs.push_back(t);
    }
    if (bbs.empty()) usage_error("bench: --backbones '" + a.get("backbones") + "': expected names such as resnet18,resnet50");
  }
  const std::vector<int> batches = a.get_ints("batches", "16", 1, 4096);
  std::vector<std::string> heads;
  {
    std::stringstream ss(a.get("heads", "pip"));
    for (std::string t; std::getline(ss, t, ',');) {
      if (t != "pip" && t != "coord" && t != "map4" && t != "map2" && t != "map1")
        usage_error("bench: --heads '" + t + "': expected pip, coord, map4, map2 or map1");
      heads.push_back(t);
    }
  }
  const bool peers = !a.has("no_peers") && !a.has("no_torch");
  const int rounds = a.get_int("rounds", peers ? 3 : 1, 1, 20);
  std::printf("pipnet bench: %dx%d input, 68 landmarks, nb 10, stride 32, %s, %d threads, sgemm %s\n", S, S,
              device.c_str(), threads, cpu::gemm_active().name);
  // --profile: `runs` more calls of `work`, timed per op (kernels/dispatch.h), printed under `title`
  auto profile = [&](const std::string& title, int runs, const std::function<void()>& work) {
    if (!a.has("profile")) return;
    kern::profile_begin();
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < runs; i++) work();
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("profile: %s, %.3f ms per run (%d runs)\n%s", title.c_str(), 1e3 * wall / runs, runs,
                kern::profile_end(wall, runs).c_str());
  };
  std::string head = strf("%-12s %-18s %10s %8s", "backbone", "engine", "b=1 ms", "FPS");
  std::string spread1;  // min-max of the last batch-1 timing
  for (int b : batches) head += strf(" %11s", strf("img/s b=%d", b).c_str());
  for (int b : batches) head += strf(" %13s", strf("train b=%d", b).c_str());
  std::printf("%s\n", head.c_str());
  std::string json = "[";
  auto row = [&](const std::string& bb, const char* engine, const std::vector<double>& v) {  // ms, fps, ips..., train...
    std::string line = strf("%-12s %-18s %10.2f %8.1f", bb.c_str(), engine, v[0], v[1]);
    for (size_t i = 0; i < batches.size(); i++) line += strf(" %11.1f", v[2 + i]);
    for (size_t i = 0; i < batches.size(); i++)
      line += std::isnan(v[2 + batches.size() + i]) ? strf(" %13s", "-") : strf(" %13.1f", v[2 + batches.size() + i]);
    json += strf("%s{\"backbone\":\"%s\",\"engine\":\"%s\",\"device\":\"%s\",\"ms_b1\":%.3f,\"fps_b1\":%.2f",
                 json.size() > 1 ? "," : "", bb.c_str(), engine, device.c_str(), v[0], v[1]);
    auto num = [](double d) { return std::isnan(d) ? std::string("null") : strf("%.2f", d); };  // JSON has no NaN
    for (size_t i = 0; i < batches.size(); i++)
      json += strf(",\"ips_b%d\":%s,\"train_ips_b%d\":%s", batches[i], num(v[2 + i]).c_str(), batches[i],
                   num(v[2 + batches.size() + i]).c_str());
    json += "}";
    return line;
  };
  // The baseline heads (Table 8's Map Net rows, Coord Net): inference only, each batch size validated against
  // batch 1 as below. A ROW line per network for tools/reproduce.sh table8: name, parameters, b=1 ms, FPS.
  auto bench_baseline = [&](const std::string& bb, const std::string& head) {
    const std::string name = bb + "/" + head;
    PipConfig pc{bb, 64, 68, 10, S, 32};
    pc.head = head == "coord" ? "coord" : "map";
    if (head != "coord") pc.net_stride = head[3] - '0';
    try { check_config(pc); } catch (const Error& e) { std::printf("%-18s (not built: %s)\n", name.c_str(), e.what()); return; }
    Rng rng(0);
    PIPNet net(pc, rng);
    net.to(dev);
    const int64_t params = parameter_count(net);
    const Neighbors nbr = bench_neighbors(S);
    net.eval();
    net.fold_batchnorms();
    ag::NoGradGuard ng;
    Tensor x1 = Tensor::full({1, 3, S, S}, 0.1, DType::F32, dev);
    PipOutput out1;
    Replay replay(dev, [&] { out1 = net.run(x1); });
    auto first = [&](const PipOutput& o) { return (head == "coord" ? o.coords : o.heatmaps).to_vector(); };
    const std::vector<float> ref1 = first(out1);
    const bench::Timing t1 = bench::time_for([&] { replay.run(); decode(out1, nbr, S, pc.net_stride); }, dev == Device::CUDA ? 1.0 : 2.0);
    std::vector<double> v = {t1.median_ms, 1e3 / t1.median_ms};
    for (int B : batches) {
      Tensor xb = Tensor::full({B, 3, S, S}, 0.1, DType::F32, dev);
      const std::vector<float> got = first(net.run(xb));
      std::vector<float> want;
      for (int b = 0; b < B; b++) want.insert(want.end(), ref1.begin(), ref1.end());
      if (!bench::validate(strf("%s outputs, b=%d vs b=1", name.c_str(), B), got.data(), want.data(), want.size(), 1e-5, 1e-3))
        throw Error(strf("pipnet bench: %s at batch %d disagrees with batch 1: not timed", name.c_str(), B));
      const bench::Timing t = bench::time_it([&] { decode(net.run(xb), nbr, S, pc.net_stride); }, 0, dev == Device::CUDA ? 20 : 3);
      v.push_back(B / t.median_s());
    }
    for (size_t i = 0; i < batches.size(); i++) v.push_back(NAN);  // no training column for the baselines
    std::printf("%s   (b=1 min-max %s ms)\n", row(bb, head.c_str(), v).c_str(), t1.spread().c_str());
    std::printf("ROW %s %.2fM %.2f %.1f\n", name.c_str(), params / 1e6, t1.median_ms, 1e3 / t1.median_ms);
  };
  for (const std::string& bb : bbs) {
    for (const std::string& h : heads)
      if (h != "pip") bench_baseline(bb, h);
    if (std::find(heads.begin(), heads.end(), "pip") == heads.end()) continue;
    Rng rng(0);
    const PipConfig pc{bb, 64, 68, 10, S, 32};
    PIPNet net(pc, rng);
    net.to(dev);
    if (a.has("verbose")) std::printf("%s\n", summary(net, Shape{1, 3, S, S}).c_str());
    MeanFace mf;
    mf.N = 68;
    mf.xy = synth_landmarks(1, 0, S);
    Neighbors nbr = Neighbors::from_meanface(mf, 10);
    // what the peers need: our initial weights, one random image and our eval-mode outputs on it
    const std::string peer_dir = strf("/tmp/pipnet_bench_%d_%s", (int)getpid(), bb.c_str());
    if (peers) {
      make_dirs(peer_dir);
      save_weights(net, peer_dir + "/weights.safetensors");
      net.eval();
      ag::NoGradGuard ng;
      Tensor x = Tensor::empty({1, 3, S, S});
      init_normal(x, rng, 0, 1);
      PipOutput o = net.run(x.to(dev));
      write_safetensors(peer_dir + "/check.safetensors", {{"input", x}, {"out.cls", o.cls}, {"out.x", o.x}, {"out.y", o.y},
                                                          {"out.nb_x", o.nb_x}, {"out.nb_y", o.nb_y}});
    }
    // training images/s at each batch size, on a twin of the network (the same seed: the same weights), so that
    // inference below runs the weights the peers run (after training, eval-mode BatchNorm would map these constant
    // images to about zero: not what a trained network sees)
    Rng twin_rng(0);
    PIPNet twin(pc, twin_rng);
    twin.to(dev);
    twin.train();
    Adam opt(twin.parameters(), 1e-4);
    // Each batch's training step, timed in every round below (three steps a round, after one step here to warm
    // up), so that its figure is a median over the rounds like inference's rather than one round's.
    std::vector<Tensor> train_x;
    std::vector<PipTargets> train_t;
    for (int B : batches) {
      train_x.push_back(Tensor::full({B, 3, S, S}, 0.1, DType::F32, dev));
      train_t.push_back(make_targets(std::vector<std::vector<float>>(B, mf.xy), nbr, pc.grid()));
    }
    auto train_step = [&](size_t i) {
      opt.zero_grad();
      PipLoss L = pip_loss(twin.run(train_x[i]), train_t[i], PipLossConfig{});
      ag::backward(L.total);  // reads the loss back: the step's device work is done when this returns
      opt.step();
    };
    for (size_t i = 0; i < batches.size(); i++) {
      train_step(i);
      profile(strf("%s training step, batch %d", bb.c_str(), batches[i]), 2, [&] { train_step(i); });
    }
    // inference: batch 1 through Replay (a CUDA graph on the GPU), the batches eagerly
    net.eval();
    net.fold_batchnorms();
    std::optional<ag::NoGradGuard> ng;  // inference from here on, but for the training steps in the rounds
    ng.emplace();
    auto time_training = [&] {  // images/s of each batch's training step, with gradients on for it
      ng.reset();
      std::vector<double> ips;
      for (size_t i = 0; i < batches.size(); i++)
        ips.push_back(batches[i] / bench::time_it([&] { train_step(i); }, /*warmup=*/0, /*reps=*/3).median_s());
      ng.emplace();
      return ips;
    };
    Tensor x1 = Tensor::full({1, 3, S, S}, 0.1, DType::F32, dev);
    PipOutput out1;
    Replay replay(dev, [&] { out1 = net.run(x1); });
    decode(out1, nbr, S, pc.net_stride);
    const std::vector<float> ref1 = out1.cls.to_vector();  // the batch-1 path's score maps, to check the batches by
    std::vector<Tensor> xbs;
    for (int B : batches) {
      Tensor xb = Tensor::full({B, 3, S, S}, 0.1, DType::F32, dev);
      // validate before timing: every image of the batch (all the same) scores as the batch-1 path does
      const std::vector<float> cls = net.run(xb).cls.to_vector();
      std::vector<float> want;
      for (int b = 0; b < B; b++) want.insert(want.end(), ref1.begin(), ref1.end());
      if (!bench::validate(strf("%s score maps, b=%d vs b=1", bb.c_str(), B), cls.data(), want.data(), want.size(), 1e-5, 1e-3))
        throw Error(strf("pipnet bench: %s at batch %d disagrees with batch 1: not timed", bb.c_str(), B));
      xbs.push_back(xb);
    }
    // Rounds: our inference and training timings, then the peers' (tools/bench_peers.py, inference; their training,
    // minutes for PyTorch eager's ResNet-50, in the last round only), then our batch 1 again, `rounds` times in turn,
    // so that a slow spell of this shared machine falls on every engine alike rather than on whichever ran in it. Each
    // figure is the median over the rounds; the ratios' spread is over the rounds.
    struct Engine {
      std::string name, agree;
      std::vector<std::vector<double>> v;  // per round: ms, min, max, ips..., train...
    };
    std::vector<Engine> engines = {{"pipnet", "", {}}};
    std::vector<std::string> notes;  // peers that disagree or are unavailable
    auto time_b1_for = [&](double seconds) {
      return bench::time_for([&] {
        replay.run();
        decode(out1, nbr, S, pc.net_stride);
      }, seconds);
    };
    auto time_b1 = [&] { return time_b1_for(dev == Device::CUDA ? 1.0 : 2.0); };
    for (int r = 0; r < rounds; r++) {
      const bench::Timing t1 = time_b1();
      std::vector<double> v = {t1.median_ms, t1.min_ms, t1.max_ms};
      for (size_t i = 0; i < batches.size(); i++) {
        const bench::Timing t = bench::time_it([&] { decode(net.run(xbs[i]), nbr, S, pc.net_stride); }, 0,
                                               dev == Device::CUDA ? 20 : 3);
        v.push_back(batches[i] / t.median_s());
      }
      const std::vector<double> train_ips = time_training();
      v.insert(v.end(), train_ips.begin(), train_ips.end());
      engines[0].v.push_back(v);
      if (!peers) continue;
      const bool last = r + 1 == rounds;
      const std::string cmd = strf("/usr/bin/python3 %s/tools/bench_peers.py --dir %s --backbone %s --input %d --threads %d "
                                   "--device %s --batches %s --reps 3%s 2>&1", PIPNET_SOURCE_DIR, peer_dir.c_str(), bb.c_str(), S,
                                   threads, device.c_str(), a.get("batches", "16").c_str(), last ? "" : " --no-train");
      if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[4096];
        while (std::fgets(buf, sizeof buf, p)) {
          std::stringstream ls(buf);
          std::string tag, name, first;
          ls >> tag >> name >> first;
          if (tag != "PEER") continue;
          if (first == "disagrees" || first == "unavailable") {
            std::string why;
            std::getline(ls, why);
            const std::string note = strf("%-12s %-18s (%s:%s)", bb.c_str(), name.c_str(), first.c_str(), why.c_str());
            if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
            continue;
          }
          std::vector<double> tv;  // ms, min, max, ips..., train...
          for (std::string t; ls >> t;) tv.push_back(t == "nan" ? NAN : std::atof(t.c_str()));
          if (tv.size() != 3 + 2 * batches.size()) continue;
          auto it = std::find_if(engines.begin(), engines.end(), [&](const Engine& e) { return e.name == name; });
          if (it == engines.end()) it = engines.insert(engines.end(), Engine{name, first, {}});
          it->v.push_back(tv);
        }
        pclose(p);
      }
      // Our batch 1 once more, now, right after the peers (ONNX Runtime, the last of them, a few seconds ago): the
      // round's figure is the mean of the two medians, before and after the peers, so that a slow or fast spell of
      // the machine while they ran weighs on ours as well. (Our batch 1 and theirs were otherwise a minute apart.)
      const bench::Timing t1b = time_b1();
      v[0] = 0.5 * (t1.median_ms + t1b.median_ms);
      v[1] = std::min(t1.min_ms, t1b.min_ms), v[2] = std::max(t1.max_ms, t1b.max_ms);
      engines[0].v.back() = v;
      // each round's ratios, as they come
      std::string line = strf("%-12s round %d of %d: ours b=1 %.2f ms", bb.c_str(), r + 1, rounds, v[0]);
      for (size_t e = 1; e < engines.size(); e++)
        if ((int)engines[e].v.size() == r + 1)
          line += strf("; %s %.2f ms (ours / it %.2fx, b=%d %.2fx)", engines[e].name.c_str(), engines[e].v[r][0],
                       engines[e].v[r][0] / v[0], batches[0], v[3] / engines[e].v[r][3]);
      std::printf("%s\n", line.c_str());
    }
    auto median = [](std::vector<double> x) {
      std::sort(x.begin(), x.end());
      return x.empty() ? NAN : x.size() % 2 ? x[x.size() / 2] : 0.5 * (x[x.size() / 2 - 1] + x[x.size() / 2]);
    };
    // Head to head with ONNX Runtime (where it ran and agreed): ours and its, in turn, in `pairs` pairs of about half a
    // second a side (a batch-16 side: 3 calls), the order swapped every pair, its session kept open in a process of
    // its own (tools/bench_ort.js --serve). The rounds above time the two a minute apart, and this machine's speed
    // drifts by a third within minutes; here each pair's ratio compares two timings a second or two apart.
    std::string h2h;
    const int n_pairs = a.get_int("pairs", 8, 0, 100);
    const bool ort_agreed = std::any_of(engines.begin(), engines.end(), [](const Engine& e) { return e.name == "onnxruntime"; });
    if (peers && dev == Device::CPU && n_pairs > 0 && ort_agreed) {
      bench::PeerProcess ort({"node", std::string(PIPNET_SOURCE_DIR) + "/tools/bench_ort.js", peer_dir + "/model.onnx",
                       peer_dir + "/check_input.f32", std::to_string(S), std::to_string(threads), "--serve"});
      std::vector<std::vector<double>> ratio(1 + batches.size()), ours_ms(ratio.size()), its_ms(ratio.size());
      for (size_t i = 0; i < ratio.size(); i++) ort.ask(strf("%d 0.2", i == 0 ? 1 : batches[i - 1]));  // a warm-up each
      for (int p = 0; p < n_pairs && !h2h.size(); p++)
        for (size_t i = 0; i < ratio.size(); i++) {
          const int B = i == 0 ? 1 : batches[i - 1];
          auto mine = [&] {
            return i == 0 ? time_b1_for(0.5).median_ms
                          : bench::time_it([&] { decode(net.run(xbs[i - 1]), nbr, S, pc.net_stride); }, 0, 3).median_ms;
          };
          double m = NAN, t = NAN;
          if (p % 2 == 0) m = mine();
          const std::string reply = ort.ask(strf("%d 0.5", B));
          if (p % 2 == 1) m = mine();
          if (reply.empty() || !(t = std::atof(reply.c_str())) || !(t > 0)) {
            h2h = strf("%-12s head to head with onnxruntime stopped: tools/bench_ort.js --serve did not answer", bb.c_str());
            break;
          }
          ratio[i].push_back(t / m), ours_ms[i].push_back(m), its_ms[i].push_back(t);
        }
      if (h2h.empty()) {
        h2h = strf("%-12s head to head with onnxruntime, %d pairs in turn (ours / it, throughput; median [min-max]):",
                   bb.c_str(), n_pairs);
        for (size_t i = 0; i < ratio.size(); i++) {
          const auto [lo, hi] = std::minmax_element(ratio[i].begin(), ratio[i].end());
          h2h += strf("%s b=%d %.2fx [%.2f-%.2f] (%.2f / %.2f ms)", i ? ";" : "", i == 0 ? 1 : batches[i - 1],
                      median(ratio[i]), *lo, *hi, median(ours_ms[i]), median(its_ms[i]));
          json += strf("%s{\"backbone\":\"%s\",\"pairs_with\":\"onnxruntime\",\"batch\":%d,\"pairs\":%d,\"ratio\":%.3f,"
                       "\"ratio_min\":%.3f,\"ratio_max\":%.3f}", json.size() > 1 ? "," : "", bb.c_str(),
                       i == 0 ? 1 : batches[i - 1], n_pairs, median(ratio[i]), *lo, *hi);
        }
      }
    }
    profile(strf("%s inference, batch 1", bb.c_str()), 20, [&] {
      replay.run();
      decode(out1, nbr, S, pc.net_stride);
    });
    for (size_t i = 0; i < batches.size(); i++)
      profile(strf("%s inference, batch %d", bb.c_str(), batches[i]), 2,
              [&] { decode(net.run(xbs[i]), nbr, S, pc.net_stride); });
    // medians over the rounds: ms, fps, ips..., train... (the peers' training: the last round's, the one that ran it)
    auto summary_of = [&](const Engine& e) {
      std::vector<double> col;
      for (const auto& rv : e.v) col.push_back(rv[0]);
      const double ms = median(col);
      std::vector<double> out = {ms, 1e3 / ms};
      for (size_t i = 0; i < 2 * batches.size(); i++) {
        if (i >= batches.size() && &e != &engines[0]) {  // a peer's training: from the round that ran it
          out.push_back(e.v.back()[3 + i]);
          continue;
        }
        col.clear();
        for (const auto& rv : e.v) col.push_back(rv[3 + i]);
        out.push_back(median(col));
      }
      return out;
    };
    auto spread_of = [&](const Engine& e) {  // min-max of batch 1 over all rounds
      double lo = INFINITY, hi = 0;
      for (const auto& rv : e.v) lo = std::min(lo, rv[1]), hi = std::max(hi, rv[2]);
      return strf("%.3g-%.3g", lo, hi);
    };
    const std::vector<double> v = summary_of(engines[0]);
    spread1 = spread_of(engines[0]);
    std::printf("%s   (b=1 min-max %s ms%s)\n", row(bb, "pipnet", v).c_str(), spread1.c_str(),
                rounds > 1 ? strf("; medians of %d rounds", rounds).c_str() : "");
    std::printf("ROW %s/pip %.2fM %.2f %.1f\n", bb.c_str(), parameter_count(net) / 1e6, v[0], v[1]);
    for (size_t e = 1; e < engines.size(); e++) {
      const std::vector<double> pv = summary_of(engines[e]);
      std::string ratio = "   (ours / peer:";
      for (size_t i = 1; i < v.size(); i++) {
        ratio += std::isnan(pv[i]) ? std::string(" -") : strf(" %.2fx", v[i] / pv[i]);
        if (i < 2 + batches.size() && engines[e].v.size() == engines[0].v.size() && rounds > 1) {  // over the rounds
          double lo = INFINITY, hi = 0;
          for (size_t r = 0; r < engines[e].v.size(); r++) {
            const double q = i == 1 ? engines[e].v[r][0] / engines[0].v[r][0] : engines[0].v[r][2 + i - 1] / engines[e].v[r][2 + i - 1];
            lo = std::min(lo, q), hi = std::max(hi, q);
          }
          ratio += strf(" [%.2f-%.2f]", lo, hi);
        }
      }
      std::printf("%s%s; b=1 min-max %s ms; outputs agree to %s)\n", row(bb, engines[e].name.c_str(), pv).c_str(),
                  ratio.c_str(), spread_of(engines[e]).c_str(), engines[e].agree.c_str());
    }
    if (!h2h.empty()) std::printf("%s\n", h2h.c_str());
    for (const std::string& n : notes) std::printf("%s\n", n.c_str());
    if (peers && engines.size() == 1 && notes.empty())
      std::printf("%-12s %-18s (unavailable: tools/install_deps.sh --ref installs python3-torch)\n", bb.c_str(), "peers");
    if (peers) {
      std::error_code ec;
      std::filesystem::remove_all(peer_dir, ec);
    }
  }
  if (a.has("verbose")) std::printf("%s", kern::dispatch_table().c_str());
  std::printf("(b=1: one image at a time, %s; the ratios are ours / the peer's throughput: above 1 means we are faster)\n",
              dev == Device::CUDA ? "ours a replayed CUDA graph" : "every engine on the same threads");
  std::printf("RESULT %s]\n", json.c_str());
  return 0;
}
