// pth.h: PyTorch checkpoint files (torch.save of a state_dict) read without Python.
//
// Two containers exist, and both are read:
//   zip (PyTorch >= 1.6): an uncompressed zip archive holding DIR/data.pkl (the pickle) and DIR/data/KEY (one raw
//        little-endian storage per key). The pickle refers to storages by persistent id
//        ('storage', StorageType, KEY, location, numel).
//   legacy (before 1.6; the official FaceBoxesV2.pth is one): five pickles in a row (magic number, protocol 1001,
//        system info, the object, the list of storage keys), then each storage as an 8-byte element count and
//        its raw data, in the order of that list. Persistent ids carry a sixth field (a view), always None here.
// Only as much of the pickle protocol as a state_dict of tensors needs is understood: dicts and OrderedDicts,
// tuples and lists, numbers, strings, None/True/False, the storage types, and torch._utils._rebuild_tensor_v2 /
// _rebuild_parameter (storage, offset, size, stride). Tensors may share a storage at different offsets and have
// any strides; each becomes a contiguous Tensor. Anything else (another opcode, another global) is a one-line
// Error naming the file and what was found.
//
// dtypes: float32 stays F32; float16, bfloat16 and float64 become F32; int64, int32, int16, int8, uint8 and bool
// become I32 (an int64 value outside the int32 range is an Error naming the tensor).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "tensor/safetensors.h"

// The state_dict's tensors in the file's order (names as saved, e.g. "module.conv1.conv.weight").
TensorFile read_pth(const std::string& path);
// The same from bytes in memory (`source` names them in errors); what read_pth and the fuzz target call.
TensorFile parse_pth(const uint8_t* data, size_t size, const std::string& source);

// A weights file of either kind, told apart by its first bytes: safetensors, or a torch.save .pth whose names are
// made plain: a DataParallel "module." prefix on every name is dropped, and so is a "state_dict." or "model." one
// (checkpoints that wrap the state_dict in a dict).
TensorFile read_weights_file(const std::string& path);
bool is_pth_file(const std::string& path);  // starts as a zip archive or a pickle does
