// conv.cpp: convolution on the CPU as im2col + GEMM.
//
// Per image n (dimension legend in kernels/geom.h; CRS = C*R*S, PQ = P*Q):
//   col  [CRS, PQ]  = im2col(x[n])
//   y[n] [K, PQ]    = w [K, CRS] * col                    (+ bias per row)
//   dw   [K, CRS]  += dy[n] [K, PQ] * col^T
//   dcol [CRS, PQ]  = w^T * dy[n];  dx[n] += col2im(dcol)
// In the first two, col is B of the GEMM and is made a window at a time as the GEMM packs it (implicit im2col:
// the whole matrix, 9 MB for ResNet's layer1, is never written). The third, for a stride-1 convolution, is run
// as a forward convolution of dy instead (see backward_as_forward). A 1x1, stride-1, unpadded convolution has
// col == x[n], so it calls GEMM on the image directly.
#include <omp.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/cpu.h"
#include "tensor/allocator.h"

namespace cpu {

// Two ways to spread a convolution over the cores:
//   - batch >= threads (training): images are split across threads, each runs its own single-threaded GEMMs with
//     its own im2col buffer; weight gradients go to per-thread partials that are summed in thread order (so the
//     result does not depend on timing). One parallel region per convolution, no barriers inside.
//   - otherwise (inference at batch 1): one image at a time, the GEMM itself is parallel.
static int conv_threads(const ConvGeom& g) {
  const int t = omp_in_parallel() ? 1 : omp_get_max_threads();
  return g.N >= t ? t : 1;
}
// Runs body(n, t) for each image n, on thread t: T threads split the images, or with T == 1 this thread runs them in
// turn and each GEMM inside uses all the threads itself. (Not one OpenMP region with if (T > 1): a parallel region
// opened inside even an inactive one is a nested team to libgomp, which creates and destroys its threads every
// time. At batch 1 that was a thread start per GEMM and a quarter of the time spent in libgomp.)
template <class F>
static void for_each_image(int N, int T, F&& body) {
  if (T == 1) {
    for (int n = 0; n < N; n++) body(n, 0);
    return;
  }
#pragma omp parallel for schedule(static) num_threads(T)
  for (int n = 0; n < N; n++) body(n, omp_get_thread_num());
}

static int64_t col_floats(const ConvGeom& g) { return g.is_pointwise() ? 0 : (int64_t)g.C * g.R * g.S * g.P * g.Q; }

// The input gradient of a stride-1 convolution with a square kernel is itself a convolution: dy, padded by
// R - 1 - pad, correlated with the weights turned around (in and out channels swapped, each kernel rotated 180°):
//   dx[c][h][w] = sum_k,r,s dy[k][h + pad - r][w + pad - s] w[k][c][r][s]
//               = sum_k,r',s' dy[k][h - pad' + r'][w - pad' + s'] w'[c][k][r'][s'],  w' = w[k][c][R-1-r'][S-1-s']
// So it runs as a forward convolution, through the implicit im2col GEMM, with no column matrix to scatter back.
// Measured on ResNet-18's 3x3 stride-1 layers (2 threads, vs GEMM + col2im): layer1 1.31x at batch 1 and 1.35x at
// batch 4, layers 2-3 1.03x; layer4 at batch 1 0.96x, where turning the 2.4M weights around costs more than the
// 64 output pixels gain, hence the floor on N * P * Q.
static bool backward_as_forward(const ConvGeom& g) {
  return g.stride == 1 && !g.is_pointwise() && g.R == g.S && g.pad <= g.R - 1 && (int64_t)g.N * g.P * g.Q >= 256;
}
static ConvGeom backward_geom(const ConvGeom& g) {  // the convolution of dy that gives dx
  return ConvGeom::make(g.N, g.K, g.P, g.Q, g.C, g.R, g.S, 1, g.R - 1 - g.pad);
}

// The input gradient's workspace: the turned-around weights, or one column matrix per thread.
static int64_t col_workspace_floats(const ConvGeom& g) {
  if (backward_as_forward(g)) return (int64_t)g.K * g.C * g.R * g.S;
  return conv_threads(g) * col_floats(g);
}
// The weight gradient's: one dw per thread when the batch is split across threads.
static int64_t partial_workspace_floats(const ConvGeom& g) {
  const int t = conv_threads(g);
  return t > 1 ? (int64_t)t * g.K * g.C * g.R * g.S : 0;
}
// out[i] = in[2 i], i < n: the even floats, four at a time from two SSE loads (in every x86-64). Stride-2 layers
// (ResNet's 7x7 stem above all, whose column matrix is 147 rows of such copies) spent most of their im2col time in
// the scalar loop.
static void stride2_copy(const float* in, int n, float* out) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {  // reads in[2i .. 2i+7]; the last of them, in[2i+7], only when 2i+7 <= 2(n-1)
    if (2 * i + 7 > 2 * (n - 1)) break;
    const __m128 a = _mm_loadu_ps(in + 2 * i), b = _mm_loadu_ps(in + 2 * i + 4);
    _mm_storeu_ps(out + i, _mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
  }
  for (; i < n; i++) out[i] = in[2 * i];
}

// Rows [row0, row0 + rows) and columns [j0, j0 + cols) of image x's column matrix into out (row stride ld). Row
// (c, r, s) of the matrix holds x[c] seen through kernel tap (r, s): column p*Q + q is x[c][p*stride - pad + r]
// [q*stride - pad + s], or 0 outside the image. A window's columns run across output rows p.
void im2col_window(const ConvGeom& g, const float* x, int row0, int rows, int j0, int cols, float* out, int64_t ld) {
  for (int row = row0; row < row0 + rows; row++, out += ld) {
    const int c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
    const float* xc = x + (int64_t)c * g.H * g.W;
    // the q whose input column q*stride - pad + s falls inside [0, W): [qlo, qhi)
    const int qlo = g.pad > s ? (g.pad - s + g.stride - 1) / g.stride : 0;
    const int qhi = g.W - 1 + g.pad - s < 0 ? 0 : std::min(g.Q, (g.W - 1 + g.pad - s) / g.stride + 1);
    float* o = out;
    for (int j = j0; j < j0 + cols;) {
      const int p = j / g.Q, qa = j % g.Q, qb = std::min(g.Q, qa + (j0 + cols - j));
      const int h = p * g.stride - g.pad + r;
      if (h < 0 || h >= g.H) {
        std::memset(o, 0, (qb - qa) * sizeof(float));
      } else {
        const int q0 = std::min(qb, std::max(qa, qlo)), q1 = std::max(q0, std::min(qb, qhi));
        const float* xr = xc + (int64_t)h * g.W - g.pad + s;  // xr[q * stride] is column q
        for (int q = qa; q < q0; q++) o[q - qa] = 0.0f;
        if (g.stride == 1) std::memcpy(o + (q0 - qa), xr + q0, (q1 - q0) * sizeof(float));
        else if (g.stride == 2) stride2_copy(xr + 2 * q0, q1 - q0, o + (q0 - qa));
        else for (int q = q0; q < q1; q++) o[q - qa] = xr[q * g.stride];
        for (int q = q1; q < qb; q++) o[q - qa] = 0.0f;
      }
      o += qb - qa;
      j += qb - qa;
    }
  }
}

// The column matrix of one image as a GEMM's B, made a window at a time (gemm.h: BWindow): forward's B is the
// matrix itself [CRS x PQ]; the weight gradient's B is its transpose [PQ x CRS], a window of which is made as the
// matching window of the matrix and handed over with swapped strides.
struct ImageColumns { const ConvGeom* g; const float* x; };
static const float* columns_window(const void* ctx, int k0, int kc, int j0, int nc, float* scratch, int64_t* rs,
                                   int64_t* cs) {
  const ImageColumns& ic = *static_cast<const ImageColumns*>(ctx);
  im2col_window(*ic.g, ic.x, k0, kc, j0, nc, scratch, nc);
  *rs = nc;
  *cs = 1;
  return scratch;
}
// An image x[n] as the plain matrix [C x PQ] (a 1x1 stride-1 unpadded convolution's B).
struct ImageMatrix { const float* x; int64_t ld; };
static const float* matrix_window(const void* ctx, int k0, int, int j0, int, float*, int64_t* rs, int64_t* cs) {
  const ImageMatrix& im = *static_cast<const ImageMatrix*>(ctx);
  *rs = im.ld;
  *cs = 1;
  return im.x + (int64_t)k0 * im.ld + j0;
}
static const float* columns_transposed_window(const void* ctx, int k0, int kc, int j0, int nc, float* scratch,
                                              int64_t* rs, int64_t* cs) {
  const ImageColumns& ic = *static_cast<const ImageColumns*>(ctx);
  im2col_window(*ic.g, ic.x, j0, nc, k0, kc, scratch, kc);  // rows j0.. of the matrix = columns j0.. of B
  *rs = 1;
  *cs = kc;
  return scratch;
}

void col2im(const ConvGeom& g, const float* col, float* x) {
  const int PQ = g.P * g.Q;
  // Parallel over input channels: channel c only receives from its own R*S rows, so threads never collide.
#pragma omp parallel for schedule(static) if ((int64_t)g.C * g.R * g.S * PQ > 32768)
  for (int c = 0; c < g.C; c++) {
    float* xc = x + (int64_t)c * g.H * g.W;
    for (int r = 0; r < g.R; r++)
      for (int s = 0; s < g.S; s++) {
        const float* in = col + ((int64_t)(c * g.R + r) * g.S + s) * PQ;
        for (int p = 0; p < g.P; p++, in += g.Q) {
          const int h = p * g.stride - g.pad + r;
          if (h < 0 || h >= g.H) continue;
          float* xr = xc + (int64_t)h * g.W;
          for (int q = 0; q < g.Q; q++) {
            const int w = q * g.stride - g.pad + s;
            if (w >= 0 && w < g.W) xr[w] += in[q];
          }
        }
      }
  }
}

// y[n] = w * im2col(x[n]), then the epilogue on y[n] while it is in cache: + bias (+ residual) (ReLU).
// Stride 2: the image split by row and column parity first, xp[c][a][b][h'][w'] = x[c][2h' + a][2w' + b], so that
// every row of the column matrix is made of contiguous runs, as at stride 1, instead of every other float (ResNet's
// 7x7 stem spent a quarter of its time making its column matrix that way). Tap (r, s) of output (p, q) reads
// x[2p - pad + r][2q - pad + s]: phase a = (r - pad) mod 2, row h' = p + (r - pad - a) / 2; likewise the column.
struct PhasedImage { const ConvGeom* g; const float* xp; int Hh, Wh; };
// for (c = 0; c < C; c++) body(c): on all threads when the caller's GEMM would be parallel (T == 1: one image at a
// time) and there is enough to copy, else on this thread.
template <class F>
static void for_each_channel(int C, int T, int64_t floats, F&& body) {
  if (T == 1 && floats >= 65536 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) body(c);
  } else {
    for (int c = 0; c < C; c++) body(c);
  }
}
static void split_phases(const ConvGeom& g, const float* x, float* xp, int T) {
  const int Hh = (g.H + 1) / 2, Wh = (g.W + 1) / 2;
  for_each_channel(g.C, T, (int64_t)g.C * g.H * g.W, [&](int c) {
    for (int a = 0; a < 2; a++)
      for (int b = 0; b < 2; b++) {
        float* o = xp + (((int64_t)c * 2 + a) * 2 + b) * Hh * Wh;
        for (int h = 0; h < Hh; h++, o += Wh) {
          const int hh = 2 * h + a;
          const float* xr = x + ((int64_t)c * g.H + hh) * g.W + b;
          if (hh >= g.H) { std::memset(o, 0, Wh * sizeof(float)); continue; }
          const int n = (g.W - b + 1) / 2;  // columns of this phase inside the image
          stride2_copy(xr, n, o);
          for (int w = n; w < Wh; w++) o[w] = 0.0f;
        }
      }
  });
}
// A 1x1 unpadded convolution of stride > 1 reads only x[c][p * stride][q * stride]: those, as the matrix [C x PQ]
// that the GEMM then reads as a stride-1 one's image (a quarter of the image, not its four parity planes).
static void subsample(const ConvGeom& g, const float* x, float* xs, int T) {
  for_each_channel(g.C, T, (int64_t)g.C * g.P * g.Q, [&](int c) {
    for (int p = 0; p < g.P; p++) {
      const float* xr = x + ((int64_t)c * g.H + (int64_t)p * g.stride) * g.W;
      float* o = xs + ((int64_t)c * g.P + p) * g.Q;
      if (g.stride == 2) stride2_copy(xr, g.Q, o);
      else for (int q = 0; q < g.Q; q++) o[q] = xr[q * g.stride];
    }
  });
}
static const float* phased_window(const void* ctx, int k0, int kc, int j0, int nc, float* out, int64_t* rs,
                                  int64_t* cs) {
  const PhasedImage& pi = *static_cast<const PhasedImage*>(ctx);
  const ConvGeom& g = *pi.g;
  for (int row = k0; row < k0 + kc; row++) {
    float* o = out + (int64_t)(row - k0) * nc;
    const int c = row / (g.R * g.S), r = row / g.S % g.R, s = row % g.S;
    const int dr = r - g.pad, ds = s - g.pad, a = dr & 1, b = ds & 1;
    const int oh = (dr - a) / 2, ow = (ds - b) / 2;  // exact: dr - a and ds - b are even
    const int Ha = (g.H - a + 1) / 2, Wb = (g.W - b + 1) / 2;  // this phase's rows and columns inside the image
    const float* plane = pi.xp + (((int64_t)c * 2 + a) * 2 + b) * pi.Hh * pi.Wh;
    const int qlo = std::max(0, -ow), qhi = std::max(qlo, std::min(g.Q, Wb - ow));  // q with 0 <= q + ow < Wb
    for (int j = j0; j < j0 + nc;) {
      const int p = j / g.Q, qa = j % g.Q, qb = std::min(g.Q, qa + (j0 + nc - j)), h = p + oh;
      if (h < 0 || h >= Ha) {
        std::memset(o, 0, (qb - qa) * sizeof(float));
      } else {
        const int q0 = std::min(qb, std::max(qa, qlo)), q1 = std::max(q0, std::min(qb, qhi));
        for (int q = qa; q < q0; q++) o[q - qa] = 0.0f;
        std::memcpy(o + (q0 - qa), plane + (int64_t)h * pi.Wh + q0 + ow, (q1 - q0) * sizeof(float));
        for (int q = q1; q < qb; q++) o[q - qa] = 0.0f;
      }
      o += qb - qa;
      j += qb - qa;
    }
  }
  *rs = nc;
  *cs = 1;
  return out;
}

