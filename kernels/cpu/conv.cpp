// conv.cpp: convolution on the CPU as im2col + GEMM.
//
// Per image n (dimension legend in kernels/geom.h; CRS = C*R*S, PQ = P*Q):
//   col  [CRS, PQ]  = im2col(x[n])
//   y[n] [K, PQ]    = w [K, CRS] * col                    (+ bias per row)
//   dw   [K, CRS]  += dy[n] [K, PQ] * col^T
//   dcol [CRS, PQ]  = w^T * dy[n];  dx[n] += col2im(dcol)
// In the first two, col is B of the GEMM and is made a window at a time as the GEMM packs it (implicit im2col:
// the whole matrix, 9 MB for ResNet's layer1, is never written); the forward makes it straight into the GEMM's
// packed panels, from the image split into padded phase planes once (PhasePlanes). The third, for a stride-1
// convolution, is run as a forward convolution of dy instead (see backward_as_forward). A 1x1, stride-1, unpadded convolution has
// col == x[n], so it calls GEMM on the image directly.
#include <omp.h>
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

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

// out[0, n) = in[0, n), and out[0, n) = 0: inline. The runs that make a column matrix are an output row at most
// (8 floats in ResNet's layer4, 64 in the stem's panels), for which a call to memcpy or memset cost more than the
// copy. 64 bytes at a time as fixed-size copies (four SSE moves; an AVX-512 build of the packing measured the same).
static inline void copy_run(float* out, const float* in, int n) {
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    float v[16];
    std::memcpy(v, in + i, sizeof v);
    std::memcpy(out + i, v, sizeof v);
  }
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, _mm_loadu_ps(in + i));
  for (; i < n; i++) out[i] = in[i];
}
static inline void zero_run(float* out, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(out + i, _mm_setzero_ps());
  for (; i < n; i++) out[i] = 0.0f;
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

// The column matrix of one image as the weight gradient's B, made a window at a time (gemm.h: BWindow): its
// transpose [PQ x CRS], a window of which is made as the matching window of the matrix and handed over with swapped
// strides. (The forward's B, the matrix itself, is packed from phase planes: PhasePlanes below.)
struct ImageColumns { const ConvGeom* g; const float* x; };
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

// for (c = 0; c < C; c++) body(c), over channels or planes: on all threads when the caller's GEMM would be parallel
// (T == 1: one image at a time) and there is enough to copy, else on this thread.
template <class F>
static void for_each_channel(int C, int T, int64_t floats, F&& body) {
  if (T == 1 && floats >= 65536 && !omp_in_parallel()) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) body(c);
  } else {
    for (int c = 0; c < C; c++) body(c);
  }
}

