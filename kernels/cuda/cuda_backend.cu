// cuda_backend.cu: the CUDA device's memory and copies, the hooks of tensor/device.h (plain cudaMalloc under the
// caching allocator, never managed memory), and CUDA graphs. Every CUDA call is checked (cuda_check.h) and a failure
// names the file and line. The kernels: cuda_kernels.cu.
#include <cuda_runtime.h>

#include <cstdio>
#include <functional>
#include <string>

#include "kernels/cuda/cuda.h"
#include "kernels/cuda/cuda_check.h"
#include "tensor/device.h"

bool cuda_available() {  // the one unchecked call: "no device" is an answer here, not an error
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

void* cuda_raw_alloc(size_t bytes) {
  void* p = nullptr;
  CUDA_CHECK(cudaMalloc(&p, bytes));  // plain device memory, never managed memory
  return p;
}

void cuda_raw_free(void* p) { CUDA_CHECK(cudaFree(p)); }

// Copies and fills run on the engine's one stream, in order with its kernels (and so can be captured into a CUDA
// graph). A copy that involves host memory waits for the stream: the host buffer is ready, or free to reuse, when
// it returns. A device-to-device copy and a fill need not wait.
void cuda_memcpy(void* dst, Device dd, const void* src, Device sd, size_t bytes) {
  cudaMemcpyKind kind = dd == Device::CUDA ? (sd == Device::CUDA ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice)
                                           : cudaMemcpyDeviceToHost;
  CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, kind, cuda_stream()));
  if (kind != cudaMemcpyDeviceToDevice) CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));
}

void cuda_memset_zero(void* dst, size_t bytes) { CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, cuda_stream())); }

// ---- CUDA graphs (kernels/graph.h) ------------------------------------------------------------------------
// work() is recorded, not run: every kernel, cuBLAS call, fill and device copy it issues on the engine's stream
// becomes a node of one graph, which then launches as a whole (one launch instead of a hundred for a ResNet-18).
// Relaxed mode lets the caching allocator call cudaMalloc should it need to (capture does not record allocations).
void* cuda_graph_capture(const std::function<void()>& work) {
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  CUDA_CHECK(cudaStreamBeginCapture(cuda_stream(), cudaStreamCaptureModeRelaxed));
  work();
  CUDA_CHECK(cudaStreamEndCapture(cuda_stream(), &graph));
  CUDA_CHECK(cudaGraphInstantiate(&exec, graph, 0));
  CUDA_CHECK(cudaGraphDestroy(graph));  // the executable graph keeps what it needs
  return exec;
}

void cuda_graph_launch(void* exec) {
  CUDA_CHECK(cudaGraphLaunch(static_cast<cudaGraphExec_t>(exec), cuda_stream()));
}

void cuda_graph_destroy(void* exec) {
  CUDA_CHECK(cudaStreamSynchronize(cuda_stream()));  // not while a replay may still be running
  CUDA_CHECK(cudaGraphExecDestroy(static_cast<cudaGraphExec_t>(exec)));
}
