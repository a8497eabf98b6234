#include "tensor/tensor.h"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "tensor/device.h"

size_t dtype_size(DType t) { return t == DType::F64 ? 8 : 4; }
const char* dtype_name(DType t) { return t == DType::F32 ? "f32" : t == DType::F64 ? "f64" : "i32"; }
const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }

void fail(const char* file, int line, const std::string& msg) { throw Error(msg, file, line); }

std::string strf(const char* fmt, ...) {  // any length: measured first, then written
  va_list ap, again;
  va_start(ap, fmt);
  va_copy(again, ap);
  const int n = vsnprintf(nullptr, 0, fmt, ap);
  va_end(ap);
  std::string s(n > 0 ? n : 0, '\0');
  if (n > 0) vsnprintf(s.data(), s.size() + 1, fmt, again);
  va_end(again);
  return s;
}

// ---- Shape ----------------------------------------------------------------------------------------
Shape::Shape(std::initializer_list<int64_t> dims) {
  CHECK_OR_FAIL((int)dims.size() <= kMaxDims, "shape has too many dimensions");
  for (int64_t v : dims) d[ndim++] = v;
}
int64_t Shape::numel() const {
  uint64_t n = 1;  // unsigned: a shape such as [2^32, 2^32, 0] passes numel_checked and must not overflow here
  for (int i = 0; i < ndim; i++) n *= (uint64_t)d[i];
  return (int64_t)n;
}
int64_t Shape::numel_checked(const std::string& where) const {
  constexpr int64_t kMax = int64_t(1) << 60;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (d[i] < 0) throw Error(where + ": " + str() + " has a negative dimension (" + std::to_string(i) + ")");
    if (d[i] != 0 && n > kMax / d[i]) {
      for (int k = 0; k < ndim; k++) if (d[k] == 0) return 0;  // a zero anywhere makes it empty, not huge
      throw Error(where + ": " + str() + " has more than 2^60 elements");
    }
    n *= d[i];
  }
  return n;
}
bool Shape::operator==(const Shape& o) const {
  if (ndim != o.ndim) return false;
  for (int i = 0; i < ndim; i++) if (d[i] != o.d[i]) return false;
  return true;
}
std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim; i++) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + "]";
}

// ---- Storage --------------------------------------------------------------------------------------
Storage::Storage(size_t b, Device dev) : bytes(b), device(dev) { ptr = device_alloc(dev, b ? b : 1); }
Storage::~Storage() { device_free(device, ptr, bytes ? bytes : 1); }

static void copy_bytes(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  if (bytes == 0) return;
  if (dd == Device::CPU && sd == Device::CPU) { std::memcpy(dst, src, bytes); return; }
  cuda_memcpy(dst, dd, src, sd, bytes);
}

// ---- Tensor ---------------------------------------------------------------------------------------
Tensor Tensor::empty(const Shape& s, DType t, Device d) {
  auto impl = std::make_shared<TensorImpl>();
  impl->shape = s;
  impl->dtype = t;
  impl->storage = std::make_shared<Storage>(s.numel() * dtype_size(t), d);
  return Tensor(impl);
}
Tensor Tensor::zeros(const Shape& s, DType t, Device d) {
  Tensor x = empty(s, t, d);
  x.fill_(0.0);
  return x;
}
Tensor Tensor::full(const Shape& s, double v, DType t, Device d) {
  Tensor x = empty(s, t, d);
  x.fill_(v);
  return x;
}
Tensor Tensor::from(const Shape& s, const std::vector<float>& v) {
  CHECK_OR_FAIL((int64_t)v.size() == s.numel(), "Tensor::from: " + std::to_string(v.size()) +
                                                    " values for shape " + s.str());
  Tensor x = empty(s);
  if (!v.empty()) std::memcpy(x.data<float>(), v.data(), v.size() * sizeof(float));  // v.data() may be null
  return x;
}

void* Tensor::raw() const { return static_cast<char*>(p_->storage->ptr) + p_->offset * dtype_size(dtype()); }

