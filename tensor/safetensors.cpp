#include "tensor/safetensors.h"

#include <cstdio>
#include <cstring>
#include <fstream>

namespace {

// ---- a JSON reader for the header: objects, arrays, strings, numbers (all this format uses) ------
struct Json {
  enum Kind { Null, Num, Str, Arr, Obj } kind = Null;
  double num = 0;
  std::string str;
  std::vector<Json> arr;
  std::vector<std::pair<std::string, Json>> obj;
};

struct Parser {
  const std::string& s;
  size_t i = 0;
  std::string where;
  [[noreturn]] void bad(const std::string& what) {
    throw Error(where + ": bad safetensors header at byte " + std::to_string(i) + ": " + what);
  }
  void ws() { while (i < s.size() && isspace((unsigned char)s[i])) i++; }
  void expect(char c) { ws(); if (i >= s.size() || s[i] != c) bad(std::string("expected '") + c + "'"); i++; }
  std::string string() {
    expect('"');
    std::string out;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\') {
        if (++i >= s.size()) bad("unterminated escape");
        char e = s[i];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;  // \" \\ \/ and the common ones; no \u in tensor names
      } else {
        out += s[i];
      }
      i++;
    }
    if (i >= s.size()) bad("unterminated string");
    i++;
    return out;
  }
  Json value() {
    ws();
    if (i >= s.size()) bad("unexpected end");
    Json j;
    char c = s[i];
    if (c == '{') {
      j.kind = Json::Obj;
      i++;
      ws();
      if (s[i] == '}') { i++; return j; }
      for (;;) {
        std::string k = string();
        expect(':');
        j.obj.push_back({k, value()});
        ws();
        if (s[i] == ',') { i++; continue; }
        expect('}');
        return j;
      }
    }
    if (c == '[') {
      j.kind = Json::Arr;
      i++;
      ws();
      if (s[i] == ']') { i++; return j; }
      for (;;) {
        j.arr.push_back(value());
        ws();
        if (s[i] == ',') { i++; continue; }
        expect(']');
        return j;
      }
    }
    if (c == '"') { j.kind = Json::Str; j.str = string(); return j; }
    size_t start = i;
    while (i < s.size() && (isdigit((unsigned char)s[i]) || strchr("+-.eE", s[i]))) i++;
    if (start == i) bad("unexpected character");
    j.kind = Json::Num;
    j.num = std::stod(s.substr(start, i - start));
    return j;
  }
};

const Json* field(const Json& o, const char* k) {
  for (auto& [key, v] : o.obj) if (key == k) return &v;
  return nullptr;
}

