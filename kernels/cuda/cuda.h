// cuda.h: the CUDA backend's entry points beyond the dispatch table's ops: its stream and cuBLAS GEMM (used by
// cuda_kernels.cu), CUDA graphs (kernels/graph.cpp) and the numbered SGEMM versions (bench_cuda_gemm, test_cuda).
// Declared only when nvcc was found (PIPNET_CUDA), defined in cuda_backend.cu, cuda_kernels.cu and sgemm_*.cu;
// cuda_available() and the memory hooks come from tensor/device.h in every build.
#pragma once
#include <cstddef>

#include "tensor/device.h"  // cuda_available() and the memory hooks, declared for tensor/

#ifdef PIPNET_CUDA
#include <cuda_runtime.h>

#include <functional>

cudaStream_t cuda_stream();   // the one stream every kernel and cuBLAS call runs on
// CUDA graphs (used through kernels/graph.h): record what work() issues on the stream, replay it, free it.
void* cuda_graph_capture(const std::function<void()>& work);
void cuda_graph_launch(void* exec);
void cuda_graph_destroy(void* exec);
// Row-major C = alpha op(A) op(B) + beta C on the device (the convention is explained in its definition).
void cuda_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                float beta, float* C, int ldc);

// The hand-written SGEMMs (sgemm_versions.cu, one file per version), for readers and benchmarks: version 0 is
// cuBLAS, 1 naive, 2 shared-memory tiles, 3 register tiles. Row-major, no transposes, device pointers.
void cuda_sgemm_version(int version, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                        float* C);

// The ops of the dispatch table, cudak::op, have the reference kernels' signatures on device pointers; they are
// declared with them in kernels/ref/ref.h (FAST_VERSIONS) and defined in cuda_kernels.cu.
#endif
