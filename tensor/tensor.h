// tensor.h: the n-d array every other folder works on.
//
// A Tensor is a handle (shared_ptr) to a TensorImpl: a shape, a dtype, a device, and a view (offset) into shared
// Storage. Every tensor is contiguous and row-major; images are NCHW:
//   N = batch, C = channels, H = height, W = width; element (n,c,h,w) is at ((n*C + c)*H + h)*W + w.
// dtypes: F32 is what the network runs in; F64 exists so that gradient checks can run the same graph in double
// through the reference kernels; I32 holds indices (the PIP loss's target cells).
// Autograd state (requires_grad, grad) lives here too; the tape that fills `grad` is in autograd/.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "tensor/allocator.h"
#include "tensor/check.h"

enum class DType : uint8_t { F32, F64, I32 };
size_t dtype_size(DType t);
const char* dtype_name(DType t);
const char* device_name(Device d);

// Shape: up to 6 dimensions, no heap allocation.
struct Shape {
  static constexpr int kMaxDims = 6;
  int ndim = 0;
  int64_t d[kMaxDims] = {};
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  int64_t operator[](int i) const { return d[i < 0 ? i + ndim : i]; }
  int64_t numel() const;  // for shapes the program built; a shape read from a file goes through numel_checked
  // numel() of an untrusted shape (a file header): an Error naming `where` for a negative dimension or more than
  // 2^60 elements (so that numel * 8 bytes still fits an int64).
  int64_t numel_checked(const std::string& where) const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::string str() const;  // "[2, 3, 64, 64]"
};

struct Storage {
  void* ptr = nullptr;
  size_t bytes = 0;
  Device device = Device::CPU;
  Storage(size_t bytes, Device dev);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
};

class Tensor;
struct TensorImpl {
  Shape shape;
  DType dtype = DType::F32;
  std::shared_ptr<Storage> storage;
  size_t offset = 0;  // in elements
  bool requires_grad = false;
  std::shared_ptr<TensorImpl> grad;  // same shape, allocated (zeroed) on first accumulation
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : p_(std::move(impl)) {}

  static Tensor empty(const Shape& s, DType t = DType::F32, Device d = Device::CPU);
  static Tensor zeros(const Shape& s, DType t = DType::F32, Device d = Device::CPU);
  static Tensor full(const Shape& s, double v, DType t = DType::F32, Device d = Device::CPU);
  static Tensor from(const Shape& s, const std::vector<float>& v);  // CPU F32 copy of v

  bool defined() const { return p_ != nullptr; }
  const Shape& shape() const { return p_->shape; }
  int dim() const { return p_->shape.ndim; }
  int64_t size(int i) const { return p_->shape[i]; }
  int64_t numel() const { return p_->shape.numel(); }
  DType dtype() const { return p_->dtype; }
  Device device() const { return p_->storage->device; }
  size_t nbytes() const { return numel() * dtype_size(dtype()); }

  // Raw pointer to the first element (device memory for CUDA tensors). T must match the dtype.
  template <class T> T* data() const;
  void* raw() const;

  Tensor reshape(const Shape& s) const;   // a view sharing storage
  Tensor slice(int64_t begin, int64_t end) const;  // rows begin..end-1 of dimension 0, a view
  Tensor clone() const;
  Tensor to(Device d) const;
  Tensor to(DType t) const;               // CPU only: F32 <-> F64 conversion
  void copy_(const Tensor& src);          // same shape and dtype, any devices
  void fill_(double v);
  std::vector<float> to_vector() const;   // as floats, from any device and dtype
  double item() const;                    // the single element of a 1-element tensor

  // Autograd.
  bool requires_grad() const { return p_->requires_grad; }
  Tensor& set_requires_grad(bool r) { p_->requires_grad = r; return *this; }
  Tensor grad() const { return Tensor(p_->grad); }
  Tensor grad_or_zeros() const;           // the gradient buffer, created zeroed if missing
  void zero_grad();                       // zero the gradient buffer in place (keeps it allocated)
  void drop_grad() { p_->grad.reset(); }  // no gradient at all (PyTorch's zero_grad(set_to_none=True))

  TensorImpl* impl() const { return p_.get(); }
  bool same(const Tensor& o) const { return p_ == o.p_; }

 private:
  std::shared_ptr<TensorImpl> p_;
};
