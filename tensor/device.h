// device.h: the seam between tensor/ and a device backend. tensor/ (Storage, Tensor::copy_, fill_, the caching
// allocator) reaches device memory only through these hooks; the CUDA backend defines them in
// kernels/cuda/cuda_backend.cu, and a build without nvcc links kernels/cuda/cuda_stub.cpp instead, whose hooks
// throw Error("this build has no CUDA backend ..."). Declared here so that tensor/ never includes kernels/.
#pragma once
#include <cstddef>

#include "tensor/allocator.h"

bool cuda_available();  // a device exists and answers (false in builds without CUDA)

void* cuda_raw_alloc(size_t bytes);  // plain device memory (cudaMalloc), never managed memory
void cuda_raw_free(void* p);
// Copies and fills run on the engine's one stream; a copy that involves host memory returns when it is done.
void cuda_memcpy(void* dst, Device dst_device, const void* src, Device src_device, size_t bytes);
void cuda_memset_zero(void* dst, size_t bytes);
