// cpu.h: the fast CPU kernels (float32). Same contracts as the reference kernels in kernels/ref/ref.h, which
// document each formula; "+=" outputs accumulate. OpenMP spreads each over the cores.
#pragma once
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "kernels/geom.h"

namespace cpu {

// Convolution as im2col + GEMM, one image at a time. Forward and the weight gradient never write the column matrix
// out: the GEMM asks for it a window at a time (gemm.h: BWindow), and 1x1 stride-1 pad-0 convolutions skip im2col
// altogether (the image already is the column matrix). The input gradient needs `col`, a workspace of
// conv2d_col_floats(g) floats, for the column-matrix gradient it scatters back (at stride 1, for the turned-around
// weights it convolves dy with instead); the weight gradient needs `partial`, conv2d_partial_floats(g) floats, for
// per-thread sums when the batch is split across threads.

// Rows [row0, row0 + rows) and columns [j0, j0 + cols) of x's column matrix, into out with row stride ld. (The whole
// matrix is the window of all its rows and columns; only the tests ask for that.)
void im2col_window(const ConvGeom& g, const float* x, int row0, int rows, int j0, int cols, float* out, int64_t ld);
void col2im(const ConvGeom& g, const float* col, float* x);  // x += scatter(col)
void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y);
void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx, float* col);
void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db, float* partial);
int64_t conv2d_col_floats(const ConvGeom& g);
int64_t conv2d_partial_floats(const ConvGeom& g);

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
