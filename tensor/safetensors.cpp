#include "tensor/safetensors.h"

#include "tensor/fileio.h"
#include "tensor/half.h"

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <set>

#include "tensor/parse.h"

namespace {

// ---- a JSON reader for the header: objects, arrays, strings, numbers (all this format uses) ------
// Untrusted input: nesting is limited (a header of 100k '[' would otherwise overflow the stack), every index is
// bounds-checked, and numbers keep their text so that offsets and dimensions are parsed as exact integers.
constexpr int kMaxDepth = 64;
constexpr uint64_t kMaxHeader = 100 << 20;  // 100 MB, the reference implementation's limit

struct Json {
  enum Kind { Null, Num, Str, Arr, Obj } kind = Null;
  std::string str;  // a string's value, or a number's text
  std::vector<Json> arr;         // an array's items, or an object's values
  std::vector<std::string> keys;  // an object's keys, keys[i] names arr[i] (a pair<string, Json> member would
                                  // need Json complete, which clang's libstdc++ checks)
};

struct Parser {
  const std::string& s;
  size_t i = 0;
  std::string where;
  int depth = 0;
  [[noreturn]] void bad(const std::string& what) {
    throw Error(where + ": bad safetensors header at byte " + std::to_string(i) + ": " + what);
  }
  char peek() { ws(); return i < s.size() ? s[i] : '\0'; }
  void ws() { while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) i++; }
  void expect(char c) {
    if (peek() != c) bad(std::string("expected '") + c + "'");
    i++;
  }
  static void utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) { out += (char)cp; return; }
    if (cp < 0x800) { out += (char)(0xC0 | cp >> 6); }
    else if (cp < 0x10000) { out += (char)(0xE0 | cp >> 12); out += (char)(0x80 | (cp >> 6 & 0x3F)); }
    else { out += (char)(0xF0 | cp >> 18); out += (char)(0x80 | (cp >> 12 & 0x3F)); out += (char)(0x80 | (cp >> 6 & 0x3F)); }
    out += (char)(0x80 | (cp & 0x3F));
  }
  uint32_t hex4() {
    if (i + 4 > s.size()) bad("unterminated \\u escape");
    uint32_t v = 0;
    for (int k = 0; k < 4; k++, i++) {
      const char c = s[i];
      const int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (d < 0) bad("\\u needs four hex digits");
      v = v * 16 + d;
    }
    return v;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] != '\\') { out += s[i++]; continue; }
      if (++i >= s.size()) bad("unterminated escape");
      const char e = s[i++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a surrogate pair
            if (i + 2 > s.size() || s[i] != '\\' || s[i + 1] != 'u') bad("unpaired surrogate in \\u escape");
            i += 2;
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo >= 0xE000) bad("unpaired surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            bad("unpaired surrogate in \\u escape");
          }
          utf8(out, cp);
          break;
        }
        default: i--; bad(std::string("unknown escape '\\") + e + "'");
      }
    }
    if (i >= s.size()) bad("unterminated string");
    i++;
    return out;
  }
  Json value() {
    const char c = peek();
    if (i >= s.size()) bad("unexpected end");
    Json j;
    if (c == '{' || c == '[') {
      if (++depth > kMaxDepth) bad("nested deeper than " + std::to_string(kMaxDepth) + " levels");
      i++;
      const char close = c == '{' ? '}' : ']';
      j.kind = c == '{' ? Json::Obj : Json::Arr;
      if (peek() == close) { i++; depth--; return j; }
      for (;;) {
        if (j.kind == Json::Obj) {
          std::string k = string();
          expect(':');
          j.keys.push_back(std::move(k));
          j.arr.push_back(value());
        } else {
          j.arr.push_back(value());
        }
        if (peek() == ',') { i++; continue; }
        expect(close);
        depth--;
        return j;
      }
    }
    if (c == '"') { j.kind = Json::Str; j.str = string(); return j; }
    if (s.compare(i, 4, "null") == 0) { i += 4; return j; }
    const size_t start = i;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '-' || s[i] == '.' || s[i] == 'e' || s[i] == 'E')) i++;
    if (start == i) bad(strf("unexpected character 0x%02x", (unsigned char)s[i]));
    j.kind = Json::Num;
    j.str = s.substr(start, i - start);
    return j;
  }
};

