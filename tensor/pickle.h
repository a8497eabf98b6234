// pickle.h: the part of Python's pickle protocol that a torch.save state_dict uses, as a small stack machine
// (tensor/pth.h reads the files around it). It builds Obj trees: None, bools, ints, floats, strings, tuples, lists,
// dicts (OrderedDict too), globals, and what torch.save adds: storages (persistent ids) and tensors
// (torch._utils._rebuild_tensor_v2 / _rebuild_parameter). Any other opcode or callable is an Error naming it.
// No recursion; objects nest at most kMaxDepth deep and never hold themselves, the stack and memo are capped, so
// any input ends in an object or an Error.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tensor/check.h"
#include "tensor/zip.h"

namespace pickle {

[[noreturn]] inline void bad(const std::string& src, const std::string& what) { throw Error(src + ": " + what); }
inline uint64_t le(const uint8_t* p, int n) { return read_le(p, n); }

constexpr int kMaxDepth = 64;
constexpr size_t kMaxObjects = 1 << 22;

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

inline P make(Obj::Kind k) {
  auto o = std::make_shared<Obj>();
  o->kind = k;
  return o;
}

struct StorageType {
  const char* name;
  const char* dtype;
  int size;
};
inline const StorageType kStorageTypes[] = {
    {"FloatStorage", "float32", 4}, {"DoubleStorage", "float64", 8}, {"HalfStorage", "float16", 2},
    {"BFloat16Storage", "bfloat16", 2}, {"LongStorage", "int64", 8}, {"IntStorage", "int32", 4},
    {"ShortStorage", "int16", 2}, {"CharStorage", "int8", 1}, {"ByteStorage", "uint8", 1}, {"BoolStorage", "bool", 1}};
inline const StorageType* storage_type(const std::string& name) {
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

}  // namespace pickle
