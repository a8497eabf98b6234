// zip.h: the entries of a zip archive that stores them uncompressed, as torch.save writes its .pth files. Reads the
// central directory (zip64 too) and each entry's local header; every offset is checked against the buffer, and a
// compressed entry is an Error (torch.save never compresses).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

struct ZipEntry {
  uint64_t offset, size;  // of the entry's data, in the buffer
};
// name -> entry; Errors start with `src` (the file's name).
std::map<std::string, ZipEntry> read_zip(const uint8_t* data, size_t size, const std::string& src);
uint64_t read_le(const uint8_t* p, int n);  // n little-endian bytes