const Json* field(const Json& o, const char* k) {
  for (size_t i = 0; i < o.keys.size(); i++) if (o.keys[i] == k) return &o.arr[i];
  return nullptr;
}

}  // namespace

const Tensor* TensorFile::find(const std::string& name) const {
  for (auto& [n, t] : tensors) if (n == name) return &t;
  return nullptr;
}
const Tensor& TensorFile::at(const std::string& name) const {
  const Tensor* t = find(name);
  if (!t) throw Error(path + ": no tensor named '" + name + "'");
  return *t;
}

namespace {
// Where the bytes come from: a file read on demand (a 100 MB checkpoint is not held twice) or a memory buffer.
// read(offset, n, dst) fills dst or throws; offset + n has been checked against `size`.
using ReadAt = std::function<void(uint64_t offset, size_t n, char* dst)>;

struct Entry {
  std::string name, dtype;
  Shape shape;
  uint64_t begin = 0, end = 0;
};

// One tensor's header entry, every field checked: names the file, the tensor and the field at fault.
Entry parse_entry(const std::string& path, const std::string& name, const Json& v) {
  const std::string where = path + ": tensor '" + name + "'";
  if (v.kind != Json::Obj) throw Error(where + ": expected an object {dtype, shape, data_offsets}");
  const Json *dt = field(v, "dtype"), *sh = field(v, "shape"), *off = field(v, "data_offsets");
  if (!dt || !sh || !off) throw Error(where + " lacks dtype, shape or data_offsets");
  Entry e;
  e.name = name;
  if (dt->kind != Json::Str) throw Error(where + ": dtype must be a string such as \"F32\"");
  e.dtype = dt->str;
  if (sh->kind != Json::Arr) throw Error(where + ": shape must be an array of integers");
  if ((int)sh->arr.size() > Shape::kMaxDims)
    throw Error(where + strf(": shape has %zu dimensions, at most %d supported", sh->arr.size(), Shape::kMaxDims));
  e.shape.ndim = (int)sh->arr.size();
  for (int d = 0; d < e.shape.ndim; d++) {
    const std::string wd = where + ": shape[" + std::to_string(d) + "]";
    if (sh->arr[d].kind != Json::Num) throw Error(wd + ": expected a non-negative integer");
    e.shape.d[d] = parse_int(sh->arr[d].str, wd, 0);
  }
  const int64_t numel = e.shape.numel_checked(where + ": shape");
  if (off->kind != Json::Arr || off->arr.size() != 2 || off->arr[0].kind != Json::Num || off->arr[1].kind != Json::Num)
    throw Error(where + ": data_offsets must be two integers [begin, end]");
  e.begin = (uint64_t)parse_int(off->arr[0].str, where + ": data_offsets[0]", 0);
  e.end = (uint64_t)parse_int(off->arr[1].str, where + ": data_offsets[1]", 0);
  if (e.end < e.begin)
    throw Error(where + strf(": data_offsets [%llu, %llu) end before they begin", (unsigned long long)e.begin,
                             (unsigned long long)e.end));
  const uint64_t esize = e.dtype == "F64" || e.dtype == "I64" ? 8 : e.dtype == "F32" || e.dtype == "I32" ? 4
                         : e.dtype == "F16" ? 2 : 0;
  if (!esize) throw Error(where + " has dtype " + e.dtype + "; supported: F16, F32, F64, I32, I64");
  if ((uint64_t)numel > UINT64_MAX / esize || e.end - e.begin != (uint64_t)numel * esize)
    throw Error(where + ": data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) + ") hold " +
                std::to_string(e.end - e.begin) + " bytes; shape " + e.shape.str() + " of " + e.dtype + " needs " +
                ((uint64_t)numel > UINT64_MAX / esize ? std::string("more than 2^64") : std::to_string(numel * esize)));
  return e;
}

