#include "kernels/graph.h"

#include "kernels/cuda/cuda.h"

Replay::Replay(Device dev, std::function<void()> work) : dev_(dev), work_(std::move(work)) {
  work_();  // warm-up (on the CPU this is also the first result)
#ifdef PIPNET_CUDA
  if (dev_ == Device::CUDA) {
    allocator_capture_begin(dev_);
    exec_ = cuda_graph_capture(work_);
    pool_ = allocator_capture_end(dev_);
    run();  // capture records without running: run once, so the outputs hold this input's results as on the CPU
  }
#endif
}

Replay::~Replay() {
#ifdef PIPNET_CUDA
  if (exec_) {
    cuda_graph_destroy(exec_);
    allocator_release_pool(dev_, pool_);
  }
#endif
}

void Replay::run() {
#ifdef PIPNET_CUDA
  if (exec_) return cuda_graph_launch(exec_);
#endif
  work_();
}