// The image the column matrix is made from, split into phase planes and padded, once per image. Stride s splits
// x[c] by row and column remainder into s*s planes,
//   xp[c][a][b][i][j] = x[c][s (i - top) + a][s (j - left) + b]      (0 outside the image),
// with top rows and left columns of zeros in front. Tap (r, t) of output (p, q) reads x[s p - pad + r][s q - pad + t];
// writing r - pad = s oh + a (0 <= a < s), that is plane (a, b)'s row p + oh + top, column q + ow + left. The planes
// hold exactly the rows and columns some tap reads, so row (c, r, t) of the column matrix is, output row by output
// row, a plain copy of Q floats from one plane: no bounds to test, no zeros to write, no strided reads. At stride 1
// there is one plane per channel, the image padded.
// (Before, stride 1 tested every run against the image's edges and stride 2 split unpadded planes: the window
// function was a fifth of ResNet's layer4 3x3 GEMMs at batch 1, where each run is 8 floats.)
static int floor_div(int v, int s) { return v >= 0 ? v / s : -((-v + s - 1) / s); }
struct PhasePlanes {
  const ConvGeom* g;
  const float* xp;
  int top, left;  // zero rows above, zero columns to the left
  int Hh, Wh;     // each plane's size
  static PhasePlanes of(const ConvGeom& g, const float* xp) {
    const int s = g.stride, top = -floor_div(-g.pad, s), left = -floor_div(-g.pad, s);
    return {&g, xp, top, left, g.P + floor_div(g.R - 1 - g.pad, s) + top, g.Q + floor_div(g.S - 1 - g.pad, s) + left};
  }
  static int64_t floats(const ConvGeom& g) {  // the planes' size, the workspace split_planes fills
    const PhasePlanes pp = of(g, nullptr);
    return (int64_t)g.C * g.stride * g.stride * pp.Hh * pp.Wh;
  }
  // Where row `row` of the column matrix starts: its element (p, q) is at [p * Wh + q].
  const float* row_start(int row) const {
    const ConvGeom& c = *g;
    const int ch = row / (c.R * c.S), r = row / c.S % c.R, t = row % c.S, s = c.stride;
    const int oh = floor_div(r - c.pad, s), ow = floor_div(t - c.pad, s), a = r - c.pad - s * oh, b = t - c.pad - s * ow;
    return xp + (((int64_t)ch * s + a) * s + b) * Hh * Wh + (int64_t)(oh + top) * Wh + ow + left;
  }
};
// Image x split into xp (PhasePlanes::floats(g) of room); returns the planes' view.
static PhasePlanes split_planes(const ConvGeom& g, const float* x, float* xp, int T) {
  const PhasePlanes pp = PhasePlanes::of(g, xp);
  const int s = g.stride, Hh = pp.Hh, Wh = pp.Wh;
  // plane by plane (the stem's 3 channels are 12 planes: on 2 threads, 6 each rather than 2 and 1 channels)
  for_each_channel(g.C * s * s, T, (int64_t)g.C * g.H * g.W, [&](int plane) {
    const int c = plane / (s * s), a = plane / s % s, b = plane % s;
    float* o = xp + (int64_t)plane * Hh * Wh;
    // columns j in [jlo, jhi) hold x's columns s (j - left) + b, inside the image
    const int jlo = std::min(Wh, pp.left), jhi = b < g.W ? std::min(Wh, pp.left + (g.W - 1 - b) / s + 1) : jlo;
    for (int i = 0; i < Hh; i++, o += Wh) {
      const int h = s * (i - pp.top) + a;
      if (h < 0 || h >= g.H) { zero_run(o, Wh); continue; }
      const float* xr = x + ((int64_t)c * g.H + h) * g.W + b;  // xr[s * (j - left)] is column j
      zero_run(o, jlo);
      if (s == 1) copy_run(o + jlo, xr, jhi - jlo);
      else if (s == 2) stride2_copy(xr, jhi - jlo, o + jlo);
      else for (int j = jlo; j < jhi; j++) o[j] = xr[s * (j - jlo)];
      zero_run(o + jhi, Wh - jhi);
    }
  });
  return pp;
}
// Rows [k0, k0 + kc) and columns [j0, j0 + nc) of the column matrix, written straight into the GEMM's NR-wide
// micro-panels (gemm.h: BWindow::pack): each panel row is a few runs along output rows. (Made first as a window and
// then packed, the copy through scratch was 4-9% of ResNet's layer4 3x3 and stride-2 convolutions.)
static void planes_pack(const void* ctx, int k0, int kc, int j0, int nc, int NR, float* Bp) {
  const PhasePlanes& pp = *static_cast<const PhasePlanes*>(ctx);
  const int Q = pp.g->Q, panels = (nc + NR - 1) / NR;
  for (int row = k0; row < k0 + kc; row++) {
    const float* src = pp.row_start(row);
    float* o = Bp + (int64_t)(row - k0) * NR;
    for (int jp = 0, j = j0, p = j0 / Q, qa = j0 % Q; jp < panels; jp++, o += (int64_t)NR * kc) {
      const int end = std::min(j0 + nc, j + NR);
      int filled = 0;
      while (j < end) {  // runs along output rows
        const int n = std::min(Q - qa, end - j);
        copy_run(o + filled, src + (int64_t)p * pp.Wh + qa, n);
        filled += n;
        j += n;
        qa += n;
        if (qa == Q) { qa = 0; p++; }
      }
      zero_run(o + filled, NR - filled);
    }
  }
}

// out[i] = in[2 i], i < n, 16 at a time: two loads and one two-source permute (AVX-512). Masked, so that it reads
// nothing past in[2 (n - 1)] and the last, short group needs no other loop.
__attribute__((target("avx512f"))) static void stride2_copy_avx512(const float* in, int n, float* out) {
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int i = 0; i < n; i += 16, in += 32) {
    const int k = std::min(16, n - i), lanes = 2 * k - 1;  // in[0, 2k - 1) holds the k wanted
    const __mmask16 m0 = (__mmask16)((1u << std::min(16, lanes)) - 1), m1 = (__mmask16)((1u << std::max(0, lanes - 16)) - 1);
    const __m512 a = _mm512_maskz_loadu_ps(m0, in), b = _mm512_maskz_loadu_ps(m1, in + 16);
    _mm512_mask_storeu_ps(out + i, (__mmask16)((1u << k) - 1), _mm512_permutex2var_ps(a, evens, b));
  }
}
// The deinterleave of the GEMM kernels' ISA: AVX-512 with theirs, SSE with their builds without AVX-512 (the "emul"
// kernels, which only the tests pin: so image_pack's logic is tested on every machine).
using RunCopy = void (*)(const float*, int, float*);
static RunCopy stride2_run() { return gemm_avx512() ? stride2_copy_avx512 : stride2_copy; }
static bool image_pack_isa() { return gemm_avx512() || !std::strcmp(gemm_active().isa, "emul"); }

