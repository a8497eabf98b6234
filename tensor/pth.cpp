// pth.cpp: the two containers of torch.save (pth.h), and a small pickle machine for what a state_dict uses.
//
// Every read is bounds-checked against the buffer; the machine has no recursion (objects nest at most kMaxDepth
// deep, so freeing them cannot overflow the stack either) and caps its stack and memo, so any input ends in a
// TensorFile or an Error.
#include "tensor/pth.h"

#include <algorithm>
#include <climits>
#include <cstring>
#include <iterator>
#include <fstream>
#include <map>
#include <memory>
#include <set>

namespace {

constexpr int kMaxDepth = 64;
constexpr size_t kMaxObjects = 1 << 22;

[[noreturn]] void bad(const std::string& src, const std::string& what) { throw Error(src + ": " + what); }

uint64_t le(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

// ---- zip: the central directory, entries stored uncompressed -----------------------------------------------
struct ZipEntry {
  uint64_t offset, size;  // of the data, in the buffer
};

std::map<std::string, ZipEntry> read_zip(const uint8_t* d, size_t n, const std::string& src) {
  if (n < 22) bad(src, "too short for a zip archive");
  size_t eocd = SIZE_MAX;
  for (size_t i = n - 22 + 1; i-- > 0 && n - i <= 22 + 65535;)
    if (le(d + i, 4) == 0x06054b50) { eocd = i; break; }
  if (eocd == SIZE_MAX) bad(src, "not a zip archive (no end-of-directory record)");
  uint64_t entries = le(d + eocd + 10, 2), cd_size = le(d + eocd + 12, 4), cd_off = le(d + eocd + 16, 4);
  if (entries == 0xFFFF || cd_off == 0xFFFFFFFF || cd_size == 0xFFFFFFFF) {  // zip64
    if (eocd < 20 || le(d + eocd - 20, 4) != 0x07064b50) bad(src, "zip64 archive without its locator");
    const uint64_t z = le(d + eocd - 20 + 8, 8);
    if (z > n || n - z < 56 || le(d + z, 4) != 0x06064b50) bad(src, "zip64 end-of-directory record out of the file");
    entries = le(d + z + 32, 8), cd_size = le(d + z + 40, 8), cd_off = le(d + z + 48, 8);
  }
  if (cd_off > n || cd_size > n - cd_off) bad(src, "zip central directory out of the file");
  std::map<std::string, ZipEntry> out;
  size_t p = cd_off;
  const size_t end = cd_off + cd_size;
  for (uint64_t e = 0; e < entries; e++) {
    if (end - p < 46 || le(d + p, 4) != 0x02014b50) bad(src, strf("zip directory entry %llu is damaged", (unsigned long long)e));
    const uint64_t method = le(d + p + 10, 2), nl = le(d + p + 28, 2), xl = le(d + p + 30, 2), cl = le(d + p + 32, 2);
    uint64_t csize = le(d + p + 20, 4), usize = le(d + p + 24, 4), local = le(d + p + 42, 4);
    if (end - p - 46 < nl + xl + cl) bad(src, "zip directory entry runs past the directory");
    const std::string name(reinterpret_cast<const char*>(d + p + 46), nl);
    for (size_t x = p + 46 + nl; x + 4 <= p + 46 + nl + xl;) {  // the zip64 extra field holds the 0xFFFFFFFF values
      const uint64_t id = le(d + x, 2), len = le(d + x + 2, 2);
      size_t q = x + 4;
      if (x + 4 + len > p + 46 + nl + xl) break;
      if (id == 1) {
        auto take = [&](uint64_t& v) { if (v == 0xFFFFFFFF && q + 8 <= x + 4 + len) { v = le(d + q, 8); q += 8; } };
        take(usize), take(csize), take(local);
      }
      x += 4 + len;
    }
    if (method != 0) bad(src, "zip entry '" + name + "' is compressed (torch.save stores entries uncompressed)");
    if (csize != usize) bad(src, "zip entry '" + name + "' has different stored and real sizes");
    if (local > n || n - local < 30 || le(d + local, 4) != 0x04034b50) bad(src, "zip entry '" + name + "' has no local header");
    const uint64_t data = local + 30 + le(d + local + 26, 2) + le(d + local + 28, 2);
    if (data > n || csize > n - data) bad(src, "zip entry '" + name + "' runs past the end of the file");
    out[name] = {data, csize};
    p += 46 + nl + xl + cl;
  }
  return out;
}

// ---- pickle objects ----------------------------------------------------------------------------------
struct Obj;
using P = std::shared_ptr<Obj>;
struct Obj {
  enum Kind { None, Bool, Int, Float, Str, Tuple, List, Dict, Global, Storage, TensorRef } kind;
  int64_t i = 0;                 // Int, Bool; Storage: numel; TensorRef: storage offset
  double f = 0;
  std::string s, s2;             // Str; Global: module, name; Storage: key, storage type
  std::vector<P> items;          // Tuple, List; Dict: key, value, key, value ...; TensorRef: its storage
  std::vector<int64_t> shape, stride;  // TensorRef
  int depth = 1;
};

P make(Obj::Kind k) {
  auto o = std::make_shared<Obj>();
  o->kind = k;
  return o;
}

struct StorageType {
  const char* name;
  const char* dtype;
  int size;
};
const StorageType kStorageTypes[] = {
    {"FloatStorage", "float32", 4}, {"DoubleStorage", "float64", 8}, {"HalfStorage", "float16", 2},
    {"BFloat16Storage", "bfloat16", 2}, {"LongStorage", "int64", 8}, {"IntStorage", "int32", 4},
    {"ShortStorage", "int16", 2}, {"CharStorage", "int8", 1}, {"ByteStorage", "uint8", 1}, {"BoolStorage", "bool", 1}};
const StorageType* storage_type(const std::string& name) {
  for (auto& t : kStorageTypes) if (name == t.name) return &t;
  return nullptr;
}

// Runs one pickle from d[pos], returns its object and moves pos past STOP.
class Unpickler {
 public:
  Unpickler(const uint8_t* d, size_t n, size_t pos, const std::string& src) : d_(d), n_(n), p_(pos), src_(src) {}
  size_t pos() const { return p_; }
  P run();

 private:
  const uint8_t* need(size_t k) {
    if (n_ - p_ < k) bad(src_, strf("pickle ends early at byte %zu", p_));
    const uint8_t* q = d_ + p_;
    p_ += k;
    return q;
  }
  P pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) bad(src_, strf("pickle stack underflow at byte %zu", p_));
    P o = stack_.back();
    stack_.pop_back();
    return o;
  }
  std::vector<P> pop_mark() {
    if (marks_.empty()) bad(src_, strf("pickle has no MARK for the opcode at byte %zu", p_));
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<P> v(stack_.begin() + m, stack_.end());
    stack_.resize(m);
    return v;
  }
  void push(P o) {
    if (stack_.size() >= kMaxObjects) bad(src_, "pickle stack too large");
    stack_.push_back(std::move(o));
  }
  P nest(Obj::Kind k, std::vector<P> items) {
    P o = make(k);
    for (auto& x : items) o->depth = std::max(o->depth, x->depth + 1);
    if (o->depth > kMaxDepth) bad(src_, strf("pickle nests deeper than %d", kMaxDepth));
    o->items = std::move(items);
    return o;
  }
  void add_items(P& target, const std::vector<P>& v) {  // into a list or dict: no cycles, bounded depth
    for (auto& x : v) {
      if (reaches(x.get(), target.get())) bad(src_, "pickle builds a container that holds itself");
      target->depth = std::max(target->depth, x->depth + 1);
    }
    if (target->depth > kMaxDepth) bad(src_, strf("pickle nests deeper than %d", kMaxDepth));
    target->items.insert(target->items.end(), v.begin(), v.end());
  }
  // Whether `target` is inside `from` (a walk over at most kMaxObjects nodes).
  bool reaches(const Obj* from, const Obj* target) {
    std::vector<const Obj*> todo = {from};
    std::set<const Obj*> seen;
    while (!todo.empty()) {
      const Obj* o = todo.back();
      todo.pop_back();
      if (o == target) return true;
      if (!seen.insert(o).second) continue;
      if (seen.size() > kMaxObjects) bad(src_, "pickle too complex");
      for (auto& x : o->items) todo.push_back(x.get());
    }
    return false;
  }
  P str(size_t len) {
    P o = make(Obj::Str);
    const uint8_t* q = need(len);
    o->s.assign(reinterpret_cast<const char*>(q), len);
    return o;
  }
  P global(const std::string& module, const std::string& name) {
    P o = make(Obj::Global);
    o->s = module;
    o->s2 = name;
    return o;
  }
  void memo_put(uint64_t k) {
    if (stack_.empty()) bad(src_, "pickle memoizes an empty stack");
    if (memo_.size() >= kMaxObjects && !memo_.count(k)) bad(src_, "pickle memo too large");
    memo_[k] = stack_.back();
  }
  P memo_get(uint64_t k) {
    auto it = memo_.find(k);
    if (it == memo_.end()) bad(src_, strf("pickle refers to memo entry %llu that was never stored", (unsigned long long)k));
    return it->second;
  }
  P reduce(const P& fn, const P& args);
  P persistent(const P& pid);
  std::vector<int64_t> ints(const P& t, const char* what);

