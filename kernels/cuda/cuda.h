// cuda.h: the CUDA backend's entry points, called only through kernels/dispatch.cpp. Declared in every build;
// defined in cuda_backend.cu when nvcc was found (PIPNET_CUDA).
#pragma once
#include <cstddef>

#include "tensor/allocator.h"

bool cuda_available();  // a device exists and answers (false in builds without CUDA)