// w packed ahead (pre, or null) serves every image; then bias (+ residual) (ReLU), see `tiles` below.
static void forward_gemm(const ConvGeom& g, const float* x, const float* w, const PackedA* pre, const float* b,
                         const float* residual, bool relu, float* y) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q, T = conv_threads(g);
  const bool strided_1x1 = g.R == 1 && g.S == 1 && g.pad == 0 && g.stride > 1;
  const bool phased = g.stride == 2 && !g.is_pointwise() && !strided_1x1;
  const int64_t phase_floats = phased ? (int64_t)g.C * 4 * ((g.H + 1) / 2) * ((g.W + 1) / 2)
                                      : strided_1x1 ? (int64_t)g.C * PQ : 0;
  Workspace ws(T * phase_floats);
  // Where bias, shortcut and ReLU are applied: one image at a time (T == 1), the GEMM is parallel, and applies them
  // to each tile as it finishes it (gemm.h: GemmEpilogue), on all threads; with the images split across threads, a
  // pass over each y[n] right after its GEMM streams the shortcut in order, which the hardware prefetches better
  // than a tile's rows a channel apart. Measured on ResNet-50's 64-to-256 1x1 layer (2 threads): batch 1, 0.49 ms
  // in the tiles vs 0.59 with a pass on one thread (0.52 on both); batch 16, 12.7 ms in the tiles vs 9.3 ms.
  const bool tiles = T == 1;
  for_each_image(g.N, T, [&](int n, int t) {
    const float* xn = x + (int64_t)n * g.C * g.H * g.W;
    float* yn = y + (int64_t)n * g.K * PQ;
    const GemmEpilogue epi{b, residual ? residual + (int64_t)n * g.K * PQ : nullptr, PQ, relu};
    if (g.is_pointwise() || strided_1x1) {
      if (strided_1x1) {
        float* xs = ws.p + t * phase_floats;
        subsample(g, xn, xs, T);
        xn = xs;
      }
      const ImageMatrix im{xn, PQ};
      sgemm(g.K, PQ, CRS, 1.0f, w, CRS, 1, pre, BWindow{matrix_window, &im}, 0.0f, yn, PQ, tiles ? &epi : nullptr);
    } else if (phased) {
      float* xp = ws.p + t * phase_floats;
      split_phases(g, xn, xp, T);
      const PhasedImage pim{&g, xp, (g.H + 1) / 2, (g.W + 1) / 2};
      sgemm(g.K, PQ, CRS, 1.0f, w, CRS, 1, pre, BWindow{phased_window, &pim}, 0.0f, yn, PQ, tiles ? &epi : nullptr);
    } else {
      const ImageColumns cols{&g, xn};
      sgemm(g.K, PQ, CRS, 1.0f, w, CRS, 1, pre, BWindow{columns_window, &cols}, 0.0f, yn, PQ, tiles ? &epi : nullptr);
    }
    if (!tiles && !epi.empty()) apply_epilogue(g.K, PQ, yn, PQ, epi);  // a pass over y[n], channel by channel
  });
}

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  forward_gemm(g, x, w, nullptr, b, nullptr, false, y);
}

