// cuda_backend.cu: the CUDA device's memory and copies (plain cudaMalloc under the caching allocator, never managed
// memory). Every CUDA call is checked and a failure names the file and line. The kernels: cuda_kernels.cu.
#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "kernels/cuda/cuda.h"
#include "tensor/tensor.h"

#define CUDA_CHECK(call)                                                                               \
  do {                                                                                                 \
    cudaError_t err_ = (call);                                                                         \
    if (err_ != cudaSuccess)                                                                           \
      fail(__FILE__, __LINE__, std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call + \
                                   ": " + cudaGetErrorString(err_));                                   \
  } while (0)

bool cuda_available() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

void* cuda_raw_alloc(size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));  // plain device memory, never managed memory
  return p;
}

void cuda_raw_free(void* p) { CUDA_CHECK(cudaFree(p)); }

void cuda_memcpy(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  cudaMemcpyKind kind = dd == Device::CUDA ? (sd == Device::CUDA ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                           : cudaMemcpyDeviceToHost;
  CUDA_CHECK(cudaMemcpy(dst, src, bytes, kind));
}

void cuda_memset_zero(void* dst, size_t bytes) { CUDA_CHECK(cudaMemset(dst, 0, bytes)); }