TensorFile parse(const std::string& path, uint64_t size, uint64_t skip, const ReadAt& read) {
  if (size < skip || size - skip < 8) throw Error(path + ": too short for a safetensors file");
  uint64_t hlen = 0;
  char len8[8];
  read(skip, 8, len8);
  for (int k = 7; k >= 0; k--) hlen = hlen << 8 | (unsigned char)len8[k];  // little-endian
  if (hlen > size - skip - 8) throw Error(path + ": header length " + std::to_string(hlen) + " exceeds the file");
  if (hlen > kMaxHeader) throw Error(path + ": header length " + std::to_string(hlen) + " is over the 100 MB limit");
  std::string header(hlen, '\0');
  if (hlen) read(skip + 8, hlen, header.data());
  Parser p{header, 0, path};
  Json root = p.value();
  p.ws();
  if (p.i != header.size()) p.bad("text after the header's closing '}'");
  if (root.kind != Json::Obj) throw Error(path + ": header is not a JSON object");
  const uint64_t data_start = skip + 8 + hlen, data_size = size - data_start;
  TensorFile out;
  out.path = path;
  std::vector<Entry> entries;
  std::set<std::string> seen;
  for (size_t t = 0; t < root.keys.size(); t++) {
    const std::string& name = root.keys[t];
    const Json& v = root.arr[t];
    if (!seen.insert(name).second) throw Error(path + ": tensor '" + name + "' appears twice in the header");
    if (name == "__metadata__") {
      if (v.kind != Json::Obj) throw Error(path + ": __metadata__ must be an object of strings");
      for (size_t i = 0; i < v.keys.size(); i++) {
        const std::string& k = v.keys[i];
        const Json& m = v.arr[i];
        if (m.kind != Json::Str) throw Error(path + ": __metadata__ '" + k + "' must be a string");
        out.metadata[k] = m.str;
      }
      continue;
    }
    entries.push_back(parse_entry(path, name, v));
  }
  // The data section must be exactly the tensors: no overlaps, no gaps, nothing after the last one (the
  // reference implementation's rule; overlapping tensors would alias, and unexplained bytes hide data).
  std::vector<const Entry*> order;
  for (auto& e : entries) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t pos = 0;
  std::string prev = "the start of the data";
  for (const Entry* e : order) {
    if (e->begin != pos)
      throw Error(path + ": tensor '" + e->name + "' data_offsets [" + std::to_string(e->begin) + ", " +
                  std::to_string(e->end) + ") " + (e->begin < pos ? "overlap" : "leave a gap after") + " " + prev +
                  strf(" (ends at %llu); tensors must tile the data section", (unsigned long long)pos));
    pos = e->end;
    prev = "tensor '" + e->name + "'";
  }
  if (pos != data_size)
    throw Error(path + strf(": the tensors end at data byte %llu but the data section has %llu bytes",
                            (unsigned long long)pos, (unsigned long long)data_size) +
                (pos > data_size ? " (truncated file?)" : " (unused bytes after the last tensor)"));
  for (const Entry& e : entries) {
    const size_t n = e.end - e.begin;
    Tensor x = Tensor::empty(e.shape, e.dtype == "F64" ? DType::F64 : e.dtype == "F32" || e.dtype == "F16" ? DType::F32 : DType::I32);
    if (e.dtype == "F16") {  // -> F32, exactly
      std::vector<uint16_t> src(n / 2);
      if (n) read(data_start + e.begin, n, reinterpret_cast<char*>(src.data()));
      float* dst = x.data<float>();
      for (size_t k = 0; k < src.size(); k++) dst[k] = half_to_float(src[k]);
    } else if (e.dtype != "I64") {
      if (n) read(data_start + e.begin, n, static_cast<char*>(x.raw()));
    } else {  // I64 -> I32, each value range-checked
      std::vector<int64_t> src(n / 8);
      if (n) read(data_start + e.begin, n, reinterpret_cast<char*>(src.data()));
      int32_t* dst = x.data<int32_t>();
      for (size_t k = 0; k < src.size(); k++) {
        if (src[k] < INT32_MIN || src[k] > INT32_MAX)
          throw Error(path + ": tensor '" + e.name + "' (I64) element " + std::to_string(k) + " = " +
                      std::to_string(src[k]) + " does not fit the I32 it is read into");
        dst[k] = (int32_t)src[k];
      }
    }
    out.tensors.push_back({e.name, x});
  }
  return out;
}
}  // namespace