  const uint8_t* d_;
  size_t n_, p_;
  std::string src_;
  std::vector<P> stack_;
  std::vector<size_t> marks_;
  std::map<uint64_t, P> memo_;
};

std::vector<int64_t> Unpickler::ints(const P& t, const char* what) {
  if (t->kind != Obj::Tuple && t->kind != Obj::List) bad(src_, std::string("tensor ") + what + " is not a tuple");
  std::vector<int64_t> v;
  for (auto& x : t->items) {
    if (x->kind != Obj::Int || !x->s.empty()) bad(src_, std::string("tensor ") + what + " holds a non-integer");
    v.push_back(x->i);
  }
  return v;
}

P Unpickler::persistent(const P& pid) {
  // ('storage', StorageType, key, location, numel[, view]) -> a storage of numel elements under key
  if (pid->kind != Obj::Tuple || pid->items.size() < 5 || pid->items[0]->kind != Obj::Str || pid->items[0]->s != "storage")
    bad(src_, "unsupported persistent id (expected a ('storage', ...) tuple)");
  const P& type = pid->items[1];
  const P& key = pid->items[2];
  const P& numel = pid->items[4];
  if (type->kind != Obj::Global || type->s != "torch" || !storage_type(type->s2))
    bad(src_, "unsupported storage type '" + type->s + "." + type->s2 + "'");
  if (key->kind != Obj::Str || numel->kind != Obj::Int || numel->i < 0 || !numel->s.empty())
    bad(src_, "malformed storage reference");
  if (pid->items.size() > 5 && pid->items[5]->kind != Obj::None) bad(src_, "storage views (legacy view metadata) are not supported");
  P o = make(Obj::Storage);
  o->s = key->s;
  o->s2 = type->s2;
  o->i = numel->i;
  return o;
}

