#include "tensor/allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "tensor/check.h"
#include "tensor/device.h"

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
  bool exited = false;                              // the process is exiting: freed blocks go back to the OS
  AllocatorStats stats;
};

// Host blocks of 2 MB and more are placed on 2 MB boundaries and marked for transparent huge pages (Linux's
// default THP mode, "madvise", gives them only to memory that asks). A convolution walks its tensors a channel apart
// (16 KB at 64x64) and its weights a panel at a time: with 4 KB pages nearly every such step is a new TLB entry.
constexpr size_t kHugePage = 2u << 20;

void* os_alloc(Device dev, size_t bytes) {
  if (dev == Device::CUDA) return cuda_raw_alloc(bytes);  // throws Error when it cannot
  const bool huge = bytes >= kHugePage;
  void* p = huge ? std::aligned_alloc(kHugePage, (bytes + kHugePage - 1) / kHugePage * kHugePage)
                 : std::aligned_alloc(64, bytes);
  if (!p) fail(__FILE__, __LINE__, strf("out of host memory allocating %zu bytes", bytes));
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, (bytes + kHugePage - 1) / kHugePage * kHugePage, MADV_HUGEPAGE);  // advice: failure is harmless
#endif
  return p;
}

void os_free(Device dev, void* p) {
  if (dev == Device::CUDA) return cuda_raw_free(p);
  std::free(p);
}

// At exit, the host blocks sitting in the CPU cache go back to the OS (so that LeakSanitizer reports no lost
// blocks), and from then on a freed host block goes straight back too. The caches themselves are never destroyed:
// a tensor held by another static object can be freed during static destruction, before or after this runs, and
// must still find its cache (and its mutex) alive. CUDA blocks are left to the driver, which reclaims a process's
// device memory when it ends: by now the CUDA runtime may have shut down, and cudaFree would fail.
struct ReleaseAtExit {
  Cache* caches;
  ~ReleaseAtExit() {
    Cache& c = caches[static_cast<int>(Device::CPU)];
    std::lock_guard<std::mutex> lock(c.mu);
    for (auto& [size, blocks] : c.free_lists)
      for (void* p : blocks) os_free(Device::CPU, p);
    c.free_lists.clear();
    c.stats.bytes_cached = 0;
    c.exited = true;
  }
};

Cache& cache(Device dev) {
  static Cache* caches = new Cache[2];  // never deleted (see ReleaseAtExit)
  // Constructed on the first allocation, so destroyed after every static object made after it (a static tensor's
  // blocks are back in the cache by then) and before those made earlier (their tensors' blocks go to the OS).
  static ReleaseAtExit release_at_exit{caches};
  return caches[static_cast<int>(dev)];
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
  }
  void* p = os_alloc(dev, n);
  std::lock_guard<std::mutex> lock(c.mu);
  c.stats.os_allocs++;
  return p;
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
  if (c.exited && dev == Device::CPU) return os_free(dev, p);
  c.free_lists[n].push_back(p);
  c.stats.bytes_cached += n;
}

AllocatorStats allocator_stats(Device dev) {
  Cache& c = cache(dev);
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
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
