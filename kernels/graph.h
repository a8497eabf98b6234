// graph.h: record a fixed piece of device work once, then replay it.
//
//   Tensor x = Tensor::empty({1, 3, 256, 256}, DType::F32, dev);   // the static input: copy each new image into it
//   PipOutput out;                                                   // the static outputs: kept while `r` lives
//   Replay r(dev, [&] { out = net.run(x); });
//   for (...) { x.copy_(image); r.run(); decode(out, ...); }
//
// On CUDA the constructor runs the work once (the warm-up fills the caching allocator and creates cuBLAS's handle),
// then captures a second run into a CUDA graph: run() is then a single graph launch for the whole network, instead
// of a launch (and its CPU-side cost) per kernel; at batch 1 those costs are most of the time. The work must issue
// the same operations on the same tensors every time: read only the static inputs, write only the static outputs,
// no host copies inside. The blocks its intermediates use stay reserved for the graph (tensor/allocator.h) until
// the Replay is destroyed. On the CPU there is nothing to capture, and run() simply calls the work again.
#pragma once
#include <functional>

#include "tensor/allocator.h"

class Replay {
 public:
  Replay(Device dev, std::function<void()> work);
  ~Replay();
  Replay(const Replay&) = delete;
  Replay& operator=(const Replay&) = delete;
  void run();                                  // the work again: on CUDA one graph launch (asynchronous)
  bool captured() const { return exec_ != nullptr; }

 private:
  Device dev_;
  std::function<void()> work_;
  void* exec_ = nullptr;  // the CUDA graph, when captured
  BlockList pool_;        // the allocator blocks the graph's intermediates use
};