P Unpickler::reduce(const P& fn, const P& args) {
  if (fn->kind != Obj::Global) bad(src_, "pickle calls something that is not a global");
  if (args->kind != Obj::Tuple) bad(src_, "pickle calls " + fn->s + "." + fn->s2 + " without an argument tuple");
  const std::string f = fn->s + "." + fn->s2;
  const auto& a = args->items;
  if (f == "collections.OrderedDict") {
    if (!a.empty()) bad(src_, "OrderedDict built from arguments is not supported");
    return make(Obj::Dict);
  }
  if (f == "torch._utils._rebuild_tensor_v2" || f == "torch._utils._rebuild_tensor") {
    if (a.size() < 4 || a[0]->kind != Obj::Storage || a[1]->kind != Obj::Int || !a[1]->s.empty())
      bad(src_, f + ": expected (storage, offset, size, stride, ...)");
    P t = make(Obj::TensorRef);
    t->items = {a[0]};
    t->depth = 2;
    t->i = a[1]->i;
    t->shape = ints(a[2], "size");
    t->stride = ints(a[3], "stride");
    return t;
  }
  if (f == "torch._utils._rebuild_parameter" || f == "torch._utils._rebuild_parameter_with_state") {
    if (a.empty() || a[0]->kind != Obj::TensorRef) bad(src_, f + ": expected a tensor");
    return a[0];
  }
  bad(src_, "unsupported callable '" + f + "' (a state_dict of tensors is expected)");
}

