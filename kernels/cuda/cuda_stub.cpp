// cuda_stub.cpp: the device hooks (tensor/device.h) of a build without nvcc. There is no GPU to answer "is there
// one?", and any attempt to make or move a CUDA tensor is a loud error, never a silent CPU fallback.
#include "tensor/check.h"
#include "tensor/device.h"

static const char* kNoCuda = "this build has no CUDA backend (nvcc was not found at configure time)";

bool cuda_available() { return false; }
void* cuda_raw_alloc(size_t) { fail(__FILE__, __LINE__, kNoCuda); }
void cuda_raw_free(void*) { fail(__FILE__, __LINE__, kNoCuda); }
void cuda_memcpy(void*, Device, const void*, Device, size_t) { fail(__FILE__, __LINE__, kNoCuda); }
void cuda_memset_zero(void*, size_t) { fail(__FILE__, __LINE__, kNoCuda); }
