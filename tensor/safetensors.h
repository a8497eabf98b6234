// safetensors.h: read and write the safetensors format (huggingface.co/docs/safetensors):
//   8 bytes   little-endian u64 N, the header's length
//   N bytes   JSON: {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//                    "__metadata__": {"key": "value", ...}}   offsets relative to the data section
//   the data  raw little-endian tensors
// Read: F32, F16 (converted to F32, exactly), F64 (converted to F32 unless asked to keep), I32 and I64 (converted
// to I32). Write: F32, F64, I32, and F32 tensors as F16 when asked (half the size; rounded to nearest even).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

struct TensorFile {
  std::vector<std::pair<std::string, Tensor>> tensors;  // file order
  std::map<std::string, std::string> metadata;
  const Tensor* find(const std::string& name) const;
  const Tensor& at(const std::string& name) const;     // error naming the file and the tensor if missing
  std::string path;
};

// `skip_bytes` starts the safetensors payload at that offset (for files with their own magic in front).
// The header is checked as untrusted input: JSON nested at most 64 deep, integer shapes and offsets, supported
// dtypes, no duplicate names, and data_offsets that tile the data section exactly (no overlap, no gap, no trailing
// bytes, as the reference implementation requires). Any violation is an Error naming the file, tensor and field.
TensorFile read_safetensors(const std::string& path, size_t skip_bytes = 0);
// The same from a buffer (`name` stands for the file in messages): for tests and the fuzz target.
TensorFile parse_safetensors(const void* data, size_t size, const std::string& name, size_t skip_bytes = 0);
// Atomic: written to path + ".tmp", then renamed over `path`. `prefix` bytes are written in front. `float16`:
// F32 tensors are stored as F16.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata = {}, const std::string& prefix = "",
                       bool float16 = false);