P Unpickler::run() {
  for (;;) {
    const size_t at = p_;
    const uint8_t op = *need(1);
    switch (op) {
      case 0x80: need(1); break;                              // PROTO
      case 0x95: need(8); break;                              // FRAME
      case '.': {                                             // STOP
        if (stack_.size() != 1 || !marks_.empty()) bad(src_, "pickle stops with a malformed stack");
        return stack_.back();
      }
      case '(': marks_.push_back(stack_.size()); break;       // MARK
      case ')': push(make(Obj::Tuple)); break;                // EMPTY_TUPLE
      case 't': push(nest(Obj::Tuple, pop_mark())); break;    // TUPLE
      case 0x85: case 0x86: case 0x87: {                      // TUPLE1..3
        std::vector<P> v(op - 0x84);
        for (size_t k = v.size(); k-- > 0;) v[k] = pop();
        push(nest(Obj::Tuple, std::move(v)));
        break;
      }
      case ']': push(make(Obj::List)); break;                 // EMPTY_LIST
      case '}': push(make(Obj::Dict)); break;                 // EMPTY_DICT
      case 'a': {                                             // APPEND
        P x = pop();
        P l = pop();
        if (l->kind != Obj::List) bad(src_, "APPEND to something that is not a list");
        add_items(l, {x});
        push(l);
        break;
      }
      case 'e': {                                             // APPENDS
        std::vector<P> v = pop_mark();
        P l = pop();
        if (l->kind != Obj::List) bad(src_, "APPENDS to something that is not a list");
        add_items(l, v);
        push(l);
        break;
      }
      case 's': case 'u': {                                   // SETITEM, SETITEMS
        std::vector<P> v;
        if (op == 's') { P val = pop(); P key = pop(); v = {key, val}; }
        else v = pop_mark();
        if (v.size() % 2) bad(src_, "SETITEMS with an odd number of items");
        P dict = pop();
        if (dict->kind != Obj::Dict) bad(src_, "SETITEM on something that is not a dict");
        add_items(dict, v);
        push(dict);
        break;
      }
      case 'N': push(make(Obj::None)); break;
      case 0x88: case 0x89: { P b = make(Obj::Bool); b->i = op == 0x88; push(b); break; }
      case 'K': { P o = make(Obj::Int); o->i = *need(1); push(o); break; }
      case 'M': { P o = make(Obj::Int); o->i = (int64_t)le(need(2), 2); push(o); break; }
      case 'J': { P o = make(Obj::Int); o->i = (int32_t)(uint32_t)le(need(4), 4); push(o); break; }
      case 0x8a: {                                            // LONG1: n little-endian two's-complement bytes
        const int nb = *need(1);
        if (nb > 10) bad(src_, "integer too large");
        const uint8_t* q = need(nb);
        uint64_t v = 0;
        for (int k = std::min(nb, 8) - 1; k >= 0; k--) v = v << 8 | q[k];
        if (nb > 0 && nb < 8 && (q[nb - 1] & 0x80)) v |= ~0ull << (8 * nb);  // sign-extend
        P o = make(Obj::Int);
        o->i = (int64_t)v;
        if (nb > 8) o->s = "wide";  // only the legacy magic number is wider than 64 bits
        push(o);
        break;
      }
      case 'G': {                                             // BINFLOAT, big-endian
        const uint8_t* q = need(8);
        uint64_t v = 0;
        for (int k = 0; k < 8; k++) v = v << 8 | q[k];
        P o = make(Obj::Float);
        std::memcpy(&o->f, &v, 8);
        push(o);
        break;
      }
      case 'X': case 'T': case 'B': push(str(le(need(4), 4))); break;   // BINUNICODE, BINSTRING, BINBYTES
      case 0x8c: case 'U': case 'C': push(str(*need(1))); break;        // short forms
      case 0x8d: case 0x8e: push(str(le(need(8), 8))); break;           // BINUNICODE8, BINBYTES8
      case 'c': {                                             // GLOBAL "module\nname\n"
        std::string parts[2];
        for (auto& part : parts) {
          for (;;) {
            const char ch = (char)*need(1);
            if (ch == '\n') break;
            if (part.size() > 256) bad(src_, "GLOBAL name too long");
            part += ch;
          }
        }
        push(global(parts[0], parts[1]));
        break;
      }
      case 0x93: {                                            // STACK_GLOBAL
        P name = pop();
        P module = pop();
        if (name->kind != Obj::Str || module->kind != Obj::Str) bad(src_, "STACK_GLOBAL of non-strings");
        push(global(module->s, name->s));
        break;
      }
      case 'q': memo_put(*need(1)); break;                    // BINPUT
      case 'r': memo_put(le(need(4), 4)); break;              // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;               // MEMOIZE
      case 'h': push(memo_get(*need(1))); break;              // BINGET
      case 'j': push(memo_get(le(need(4), 4))); break;        // LONG_BINGET
      case 'R': {                                             // REDUCE
        P args = pop();
        P fn = pop();
        push(reduce(fn, args));
        break;
      }
      case 'b': {                                             // BUILD: an OrderedDict's _metadata, a tensor's state
        P state = pop();
        P obj = pop();
        if (obj->kind != Obj::Dict && obj->kind != Obj::TensorRef) bad(src_, "BUILD on an unsupported object");
        push(obj);
        break;
      }
      case 'Q': push(persistent(pop())); break;               // BINPERSID
      default:
        bad(src_, strf("unsupported pickle opcode 0x%02x at byte %zu (a state_dict of tensors is expected)", op, at));
    }
  }
}

