// allocator.h: a caching allocator. Blocks freed by tensors go back to a per-size free list instead of to the OS,
// so a training loop that makes the same tensors every step stops allocating after its first step.
#pragma once
#include <cstddef>
#include <cstdint>

enum class Device : uint8_t { CPU, CUDA };

void* device_alloc(Device dev, size_t bytes);  // 64-byte aligned on the CPU
void device_free(Device dev, void* p, size_t bytes);

struct AllocatorStats {
  size_t os_allocs = 0;      // blocks taken from the OS (cudaMalloc on the GPU)
  size_t cache_hits = 0;     // blocks handed out again from a free list
  size_t bytes_cached = 0;   // bytes sitting in free lists now
};
AllocatorStats allocator_stats(Device dev);
void allocator_release_cache(Device dev);  // give every cached block back to the OS
