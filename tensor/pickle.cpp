#include "tensor/pickle.h"

#include <algorithm>
#include <cstring>
#include <set>

#include "tensor/zip.h"

namespace pickle {

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

}  // namespace pickle