std::string escape(const std::string& s) {
  std::string o;
  for (char c : s) { if (c == '"' || c == '\\') o += '\\'; o += c; }
  return o;
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

TensorFile read_safetensors(const std::string& path, size_t skip) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  f.seekg(0, std::ios::end);
  const uint64_t size = f.tellg();
  f.seekg(skip);
  uint64_t hlen = 0;
  if (size < skip + 8 || !f.read(reinterpret_cast<char*>(&hlen), 8)) throw Error(path + ": too short for a safetensors file");
  if (hlen > size - skip - 8) throw Error(path + ": header length " + std::to_string(hlen) + " exceeds the file");
  std::string header(hlen, '\0');
  f.read(header.data(), hlen);
  Parser p{header, 0, path};
  Json root = p.value();
  if (root.kind != Json::Obj) throw Error(path + ": header is not a JSON object");
  const uint64_t data_start = skip + 8 + hlen, data_size = size - data_start;
  TensorFile out;
  out.path = path;
  for (auto& [name, v] : root.obj) {
    if (name == "__metadata__") {
      for (auto& [k, m] : v.obj) out.metadata[k] = m.str;
      continue;
    }
    const Json *dt = field(v, "dtype"), *sh = field(v, "shape"), *off = field(v, "data_offsets");
    if (!dt || !sh || !off || off->arr.size() != 2)
      throw Error(path + ": tensor '" + name + "' lacks dtype, shape or data_offsets");
    Shape s;
    s.ndim = (int)sh->arr.size();
    if (s.ndim > Shape::kMaxDims) throw Error(path + ": tensor '" + name + "' has too many dimensions");
    for (int d = 0; d < s.ndim; d++) s.d[d] = (int64_t)sh->arr[d].num;
    const uint64_t b = (uint64_t)off->arr[0].num, e = (uint64_t)off->arr[1].num;
    const std::string& t = dt->str;
    const size_t esize = t == "F64" || t == "I64" ? 8 : t == "F32" || t == "I32" ? 4 : 0;
    if (!esize) throw Error(path + ": tensor '" + name + "' has dtype " + t + "; supported: F32, F64, I32, I64");
    if (e < b || e > data_size || e - b != (uint64_t)s.numel() * esize)
      throw Error(path + ": tensor '" + name + "' data_offsets [" + std::to_string(b) + ", " + std::to_string(e) +
                  ") do not fit shape " + s.str() + " of " + t + " in " + std::to_string(data_size) + " data bytes");
    std::vector<char> raw(e - b);
    f.seekg(data_start + b);
    f.read(raw.data(), raw.size());
    if (!f) throw Error(path + ": truncated while reading tensor '" + name + "'");
    Tensor x;
    if (t == "F32") { x = Tensor::empty(s); std::memcpy(x.raw(), raw.data(), raw.size()); }
    else if (t == "F64") { x = Tensor::empty(s, DType::F64); std::memcpy(x.raw(), raw.data(), raw.size()); }
    else if (t == "I32") { x = Tensor::empty(s, DType::I32); std::memcpy(x.raw(), raw.data(), raw.size()); }
    else {
      x = Tensor::empty(s, DType::I32);
      const int64_t* src = reinterpret_cast<const int64_t*>(raw.data());
      for (int64_t k = 0; k < s.numel(); k++) x.data<int32_t>()[k] = (int32_t)src[k];
    }
    out.tensors.push_back({name, x});
  }
  return out;
}

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata, const std::string& prefix) {
  std::string h = "{";
  uint64_t off = 0;
  if (!metadata.empty()) {
    h += "\"__metadata__\":{";
    bool first = true;
    for (auto& [k, v] : metadata) { h += (first ? "\"" : ",\"") + escape(k) + "\":\"" + escape(v) + "\""; first = false; }
    h += "}";
  }
  for (auto& [name, t] : tensors) {
    const char* dt = t.dtype() == DType::F32 ? "F32" : t.dtype() == DType::F64 ? "F64" : "I32";
    std::string shape;
    for (int d = 0; d < t.dim(); d++) {  // appended piece by piece: GCC 12 -O3 warns falsely on ("," + string)
      if (d) shape += ',';
      shape += std::to_string(t.size(d));
    }
    if (h.size() > 1) h += ',';
    h += strf("\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%llu,%llu]}",
                                          escape(name).c_str(), dt, shape.c_str(), (unsigned long long)off,
                                          (unsigned long long)(off + t.nbytes()));
    off += t.nbytes();
  }
  h += "}";
  while ((h.size() + 8) % 8) h += ' ';  // align the data section to 8 bytes, as the reference writer does
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw Error(tmp + ": cannot write");
    f.write(prefix.data(), prefix.size());
    uint64_t n = h.size();
    f.write(reinterpret_cast<const char*>(&n), 8);
    f.write(h.data(), h.size());
    for (auto& [name, t] : tensors) {
      Tensor c = t.to(Device::CPU);
      f.write(static_cast<const char*>(c.raw()), c.nbytes());
    }
    f.flush();
    if (!f) throw Error(tmp + ": write failed (disk full?)");
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) throw Error(path + ": cannot rename " + tmp + " into place");
}