TensorFile read_safetensors(const std::string& path, size_t skip) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  f.seekg(0, std::ios::end);
  const std::streamoff end = f.tellg();
  if (end < 0) throw Error(path + ": cannot read (not a regular file?)");
  return parse(path, (uint64_t)end, skip, [&](uint64_t off, size_t n, char* dst) {
    f.seekg((std::streamoff)off);
    f.read(dst, (std::streamsize)n);
    if (!f) throw Error(path + strf(": read error at byte %llu", (unsigned long long)off));
  });
}

TensorFile parse_safetensors(const void* data, size_t size, const std::string& name, size_t skip) {
  const char* base = static_cast<const char*>(data);
  return parse(name, size, skip, [&](uint64_t off, size_t n, char* dst) { std::memcpy(dst, base + off, n); });
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata, const std::string& prefix, bool float16) {
  std::string h = "{";
  uint64_t off = 0;
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (auto& [k, v] : metadata) { h += (first ? "\"" : ",\"") + json_escape(k) + "\":\"" + json_escape(v) + "\""; first = false; }
    h += "}";
  }
  for (auto& [name, t] : tensors) {
    const bool half = float16 && t.dtype() == DType::F32;
    const char* dt = half ? "F16" : t.dtype() == DType::F32 ? "F32" : t.dtype() == DType::F64 ? "F64" : "I32";
    const uint64_t bytes = half ? (uint64_t)t.numel() * 2 : (uint64_t)t.nbytes();
    std::string shape;
    for (int d = 0; d < t.dim(); d++) {  // appended piece by piece: GCC 12 -O3 warns falsely on ("," + string)
      if (d) shape += ',';
      shape += std::to_string(t.size(d));
    }
    if (h.size() > 1) h += ',';
    h += strf("\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                                          json_escape(name).c_str(), dt, shape.c_str(), (unsigned long long)off,
                                          (unsigned long long)(off + bytes));
    off += bytes;
  }
  h += "}";
  while ((h.size() + 8) % 8) h += ' ';  // align the data section to 8 bytes, as the reference writer does
  write_file_atomic(path, [&](std::ostream& f) {  // temporary file + rename; removed if anything fails
    f.write(prefix.data(), (std::streamsize)prefix.size());
    uint64_t n = h.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(h.data(), (std::streamsize)h.size());
    for (auto& [name, t] : tensors) {
      Tensor c = t.to(Device::CPU);
      if (float16 && c.dtype() == DType::F32) {
        std::vector<uint16_t> h16((size_t)c.numel());
        const float* src = c.data<float>();
        for (size_t k = 0; k < h16.size(); k++) h16[k] = float_to_half(src[k]);
        if (!h16.empty()) f.write(reinterpret_cast<const char*>(h16.data()), (std::streamsize)(h16.size() * 2));
      } else if (c.nbytes()) {
        f.write(static_cast<const char*>(c.raw()), (std::streamsize)c.nbytes());
      }
    }
  });
}
