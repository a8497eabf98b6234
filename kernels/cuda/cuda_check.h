// cuda_check.h: every CUDA runtime and cuBLAS call, and every kernel launch, is checked; a failure throws Error
// (tensor/check.h) whose message names the call, the file and the line, and the error CUDA gave.
//   CUDA_CHECK(cudaMalloc(&p, n));      a runtime, event or stream call
//   CUBLAS_CHECK(cublasSgemm(...));     a cuBLAS call
//   kernel<<<grid, block, 0, s>>>(...); LAUNCH_CHECK();   a launch: bad configurations surface here, at the launch
#pragma once
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "tensor/check.h"

#define CUDA_CHECK(call)                                                                                   \
  do {                                                                                                     \
    cudaError_t err_ = (call);                                                                             \
    if (err_ != cudaSuccess)                                                                               \
      fail(__FILE__, __LINE__, std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call + ": " + \
                                   cudaGetErrorString(err_));                                              \
  } while (0)
#define CUBLAS_CHECK(call)                                                                                 \
  do {                                                                                                     \
    cublasStatus_t st_ = (call);                                                                           \
    if (st_ != CUBLAS_STATUS_SUCCESS)                                                                      \
      fail(__FILE__, __LINE__, std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + #call +      \
                                   ": cuBLAS status " + std::to_string((int)st_));                         \
  } while (0)
#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())