void conv2d_forward_fused(const ConvGeom& g, const float* x, const float* w, const ConvPrep* prep, const float* b,
                          const float* residual, bool relu, float* y) {
  if (prep && prep->wino && winograd_fits(g) && winograd_worth(g, prep->wino_m)) {
    conv2d_winograd(g, prep->wino_m, x, prep->wino, b, residual, relu, y);
    return;
  }
  const int CRS = g.C * g.R * g.S;
  PackedA pa;
  const bool packed = prep && prep->packed && prep->gemm_kernel >= 0;
  if (packed) pa = packed_view(gemm_kernel(prep->gemm_kernel), g.K, CRS, prep->packed);
  forward_gemm(g, x, w, packed ? &pa : nullptr, b, residual, relu, y);
}

void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  Workspace ws(col_workspace_floats(g));
  float* col = ws.p;
  if (backward_as_forward(g)) {
    const ConvGeom gb = backward_geom(g);
    const int RS = g.R * g.S, KRS = g.K * RS;
    float* wt = col;  // w' [C][K][R][S]
#pragma omp parallel for schedule(static) if ((int64_t)g.K * CRS > 32768)
    for (int c = 0; c < g.C; c++)
      for (int k = 0; k < g.K; k++)
        for (int rs = 0; rs < RS; rs++) wt[(int64_t)c * KRS + k * RS + rs] = w[((int64_t)k * g.C + c) * RS + RS - 1 - rs];
    for_each_image(g.N, conv_threads(g), [&](int n, int) {
      const ImageColumns cols{&gb, dy + (int64_t)n * g.K * PQ};
      sgemm(g.C, g.H * g.W, KRS, 1.0f, wt, KRS, 1, BWindow{columns_window, &cols}, 1.0f,
            dx + (int64_t)n * g.C * g.H * g.W, g.H * g.W);  // dx += w' * im2col(dy)
    });
    return;
  }
  for_each_image(g.N, conv_threads(g), [&](int n, int t) {
    const float* dyn = dy + (int64_t)n * g.K * PQ;
    float* dxn = dx + (int64_t)n * g.C * g.H * g.W;
    if (g.is_pointwise()) {
      sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 1.0f, dxn, PQ);  // dx += w^T dy
    } else {
      float* mycol = col + t * col_floats(g);
      sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 0.0f, mycol, PQ);
      col2im(g, mycol, dxn);
    }
  });
}

