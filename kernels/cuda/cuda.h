// cuda.h: the CUDA backend's entry points, called only through kernels/dispatch.cpp. Declared in every build;
// defined in cuda_backend.cu when nvcc was found (PIPNET_CUDA).
#pragma once
#include <cstddef>

#include "tensor/allocator.h"

bool cuda_available();  // a device exists and answers (false in builds without CUDA)

#ifdef PIPNET_CUDA
#include <cuda_runtime.h>

#include <functional>

#include "kernels/geom.h"
#include "tensor/tensor.h"

cudaStream_t cuda_stream();   // the one stream every kernel and cuBLAS call runs on
// CUDA graphs (used through kernels/graph.h): record what work() issues on the stream, replay it, free it.
void* cuda_graph_capture(const std::function<void()>& work);
void cuda_graph_launch(void* exec);
void cuda_graph_destroy(void* exec);
void cuda_set_tf32(bool on);  // cuBLAS TF32 tensor-core math (off: FP32, the default)
// Row-major C = alpha op(A) op(B) + beta C on the device (the convention is explained in its definition).
void cuda_sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                float beta, float* C, int ldc);

// The hand-written SGEMMs of sgemm_tiled.cu, for readers and benchmarks: version 0 is cuBLAS, 1 naive, 2 shared-memory
// tiles, 3 register tiles. Row-major, no transposes, device pointers.
void cuda_sgemm_version(int version, int M, int N, int K, float alpha, const float* A, const float* B, float beta,
                        float* C);

// The CUDA entries of the dispatch tables (kernels/dispatch.cpp); contracts as kernels/dispatch.h.
namespace cudak {
void conv2d_forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor* b, Tensor& y);
void conv2d_backward_input(const ConvGeom& g, const Tensor& dy, const Tensor& w, Tensor& dx);
void conv2d_backward_weight(const ConvGeom& g, const Tensor& x, const Tensor& dy, Tensor& dw, Tensor* db);
void batchnorm_forward_train(const Tensor& x, const Tensor& g, const Tensor& b, double eps, double mom, Tensor* rm,
                             Tensor* rv, Tensor& y, Tensor& sm, Tensor& si);
void batchnorm_forward_eval(const Tensor& x, const Tensor& g, const Tensor& b, double eps, const Tensor& rm,
                            const Tensor& rv, Tensor& y);
void batchnorm_backward(const Tensor& x, const Tensor& dy, const Tensor& g, const Tensor& sm, const Tensor& si,
                        Tensor& dx, Tensor& dg, Tensor& db);
void batchnorm_backward_eval(const Tensor& x, const Tensor& dy, const Tensor& g, const Tensor& rm, const Tensor& rv,
                             double eps, Tensor& dx, Tensor& dg, Tensor& db);
void relu_forward(const Tensor& x, Tensor& y);
void relu_backward(const Tensor& y, const Tensor& dy, Tensor& dx);
void add(const Tensor& a, const Tensor& b, Tensor& y);
void accumulate(const Tensor& x, Tensor& y);
void axpy(double a, const Tensor& x, Tensor& y);
void maxpool_forward(const PoolGeom& g, const Tensor& x, Tensor& y);
void maxpool_backward(const PoolGeom& g, const Tensor& x, const Tensor& dy, Tensor& dx);
void avgpool_forward(const Tensor& x, Tensor& y);
void avgpool_backward(const Tensor& dy, Tensor& dx);
double mse_loss(const Tensor& p, const Tensor& t);
double l1_loss(const Tensor& p, const Tensor& t);
void mse_loss_backward(const Tensor& p, const Tensor& t, double d, Tensor& dp);
void l1_loss_backward(const Tensor& p, const Tensor& t, double d, Tensor& dp);
void gather_cells(const Tensor& x, const Tensor& cell, int rep, Tensor& y);
void gather_cells_backward(const Tensor& dy, const Tensor& cell, int rep, Tensor& dx);
void adam_step(Tensor& p, const Tensor& g, Tensor& m, Tensor& v, const AdamParams& a);
void sgd_step(Tensor& p, const Tensor& g, Tensor& buf, double lr, double mom, double wd, bool first);
}  // namespace cudak
#endif