// Rows [k0, k0 + kc) and columns [j0, j0 + nc) of image x's column matrix, for a convolution of stride 2 or more,
// read straight from x into the GEMM's micro-panels: each run along an output row is a strided copy of one input
// row, with the few columns that fall in the padding written as zeros.
// (j_off: the GEMM's column 0 is the matrix's column j_off, for a band of output rows.) Measured against the phase
// planes at batch 1 (2 threads, Zen 5): ResNet's stride-2 3x3 layers of 32 and 16 output columns 0.82-0.85x, alone
// (the planes cost a pass over the image, written out and read back); its layer4 one of 8 columns 1.13x, whose runs
// are too short for the deinterleave, hence the floor of 16. With the AVX2 kernels (pinned on the same CPU) and the
// SSE deinterleave, no gain: stride-2 3x3 layers 1.00-1.04x, and conv2d_relu_maxpool's GEMM path 1.21x the time of
// the two ops; so only with the AVX-512 kernels (and, for the tests, their builds without AVX-512).
struct ImageTaps { const ConvGeom* g; const float* x; int j_off = 0; };
// With AVX-512, stride 2 has its own (image_pack_s2_avx512, below), whatever the width.
static bool image_pack_s2(const ConvGeom& g) { return g.stride == 2 && gemm_avx512(); }
static bool image_packs(const ConvGeom& g) {
  return image_pack_s2(g) || (g.stride >= 2 && g.Q >= 16 && image_pack_isa());
}
static void image_pack(const void* ctx, int k0, int kc, int j0, int nc, int NR, float* Bp) {
  const ImageTaps& it = *static_cast<const ImageTaps*>(ctx);
  const ConvGeom& g = *it.g;
  j0 += it.j_off;
  const int Q = g.Q, st = g.stride, panels = (nc + NR - 1) / NR;
  const RunCopy copy2 = stride2_run();
  for (int row = k0; row < k0 + kc; row++) {
    const int c = row / (g.R * g.S), r = row / g.S % g.R, t = row % g.S;
    const float* xc = it.x + (int64_t)c * g.H * g.W;
    // the q whose input column q*stride - pad + t falls inside [0, W): [qlo, qhi)
    const int qlo = g.pad > t ? (g.pad - t + st - 1) / st : 0;
    const int qhi = g.W - 1 + g.pad - t < 0 ? 0 : std::min(Q, (g.W - 1 + g.pad - t) / st + 1);
    float* o = Bp + (int64_t)(row - k0) * NR;
    for (int jp = 0, j = j0, p = j0 / Q, qa = j0 % Q; jp < panels; jp++, o += (int64_t)NR * kc) {
      const int end = std::min(j0 + nc, j + NR);
      int filled = 0;
      while (j < end) {  // runs along output rows
        const int n = std::min(Q - qa, end - j), qb = qa + n;
        const int h = p * st - g.pad + r;
        float* out = o + filled - qa;  // out[q] for q in [qa, qb)
        if (h < 0 || h >= g.H) {
          zero_run(out + qa, n);
        } else {
          const int q0 = std::min(qb, std::max(qa, qlo)), q1 = std::max(q0, std::min(qb, qhi));
          const float* xr = xc + (int64_t)h * g.W - g.pad + t;  // xr[q * stride] is column q
          zero_run(out + qa, q0 - qa);
          if (st == 2) copy2(xr + 2 * q0, q1 - q0, out + q0);
          else for (int q = q0; q < q1; q++) out[q] = xr[q * st];
          zero_run(out + q1, qb - q1);
        }
        filled += n;
        j += n;
        qa = qb;
        if (qa == Q) { qa = 0; p++; }
      }
      zero_run(o + filled, NR - filled);
    }
  }
}