// ---- tensors out of storages ----------------------------------------------------------------------
struct StorageBytes {
  const uint8_t* data;
  uint64_t bytes;
};

float half_to_float(uint16_t h) {
  const uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023;
  uint32_t bits;
  if (exp == 0 && man == 0) bits = sign;
  else if (exp == 0) {  // subnormal: normalise
    int e = -1;
    uint32_t m = man;
    do { e++; m <<= 1; } while (!(m & 1024));
    bits = sign | (uint32_t)(112 - e) << 23 | (m & 1023) << 13;
  } else if (exp == 31) bits = sign | 0x7f800000u | man << 13;
  else bits = sign | (exp + 112) << 23 | man << 13;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

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
  const bool is_float = !std::strncmp(type->dtype, "float", 5) || !std::strcmp(type->dtype, "bfloat16");
  Tensor out = Tensor::empty(shape, is_float ? DType::F32 : DType::I32);
  std::vector<int64_t> idx(shape.ndim, 0);
  for (int64_t e = 0; e < numel; e++) {
    int64_t off = t.i;
    for (int k = 0; k < shape.ndim; k++) off += idx[k] * t.stride[k];
    const uint8_t* q = sb.data + off * esz;
    const std::string dt = type->dtype;
    if (is_float) {
      float v;
      if (dt == "float32") std::memcpy(&v, q, 4);
      else if (dt == "float64") { double x; std::memcpy(&x, q, 8); v = (float)x; }
      else if (dt == "float16") v = half_to_float((uint16_t)le(q, 2));
      else { uint32_t b = (uint32_t)le(q, 2) << 16; std::memcpy(&v, &b, 4); }  // bfloat16
      out.data<float>()[e] = v;
    } else {
      int64_t v;
      if (dt == "int64") v = (int64_t)le(q, 8);
      else if (dt == "int32") v = (int32_t)(uint32_t)le(q, 4);
      else if (dt == "int16") v = (int16_t)(uint16_t)le(q, 2);
      else if (dt == "int8") v = (int8_t)q[0];
      else v = q[0];  // uint8, bool
      if (v < INT32_MIN || v > INT32_MAX) bad(src, strf("%s: value %lld does not fit in int32", name.c_str(), (long long)v));
      out.data<int32_t>()[e] = (int32_t)v;
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
  char head[4] = {0, 0, 0, 0};
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  f.read(head, 4);
  return (head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) || (uint8_t)head[0] == 0x80;
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
