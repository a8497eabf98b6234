// fuzz.h: what every fuzz target shares. A target is one LLVMFuzzerTestOneInput(data, size) that feeds the bytes
// to one parser and then to what consumes its output. `Error` is the parser's normal answer to bad input and is
// caught; anything else (a sanitizer report, a signal, another exception, a hang) is a bug.
//
// Built two ways by CMake's pipnet_fuzz_target(name file):
//   name_replay  with tests/fuzz/replay_main.cpp, on every compiler: ctest replays tests/fuzz/corpus/name/
//   name         with -DPIPNET_FUZZ=ON and clang: a libFuzzer binary, e.g.
//                build-fuzz/fuzz_image -max_total_time=300 tests/fuzz/corpus/fuzz_image
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

inline std::string fuzz_text(const uint8_t* data, size_t size) { return std::string(reinterpret_cast<const char*>(data), size); }