// image_pack for stride 2 with AVX-512, each run along an output row 16 columns at a time: two loads of the input
// row masked to the columns inside the image (the padding's lanes load as zeros, and nothing outside the image is
// read), one two-source permute to take the even ones, one store. image_pack spent its time in the runs' edges and
// calls rather than in copying (24% of ResNet's layer2.0 3x3 at batch 1). Measured on ResNet-50's stride-2 3x3
// layers at batch 1 (2 threads, Zen 5), against image_pack: 32 output columns 0.92x, 16 columns 0.75x; against the
// phase planes, which the 8-column one used: 0.93x.
__attribute__((target("avx512f"))) static void image_pack_s2_avx512(const void* ctx, int k0, int kc, int j0, int nc,
                                                                      int NR, float* Bp) {
  const ImageTaps& it = *static_cast<const ImageTaps*>(ctx);
  const ConvGeom& g = *it.g;
  j0 += it.j_off;
  const int Q = g.Q, W = g.W, panels = (nc + NR - 1) / NR;
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  // The input rows these columns read, in each channel: [h_lo, h_hi). The next channel's are asked for while this
  // one's are packed, a ninth of them (with 3x3 taps) at each of its rows of the column matrix: channels are a
  // plane apart, too far for the hardware prefetchers.
  const int taps = g.R * g.S, h_lo = std::max(0, 2 * (j0 / Q) - g.pad);
  const int h_hi = std::min(g.H, 2 * ((j0 + nc - 1) / Q) - g.pad + g.R);
  const int64_t ahead = h_hi > h_lo ? (int64_t)(h_hi - h_lo) * W : 0;  // floats of a channel's rows
  for (int row = k0; row < k0 + kc; row++) {
    const int c = row / taps, r = row / g.S % g.R, t = row % g.S, tap = row % taps;
    const float* xc = it.x + (int64_t)c * g.H * W;
    if ((c + 1) * taps < k0 + kc) {
      const char* next = (const char*)(xc + (int64_t)g.H * W + (int64_t)h_lo * W);
      for (int64_t b = ahead * 4 * tap / taps / 64 * 64; b < ahead * 4 * (tap + 1) / taps; b += 64)
        _mm_prefetch(next + b, _MM_HINT_T0);
    }
    float* o = Bp + (int64_t)(row - k0) * NR;
    for (int jp = 0, j = j0, p = j0 / Q, qa = j0 % Q; jp < panels; jp++, o += (int64_t)NR * kc) {
      const int end = std::min(j0 + nc, j + NR);
      int filled = 0;
      while (j < end) {  // runs along output rows: out[q] = x[c][2p - pad + r][2q - pad + t], q in [qa, qb)
        const int n = std::min(Q - qa, end - j), qb = qa + n, h = 2 * p - g.pad + r;
        float* out = o + filled - qa;
        if (h < 0 || h >= g.H) {
          zero_run(out + qa, n);
        } else {
          const float* xr = xc + (int64_t)h * W;
          for (int q = qa; q < qb; q += 16) {
            const int k = std::min(16, qb - q), w0 = 2 * q - g.pad + t;  // lane l holds input column w0 + l
            const int lo = std::max(0, -w0), hi = std::min(2 * k - 1, W - w0);  // the lanes inside the image
            const uint32_t lanes = hi > lo ? (uint32_t)((1ull << hi) - (1ull << lo)) : 0u;
            const __m512 a = _mm512_maskz_loadu_ps((__mmask16)lanes, xr + w0);
            const __m512 b = _mm512_maskz_loadu_ps((__mmask16)(lanes >> 16), xr + w0 + 16);
            _mm512_mask_storeu_ps(out + q, (__mmask16)((1u << k) - 1), _mm512_permutex2var_ps(a, evens, b));
          }
        }
        filled += n;
        j += n;
        qa = qb;
        if (qa == Q) { qa = 0; p++; }
      }
      zero_run(o + filled, NR - filled);
    }
  }
}
// The image's packing function for this convolution and kernel ISA.
using PackFn = void (*)(const void*, int, int, int, int, int, float*);
static PackFn image_pack_for(const ConvGeom& g) { return image_pack_s2(g) ? image_pack_s2_avx512 : image_pack; }

// A 1x1 unpadded convolution of stride > 1 reads only x[c][p * stride][q * stride]: those, as the matrix [C x PQ]
// that the GEMM then reads as a stride-1 one's image (a quarter of the image, not its four parity planes). (Stride
// 2 with AVX-512 kernels packs them straight from the image instead: image_pack_s2_avx512.)
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

