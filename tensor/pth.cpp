// pth.cpp: the two containers of torch.save (pth.h) around the pickle machine of pickle.h, and tensors made from
// storages.
//
// Every read is bounds-checked against the buffer, so any input ends in a TensorFile or an Error.
#include "tensor/pth.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

#include "tensor/half.h"
#include "tensor/pickle.h"
#include "tensor/zip.h"

namespace {

using namespace pickle;  // Obj, bad(), le()

// ---- tensors out of storages ----------------------------------------------------------------------
struct StorageBytes {
  const uint8_t* data;
  uint64_t bytes;
};

Tensor materialize(const std::string& src, const std::string& name, const Obj& t, const StorageBytes& sb) {
  const Obj& st = *t.items[0];
  const StorageType* type = storage_type(st.s2);
  const int esz = type->size;
  if (sb.bytes / esz < (uint64_t)st.i) bad(src, "storage '" + st.s + "' of " + name + " is shorter than its declared size");
  if (t.shape.size() > (size_t)Shape::kMaxDims || t.shape.size() != t.stride.size())
    bad(src, name + ": size and stride disagree or have too many dimensions");
  Shape shape;
  shape.ndim = (int)t.shape.size();
  int64_t numel = 1, last = t.i;
  for (int k = 0; k < shape.ndim; k++) {
    if (t.shape[k] < 0 || t.stride[k] < 0 || t.shape[k] > (int64_t)1 << 31 || t.stride[k] > (int64_t)1 << 40)
      bad(src, name + ": negative or huge size or stride");
    shape.d[k] = t.shape[k];
    numel *= t.shape[k];
    if (numel > (int64_t)1 << 31) bad(src, name + ": more than 2^31 elements");
    if (t.shape[k] > 0) last += (t.shape[k] - 1) * t.stride[k];
  }
  if (t.i < 0 || (numel > 0 && last >= st.i))
    bad(src, strf("%s: elements up to %lld of storage '%s' with %lld", name.c_str(), (long long)last, st.s.c_str(), (long long)st.i));
  enum Kind { F32, F64, F16, BF16, I64, I32, I16, I8, U8 };  // told once, not per element
  static const std::pair<const char*, Kind> kinds[] = {{"float32", F32}, {"float64", F64}, {"float16", F16},
      {"bfloat16", BF16}, {"int64", I64}, {"int32", I32}, {"int16", I16}, {"int8", I8}, {"uint8", U8}, {"bool", U8}};
  Kind kind = U8;
  for (auto& [n, k] : kinds) if (!std::strcmp(type->dtype, n)) kind = k;
  const bool is_float = kind <= BF16;
  Tensor out = Tensor::empty(shape, is_float ? DType::F32 : DType::I32);
  float* of = is_float ? out.data<float>() : nullptr;
  int32_t* oi = is_float ? nullptr : out.data<int32_t>();
  std::vector<int64_t> idx(shape.ndim, 0);
  for (int64_t e = 0; e < numel; e++) {
    int64_t off = t.i;
    for (int k = 0; k < shape.ndim; k++) off += idx[k] * t.stride[k];
    const uint8_t* q = sb.data + off * esz;
    if (is_float) {
      float v;
      switch (kind) {
        case F32: std::memcpy(&v, q, 4); break;
        case F64: { double x; std::memcpy(&x, q, 8); v = (float)x; break; }
        case F16: v = half_to_float((uint16_t)le(q, 2)); break;
        default: { uint32_t bits = (uint32_t)le(q, 2) << 16; std::memcpy(&v, &bits, 4); }  // bfloat16
      }
      of[e] = v;
    } else {
      int64_t v;
      switch (kind) {
        case I64: v = (int64_t)le(q, 8); break;
        case I32: v = (int32_t)(uint32_t)le(q, 4); break;
        case I16: v = (int16_t)(uint16_t)le(q, 2); break;
        case I8: v = (int8_t)q[0]; break;
        default: v = q[0];  // uint8, bool
      }
      if (v < INT32_MIN || v > INT32_MAX) bad(src, strf("%s: value %lld does not fit in int32", name.c_str(), (long long)v));
      oi[e] = (int32_t)v;
    }
    for (int k = shape.ndim - 1; k >= 0; k--) {  // next index, last dimension fastest
      if (++idx[k] < shape.d[k]) break;
      idx[k] = 0;
    }
  }
  return out;
}

// The tensors of a (possibly nested) dict, with dotted names; scalars go to metadata.
void collect(const std::string& src, const Obj& dict, const std::string& prefix, TensorFile& out,
             const std::map<std::string, StorageBytes>& storages) {
  for (size_t k = 0; k + 1 < dict.items.size(); k += 2) {
    const Obj& key = *dict.items[k];
    const Obj& val = *dict.items[k + 1];
    if (key.kind != Obj::Str) bad(src, "a state_dict key is not a string");
    const std::string name = prefix + key.s;
    if (val.kind == Obj::TensorRef) {
      auto it = storages.find(val.items[0]->s);
      if (it == storages.end()) bad(src, name + ": its storage '" + val.items[0]->s + "' is not in the file");
      out.tensors.push_back({name, materialize(src, name, val, it->second)});
    } else if (val.kind == Obj::Dict) {
      collect(src, val, name + ".", out, storages);
    } else if (val.kind == Obj::Int) {
      out.metadata[name] = std::to_string(val.i);
    } else if (val.kind == Obj::Str) {
      out.metadata[name] = val.s;
    }  // other values (None, lists of hyper-parameters) carry no weights
  }
}

// Every storage the object refers to: key -> storage object.
void storages_of(const P& root, std::map<std::string, const Obj*>& out) {
  std::vector<const Obj*> todo = {root.get()};
  std::set<const Obj*> seen;
  while (!todo.empty()) {
    const Obj* o = todo.back();
    todo.pop_back();
    if (!seen.insert(o).second) continue;
    if (o->kind == Obj::Storage) out[o->s] = o;
    for (auto& x : o->items) todo.push_back(x.get());
  }
}

}  // namespace

