// allocator.h: a caching allocator. Blocks freed by tensors go back to a per-size free list instead of to the OS,
// so a training loop that makes the same tensors every step stops allocating after its first step. Out of memory
// (host or device) throws Error; the cached host blocks go back to the OS at exit. Device memory comes from the
// hooks of tensor/device.h.
#pragma once
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

enum class Device : uint8_t { CPU, CUDA };

void* device_alloc(Device dev, size_t bytes);  // 64-byte aligned on the CPU
void device_free(Device dev, void* p, size_t bytes);

struct AllocatorStats {
  size_t os_allocs = 0;      // blocks taken from the OS (cudaMalloc on the GPU)
  size_t cache_hits = 0;     // blocks handed out again from a free list
  size_t bytes_cached = 0;   // bytes sitting in free lists now
};
AllocatorStats allocator_stats(Device dev);

// For captured CUDA graphs (kernels/graph.h): the blocks a graph's kernels use must stay the graph's for as long as
// it can be replayed, or a later tensor could be given a block the graph still writes. Between capture_begin and
// capture_end, blocks freed on `dev` go to a private pool, which allocations during the capture draw from first;
// capture_end hands the pool to the graph, and release_pool gives it back to the cache when the graph is gone.
using BlockList = std::vector<std::pair<void*, size_t>>;  // (block, rounded bytes)
void allocator_capture_begin(Device dev);
BlockList allocator_capture_end(Device dev);
void allocator_release_pool(Device dev, const BlockList& pool);