// w packed ahead (pre, or null) serves every image; then bias (+ residual) (ReLU), see `tiles` below.
static void forward_gemm(const ConvGeom& g, const float* x, const float* w, const PackedA* pre, const float* b,
                         const float* residual, bool relu, float* y) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q, T = conv_threads(g);
  const bool strided_1x1 = g.R == 1 && g.S == 1 && g.pad == 0 && g.stride > 1;
  // The column matrix straight from the image when the GEMM runs on all threads (T == 1) and image_packs; with the
  // images split across threads, the planes measured faster (stride-2 3x3 layers at batch 16, 0.90x). Stride 2 with
  // AVX-512 always, 1x1 included: against the planes, ResNet's stride-2 3x3 layers at batch 16 measured 0.94-0.97x;
  // against the subsampled image, ResNet-50's 1x1/2 downsamples at batch 1 0.93x, 0.96x and 1.0x (64, 32 and 16
  // input columns), at batch 16 0.95x.
  const bool direct = !g.is_pointwise() && (image_pack_s2(g) || (!strided_1x1 && image_packs(g) && T == 1));
  const int64_t phase_floats = g.is_pointwise() || direct ? 0 : strided_1x1 ? (int64_t)g.C * PQ : PhasePlanes::floats(g);
  // Where bias, shortcut and ReLU are applied: one image at a time (T == 1), the GEMM is parallel, and applies them
  // to each tile as it finishes it (gemm.h: GemmEpilogue), on all threads; with the images split across threads, a
  // pass over each y[n] right after its GEMM streams the shortcut in order, which the hardware prefetches better
  // than a tile's rows a channel apart. Measured on ResNet-50's 64-to-256 1x1 layer (2 threads): batch 1, 0.49 ms
  // in the tiles vs 0.59 with a pass on one thread (0.52 on both); batch 16, 12.7 ms in the tiles vs 9.3 ms.
  const bool tiles = T == 1;
  for_each_image(g.N, T, [&](int n, int) {
    const float* xn = x + (int64_t)n * g.C * g.H * g.W;
    float* yn = y + (int64_t)n * g.K * PQ;
    const GemmEpilogue epi{b, residual ? residual + (int64_t)n * g.K * PQ : nullptr, PQ, relu};
    if (g.is_pointwise() || (strided_1x1 && !direct)) {
      if (strided_1x1) {
        float* xs = thread_scratch(Scratch::kConv, phase_floats);
        subsample(g, xn, xs, T);
        xn = xs;
      }
      const ImageMatrix im{xn, PQ};
      sgemm(g.K, PQ, CRS, 1.0f, w, CRS, 1, pre, BWindow{matrix_window, &im}, 0.0f, yn, PQ, tiles ? &epi : nullptr);
    } else if (direct) {
      const ImageTaps taps{&g, xn};
      sgemm(g.K, PQ, CRS, 1.0f, w, CRS, 1, pre, BWindow{nullptr, &taps, image_pack_for(g)}, 0.0f, yn, PQ, tiles ? &epi : nullptr);
    } else {
      const PhasePlanes pp = split_planes(g, xn, thread_scratch(Scratch::kConv, phase_floats), T);
      sgemm(g.K, PQ, CRS, 1.0f, w, CRS, 1, pre, BWindow{nullptr, &pp, planes_pack}, 0.0f, yn, PQ, tiles ? &epi : nullptr);
    }
    if (!tiles && !epi.empty()) apply_epilogue(g.K, PQ, yn, PQ, epi);  // a pass over y[n], channel by channel
  });
}

