#include "tensor/zip.h"

#include "tensor/check.h"

namespace {
[[noreturn]] void bad(const std::string& src, const std::string& what) { throw Error(src + ": " + what); }
}  // namespace

uint64_t read_le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

std::map<std::string, ZipEntry> read_zip(const uint8_t* d, size_t n, const std::string& src) {
  if (n < 22) bad(src, "too short for a zip archive");
  size_t eocd = SIZE_MAX;
  for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
    if (read_le(d + i, 4) == 0x06054b50) { eocd = i; break; }
  if (eocd == SIZE_MAX) bad(src, "not a zip archive (no end-of-directory record)");
  uint64_t entries = read_le(d + eocd + 10, 2), cd_size = read_le(d + eocd + 12, 4), cd_off = read_le(d + eocd + 16, 4);
  if (entries == 0xFFFF || cd_off == 0xFFFFFFFF || cd_size == 0xFFFFFFFF) {  // zip64
    if (eocd < 20 || read_le(d + eocd - 20, 4) != 0x07064b50) bad(src, "zip64 archive without its locator");
    const uint64_t z = read_le(d + eocd - 20 + 8, 8);
    if (z > n || n - z < 56 || read_le(d + z, 4) != 0x06064b50) bad(src, "zip64 end-of-directory record out of the file");
    entries = read_le(d + z + 32, 8), cd_size = read_le(d + z + 40, 8), cd_off = read_le(d + z + 48, 8);
  }
  if (cd_off > n || cd_size > n - cd_off) bad(src, "zip central directory out of the file");
  std::map<std::string, ZipEntry> out;
  size_t p = cd_off;
  const size_t end = cd_off + cd_size;
  for (uint64_t e = 0; e < entries; e++) {
    if (end - p < 46 || read_le(d + p, 4) != 0x02014b50) bad(src, strf("zip directory entry %llu is damaged", (unsigned long long)e));
    const uint64_t method = read_le(d + p + 10, 2), nl = read_le(d + p + 28, 2), xl = read_le(d + p + 30, 2), cl = read_le(d + p + 32, 2);
    uint64_t csize = read_le(d + p + 20, 4), usize = read_le(d + p + 24, 4), local = read_le(d + p + 42, 4);
    if (end - p - 46 < nl + xl + cl) bad(src, "zip directory entry runs past the directory");
    const std::string name(reinterpret_cast<const char*>(d + p + 46), nl);
    for (size_t x = p + 46 + nl; x + 4 <= p + 46 + nl + xl;) {  // the zip64 extra field holds the 0xFFFFFFFF values
      const uint64_t id = read_le(d + x, 2), len = read_le(d + x + 2, 2);
      size_t q = x + 4;
      if (x + 4 + len > p + 46 + nl + xl) break;
      if (id == 1) {
        auto take = [&](uint64_t& v) { if (v == 0xFFFFFFFF && q + 8 <= x + 4 + len) { v = read_le(d + q, 8); q += 8; } };
        take(usize), take(csize), take(local);
      }
      x += 4 + len;
    }
    if (method != 0) bad(src, "zip entry '" + name + "' is compressed (torch.save stores entries uncompressed)");
    if (csize != usize) bad(src, "zip entry '" + name + "' has different stored and real sizes");
    if (local > n || n - local < 30 || read_le(d + local, 4) != 0x04034b50) bad(src, "zip entry '" + name + "' has no local header");
    const uint64_t data = local + 30 + read_le(d + local + 26, 2) + read_le(d + local + 28, 2);
    if (data > n || csize > n - data) bad(src, "zip entry '" + name + "' runs past the end of the file");
    out[name] = {data, csize};
    p += 46 + nl + xl + cl;
  }
  return out;
}
