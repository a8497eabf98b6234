// The settings table, run directories, checkpoints and resuming: what a user's files and flags can do to a run.
// (The same cases through the pipnet program, with its exit codes, are in tests/test_cli_errors.sh.)
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "pipnet/config.h"
#include "pipnet/run.h"
#include "tensor/fileio.h"
#include "test_util.h"

namespace fs = std::filesystem;

static std::string temp_dir(const std::string& name) {
  const std::string d = "/tmp/pipnet_test_run_" + name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

static std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

TEST_CASE("config: every setting round-trips through config.txt, old spellings read as the official names", "[config]") {
  TrainConfig a;
  a.set("backbone", "resnet50");
  a.set("net_stride", "64");
  a.set("input", "192");   // old spelling of input_size
  a.set("nb", "5");        // old spelling of num_nb
  a.set("lr", "3e-4");
  a.set("reg_l2", "on");
  a.set("crop_scale", "1.3");
  a.set("test_data", "");
  const std::string d = temp_dir("config");
  a.save(d + "/config.txt");
  TrainConfig b;
  b.load(d + "/config.txt");
  CHECK(b.to_map() == a.to_map());
  CHECK(b.model.input_size == 192);
  CHECK(b.model.num_nb == 5);
  CHECK(b.model.net_stride == 64);
  CHECK(b.recipe.lr == 3e-4);
  CHECK(b.loss.reg_l2);
  CHECK(b.data.test_data.empty());
  const std::string text = slurp(d + "/config.txt");
  CHECK(text.find("net_stride = 64") != std::string::npos);
  CHECK(text.find("\nstride =") == std::string::npos);  // written with the official names only
  CHECK(!path_exists(d + "/config.txt.tmp"));
}

TEST_CASE("config: bad values name the key and what was expected", "[config]") {
  TrainConfig c;
  CHECK_THROWS_WITH(c.set("bogus", "1"), Catch::Contains("unknown setting 'bogus'"));
  CHECK_THROWS_WITH(c.set("batch", "16x"), Catch::Contains("batch: expected an integer") && Catch::Contains("'16x'"));
  CHECK_THROWS_WITH(c.set("num_nb", "68.7"), Catch::Contains("integer"));
  CHECK_THROWS_WITH(c.set("epochs", "1e20"), Catch::Contains("epochs"));
  CHECK_THROWS_WITH(c.set("lr", "nan"), Catch::Contains("lr: expected a finite number") && Catch::Contains("'nan'"));
  CHECK_THROWS_WITH(c.set("augment", "maybe"), Catch::Contains("on or off"));
  CHECK_THROWS_WITH(c.set("device", "tpu"), Catch::Contains("cpu, cuda"));
  CHECK_THROWS_WITH(c.set("backbone", "vgg"), Catch::Contains("resnet18"));
  c.set("decay", "30,x");
  CHECK_THROWS_WITH(c.validate(), Catch::Contains("decay = '30,x'"));
  TrainConfig s;
  s.set("backbone", "resnet50");
  s.set("net_stride", "16");
  CHECK_THROWS_WITH(s.validate(), Catch::Contains("resnet18 only"));
  const std::string d = temp_dir("config_bad");
  std::ofstream(d + "/c.txt") << "epochs = 3\n\nbatch: 4\n";
  CHECK_THROWS_WITH(TrainConfig().load(d + "/c.txt"), Catch::Contains(d + "/c.txt:3") && Catch::Contains("key = value"));
  std::ofstream(d + "/c2.txt") << "# comment\nlr = fast\n";
  CHECK_THROWS_WITH(TrainConfig().load(d + "/c2.txt"), Catch::Contains(d + "/c2.txt:2: lr: expected a finite number") && Catch::Contains("'fast'"));
}

TEST_CASE("config: presets set the official names", "[config]") {
  TrainConfig c;
  c.apply_preset("pip_64_16_60_r101_l2_l1_10_1_nb10");
  CHECK(c.model.net_stride == 64);
  CHECK(c.model.backbone == "resnet101");
  CHECK(c.recipe.decay == "30,50");
  CHECK(!c.loss.cls_l1);
  CHECK(!c.loss.reg_l2);
  CHECK_THROWS_WITH(c.apply_preset("pip_32_16_60_r18_l2_l1_10_1_nb10_extra"), Catch::Contains("expected pip_STRIDE"));
  CHECK_THROWS_WITH(c.apply_preset("heat_4_16_60_r18_l2"), Catch::Contains("expected pip_STRIDE"));  // the map_* and coord_*
  // presets are tests/test_heads.cpp's
}

TEST_CASE("resume: the run's config.txt, then only the overrides a resumed run may take", "[config]") {
  const std::string d = temp_dir("resume");
  TrainConfig orig;
  orig.set("lr", "1e-3");
  orig.set("width", "8");
  orig.set("out", d);
  orig.save(d + "/config.txt");
  const std::string before = slurp(d + "/config.txt");

  TrainConfig r = resume_config(d, {{"threads", "1"}, {"epochs", "90"}, {"out", d}});
  CHECK(r.recipe.lr == 1e-3);  // from the run, not the default 1e-4
  CHECK(r.model.width == 8);
  CHECK(r.run.threads == 1);
  CHECK(r.recipe.epochs == 90);
  CHECK(resume_config(d, {{"lr", "1e-3"}}).recipe.lr == 1e-3);  // the same value again is not a change
  CHECK_THROWS_WITH(resume_config(d, {{"width", "16"}}), Catch::Contains("--width 16") && Catch::Contains("keeps its width"));
  CHECK_THROWS_WITH(resume_config(d, {{"lr", "5"}}), Catch::Contains("keeps its lr"));
  CHECK_THROWS_WITH(resume_config(d, {{"stride", "64"}}), Catch::Contains("keeps its net_stride"));
  CHECK_THROWS_WITH(resume_config(d, {{"threads", "x"}}), Catch::Contains("threads: expected an integer"));
  CHECK_THROWS_WITH(resume_config(d + "/nothing", {}), Catch::Contains("nothing to resume"));
  CHECK(slurp(d + "/config.txt") == before);  // refusing wrote nothing
}

// A tiny model and optimizer with one step taken, so that every state tensor differs.
struct Tiny {
  Rng rng{3};
  PIPNet net{PipConfig{"resnet18", 4, 5, 2, 64, 32}, rng};
  Adam opt{net.parameters(), 1e-3};
  Tiny() {
    for (auto& p : net.parameters()) p.grad_or_zeros().fill_(0.01);
    opt.step();
  }
};

TEST_CASE("checkpoint: the optimizer's state is read by name, in any order, bad states named", "[config]") {
  const std::string d = temp_dir("ckpt");
  Tiny a;
  save_checkpoint(d + "/ck.safetensors", a.net, a.opt, 2, 1);
  // the same tensors in alphabetical order, as Python's safetensors writes them
  TensorFile f = read_safetensors(d + "/ck.safetensors");
  auto sorted = f.tensors;
  std::sort(sorted.begin(), sorted.end(), [](auto& x, auto& y) { return x.first < y.first; });
  write_safetensors(d + "/sorted.safetensors", sorted, f.metadata);
  Tiny b;
  b.net.parameters()[0].fill_(0);
  CHECK(load_checkpoint(d + "/sorted.safetensors", b.net, &b.opt, 10) == 2);
  auto sa = a.opt.state(), sb = b.opt.state();
  REQUIRE(sa.size() == sb.size());
  for (size_t i = 0; i < sa.size(); i++) {
    INFO(sa[i].first);
    CHECK(sa[i].first == sb[i].first);
    CHECK(sa[i].second.to_vector() == sb[i].second.to_vector());
  }
  // exp_avg and exp_avg_sq swapped in the file: loaded as the names say, so the checkpoint's values are swapped too
  auto swapped = f.tensors;
  for (auto& [n, t] : swapped) {
    if (n == "optim.0.exp_avg") n = "optim.0.exp_avg_sq";
    else if (n == "optim.0.exp_avg_sq") n = "optim.0.exp_avg";
  }
  write_safetensors(d + "/swapped.safetensors", swapped, f.metadata);
  Tiny c;
  load_checkpoint(d + "/swapped.safetensors", c.net, &c.opt, 10);
  auto sc = c.opt.state();
  CHECK(sc[1].second.to_vector() == sa[2].second.to_vector());  // 0.exp_avg now holds what was saved as 0.exp_avg_sq

  auto without = f.tensors;
  without.erase(std::remove_if(without.begin(), without.end(), [](auto& p) { return p.first == "optim.3.exp_avg"; }), without.end());
  write_safetensors(d + "/missing.safetensors", without, f.metadata);
  CHECK_THROWS_WITH(load_checkpoint(d + "/missing.safetensors", c.net, &c.opt, 10),
                    Catch::Contains("missing.safetensors") && Catch::Contains("'3.exp_avg' is missing"));
  auto wrong = f.tensors;
  for (auto& [n, t] : wrong) if (n == "optim.1.step") t = Tensor::zeros({4});
  write_safetensors(d + "/wrong.safetensors", wrong, f.metadata);
  CHECK_THROWS_WITH(load_checkpoint(d + "/wrong.safetensors", c.net, &c.opt, 10), Catch::Contains("'1.step' has shape [4]"));
}

TEST_CASE("checkpoint: epochs_done must be a whole number of epochs the run can have done", "[config]") {
  const std::string d = temp_dir("epochs");
  Tiny a;
  TensorFile f;
  for (const char* bad : {"-3", "2.5", "x", "99"}) {
    save_checkpoint(d + "/ck.safetensors", a.net, a.opt, 1, 1);
    f = read_safetensors(d + "/ck.safetensors");
    f.metadata["epochs_done"] = bad;
    write_safetensors(d + "/ck.safetensors", f.tensors, f.metadata);
    INFO(bad);
    CHECK_THROWS_WITH(load_checkpoint(d + "/ck.safetensors", a.net, &a.opt, 60),
                      Catch::Contains("ck.safetensors: epochs_done: expected an integer in [0, 60]") && Catch::Contains(bad));
  }
  f.metadata.erase("epochs_done");
  write_safetensors(d + "/ck.safetensors", f.tensors, f.metadata);
  CHECK_THROWS_WITH(load_checkpoint(d + "/ck.safetensors", a.net, &a.opt, 60), Catch::Contains("lacks"));
}

TEST_CASE("run directory: a run that holds only its checkpoint (killed before the end) loads for test and infer", "[config]") {
  const std::string d = temp_dir("killed");
  Tiny a;
  TrainConfig cfg;
  cfg.set("backbone", "resnet18");
  cfg.set("width", "4");
  cfg.set("input_size", "64");
  cfg.set("num_nb", "2");
  cfg.save(d + "/config.txt");
  MeanFace mf;
  mf.N = 5;
  mf.xy = {0.3f, 0.3f, 0.7f, 0.3f, 0.5f, 0.5f, 0.35f, 0.7f, 0.65f, 0.7f};
  write_meanface(mf, d + "/meanface.txt");
  save_checkpoint(d + "/checkpoint.safetensors", a.net, a.opt, 1, 1);
  LoadedRun r = load_run(d);
  CHECK(r.net->state_dict()[0].second.to_vector() == a.net.state_dict()[0].second.to_vector());
  fs::remove(d + "/checkpoint.safetensors");
  CHECK_THROWS_WITH(load_run(d), Catch::Contains("no weights"));
  CHECK_THROWS_WITH(load_run(d + "/none"), Catch::Contains("no such run directory"));
}

TEST_CASE("weights: a tensor of the wrong type is named, not 'no conversion'", "[config]") {
  Tiny a;
  NamedTensors sd = a.net.state_dict();
  for (auto& [n, t] : sd) if (n == "bn1.running_mean") t = Tensor::zeros(t.shape(), DType::I32);
  CHECK_THROWS_WITH(load_state_dict(a.net, sd, "f.safetensors"),
                    Catch::Contains("f.safetensors") && Catch::Contains("bn1.running_mean (file i32, model f32)"));
}

TEST_CASE("files: an atomic write that fails leaves neither a partial file nor its temporary", "[config]") {
  const std::string d = temp_dir("atomic");
  write_file_atomic(d + "/a.txt", "old");
  CHECK_THROWS_WITH(write_file_atomic(d + "/a.txt", [](std::ostream& f) { f << "new, half"; throw Error("disk full"); }),
                    Catch::Contains("disk full"));
  CHECK(slurp(d + "/a.txt") == "old");
  CHECK(!path_exists(d + "/a.txt.tmp"));
  CHECK_THROWS_WITH(write_file_atomic(d + "/no/such/dir/b.txt", "x"), Catch::Contains("cannot write"));
  CHECK(json_escape("a\"b\\c\n") == "a\\\"b\\\\c\\u000a");
  // names and metadata with quotes or control characters survive a safetensors round trip (one JSON escaper)
  write_safetensors(d + "/m.safetensors", {{"a\"b", Tensor::zeros({2})}}, {{"source", "line1\nline2\t\"q\""}});
  TensorFile m = read_safetensors(d + "/m.safetensors");
  CHECK(m.metadata.at("source") == "line1\nline2\t\"q\"");
  CHECK(m.tensors[0].first == "a\"b");
  const std::string long_text(5000, 'x');
  CHECK(strf("[%s]", long_text.c_str()).size() == 5002);  // strf never truncates (infer's records are long)
}

TEST_CASE("weights and mean faces: NaN, infinite or far-off values are refused, naming the file", "[config]") {
  const std::string d = temp_dir("nan");
  Tiny a;
  NamedTensors sd = a.net.state_dict();
  const std::vector<float> before = sd[0].second.to_vector();
  NamedTensors bad = sd;
  bad[3].second = bad[3].second.clone();
  bad[3].second.data<float>()[0] = NAN;
  CHECK_THROWS_WITH(load_state_dict(a.net, bad, "n.safetensors"), Catch::Contains("n.safetensors: " + bad[3].first + " holds a NaN"));
  CHECK(a.net.state_dict()[0].second.to_vector() == before);  // nothing was copied
  for (const char* v : {"nan", "1e30", "-7"}) {
    std::ofstream(d + "/mf.txt") << "0.1 0.2 " << v << " 0.4\n";
    INFO(v);
    CHECK_THROWS_WITH(MeanFace::load(d + "/mf.txt"), Catch::Contains(d + "/mf.txt: value 3"));
  }
}