TensorFile parse_pth(const uint8_t* d, size_t n, const std::string& src) {
  TensorFile out;
  out.path = src;
  std::map<std::string, StorageBytes> storages;
  P root;
  if (n >= 4 && le(d, 4) == 0x04034b50) {  // zip
    auto entries = read_zip(d, n, src);
    std::string prefix;
    for (auto& [name, e] : entries)
      if (name.size() >= 8 && name.compare(name.size() - 8, 8, "data.pkl") == 0 && std::count(name.begin(), name.end(), '/') == 1)
        prefix = name.substr(0, name.size() - 8);
    if (!entries.count(prefix + "data.pkl")) bad(src, "zip archive without data.pkl (not a torch.save file)");
    const ZipEntry pkl = entries[prefix + "data.pkl"];
    Unpickler u(d, pkl.offset + pkl.size, pkl.offset, src);
    root = u.run();
    std::map<std::string, const Obj*> refs;
    storages_of(root, refs);
    for (auto& [key, st] : refs) {
      auto it = entries.find(prefix + "data/" + key);
      if (it == entries.end()) bad(src, "storage '" + key + "' has no record data/" + key + " in the archive");
      storages[key] = {d + it->second.offset, it->second.size};
    }
  } else if (n >= 2 && d[0] == 0x80) {  // legacy: magic, protocol, system info, object, storage keys, storages
    Unpickler magic(d, n, 0, src);
    P m = magic.run();
    // the magic number 0x1950a86a20f9469cfc6c is 80 bits wide: an Int keeps its low 64
    if (m->kind != Obj::Int || (uint64_t)m->i != 0xa86a20f9469cfc6cull)
      bad(src, "not a PyTorch file (no torch.save magic number; a zip archive or the legacy format is expected)");
    Unpickler proto(d, n, magic.pos(), src);
    P pv = proto.run();
    if (pv->kind != Obj::Int || pv->i != 1001) bad(src, "legacy torch.save file of an unknown protocol version");
    Unpickler sys(d, n, proto.pos(), src);
    P info = sys.run();
    if (info->kind != Obj::Dict) bad(src, "legacy torch.save file without its system information");
    for (size_t k = 0; k + 1 < info->items.size(); k += 2)
      if (info->items[k]->kind == Obj::Str && info->items[k]->s == "little_endian" && info->items[k + 1]->i != 1)
        bad(src, "big-endian legacy file: not supported");
    Unpickler body(d, n, sys.pos(), src);
    root = body.run();
    Unpickler keys_u(d, n, body.pos(), src);
    P keys = keys_u.run();
    if (keys->kind != Obj::List) bad(src, "legacy torch.save file without its list of storages");
    std::map<std::string, const Obj*> refs;
    storages_of(root, refs);
    size_t p = keys_u.pos();
    for (auto& k : keys->items) {
      if (k->kind != Obj::Str || !refs.count(k->s)) bad(src, "legacy storage list names an unknown storage");
      const StorageType* type = storage_type(refs[k->s]->s2);
      if (n - p < 8) bad(src, "legacy storage '" + k->s + "' is cut off");
      const uint64_t count = le(d + p, 8);
      p += 8;
      if (count > (n - p) / type->size) bad(src, "legacy storage '" + k->s + "' runs past the end of the file");
      storages[k->s] = {d + p, count * type->size};
      p += count * type->size;
    }
  } else {
    bad(src, "not a PyTorch file (neither a zip archive nor a legacy pickle)");
  }
  if (root->kind != Obj::Dict) bad(src, "the saved object is not a dict (a state_dict is expected)");
  collect(src, *root, "", out, storages);
  if (out.tensors.empty()) bad(src, "no tensors in the saved dict");
  return out;
}

TensorFile read_pth(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::string bytes((std::istreambuf_iterator<char>(f)), {});
  return parse_pth(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path);
}

bool is_pth_file(const std::string& path) {
  char head[9] = {0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  f.read(head, 9);
  // A legacy pickle opens with PROTO (0x80); so does a safetensors file whose header length is 128 mod 256, but
  // its header (from byte 8) opens with '{', where the pickle has its magic number.
  return (head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) || ((uint8_t)head[0] == 0x80 && head[8] != '{');
}

TensorFile read_weights_file(const std::string& path) {
  if (!is_pth_file(path)) return read_safetensors(path);
  TensorFile f = read_pth(path);
  for (const char* prefix : {"state_dict.", "model.", "module."}) {
    const size_t n = std::strlen(prefix);
    bool all = !f.tensors.empty();
    for (auto& [name, t] : f.tensors) all &= name.compare(0, n, prefix) == 0;
    if (all)
      for (auto& [name, t] : f.tensors) name = name.substr(n);
  }
  return f;
}