// A map narrower than the GEMM kernel's tile: for ResNet-18 at 64x64, whose layer4 runs on 2x2 maps, every 6x64
// tile computed 64 columns for 4 pixels (layer4's 3x3 convolutions took 0.96 ms a call, for 19 MFLOP). Transposed,
// the pixels are the GEMM's rows: y[n]^T [PQ x K] = col^T [PQ x CRS] * (w packed as B), and the threads split the
// output channels, each streaming its share of the weights once.
bool conv_narrow(const ConvGeom& g) {
  return 2 * g.P * g.Q <= gemm_for_rows(g.K).NR;
}
const GemmKernel& narrow_gemm(int PQ, int K) { return gemm_for(PQ, K); }
void narrow_weights(const GemmKernel& uk, const float* w, int K, int CRS, float* out) {
  pack_b(uk, CRS, K, w, 1, CRS, out);
}
static void forward_narrow(const ConvGeom& g, const float* x, const float* Wb, const GemmKernel& uk, const float* b,
                           const float* residual, bool relu, float* y) {
  const int CRS = g.C * g.R * g.S, RS = g.R * g.S, PQ = g.P * g.Q, panels = (g.K + uk.NR - 1) / uk.NR;
  const int T = omp_in_parallel() ? 1 : std::min(omp_get_max_threads(), panels);
  // images in groups of up to 192 pixels: the GEMM's rows, so that the weights are read once per group
  const int G = std::max(1, std::min(g.N, 192 / PQ));
  Workspace ws((int64_t)G * PQ * (CRS + g.K));
  float *colT = ws.p, *yt = ws.p + (int64_t)G * PQ * CRS;  // col^T [G*PQ x CRS], y^T [G*PQ x K]
  // where tap (r, s) of pixel (p, q) reads in its channel's plane, or -1 in the padding
  std::vector<int> from((size_t)PQ * RS);
  for (int pq = 0; pq < PQ; pq++)
    for (int rs = 0; rs < RS; rs++) {
      const int h = pq / g.Q * g.stride - g.pad + rs / g.S, w = pq % g.Q * g.stride - g.pad + rs % g.S;
      from[pq * RS + rs] = h >= 0 && h < g.H && w >= 0 && w < g.W ? h * g.W + w : -1;
    }
  for (int n0 = 0; n0 < g.N; n0 += G) {
    const int ng = std::min(G, g.N - n0), M = ng * PQ;
#pragma omp parallel num_threads(T) if (T > 1)
    {
      const int t = omp_get_thread_num(), nt = omp_get_num_threads();
#pragma omp for schedule(static)
      for (int ic = 0; ic < ng * g.C; ic++) {  // col^T, by (image, channel)
        const int i = ic / g.C, c = ic % g.C;
        const float* xc = x + ((int64_t)(n0 + i) * g.C + c) * g.H * g.W;
        float* o = colT + (int64_t)i * PQ * CRS + c * RS;
        for (int pq = 0; pq < PQ; pq++, o += CRS)
          for (int rs = 0; rs < RS; rs++) {
            const int f = from[pq * RS + rs];
            o[rs] = f >= 0 ? xc[f] : 0.0f;
          }
      }  // (and the threads wait for the whole of it)
      const int jp0 = panels * t / nt, jp1 = panels * (t + 1) / nt;
      sgemm_packed_b(uk, M, g.K, CRS, colT, CRS, 1, Wb, yt, g.K, jp0, jp1);
      for (int i = 0; i < ng; i++) {  // y[n][k][p] = y^T[n, p][k], then the epilogue
        const int64_t at = (int64_t)(n0 + i) * g.K * PQ;
        for (int k = jp0 * uk.NR; k < std::min(g.K, jp1 * uk.NR); k++)
          for (int p = 0; p < PQ; p++) {
            float v = yt[(int64_t)(i * PQ + p) * g.K + k] + (b ? b[k] : 0.0f);
            if (residual) v += residual[at + (int64_t)k * PQ + p];
            y[at + (int64_t)k * PQ + p] = relu ? std::max(v, 0.0f) : v;
          }
      }
    }
  }
}

void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* b, float* y) {
  forward_gemm(g, x, w, nullptr, b, nullptr, false, y);
}

void conv2d_forward_fused(const ConvGeom& g, const float* x, const float* w, const ConvPrep* prep, const float* b,
                          const float* residual, bool relu, float* y) {
  if (prep && prep->wino && winograd_fits(g) && winograd_worth(g, prep->wino_m)) {
    conv2d_winograd(g, prep->wino_m, x, prep->wino, gemm_kernel(prep->wino_kernel), b, residual, relu, y);
    return;
  }
  if (prep && prep->narrow && conv_narrow(g)) {
    forward_narrow(g, x, prep->narrow, gemm_kernel(prep->narrow_kernel), b, residual, relu, y);
    return;
  }
  const int CRS = g.C * g.R * g.S;
  PackedA pa;
  const bool packed = prep && prep->packed && prep->gemm_kernel >= 0;
  if (packed) pa = packed_view(gemm_kernel(prep->gemm_kernel), g.K, CRS, prep->packed);
  forward_gemm(g, x, w, packed ? &pa : nullptr, b, residual, relu, y);
}

// conv2d_relu_maxpool's two ways (cpu.h: stem_force): the direct stem of stem_rows.h (AVX-512, or its baseline build
// for the tests), or im2col + GEMM a band at a time.
void stem_rows_avx512(const StemBand& a);
void stem_rows_emul(const StemBand& a);
void stem_pool_avx512(const PoolGeom& pg, const float* buf, int lo, int K, int p0, int p1, float* y, float* row);
void stem_pool_emul(const PoolGeom& pg, const float* buf, int lo, int K, int p0, int p1, float* y, float* row);
namespace {
enum class StemPath { kAuto, kGemm, kAvx512, kEmul };
StemPath& stem_pin() {
  static StemPath p = StemPath::kAuto;
  return p;
}
// pinned, or by default the direct stem when the GEMM kernels are AVX-512's (gemm.h: gemm_avx512)
StemPath stem_path() {
  const StemPath p = stem_pin();
  return p != StemPath::kAuto ? p : gemm_avx512() ? StemPath::kAvx512 : StemPath::kGemm;
}
}  // namespace
bool stem_force(const char* name) {
  if (!name || !std::strcmp(name, "auto")) return stem_pin() = StemPath::kAuto, true;
  if (!std::strcmp(name, "gemm")) return stem_pin() = StemPath::kGemm, true;
  if (!std::strcmp(name, "emul")) return stem_pin() = StemPath::kEmul, true;
  if (!std::strcmp(name, "avx512") && cpu_has_avx512f()) return stem_pin() = StemPath::kAvx512, true;
  return false;
}
static bool stem_direct_fits(const ConvGeom& g) { return g.K % 64 == 0 && g.C * g.R * g.S <= 512; }
static bool stem_pool_fits(const PoolGeom& pg) { return pg.k <= 16; }

