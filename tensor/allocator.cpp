#include "tensor/allocator.h"

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#ifdef PIPNET_CUDA
void* cuda_raw_alloc(size_t bytes);  // kernels/cuda/cuda_backend.cu
void cuda_raw_free(void* p);
#endif

namespace {

// Sizes are rounded up so that tensors of nearly the same size share a free list.
size_t round_size(size_t bytes) {
  if (bytes < 512) return 512;
  size_t q = bytes >= (1u << 20) ? (1u << 16) : 512;  // 64 KiB granules for big blocks, 512 B for small
  return (bytes + q - 1) / q * q;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free_lists;  // rounded size -> blocks
  bool capturing = false;                           // a CUDA graph is being captured:
  std::map<size_t, std::vector<void*>> private_lists;  //   the blocks freed meanwhile, kept for that graph
  AllocatorStats stats;
};
Cache& cache(Device dev) {
  static Cache caches[2];
  return caches[static_cast<int>(dev)];
}

void* os_alloc(Device dev, size_t bytes) {
  if (dev == Device::CPU) {
    void* p = std::aligned_alloc(64, bytes);
    if (!p) { std::fprintf(stderr, "error: out of host memory allocating %zu bytes\n", bytes); std::exit(1); }
    return p;
  }
#ifdef PIPNET_CUDA
  return cuda_raw_alloc(bytes);
#else
  std::fprintf(stderr, "error: this build has no CUDA backend (nvcc was not found at configure time)\n");
  std::exit(1);
#endif
}

void os_free(Device dev, void* p) {
  if (dev == Device::CPU) { std::free(p); return; }
#ifdef PIPNET_CUDA
  cuda_raw_free(p);
#endif
}

}  // namespace

void* device_alloc(Device dev, size_t bytes) {
  size_t n = round_size(bytes);
  Cache& c = cache(dev);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.capturing) {
      auto it = c.private_lists.find(n);
      if (it != c.private_lists.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        return p;
      }
    }
    auto it = c.free_lists.find(n);
    if (it != c.free_lists.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
      c.stats.bytes_cached -= n;
      return p;
    }
    c.stats.os_allocs++;
  }
  return os_alloc(dev, n);
}

void device_free(Device dev, void* p, size_t bytes) {
  if (!p) return;
  size_t n = round_size(bytes);
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.capturing) {
    c.private_lists[n].push_back(p);
    return;
  }
  c.free_lists[n].push_back(p);
  c.stats.bytes_cached += n;
}

AllocatorStats allocator_stats(Device dev) {
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void allocator_release_cache(Device dev) {
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free_lists)
    for (void* p : blocks) os_free(dev, p);
  c.free_lists.clear();
  c.stats.bytes_cached = 0;
}

void allocator_capture_begin(Device dev) {
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  c.capturing = true;
}

BlockList allocator_capture_end(Device dev) {
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  BlockList pool;
  for (auto& [size, blocks] : c.private_lists)
    for (void* p : blocks) pool.push_back({p, size});
  c.private_lists.clear();
  c.capturing = false;
  return pool;
}

void allocator_release_pool(Device dev, const BlockList& pool) {
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  for (const auto& [p, size] : pool) {
    c.free_lists[size].push_back(p);
    c.stats.bytes_cached += size;
  }
}
