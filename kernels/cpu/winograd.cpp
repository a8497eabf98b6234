// winograd.cpp: 3x3 stride-1 convolution by Winograd's minimal filtering F(m x m, 3x3), m = 2 or 4, for inference
// (winograd_tiles.h has the transforms and why they save multiplies). The weights are transformed once, when the
// network is prepared for inference (kern::conv2d_prepare), into U [a*a][Cp][Kp]; a call then runs
//
//   1. stage:  x [N][C][H][W]  ->  xs [N][C/16][Hs][Ws][16]   zero-padded, 16 channels side by side, so that a tile
//              of 16 channels is a run of 16-float vectors (Cp, Kp: C and K rounded up to 16 with zeros)
//   2. per chunk of whole tile rows (Tc tiles, of any images), on one thread:
//        V [Tc][a*a][Cp]  = B^T d B of each tile                          (input_tile)
//        M [Tc][a*a][Kp]  = V[xi] * U[xi]  for each xi                     (a*a single-threaded sgemm calls)
//        (tile-major: a tile's a*a transformed vectors are written, and read back, as one contiguous run; the
//        GEMMs read V[xi] and write M[xi] with a row stride of a*a vectors. Element-major [a*a][Tc] measured
//        3-5% slower at batch 1: 36 store streams a tile.)
//        y                = A^T M A of each tile (output_tile) into a row buffer, then each output row written
//                           once, with bias (+ residual) (ReLU)         (write_rows)
//
// Chunks of about kChunkTiles tiles are spread over the threads; when there are too few for that (batch 1, small
// maps), the call is one chunk and each of the three steps is split over the threads instead. The element-wise
// products of the algorithm become the GEMMs' inner products over channels.
#include <omp.h>
#include <xmmintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/cpu.h"
#include "kernels/cpu/winograd_tiles.h"

