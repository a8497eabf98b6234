// cpu.h: the fast CPU kernels (float32). Same contracts as the reference kernels in kernels/ref/ref.h, which
// document each formula; "+=" outputs accumulate. OpenMP spreads each over the cores.
#pragma once
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "kernels/geom.h"

namespace cpu {

// Convolution as im2col + GEMM, one image at a time (1x1 stride-1 pad-0 convolutions skip im2col: the image
// already is the column matrix). `col` is a workspace of g.C*g.R*g.S * g.P*g.Q floats (unused if pointwise).
void im2col(const ConvGeom& g, const float* x, float* col);
void col2im(const ConvGeom& g, const float* col, float* x);  // x += scatter(col)
void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y, float* col);
void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx, float* col);
void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db, float* col);
int64_t conv2d_workspace(const ConvGeom& g);  // floats needed for `col`

void batchnorm_forward_train(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                             double momentum, float* running_mean, float* running_var, float* y, float* save_mean,
                             float* save_invstd);
void batchnorm_forward_eval(int N, int C, int HW, const float* x, const float* gamma, const float* beta, double eps,
                            const float* running_mean, const float* running_var, float* y);
void batchnorm_backward(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                        const float* save_mean, const float* save_invstd, float* dx, float* dgamma, float* dbeta);

void batchnorm_backward_eval(int N, int C, int HW, const float* x, const float* dy, const float* gamma,
                             const float* running_mean, const float* running_var, double eps, float* dx, float* dgamma,
                             float* dbeta);

void relu_forward(int64_t n, const float* x, float* y);
void relu_backward(int64_t n, const float* y, const float* dy, float* dx);
void add(int64_t n, const float* a, const float* b, float* y);
void accumulate(int64_t n, const float* x, float* y);
void axpy(int64_t n, double a, const float* x, float* y);
void maxpool_forward(const PoolGeom& g, const float* x, float* y);
void maxpool_backward(const PoolGeom& g, const float* x, const float* dy, float* dx);
void avgpool_forward(int64_t NC, int HW, const float* x, float* y);
void avgpool_backward(int64_t NC, int HW, const float* dy, float* dx);
double mse_loss(int64_t n, const float* p, const float* t);
void mse_loss_backward(int64_t n, const float* p, const float* t, double dloss, float* dp);
double l1_loss(int64_t n, const float* p, const float* t);
void l1_loss_backward(int64_t n, const float* p, const float* t, double dloss, float* dp);
void adam_step(int64_t n, float* p, const float* g, float* m, float* v, const AdamParams& a);

}  // namespace cpu
