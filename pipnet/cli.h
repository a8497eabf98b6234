// cli.h: what every `pipnet COMMAND` shares: its options declared once (they make the --help text and the list of
// accepted flags), one parser that refuses what a command does not know, and strict typed getters.
#pragma once
#include <string>
#include <utility>
#include <vector>

struct Option {
  const char* name;   // with '_' or '-' (both spellings are accepted on the command line)
  const char* value;  // "DIR", "N", ...; nullptr for a switch such as --help
  const char* help;
  bool hidden = false;  // accepted but left out of --help (test hooks)
};

struct Args {
  std::string cmd;
  std::vector<std::pair<std::string, std::string>> kv;  // --key value, in order, keys with '_'
  std::vector<std::string> switches;
  std::vector<std::string> positional;                   // plain arguments, where a command takes them
  bool has(const std::string& s) const;
  std::string get(const std::string& k, const std::string& def = "") const;
  std::vector<std::string> all(const std::string& k) const;  // every value of a repeated option
  int get_int(const std::string& k, int def, int lo, int hi) const;               // Error naming --k
  double get_double(const std::string& k, double def, double lo, double hi) const;
  std::vector<int> get_ints(const std::string& k, const std::string& def, int lo, int hi) const;  // "16,64"
};

// Parses argv[2..]: every --key must be one of `options` (or, with `config_keys`, a training setting); anything
// else exits with one line naming it and code 2.
Args parse_args(int argc, char** argv, const std::vector<Option>& options, bool config_keys = false, int max_positional = 0);
// "usage: ..." plus the options' help, for --help.
std::string help_text(const std::string& usage, const std::string& about, const std::vector<Option>& options);
[[noreturn]] void usage_error(const std::string& msg);
void set_threads(const Args& a);  // --threads N (0 or absent: all cores)
bool same_file(const std::string& a, const std::string& b);  // the same path once resolved
// Exits with one line when `path` is one of the run directory's own files (config.txt, the weights, the log ...).
void refuse_run_file(const std::string& path, const std::string& run_dir);

// Images of a path: the file itself, or a folder's jpg/jpeg/png/bmp/ppm/pgm files sorted by name (none: an Error).
std::vector<std::string> list_images(const std::string& path);
// FaceBoxesV2 weights: `given` (--detector) if set, else the first of models/faceboxes.safetensors (in the working
// folder, then beside the sources) and ../shared/data/faceboxes/FaceBoxesV2.pth; none is a one-line usage error.
std::string detector_weights(const std::string& given, const std::string& cmd);
std::string find_detector_weights();  // the default search alone: "" when nothing is found
// The landmark model shipped in models/pipnet_r18_lfw68 (in the working folder, then beside the sources); "" if
// neither exists.
std::string default_run();

// The commands outside cli.cpp.
int cmd_infer(int argc, char** argv);
int cmd_bench(int argc, char** argv);
int cmd_import(int argc, char** argv);
int cmd_detect(int argc, char** argv);
int cmd_distill(int argc, char** argv);
int cmd_probe(int argc, char** argv);
int cmd_export(int argc, char** argv);