template <class T> static constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::F32; }
template <> constexpr DType dtype_of<double>() { return DType::F64; }
template <> constexpr DType dtype_of<int32_t>() { return DType::I32; }
template <class T> T* Tensor::data() const {
  CHECK_OR_FAIL(defined(), "data() of an undefined tensor");
  CHECK_OR_FAIL(dtype() == dtype_of<T>(), std::string("data<T>(): tensor is ") + dtype_name(dtype()));
  return static_cast<T*>(raw());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template int32_t* Tensor::data<int32_t>() const;

Tensor Tensor::reshape(const Shape& s) const {
  CHECK_OR_FAIL(s.numel() == numel(), "reshape " + shape().str() + " -> " + s.str() + ": element counts differ");
  auto impl = std::make_shared<TensorImpl>(*p_);
  impl->shape = s;
  impl->grad = nullptr;
  impl->requires_grad = false;
  return Tensor(impl);
}

Tensor Tensor::slice(int64_t begin, int64_t end) const {
  CHECK_OR_FAIL(dim() >= 1 && 0 <= begin && begin <= end && end <= size(0), "slice out of range");
  auto impl = std::make_shared<TensorImpl>(*p_);
  impl->shape.d[0] = end - begin;
  impl->offset += begin * (numel() / size(0));
  impl->grad = nullptr;
  impl->requires_grad = false;
  return Tensor(impl);
}

Tensor Tensor::clone() const {
  Tensor y = empty(shape(), dtype(), device());
  y.copy_(*this);
  return y;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor y = empty(shape(), dtype(), d);
  y.copy_(*this);
  return y;
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  CHECK_OR_FAIL(device() == Device::CPU, "dtype conversion is CPU only");
  Tensor y = empty(shape(), t);
  int64_t n = numel();
  if (t == DType::F64 && dtype() == DType::F32) {
    const float* s = data<float>(); double* o = y.data<double>();
    for (int64_t i = 0; i < n; i++) o[i] = s[i];
  } else if (t == DType::F32 && dtype() == DType::F64) {
    const double* s = data<double>(); float* o = y.data<float>();
    for (int64_t i = 0; i < n; i++) o[i] = (float)s[i];
  } else {
    fail(__FILE__, __LINE__, std::string("no conversion ") + dtype_name(dtype()) + " -> " + dtype_name(t));
  }
  return y;
}

void Tensor::copy_(const Tensor& src) {
  CHECK_OR_FAIL(src.shape() == shape() && src.dtype() == dtype(),
                "copy_: " + src.shape().str() + " " + dtype_name(src.dtype()) + " into " + shape().str() + " " +
                    dtype_name(dtype()));
  copy_bytes(raw(), device(), src.raw(), src.device(), nbytes());
}

void Tensor::fill_(double v) {
  int64_t n = numel();
  if (device() == Device::CPU) {
    if (dtype() == DType::F32) { float* p = data<float>(); for (int64_t i = 0; i < n; i++) p[i] = (float)v; }
    else if (dtype() == DType::F64) { double* p = data<double>(); for (int64_t i = 0; i < n; i++) p[i] = v; }
    else { int32_t* p = data<int32_t>(); for (int64_t i = 0; i < n; i++) p[i] = (int32_t)v; }
    return;
  }
  if (v == 0.0) { cuda_memset_zero(raw(), nbytes()); return; }
  Tensor h = Tensor::full(shape(), v, dtype(), Device::CPU);
  copy_(h);
}

std::vector<float> Tensor::to_vector() const {
  Tensor h = to(Device::CPU);
  std::vector<float> v(numel());
  for (int64_t i = 0; i < numel(); i++) {
    if (dtype() == DType::F32) v[i] = h.data<float>()[i];
    else if (dtype() == DType::F64) v[i] = (float)h.data<double>()[i];
    else v[i] = (float)h.data<int32_t>()[i];
  }
  return v;
}

double Tensor::item() const {
  CHECK_OR_FAIL(numel() == 1, "item() of a tensor with " + std::to_string(numel()) + " elements");
  Tensor h = to(Device::CPU);
  if (dtype() == DType::F64) return h.data<double>()[0];
  if (dtype() == DType::F32) return h.data<float>()[0];
  return h.data<int32_t>()[0];
}

Tensor Tensor::grad_or_zeros() const {
  if (!p_->grad) p_->grad = Tensor::zeros(shape(), dtype(), device()).p_;
  return Tensor(p_->grad);
}

void Tensor::zero_grad() {
  if (p_->grad) Tensor(p_->grad).fill_(0.0);
}