bool conv_relu_maxpool_fits(const ConvGeom& g, const PoolGeom& pg) {
  const bool direct = stem_path() != StemPath::kGemm && stem_direct_fits(g) && stem_pool_fits(pg);
  return (direct || image_packs(g)) && pg.N == g.N && pg.C == g.K && pg.H == g.P && pg.W == g.Q && pg.k > pg.pad;
}

// y = maxpool(relu(conv(x) + b)) a band of pooled rows at a time. Each worker (an image, or at batch 1 a share of
// its pooled rows) computes the convolution rows its next band reads into a buffer that stays in L2, keeping the
// rows the previous band computed that this one reads again (a 3x3/2 pool's windows share a row), then pools them.
// The convolution's output is never written out whole; each of its rows is computed once, except one row where
// two workers' shares meet. The rows are computed by the direct stem (channels last) or by im2col + GEMM
// (channels first).
void conv2d_relu_maxpool(const ConvGeom& g, const PoolGeom& pg, const float* x, const float* w, const ConvPrep* prep,
                         const float* b, float* y) {
  const int CRS = g.C * g.R * g.S, Q = g.Q, K = g.K, T = omp_in_parallel() ? 1 : omp_get_max_threads();
  const StemPath path = stem_direct_fits(g) && stem_pool_fits(pg) ? stem_path() : StemPath::kGemm;
  const bool direct = path != StemPath::kGemm;
  PackedA pa;
  const bool packed = !direct && prep && prep->packed && prep->gemm_kernel >= 0;
  if (packed) pa = packed_view(gemm_kernel(prep->gemm_kernel), K, CRS, prep->packed);
  // pooled rows per band: the convolution rows it reads, (band - 1) stride + k, about 256 KB for all channels
  const int band = std::max(1, std::min(pg.P, ((65536 / std::max(1, K * Q)) - pg.k) / pg.stride + 1));
  const int rows_max = (band - 1) * pg.stride + pg.k;
  const int shares = g.N >= T ? 1 : (T + g.N - 1) / g.N;  // workers per image
  // the direct path's padded copy of a band's input rows: the pixels of the last tile past Q read spare columns
  const int Wp = (Q + kStemTilePixels - 1) * g.stride + g.S, rows_in = (rows_max - 1) * g.stride + g.R;
  const int64_t plane = (int64_t)rows_in * Wp;
  const int64_t buf_floats = (int64_t)K * rows_max * Q, rm_floats = (maxpool_row_floats(pg) + 15) / 16 * 16;
  const int64_t row_floats = direct ? (int64_t)(pg.W + pg.Q) * K : 0, copy_floats = direct ? (g.C * plane + 15) / 16 * 16 : 0;
  const int64_t per = buf_floats + rm_floats + row_floats + copy_floats;
  Workspace ws(direct ? (int64_t)CRS * K : 0);
  float* wt = ws.p;  // the direct path's weights [CRS][K], and its taps' offsets
  std::vector<int> taps(direct ? CRS : 0);
  if (direct) {
    for (int k = 0; k < K; k++)
      for (int t = 0; t < CRS; t++) wt[(int64_t)t * K + k] = w[(int64_t)k * CRS + t];
    for (int t = 0; t < CRS; t++) taps[t] = (int)(t / (g.R * g.S) * plane + t / g.S % g.R * Wp + t % g.S);
  }
  const GemmEpilogue epi{b, nullptr, 0, true};
#pragma omp parallel for schedule(static) num_threads(T) if (T > 1)
  for (int item = 0; item < g.N * shares; item++) {
    const int n = item / shares, share = item % shares;
    // convolution rows [lo, hi) in buf: [K][rows_max][Q] (GEMM) or [rows_max][Q][K] (direct)
    float* buf = thread_scratch(Scratch::kConv, per);
    float *rm = buf + buf_floats, *prow = rm + rm_floats, *xp = prow + row_floats;
    const float* xn = x + (int64_t)n * g.C * g.H * g.W;
    float* yn = y + (int64_t)n * K * pg.P * pg.Q;
    const int64_t ldb = (int64_t)rows_max * Q;
    const int p_begin = (int)((int64_t)pg.P * share / shares), p_end = (int)((int64_t)pg.P * (share + 1) / shares);
    int lo = 0, hi = 0;
    for (int p0 = p_begin; p0 < p_end; p0 += band) {
      const int p1 = std::min(p_end, p0 + band);
      const int need_lo = std::max(0, p0 * pg.stride - pg.pad), need_hi = std::min(g.P, (p1 - 1) * pg.stride - pg.pad + pg.k);
      // keep the rows [need_lo, hi) already here, moved to the front; compute the rest
      const int keep = hi > need_lo && lo <= need_lo ? hi - need_lo : 0;
      if (keep > 0 && need_lo > lo) {
        if (direct) std::memmove(buf, buf + (int64_t)(need_lo - lo) * Q * K, sizeof(float) * keep * Q * K);
        else
          for (int k = 0; k < K; k++) std::memmove(buf + k * ldb, buf + k * ldb + (int64_t)(need_lo - lo) * Q, sizeof(float) * keep * Q);
      }
      const int from = need_lo + keep;
      if (need_hi > from && direct) {
        // input rows from * stride - pad .., zero-padded on every side, then the rows from the copy
        const int h0 = from * g.stride - g.pad, nin = (need_hi - from - 1) * g.stride + g.R;
        for (int c = 0; c < g.C; c++)
          for (int i = 0; i < nin; i++) {
            float* o = xp + c * plane + (int64_t)i * Wp;
            const int h = h0 + i, wl = std::min(Wp, g.pad), wr = std::min(Wp, g.pad + g.W);
            if (h < 0 || h >= g.H) { zero_run(o, Wp); continue; }
            zero_run(o, wl);
            copy_run(o + wl, xn + ((int64_t)c * g.H + h) * g.W, wr - wl);
            zero_run(o + wr, Wp - wr);
          }
        const StemBand a{xp, taps.data(), wt, b, buf + (int64_t)keep * Q * K, plane, Wp, CRS, K, Q, g.stride, need_hi - from, true};
        if (path == StemPath::kAvx512) stem_rows_avx512(a);
        else stem_rows_emul(a);
      } else if (need_hi > from) {
        const ImageTaps it{&g, xn, from * Q};
        sgemm(K, (need_hi - from) * Q, CRS, 1.0f, w, CRS, 1, packed ? &pa : nullptr, BWindow{nullptr, &it, image_pack_for(g)},
              0.0f, buf + (int64_t)keep * Q, ldb, &epi);
      }
      lo = need_lo;
      hi = need_hi;
      if (path == StemPath::kAvx512) stem_pool_avx512(pg, buf, lo, K, p0, p1, yn, prow);
      else if (path == StemPath::kEmul) stem_pool_emul(pg, buf, lo, K, p0, p1, yn, prow);
      else
        for (int k = 0; k < K; k++) maxpool_plane_rows(pg, buf + k * ldb, lo, Q, p0, p1, yn + (int64_t)k * pg.P * pg.Q, rm);
    }
  }
}