namespace cpu {

extern const WinogradTiles kWinogradAvx2, kWinogradAvx512;
static const WinogradTiles kWinogradGeneric = WINOGRAD_TILES("generic");

namespace {
struct Version { const WinogradTiles* tiles; bool (*supported)(); };
bool always() { return true; }
const Version kVersions[] = {{&kWinogradGeneric, always}, {&kWinogradAvx2, cpu_has_avx2_fma},
                             {&kWinogradAvx512, cpu_has_avx512f}};
const WinogradTiles*& pinned() {
  static const WinogradTiles* p = [] {
    const char* env = std::getenv("PIPNET_WINOGRAD");
    for (const Version& v : kVersions)
      if (env && std::strcmp(env, v.tiles->name) == 0 && v.supported()) return v.tiles;
    return (const WinogradTiles*)nullptr;
  }();
  return p;
}
const WinogradTiles& active() {
  if (const WinogradTiles* p = pinned()) return *p;
  for (int i = 2; i >= 0; i--)
    if (kVersions[i].supported()) return *kVersions[i].tiles;
  return kWinogradGeneric;
}
int round16(int n) { return (n + 15) / 16 * 16; }

// G for each m: U = G g G^T (g the 3x3 filter), with B^T and A^T of winograd_tiles.h
const double kG2[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
const double kG4[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                          {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};

// Tiles per chunk: the GEMMs' M. Measured on one Zen 5 core, sgemm with N = K = 64 runs at 25-30 GFLOP/s for M
// of 12-36, 105 at 96, 125-130 at 192-256: the packing and the driver's fixed costs must be spread over enough
// rows. (V and M are then larger than L2, 36 * 192 * 128 floats = 3.5 MB for 64 channels at m = 4, and come
// from L3; fewer tiles to stay in L2 measured slower.)
constexpr int64_t kChunkTiles = 192;
// Below this many tiles in a call, each of the (m+2)^2 GEMMs is too thin to pay: im2col + GEMM instead. ResNet's
// layer4 at batch 1 (8x8, 16 tiles of F(2x2)) is just above it: with its weights packed ahead for the GEMM, Winograd
// measured 0.91x of im2col's time with the weights out of cache, and ResNet-18 0.97x (ResNet-50 the same).
constexpr int64_t kMinTiles = 16;
}  // namespace

bool winograd_force(const char* name) {
  if (!name || std::strcmp(name, "auto") == 0) return pinned() = nullptr, true;
  for (const Version& v : kVersions)
    if (std::strcmp(name, v.tiles->name) == 0) {
      if (!v.supported()) return false;
      pinned() = v.tiles;
      return true;
    }
  return false;
}
const char* winograd_active() { return active().name; }

// Measured with bench_conv --winograd on one Zen 5 core (speed-up over im2col + GEMM, batch 1 / batch 16):
//   ResNet-18 layer1 (C = 64, 64x64):   F(4x4) 1.79 / 2.02, F(2x2) 1.34 / 1.51
//   layer2 (C = 128, 32x32):             F(4x4) 2.18 / 2.42, F(2x2) 1.65 / 1.78
//   layer3 (C = 256, 16x16):             F(4x4) 1.64 / 1.93, F(2x2) 1.77 / -
//   layer4 (C = 512, 8x8):               F(4x4) 0.59 / 3.31, F(2x2) 1.14 / 2.17
// Each call takes F(4x4) where it has at least kMinTiles of F(4x4)'s tiles, else F(2x2) where it has as many of
// those and that form was made ahead, else im2col (winograd_pick; kern::conv2d_forward_fused). Layer4 (512 channels,
// 8x8) has 4 tiles of F(4x4) at batch 1, and F(2x2) runs it (F(4x4) 1.70x F(2x2)'s time at batch 2, 0.83x at 4,
// 0.71x at 8, 0.63x at 16: 2 threads, Zen 5). The form made ahead (winograd_choice) is F(4x4) up to 256 channels,
// F(2x2) above: F(4x4)'s weights take 36 instead of 16 copies of each filter's 9 values, 38 MB for 512 channels,
// made only when a batch asks for them. (The layer4 figures at batch 1 in the table are from before the weights were
// packed ahead for the GEMM.)
// Layer3 (256 channels) used F(2x2) until F(4x4) measured 0.60x its time in ResNet-50 at batch 16 (2 threads, Zen 5;
// 0.96-1.02x at batch 1, where its 9.4 MB of weights come from memory). F(4x4)'s error grows with the channels (in
// the tests' bound, to about 5e-5 of the values' scale at 256), but on a whole ResNet-50 PIP Net the outputs moved
// no further from im2col's than F(2x2)'s: 1.5e-6 and 1.4e-6 of their largest value.
// PIPNET_WINOGRAD_M=0|2|4 where set (-1 where not)
static int pinned_m() {
  const char* env = std::getenv("PIPNET_WINOGRAD_M");
  return !env ? -1 : std::atoi(env) == 2 ? 2 : std::atoi(env) == 4 ? 4 : 0;
}

int winograd_choice(int K, int C) {
  if (const int m = pinned_m(); m >= 0) return m;
  (void)K;
  return C <= 256 ? 4 : 2;
}

int winograd_pick(const ConvGeom& g) {
  if (!winograd_fits(g)) return 0;
  if (const int m = pinned_m(); m >= 0) return m && winograd_worth(g, m) ? m : 0;
  return winograd_worth(g, 4) ? 4 : winograd_worth(g, 2) ? 2 : 0;
}

bool winograd_late_f2(const ConvGeom& g) { return g.C >= 64; }

bool winograd_worth(const ConvGeom& g, int m) {
  return (int64_t)g.N * ((g.P + m - 1) / m) * ((g.Q + m - 1) / m) >= kMinTiles;
}

bool winograd_fits(const ConvGeom& g) { return g.R == 3 && g.S == 3 && g.stride == 1 && g.P > 0 && g.Q > 0; }

const GemmKernel& winograd_gemm(int K) { return gemm_for((int)kChunkTiles, round16(K)); }

int64_t winograd_weight_floats(int m, int K, int C, const GemmKernel& uk) {
  return (int64_t)(m + 2) * (m + 2) * packed_b_floats(uk, round16(C), round16(K));
}

void winograd_weights(int m, const float* w, int K, int C, const GemmKernel& uk, float* Upacked) {
  const int a = m + 2, Cp = round16(C), Kp = round16(K);
  const double(*G)[3] = m == 2 ? kG2 : kG4;
  Workspace plain((int64_t)a * a * Cp * Kp);  // U [a*a][Cp][Kp], then each U[xi] packed for the GEMM
  float* U = plain.p;
  std::memset(U, 0, sizeof(float) * a * a * Cp * Kp);
#pragma omp parallel for schedule(static)
  for (int k = 0; k < K; k++)
    for (int c = 0; c < C; c++) {
      const float* g = w + ((int64_t)k * C + c) * 9;
      double Gg[6][3];  // G g
      for (int i = 0; i < a; i++)
        for (int s = 0; s < 3; s++) Gg[i][s] = G[i][0] * g[s] + G[i][1] * g[3 + s] + G[i][2] * g[6 + s];
      for (int i = 0; i < a; i++)
        for (int j = 0; j < a; j++)
          U[((int64_t)(i * a + j) * Cp + c) * Kp + k] = (float)(Gg[i][0] * G[j][0] + Gg[i][1] * G[j][1] + Gg[i][2] * G[j][2]);
    }
  const int64_t per = packed_b_floats(uk, Cp, Kp);
  for (int xi = 0; xi < a * a; xi++) pack_b(uk, Cp, Kp, U + (int64_t)xi * Cp * Kp, Kp, 1, Upacked + xi * per);
}

// One row of tiles' outputs, rb [m][Kp][Qt], into y's rows p0.. of image n (ih of them inside y),
// with bias, residual and ReLU: each output row one contiguous, vectorised run (so that y is written a row at a time,
// not 16 channels of a few floats at once: those lie a plane apart, which at 64x64 is 16 KB, and fight over the
// same few L1 sets).
template <bool kResidual, bool kRelu>
static void write_rows(const ConvGeom& g, const float* rb, int64_t Kp, int64_t Qt, const float* bias, const float* residual,
                       int n, int p0, int ih, float* y) {
  for (int k = 0; k < g.K; k++) {
    const float bk = bias ? bias[k] : 0.0f;
    for (int i = 0; i < ih; i++) {
      const int64_t at = (((int64_t)n * g.K + k) * g.P + p0 + i) * g.Q;
      const float* src = rb + ((int64_t)i * Kp + k) * Qt;
      float* yr = y + at;
      const float* rr = kResidual ? residual + at : nullptr;
#pragma omp simd
      for (int q = 0; q < g.Q; q++) {
        float v = src[q] + bk;
        if constexpr (kResidual) v += rr[q];
        if constexpr (kRelu) v = v > 0.0f ? v : 0.0f;
        yr[q] = v;
      }
    }
  }
}
static void write_tile_row(const ConvGeom& g, const float* rb, int64_t Kp, int64_t Qt, const float* bias, const float* residual,
                           bool relu, int n, int p0, int ih, float* y) {
  if (residual) {
    if (relu) write_rows<true, true>(g, rb, Kp, Qt, bias, residual, n, p0, ih, y);
    else write_rows<true, false>(g, rb, Kp, Qt, bias, residual, n, p0, ih, y);
  } else {
    if (relu) write_rows<false, true>(g, rb, Kp, Qt, bias, residual, n, p0, ih, y);
    else write_rows<false, false>(g, rb, Kp, Qt, bias, residual, n, p0, ih, y);
  }
}

namespace {
// Everything one call needs to know, and the three steps of a chunk (a run of whole tile rows: row r is image
// r / TH's tile row r % TH). Each step takes a sub-range, so that a chunk can be done by one thread or split.
struct Winograd {
  const ConvGeom& g;
  int m, a, A2, Cp, Kp, CB, KB, TH, TW, Hs, Ws;
  int64_t plane, Qt;
  void (*in_tile)(const float*, int64_t, float*, int64_t);
  void (*out_tile)(const float*, int64_t, float*);
  const float *xs, *U, *bias, *residual;
  const GemmKernel* uk;  // what U was packed for
  bool relu;
  float* y;

  Winograd(const ConvGeom& g_, int m_) : g(g_), m(m_), a(m_ + 2), A2(a * a), Cp(round16(g.C)), Kp(round16(g.K)),
      CB(Cp / 16), KB(Kp / 16), TH((g.P + m - 1) / m), TW((g.Q + m - 1) / m), Hs(TH * m + 2), Ws(TW * m + 2),
      plane((int64_t)Hs * Ws * 16), Qt((int64_t)TW * m) {}

  // step 0, per (image, channel block): x -> xs [N][CB][Hs][Ws][16], zero-padded; 16 channel rows read in step,
  // each sequentially, into one contiguous run of 16-float columns
  void stage(const float* x, int64_t nb, float* xs_out) const {
    stage_rows(x, (int)(nb / CB), (int)(nb % CB), 0, Hs, xs_out + nb * plane);
  }
  // The same for the staged rows [i0, i1) of image n's channel block cb only, into o [i1 - i0][Ws][16] (staged row
  // i is image row i - pad)
  void stage_rows(const float* x, int n, int cb, int i0, int i1, float* o) const {
    const int nl = std::min(16, g.C - cb * 16);
    const int64_t HW = (int64_t)g.H * g.W;
    const float* xr[16];
    for (int l = 0; l < 16; l++) xr[l] = x + ((int64_t)n * g.C + cb * 16 + std::min(l, nl - 1)) * HW;
    for (int i = i0; i < i1; i++) {
      float* line = o + (int64_t)(i - i0) * Ws * 16;
      const int h = i - g.pad;
      if (h < 0 || h >= g.H) {  // the zero rows above and below the image
        std::memset(line, 0, sizeof(float) * Ws * 16);
        continue;
      }
      // zeros: each image row's columns left and right of it
      std::memset(line, 0, sizeof(float) * g.pad * 16);
      std::memset(line + (int64_t)(g.pad + g.W) * 16, 0, sizeof(float) * (Ws - g.pad - g.W) * 16);
      float* row = line + g.pad * 16;
      const int64_t off = (int64_t)h * g.W;
      if (nl == 16) {  // 16 channel rows into 16-float columns: 4x4 blocks through SSE transposes
        int w = 0;
        for (; w + 4 <= g.W; w += 4)
          for (int l = 0; l < 16; l += 4) {
            __m128 r0 = _mm_loadu_ps(xr[l] + off + w), r1 = _mm_loadu_ps(xr[l + 1] + off + w),
                   r2 = _mm_loadu_ps(xr[l + 2] + off + w), r3 = _mm_loadu_ps(xr[l + 3] + off + w);
            _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
            _mm_storeu_ps(row + (w + 0) * 16 + l, r0);
            _mm_storeu_ps(row + (w + 1) * 16 + l, r1);
            _mm_storeu_ps(row + (w + 2) * 16 + l, r2);
            _mm_storeu_ps(row + (w + 3) * 16 + l, r3);
          }
        for (; w < g.W; w++)
          for (int l = 0; l < 16; l++) row[w * 16 + l] = xr[l][off + w];
      } else {
        for (int w = 0; w < g.W; w++) {
          for (int l = 0; l < nl; l++) row[w * 16 + l] = xr[l][off + w];
          for (int l = nl; l < 16; l++) row[w * 16 + l] = 0.0f;
        }
      }
    }
  }
  // step 1: tiles [t0, t1) of the chunk starting at tile row r0 -> V [Tc][A2][Cp]
  // (from xs, staged as stage() does, or from a band of it: planes of band_plane floats starting at staged row row0)
  void transform_in(int64_t r0, int64_t t0, int64_t t1, float* V, const float* band = nullptr, int64_t band_plane = 0,
                    int row0 = 0) const {
    const float* from = band ? band : xs;
    const int64_t pl = band ? band_plane : plane;
    for (int64_t t = t0; t < t1; t++) {
      const int64_t r = r0 + t / TW;
      const int n = (int)(r / TH), ty = (int)(r % TH), tx = (int)(t % TW);
      for (int cb = 0; cb < CB; cb++)
        in_tile(from + ((int64_t)n * CB + cb) * pl + ((int64_t)(ty * m - row0) * Ws + tx * m) * 16, (int64_t)Ws * 16,
                V + t * A2 * Cp + cb * 16, Cp);
    }
  }
  // step 2: M[xi] = V[xi] U[xi] for xi in [x0, x1), tc tiles, on this thread (U[xi] packed ahead for uk)
  void multiply(int x0, int x1, const float* V, float* M, int64_t tc) const {
    const int64_t per = packed_b_floats(*uk, Cp, Kp);
    for (int xi = x0; xi < x1; xi++)
      sgemm_packed_b(*uk, (int)tc, Kp, Cp, V + (int64_t)xi * Cp, (int64_t)A2 * Cp, 1, U + xi * per, M + (int64_t)xi * Kp,
                     (int64_t)A2 * Kp);
  }
  // step 3: tile rows [rr0, rr1) of the chunk: M -> y. rb [m][Kp][Qt] and out [m*m][16] are the thread's.
  void transform_out(int64_t r0, int64_t rr0, int64_t rr1, const float* M, float* rb, float* out) const {
    for (int64_t rr = rr0; rr < rr1; rr++) {
      const int64_t r = r0 + rr;
      for (int tx = 0; tx < TW; tx++) {
        const int64_t t = rr * TW + tx;
        for (int kb = 0; kb < KB; kb++) {
          out_tile(M + t * A2 * Kp + kb * 16, Kp, out);
          for (int i = 0; i < m; i++)  // out [i][j][16 channels] -> rb [i][channel][tx*m + j]
            scatter_row(out + i * m * 16, rb + ((int64_t)i * Kp + kb * 16) * Qt + tx * m, Qt);
        }
      }
      const int ty = (int)(r % TH);
      write_tile_row(g, rb, Kp, Qt, bias, residual, relu, (int)(r / TH), ty * m, std::min(m, g.P - ty * m), y);
    }
  }
  // One row of a tile's outputs, o [j][16 channels] (j < m), to dst[l * ld + j]: the m x 16 block transposed, four
  // channels at a time through SSE registers (in every x86-64; the element-by-element copy was a sixth of layer1's
  // time at batch 1).
  void scatter_row(const float* o, float* dst, int64_t ld) const {
    if (m == 4) {
      for (int l = 0; l < 16; l += 4) {
        __m128 r0 = _mm_loadu_ps(o + l), r1 = _mm_loadu_ps(o + 16 + l), r2 = _mm_loadu_ps(o + 32 + l),
               r3 = _mm_loadu_ps(o + 48 + l);
        _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
        _mm_storeu_ps(dst + (l + 0) * ld, r0);
        _mm_storeu_ps(dst + (l + 1) * ld, r1);
        _mm_storeu_ps(dst + (l + 2) * ld, r2);
        _mm_storeu_ps(dst + (l + 3) * ld, r3);
      }
    } else if (m == 2) {
      for (int l = 0; l < 16; l += 4) {
        const __m128 r0 = _mm_loadu_ps(o + l), r1 = _mm_loadu_ps(o + 16 + l);
        const __m128 lo = _mm_unpacklo_ps(r0, r1), hi = _mm_unpackhi_ps(r0, r1);  // (l, l+1), (l+2, l+3)
        _mm_storel_pi((__m64*)(dst + (l + 0) * ld), lo);
        _mm_storeh_pi((__m64*)(dst + (l + 1) * ld), lo);
        _mm_storel_pi((__m64*)(dst + (l + 2) * ld), hi);
        _mm_storeh_pi((__m64*)(dst + (l + 3) * ld), hi);
      }
    } else {
      for (int l = 0; l < 16; l++)
        for (int j = 0; j < m; j++) dst[l * ld + j] = o[j * 16 + l];
    }
  }
  int64_t out_scratch() const { return (int64_t)m * Kp * Qt + (int64_t)m * m * 16; }
};
}  // namespace

void conv2d_winograd(const ConvGeom& g, int m, const float* x, const float* U, const GemmKernel& uk, const float* bias,
                     const float* residual, bool relu, float* y) {
  Winograd w(g, m);
  w.uk = &uk;
  const WinogradTiles& wt = active();
  w.in_tile = m == 2 ? wt.input2 : wt.input4;
  w.out_tile = m == 2 ? wt.output2 : wt.output4;
  w.U = U, w.bias = bias, w.residual = residual, w.relu = relu, w.y = y;
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  const int64_t rows = (int64_t)g.N * w.TH, nbs = (int64_t)g.N * w.CB;

  // Chunks of about kChunkTiles tiles, one per thread at a time. When that would leave a thread fewer than half
  // of them (batch 1, small images), the whole call is one chunk instead, each step split over the threads.
  // Chunk c is tile rows [rows * c / chunks, rows * (c + 1) / chunks), their number a multiple of the threads, so
  // that every thread gets the same number of rows, give or take one (256 rows in chunks of 12 left one thread
  // with a 4-row chunk where the other had a 12-row one).
  int64_t rows_per = (kChunkTiles + w.TW - 1) / w.TW;
  const bool split = threads > 1 && (rows + threads - 1) / threads * w.TW < kChunkTiles / 2;
  rows_per = split ? rows : std::min(rows_per, std::max<int64_t>(1, (rows + threads - 1) / threads));
  int64_t chunks = (rows + rows_per - 1) / rows_per;
  if (!split) chunks = std::min(rows, (chunks + threads - 1) / threads * threads);
  rows_per = (rows + chunks - 1) / chunks;  // the largest chunk
  const int64_t Tc = rows_per * w.TW;
  const int64_t vfloats = w.A2 * Tc * w.Cp, mfloats = w.A2 * Tc * w.Kp;
  // One image in chunks (batch 1 on a large map): each chunk stages only the rows its tiles read, on its own thread,
  // into its own band (the rows its neighbours also read, twice). The image's rows then stay with the thread that
  // wrote them in the layer before (whose output rows were split the same way), and nothing staged crosses cores.
  const bool bands = g.N == 1 && threads > 1 && !split;
  Workspace staged(bands ? 0 : nbs * w.plane);
  w.xs = staged.p;
  if (!bands) {
#pragma omp parallel for schedule(static) num_threads(threads) if (nbs > 1)
    for (int64_t nb = 0; nb < nbs; nb++) w.stage(x, nb, staged.p);
  }

  if (split) {
    Workspace vm(vfloats + mfloats);
    float *V = vm.p, *M = vm.p + vfloats;
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      auto share = [&](int64_t n, int64_t& lo, int64_t& hi) { lo = n * t / threads, hi = n * (t + 1) / threads; };
      int64_t lo, hi;
      share(Tc, lo, hi);
      w.transform_in(0, lo, hi, V);
#pragma omp barrier
      share(w.A2, lo, hi);
      w.multiply((int)lo, (int)hi, V, M, Tc);
#pragma omp barrier
      share(rows, lo, hi);
      float* rb = thread_scratch(Scratch::kWinograd, w.out_scratch());
      w.transform_out(0, lo, hi, M, rb, rb + (int64_t)m * w.Kp * w.Qt);
    }
    return;
  }
  const int band_rows = (int)rows_per * m + 2;  // staged rows a chunk's tiles read
  const int64_t band_plane = bands ? (int64_t)band_rows * w.Ws * 16 : 0;
  const int64_t per_thread = vfloats + mfloats + w.out_scratch() + w.CB * band_plane;
#pragma omp parallel for schedule(static) num_threads(threads) if (chunks > 1)
  for (int64_t ch = 0; ch < chunks; ch++) {
    float* V = thread_scratch(Scratch::kWinograd, per_thread);
    float *M = V + vfloats, *rb = M + mfloats, *band = rb + w.out_scratch();
    const int64_t r0 = rows * ch / chunks, nr = rows * (ch + 1) / chunks - r0, tc = nr * w.TW;
    if (bands) {
      const int i0 = (int)r0 * m, i1 = (int)(r0 + nr) * m + 2;
      for (int cb = 0; cb < w.CB; cb++) w.stage_rows(x, 0, cb, i0, i1, band + cb * band_plane);
      w.transform_in(r0, 0, tc, V, band, band_plane, i0);
    } else {
      w.transform_in(r0, 0, tc, V);
    }
    w.multiply(0, w.A2, V, M, tc);
    w.transform_out(r0, 0, nr, M, rb, rb + (int64_t)m * w.Kp * w.Qt);
  }
}

}  // namespace cpu