void conv2d_backward_weight(const ConvGeom& g, const float* x, const float* dy, float* dw, float* db) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q, T = conv_threads(g);
  Workspace ws(partial_workspace_floats(g));
  float* partial = ws.p;  // [T][K * CRS] when T > 1
  if (T > 1) std::memset(partial, 0, sizeof(float) * T * g.K * CRS);
  for_each_image(g.N, T, [&](int n, int t) {  // static schedule: thread t always gets the same images
    float* mydw = T > 1 ? partial + (int64_t)t * g.K * CRS : dw;
    const float* xn = x + (int64_t)n * g.C * g.H * g.W;
    const float* dyn = dy + (int64_t)n * g.K * PQ;
    if (g.is_pointwise()) {
      sgemm(false, true, g.K, CRS, PQ, 1.0f, dyn, PQ, xn, PQ, 1.0f, mydw, CRS);  // dw += dy x^T
    } else {
      const ImageColumns cols{&g, xn};
      sgemm(g.K, CRS, PQ, 1.0f, dyn, PQ, 1, BWindow{columns_transposed_window, &cols}, 1.0f, mydw, CRS);  // dw += dy col^T
    }
  });
  if (T > 1)  // partials summed in thread order: the same result every run
    for (int t = 0; t < T; t++) {
      const float* p = partial + (int64_t)t * g.K * CRS;
#pragma omp parallel for simd schedule(static)
      for (int64_t i = 0; i < (int64_t)g.K * CRS; i++) dw[i] += p[i];
    }
  if (db)
    for (int k = 0; k < g.K; k++) {
      double s = 0;
      for (int n = 0; n < g.N; n++)
        for (int i = 0; i < PQ; i++) s += dy[((int64_t)n * g.K + k) * PQ + i];
      db[k] += (float)s;
    }
}

}  // namespace cpu