void conv2d_backward_input(const ConvGeom& g, const float* dy, const float* w, float* dx) {
  const int CRS = g.C * g.R * g.S, PQ = g.P * g.Q;
  if (backward_as_forward(g)) {
    const ConvGeom gb = backward_geom(g);
    const int RS = g.R * g.S, KRS = g.K * RS;
    Workspace ws((int64_t)g.K * CRS);
    float* wt = ws.p;  // w' [C][K][R][S]
#pragma omp parallel for schedule(static) if ((int64_t)g.K * CRS > 32768)
    for (int c = 0; c < g.C; c++)
      for (int k = 0; k < g.K; k++)
        for (int rs = 0; rs < RS; rs++) wt[(int64_t)c * KRS + k * RS + rs] = w[((int64_t)k * g.C + c) * RS + RS - 1 - rs];
    const int T = conv_threads(g);
    for_each_image(g.N, T, [&](int n, int) {  // dy padded, in the thread's scratch
      const PhasePlanes pp = split_planes(gb, dy + (int64_t)n * g.K * PQ, thread_scratch(Scratch::kConv, PhasePlanes::floats(gb)), T);
      sgemm(g.C, g.H * g.W, KRS, 1.0f, wt, KRS, 1, BWindow{nullptr, &pp, planes_pack}, 1.0f,
            dx + (int64_t)n * g.C * g.H * g.W, g.H * g.W);  // dx += w' * im2col(dy)
    });
    return;
  }
  for_each_image(g.N, conv_threads(g), [&](int n, int) {
    const float* dyn = dy + (int64_t)n * g.K * PQ;
    float* dxn = dx + (int64_t)n * g.C * g.H * g.W;
    if (g.is_pointwise()) {
      sgemm(true, false, CRS, PQ, g.K, 1.0f, w, CRS, dyn, PQ, 1.0f, dxn, PQ);  // dx += w^T dy
    } else {
      float* mycol = thread_scratch(Scratch::kConv, col_floats(g));  // the image's column matrix
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
