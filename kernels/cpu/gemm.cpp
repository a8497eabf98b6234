// gemm.cpp: the BLIS-style drivers around the micro-kernels of gemm.h. B may be a matrix or a window function
// (gemm.h: BWindow, how convolution passes im2col); either way it is read only while being packed.
//
// The general driver (C [M,N] row-major):
//   for jc in N by NC:
//     pack B[:, jc:jc+NC] into NR-wide micro-panels, one [KC x NC] slab per K block (zero-padded past N),
//       all threads together; then one barrier
//     each thread takes an equal share of the MR-row panels, and for each block of at most MC of its rows:
//       for pc in K by KC:
//         pack A[ic:ic+MC, pc:pc+KC] into MR-tall micro-panels (zero-padded past M)   (L2)
//         for each NR panel, for each MR panel: micro-kernel on one MR x NR tile of C  (B panel in L1)
// The small-M driver (M <= kSmallM, sgemm_small_m below) splits N instead and packs B just in time, a few panels
// at a time, with no barrier at all. In both, the first K block applies the caller's beta and later ones
// accumulate (beta = 1); tiles that stick out past M or N are computed into a local MR x NR buffer and only the
// valid part is written back. (A first version met at a barrier after every K block: at batch 1 the cores spent
// 40% of ResNet-18's time waiting there.)
#include <omp.h>
#include <xmmintrin.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels/cpu/gemm.h"
#include "tensor/allocator.h"

namespace cpu {

void tile_generic_4x8(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx2_6x16(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx2_4x24(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_12x32(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_emul_12x32(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_8x32(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_6x64(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_emul_6x64(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_emul_8x32(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx2_6x16_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx2_4x24_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_12x32_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_emul_12x32_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_8x32_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_6x64_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_emul_6x64_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_emul_8x32_epi(int, const float*, const float*, float*, int64_t, float, float, const GemmEpilogue&);
void tile_avx512_12x32_stream(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_emul_12x32_stream(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_8x32_stream(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_emul_8x32_stream(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_6x64_stream(int, const float*, const float*, float*, int64_t, float, float);
void tile_avx512_emul_6x64_stream(int, const float*, const float*, float*, int64_t, float, float);

static bool always() { return true; }

// ---- packing ---------------------------------------------------------------------------------------
// Templates on the tile size, so that the inner loops have fixed trip counts and compile to vector moves.
// A block [mc x kc] -> ceil(mc/MR) micro-panels, each [kc][MR]; rows past mc are zero.
template <int MR>
static void pack_A(int mc, int kc, const float* A, int64_t rs, int64_t cs, float* Ap) {
  for (int i0 = 0; i0 < mc; i0 += MR, Ap += (int64_t)MR * kc) {
    const int mr = std::min(MR, mc - i0);
    const float* a = A + (int64_t)i0 * rs;
    if (mr == MR && cs == 1) {  // MR row streams read in step, one contiguous panel written
      // This is a transpose of an MR x kc strip. Four k at a time with SSE (in every x86-64): rows in groups of
      // four through a 4x4 transpose, a leftover pair through unpack; when N is small (ResNet's layer4, N = 64)
      // packing A is most of the overhead.
      int k = 0;
      for (; k + 4 <= kc; k += 4) {
        float* o = Ap + k * MR;
        int i = 0;
        for (; i + 4 <= MR; i += 4) {
          __m128 r0 = _mm_loadu_ps(a + (i + 0) * rs + k), r1 = _mm_loadu_ps(a + (i + 1) * rs + k);
          __m128 r2 = _mm_loadu_ps(a + (i + 2) * rs + k), r3 = _mm_loadu_ps(a + (i + 3) * rs + k);
          _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
          _mm_storeu_ps(o + 0 * MR + i, r0);
          _mm_storeu_ps(o + 1 * MR + i, r1);
          _mm_storeu_ps(o + 2 * MR + i, r2);
          _mm_storeu_ps(o + 3 * MR + i, r3);
        }
        if (i + 2 <= MR) {
          const __m128 r0 = _mm_loadu_ps(a + i * rs + k), r1 = _mm_loadu_ps(a + (i + 1) * rs + k);
          const __m128 lo = _mm_unpacklo_ps(r0, r1), hi = _mm_unpackhi_ps(r0, r1);
          _mm_storel_pi((__m64*)(o + 0 * MR + i), lo);
          _mm_storeh_pi((__m64*)(o + 1 * MR + i), lo);
          _mm_storel_pi((__m64*)(o + 2 * MR + i), hi);
          _mm_storeh_pi((__m64*)(o + 3 * MR + i), hi);
          i += 2;
        }
        for (; i < MR; i++)
          for (int j = 0; j < 4; j++) o[j * MR + i] = a[i * rs + k + j];
      }
      for (; k < kc; k++)
        for (int i = 0; i < MR; i++) Ap[k * MR + i] = a[i * rs + k];
    } else if (mr == MR) {      // a transposed A: each k is a contiguous run of MR values
      for (int k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++) Ap[k * MR + i] = a[k * cs + i * rs];
    } else {
      for (int k = 0; k < kc; k++)
        for (int i = 0; i < MR; i++) Ap[k * MR + i] = i < mr ? a[k * cs + i * rs] : 0.0f;
    }
  }
}

// Panels jp0..jp1-1 of B [kc x nc] -> each [kc][NR]; columns past nc are zero. For a row-major B the rows are
// read contiguously across all the panels of the group.
template <int NR>
static void pack_B(int kc, int nc, int jp0, int jp1, const float* B, int64_t rs, int64_t cs, float* Bp) {
  if (rs == 1 && cs != 1) {  // B stored transposed (a weight gradient's col^T): its panels are A's panels of B^T
    const int j0 = jp0 * NR;
    pack_A<NR>(std::min(nc, jp1 * NR) - j0, kc, B + (int64_t)j0 * cs, cs, rs, Bp + (int64_t)jp0 * NR * kc);
    return;
  }
  for (int jp = jp0; jp < jp1; jp++) {
    const int j0 = jp * NR, nr = std::min(NR, nc - j0);
    float* out = Bp + (int64_t)jp * NR * kc;
    if (nr == NR && cs == 1) continue;  // done below, row by row
    for (int k = 0; k < kc; k++)
      for (int j = 0; j < NR; j++) out[k * NR + j] = j < nr ? B[k * rs + (int64_t)(j0 + j) * cs] : 0.0f;
  }
  if (cs != 1) return;
  const int full = std::min(jp1, nc / NR);  // panels with all NR columns
  for (int k = 0; k < kc; k++) {
    const float* row = B + (int64_t)k * rs;
    // Rows of B are far apart (an im2col matrix's rows are whole images): each is a new page to the hardware
    // prefetcher, so ask for the row 8 ahead while this one is copied.
    if (k + 8 < kc)
      for (int j = jp0 * NR; j < full * NR; j += 16) _mm_prefetch((const char*)(row + 8 * rs + j), _MM_HINT_T0);
    for (int jp = jp0; jp < jp1; jp++) {
      if ((jp + 1) * NR > nc) continue;  // the ragged last panel was packed above
      // a fixed-size copy: compiled to vector moves (a float-by-float loop here was scalar, and packing B is a
      // third of the time when M is small: ResNet's 64-row GEMMs use each element of B only 64 times)
      std::memcpy(Bp + (int64_t)jp * NR * kc + k * NR, row + jp * NR, NR * sizeof(float));
    }
  }
}

// All block sizes, in one table. MC*KC floats of A fit in L2, KC*NR of B in L1, and KC*NC of packed B in L2 too:
// measured on AMD Zen 3 (512 KB L2), a B panel that stays in L2 matters most when M is small (ResNet's 64-row
// GEMMs use each element of B only 64 times).
static const GemmKernel kKernels[] = {
    {"generic", "generic", 4, 8, 128, 256, 1024, tile_generic_4x8, nullptr, always, pack_A<4>, pack_B<8>, 1.0},
    {"avx2", "avx2", 6, 16, 96, 384, 1024, tile_avx2_6x16, tile_avx2_6x16_epi,
     cpu_has_avx2_fma, pack_A<6>, pack_B<16>, 1.0},
    {"avx2_4x24", "avx2", 4, 24, 96, 256, 1032, tile_avx2_4x24, tile_avx2_4x24_epi,
     cpu_has_avx2_fma, pack_A<4>, pack_B<24>, 1.0},
    {"avx512", "avx512", 12, 32, 144, 256, 1024, tile_avx512_12x32, tile_avx512_12x32_epi,
     cpu_has_avx512f, pack_A<12>, pack_B<32>, 1.0, tile_avx512_12x32_stream},
    // v4's source built without AVX-512 (gemm_12x32.h): the tests run it on any CPU; never chosen automatically
    {"avx512_emul", "emul", 12, 32, 144, 256, 1024, tile_avx512_emul_12x32, tile_avx512_emul_12x32_epi,
     always, pack_A<12>, pack_B<32>, 1.0, tile_avx512_emul_12x32_stream},
    // v5: v4's source with 8 rows (16 accumulators), for M = 8k that 12 does not divide well (64: 72 rows computed)
    {"avx512_8x32", "avx512", 8, 32, 144, 256, 1024, tile_avx512_8x32, tile_avx512_8x32_epi,
     cpu_has_avx512f, pack_A<8>, pack_B<32>, 0.92, tile_avx512_8x32_stream},
    {"avx512_8x32_emul", "emul", 8, 32, 144, 256, 1024, tile_avx512_emul_8x32, tile_avx512_emul_8x32_epi,
     always, pack_A<8>, pack_B<32>, 0.92, tile_avx512_emul_8x32_stream},
    // v6: 6 rows of 4 vectors: 4 loads of B and 6 broadcasts per 24 FMAs (v4: 2 and 12)
    {"avx512_6x64", "avx512", 6, 64, 144, 256, 1024, tile_avx512_6x64, tile_avx512_6x64_epi,
     cpu_has_avx512f, pack_A<6>, pack_B<64>, 1.05, tile_avx512_6x64_stream},
    {"avx512_6x64_emul", "emul", 6, 64, 144, 256, 1024, tile_avx512_emul_6x64, tile_avx512_emul_6x64_epi,
     always, pack_A<6>, pack_B<64>, 1.05, tile_avx512_emul_6x64_stream},
};
static constexpr int kNumKernels = sizeof(kKernels) / sizeof(kKernels[0]);

int gemm_kernel_count() { return kNumKernels; }
const GemmKernel& gemm_kernel(int i) { return kKernels[i]; }

// The automatic choice, in order of preference (measured: bench_gemm --kernel NAME).
static const GemmKernel* best_supported() {
  for (const char* name : {"avx512", "avx2", "generic"})
    for (const GemmKernel& k : kKernels)
      if (!std::strcmp(k.name, name) && k.supported()) return &k;
  return &kKernels[0];
}

static const GemmKernel* g_active = nullptr;
static bool g_pinned = false;

bool gemm_force(const char* name) {
  if (!name || !std::strcmp(name, "auto")) { g_active = best_supported(); g_pinned = false; return true; }
  for (const GemmKernel& k : kKernels)
    if (!std::strcmp(k.name, name) && k.supported()) { g_active = &k; g_pinned = true; return true; }
  return false;
}

const GemmKernel& gemm_for(int M, int N) {
  const GemmKernel& def = gemm_active();
  if (g_pinned) return def;
  const GemmKernel* best = &def;
  double best_waste = 1e9;
  for (const GemmKernel& k : kKernels) {
    if (std::strcmp(k.isa, def.isa) != 0 || !k.supported()) continue;
    // rows and columns computed per useful one, over the kernel's relative speed at no waste
    const double waste = (double)((M + k.MR - 1) / k.MR * k.MR) * ((N + k.NR - 1) / k.NR * k.NR) / ((double)M * N) / k.speed;
    if (waste < best_waste - 1e-9) { best_waste = waste; best = &k; }
  }
  return *best;
}

const GemmKernel& gemm_active() {
  if (!g_active) {
    const char* env = std::getenv("PIPNET_GEMM");
    if (!env || !gemm_force(env)) g_active = best_supported();
  }
  return *g_active;
}

bool gemm_avx512() { return std::strcmp(gemm_active().isa, "avx512") == 0; }

static size_t round16(size_t floats) { return (floats + 15) / 16 * 16; }  // keeps carved buffers 64-byte aligned

float* thread_scratch(Scratch slot, size_t floats) {
  thread_local float* buf[kScratchSlots] = {};
  thread_local size_t cap[kScratchSlots] = {};
  const int i = static_cast<int>(slot);
  if (cap[i] < floats) {  // from the allocator: 64-byte aligned, and huge pages for 2 MB and more
    device_free(Device::CPU, buf[i], cap[i] * sizeof(float));
    buf[i] = static_cast<float*>(device_alloc(Device::CPU, floats * sizeof(float)));
    cap[i] = floats;
  }
  return buf[i];
}
// The GEMM's: packed A blocks, B panels and made B windows.
static float* thread_buffer(size_t floats) { return thread_scratch(Scratch::kGemm, floats); }

// Rows [k0, k0 + kc) and columns [j0, j0 + nc) of B into NR-wide micro-panels at Bp.
static void pack_window(const GemmKernel& uk, const BWindow& B, int k0, int kc, int j0, int nc, float* scratch,
                        float* Bp) {
  if (B.pack) {
    B.pack(B.ctx, k0, kc, j0, nc, uk.NR, Bp);
    return;
  }
  int64_t rs, cs;
  const float* w = B.get(B.ctx, k0, kc, j0, nc, scratch, &rs, &cs);
  uk.pack_B(kc, nc, 0, (nc + uk.NR - 1) / uk.NR, w, rs, cs, Bp);
}

// ---- weights ahead (gemm.h: ahead_set) ---------------------------------------------------------------
thread_local AheadCursor t_ahead;
static std::atomic<const char*> g_ahead_p{nullptr};
static std::atomic<int64_t> g_ahead_bytes{0};
static std::atomic<uint64_t> g_ahead_epoch{1};
// PIPNET_AHEAD=0 turns it off (to measure it)
static const bool g_ahead_on = [] { const char* e = std::getenv("PIPNET_AHEAD"); return !e || std::atoi(e) != 0; }();

bool ahead_enabled() { return g_ahead_on; }

void ahead_set(const void* p, int64_t bytes) {
  if (!g_ahead_on) p = nullptr;
  g_ahead_p.store(static_cast<const char*>(p), std::memory_order_relaxed);
  g_ahead_bytes.store(p ? bytes : 0, std::memory_order_relaxed);
  g_ahead_epoch.fetch_add(1, std::memory_order_relaxed);
}

void ahead_claim() {
  const uint64_t e = g_ahead_epoch.load(std::memory_order_relaxed);
  if (t_ahead.epoch == e) return;
  const char* p = g_ahead_p.load(std::memory_order_relaxed);
  const int64_t bytes = g_ahead_bytes.load(std::memory_order_relaxed);
  const int t = omp_get_thread_num(), nt = omp_get_num_threads();
  t_ahead.epoch = e;
  t_ahead.cur = p ? p + bytes * t / nt / 64 * 64 : nullptr;
  t_ahead.end = p ? p + bytes * (t + 1) / nt : nullptr;
}

// A tile's way out when there is an epilogue (gemm.h: GemmEpilogue) and the kernel cannot apply it in its registers
// (tile_epi: every kernel but the generic one, on full tiles): the micro-kernel writes the tile to a small contiguous
// buffer t (row stride NR, in L1), and this writes C[i][j] = relu?((alpha t + beta C + bias) + res) in one pass.
// (The kernels' own epilogue measured 0.94-0.95x the time of ResNet-50's 1x1 layers with a shortcut at batch 1,
// 2 threads, Zen 5.)
// (Running the epilogue on C after the micro-kernel had stored it there measured a third slower on ResNet-50's
// 64-deep 1x1 layers: C's rows are a channel apart, a multiple of 4 KB, so reading them back waited on the stores to
// rows that alias them in L1.) Built for AVX-512, AVX2 and the baseline; the loader picks one for the CPU.
__attribute__((target_clones("avx512f", "avx2", "default")))
static void finish_tile(int mr, int nr, const float* t, int64_t ldt, float* c, int64_t ldc, float alpha, float beta,
                        const float* bias, const float* res, int64_t ldr, bool relu) {
  for (int i = 0; i < mr; i++, t += ldt, c += ldc) {
    const float b = bias ? bias[i] : 0.0f;
    const float* r = res ? res + i * ldr : nullptr;
#pragma omp simd
    for (int j = 0; j < nr; j++) {
      float v = alpha * t[j] + (beta == 0.0f ? 0.0f : beta * c[j]) + b;
      if (r) v += r[j];
      c[j] = relu ? std::max(v, 0.0f) : v;
    }
  }
}

void apply_epilogue(int M, int N, float* C, int64_t ldc, const GemmEpilogue& e) {
  finish_tile(M, N, C, ldc, C, ldc, 1.0f, 0.0f, e.bias, e.res, e.ldr, e.relu);
}

// One packed B micro-panel [kc][NR] against every MR panel of a packed A block [mc rows]: a column of C tiles,
// the B panel staying in L1 while A streams from L2. Tiles sticking out past mc rows or nr columns are computed
// into a local MR x NR buffer and only their valid part is written back.
// epi (null but after the last K block) is the epilogue with bias and res moved to C's first row and column.
static void column_of_tiles(const GemmKernel& uk, int mc, int nr, int kc, const float* Ap, const float* bp, float* C,
                            int64_t ldc, float alpha, float beta, const GemmEpilogue* epi) {
  const int MR = uk.MR, NR = uk.NR;
  ahead_claim();
  alignas(64) float edge[32 * 64];  // MR x NR <= 32 x 64
  for (int ir = 0; ir < mc; ir += MR) {
    const int mr = std::min(MR, mc - ir);
    float* c = C + (int64_t)ir * ldc;
    const float* ap = Ap + (int64_t)ir * kc;
    if (epi) {
      // The residual's rows under this tile are a channel apart, too far for the hardware prefetchers: asked for
      // now, they arrive while the tile computes (without this, waiting for them was a third of the epilogue's
      // time on ResNet-50's 64-deep 1x1 layers).
      if (epi->res)
        for (int i = 0; i < mr; i++)
          for (int j = 0; j < nr; j += 16) _mm_prefetch((const char*)(epi->res + (ir + i) * epi->ldr + j), _MM_HINT_T1);
      if (uk.tile_epi && mr == MR && nr == NR) {  // in the kernel's registers
        GemmEpilogue e = *epi;
        if (e.bias) e.bias += ir;
        if (e.res) e.res += ir * e.ldr;
        uk.tile_epi(kc, ap, bp, c, ldc, alpha, beta, e);
        continue;
      }
      uk.tile(kc, ap, bp, edge, NR, 1.0f, 0.0f);
      finish_tile(mr, nr, edge, NR, c, ldc, alpha, beta, epi->bias ? epi->bias + ir : nullptr,
                  epi->res ? epi->res + ir * epi->ldr : nullptr, epi->ldr, epi->relu);
    } else if (mr == MR && nr == NR) {
      uk.tile(kc, ap, bp, c, ldc, alpha, beta);
    } else {
      uk.tile(kc, ap, bp, edge, NR, 1.0f, 0.0f);
      for (int i = 0; i < mr; i++)
        for (int j = 0; j < nr; j++) c[i * ldc + j] = alpha * edge[i * NR + j] + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
    }
  }
}
// The epilogue seen from C's element (i, j): what column_of_tiles is given for a column of tiles starting there.
static const GemmEpilogue* epilogue_at(const GemmEpilogue* epi, int i, int j, GemmEpilogue* out) {
  if (!epi) return nullptr;
  *out = *epi;
  if (out->bias) out->bias += i;
  if (out->res) out->res += i * epi->ldr + j;
  return out;
}

// The small-M path. When all of A's rows fit one L2 block, every packed element of B would be used by exactly one
// row block, so packing the whole of B ahead (the general path below) only writes it out of cache to read it back:
// for ResNet's 64-row GEMMs at batch 1 that round trip was a fifth of the time. Here each thread packs A's block
// itself (small), and packs B a few micro-panels at a time, just before they are used, into a buffer that stays in
// L1/L2. The threads share nothing, so they never wait for each other. Per thread:
//   for each K block:
//     pack A [M x kc]                                                               (L2)
//     for each group of kGroup NR panels in the thread's slice of N:
//       pack them from B's rows, then for each panel: a column of tiles over all M rows   (B panel in L1)
// (Keeping all of A packed and walking K innermost, so that C stays in L1, measured 5% slower on M = 64, K = 576:
// the hardware prefetchers like B read along its rows, one K block at a time, better than down its columns.)
static constexpr int kSmallM = 256;  // rows of A the small-M path takes (an A block of 256 x KC fits L2)
// and more rows when K is shallow, up to this many floats of A's block (512 KB: ResNet-50's 128-to-512 1x1 layers,
// whose B the general path would pack whole and hand across the cores; measured on Zen 5 at batch 1, 0.90x their
// time, and ResNet-50 0.98x)
static constexpr int64_t kSmallA = 131072;
// and when the whole of A is at most 256K floats (1 MB, the L2): ResNet-50's 256-to-1024 1x1 layers at batch 1 (M =
// 1024, K = 256) 0.82-0.86x alone, 0.93x in the network, where each core now streams all of A; its 512-to-1024
// (K = 512) measured no better, hence the bound
static constexpr int64_t kSmallWhole = 262144;
static constexpr int kGroup = 4;     // B micro-panels packed at once: rows of B are read 4 * NR floats at a time

static void sgemm_small_m(const GemmKernel& uk, int M, int N, int K, int KC, float alpha, const float* A, int64_t rsA,
                          int64_t csA, const PackedA* pre, const BWindow& B, float beta, float* C, int64_t ldc,
                          const GemmEpilogue* epi, int nthreads) {
  const int MR = uk.MR, NR = uk.NR;
  const int Mp = (M + MR - 1) / MR * MR;  // rows of packed A, padded to whole micro-panels
  const int panels = (N + NR - 1) / NR;
  auto slice = [&](int t, int nt) {
    const int jp0 = (int)((int64_t)panels * t / nt), jp1 = (int)((int64_t)panels * (t + 1) / nt);
    const size_t a_floats = round16((size_t)Mp * std::min(K, KC)), b_floats = (size_t)KC * NR * kGroup;
    float* Ap = thread_buffer(a_floats + 2 * b_floats);
    float* Bb = Ap + a_floats;         // kGroup B micro-panels
    float* scratch = Bb + b_floats;    // a window of B, when B has to be made
    for (int pc = 0; pc < K && jp0 < jp1; pc += KC) {
      const int kc = std::min(KC, K - pc);
      const float beta_k = pc == 0 ? beta : 1.0f;  // later K blocks accumulate
      const float* Ak = pre ? pre->block(0, pc) : Ap;
      if (!pre) uk.pack_A(M, kc, A + (int64_t)pc * csA, rsA, csA, Ap);
      const bool last = pc + KC >= K;
      for (int g0 = jp0; g0 < jp1; g0 += kGroup) {
        const int g1 = std::min(jp1, g0 + kGroup), j0 = g0 * NR;
        pack_window(uk, B, pc, kc, j0, std::min(N - j0, (g1 - g0) * NR), scratch, Bb);
        for (int jp = g0; jp < g1; jp++) {
          GemmEpilogue e;
          column_of_tiles(uk, M, std::min(NR, N - jp * NR), kc, Ak, Bb + (int64_t)(jp - g0) * NR * kc, C + jp * NR,
                          ldc, alpha, beta_k, last ? epilogue_at(epi, 0, jp * NR, &e) : nullptr);
        }
      }
    }
  };
  // On one thread (inside a parallel loop over images, or Winograd's chunks), no parallel region: one opened inside
  // another is a nested team to libgomp, made and joined at every call.
  if (nthreads == 1) {
    slice(0, 1);
    return;
  }
#pragma omp parallel num_threads(nthreads)
  slice(omp_get_thread_num(), omp_get_num_threads());
}

// A plain matrix as a window function.
struct Strided { const float* p; int64_t rs, cs; };
static const float* strided_window(const void* ctx, int k0, int, int j0, int, float*, int64_t* rs, int64_t* cs) {
  const Strided& b = *static_cast<const Strided*>(ctx);
  *rs = b.rs;
  *cs = b.cs;
  return b.p + (int64_t)k0 * b.rs + (int64_t)j0 * b.cs;
}

void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t rsB,
           int64_t csB, float beta, float* C, int64_t ldc) {
  const Strided b{B, rsB, csB};
  sgemm(M, N, K, alpha, A, rsA, csA, BWindow{strided_window, &b}, beta, C, ldc);
}
void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const PackedA* pre,
           const float* B, int64_t rsB, int64_t csB, float beta, float* C, int64_t ldc, const GemmEpilogue* epi) {
  const Strided b{B, rsB, csB};
  sgemm(M, N, K, alpha, A, rsA, csA, pre, BWindow{strided_window, &b}, beta, C, ldc, epi);
}

// K blocks of equal depth (a multiple of 8, at most the table's KC): K = 576 in KC = 256 blocks would end in a
// 64-deep one, whose C tiles cost as much to load and store as a full block's.
static int k_block(const GemmKernel& uk, int K) {
  const int kblocks = (K + uk.KC - 1) / uk.KC;
  return std::min(uk.KC, ((K + kblocks - 1) / kblocks + 7) / 8 * 8);
}

const GemmKernel& gemm_for_rows(int M) { return gemm_for(M, 1 << 20); }

int64_t packed_a_floats(const GemmKernel& uk, int M, int K) { return (int64_t)(M + uk.MR - 1) / uk.MR * uk.MR * K; }

PackedA pack_a(const GemmKernel& uk, int M, int K, const float* A, int64_t rs, int64_t cs, float* out) {
  PackedA pa{&uk, M, K, k_block(uk, K), out};
  for (int pc = 0; pc < K; pc += pa.KC) uk.pack_A(M, std::min(pa.KC, K - pc), A + (int64_t)pc * cs, rs, cs, out + (int64_t)pc * ((M + uk.MR - 1) / uk.MR * uk.MR));
  return pa;
}

int64_t packed_b_floats(const GemmKernel& uk, int K, int N) { return (int64_t)K * ((N + uk.NR - 1) / uk.NR * uk.NR); }

void pack_b(const GemmKernel& uk, int K, int N, const float* B, int64_t rs, int64_t cs, float* out) {
  const int KC = k_block(uk, K), panels = (N + uk.NR - 1) / uk.NR;
  for (int pc = 0; pc < K; pc += KC)
    uk.pack_B(std::min(KC, K - pc), N, 0, panels, B + (int64_t)pc * rs, rs, cs, out + (int64_t)pc * panels * uk.NR);
}

void sgemm_packed_b(const GemmKernel& uk, int M, int N, int K, const float* A, int64_t rsA, int64_t csA,
                    const float* Bp, float* C, int64_t ldc, int jp0, int jp1) {
  const int KC = k_block(uk, K), NR = uk.NR, panels = (N + NR - 1) / NR;
  if (jp1 < 0 || jp1 > panels) jp1 = panels;
  if (M <= 0 || N <= 0 || jp0 >= jp1) return;
  float* Ap = thread_buffer(round16((size_t)(M + uk.MR - 1) / uk.MR * uk.MR * std::min(K, KC)));
  GemmKernel k = uk;  // B is read from memory once: the tile that asks for it ahead
  if (uk.tile_stream) k.tile = uk.tile_stream;
  for (int pc = 0; pc < K; pc += KC) {
    const int kc = std::min(KC, K - pc);
    uk.pack_A(M, kc, A + (int64_t)pc * csA, rsA, csA, Ap);
    for (int jp = jp0; jp < jp1; jp++)
      column_of_tiles(k, M, std::min(NR, N - jp * NR), kc, Ap, Bp + (int64_t)pc * panels * NR + (int64_t)jp * NR * kc,
                      C + jp * NR, ldc, 1.0f, pc == 0 ? 0.0f : 1.0f, nullptr);
  }
}

PackedA packed_view(const GemmKernel& uk, int M, int K, const float* p) { return {&uk, M, K, k_block(uk, K), p}; }
int gemm_kernel_index(const GemmKernel& uk) { return (int)(&uk - kKernels); }

void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const BWindow& B, float beta,
           float* C, int64_t ldc) {
  sgemm(M, N, K, alpha, A, rsA, csA, nullptr, B, beta, C, ldc);
}

void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const PackedA* pre,
           const BWindow& B, float beta, float* C, int64_t ldc, const GemmEpilogue* epi) {
  if (M <= 0 || N <= 0) return;
  if (epi && epi->empty()) epi = nullptr;
  if (K <= 0 || alpha == 0.0f) {  // C = beta * C
    for (int i = 0; i < M; i++)
      for (int j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
    if (epi) apply_epilogue(M, N, C, ldc, *epi);
    return;
  }
  const GemmKernel& uk = gemm_for(M, N);
  const int MR = uk.MR, NR = uk.NR, MC = uk.MC, NC = uk.NC;
  const int KC = k_block(uk, K), kblocks = (K + KC - 1) / KC;
  // A packed ahead is used only if it was packed for this very kernel and shape (else A is packed as usual), and
  // holds A itself: alpha is applied when tiles are written, so it needs no special case.
  if (pre && (pre->uk != &uk || pre->M != M || pre->K != K || pre->KC != KC)) pre = nullptr;
  // Threads only when there is enough work to pay for the fork (about 2 MFLOP), and never nested.
  const int nthreads = (2.0 * M * N * K > 2e6 && !omp_in_parallel()) ? omp_get_max_threads() : 1;
  // (on one thread, whatever N: with the 64-wide kernel, Winograd's 64-column GEMMs would otherwise take the general
  // path, and a heap block for B, 36 times a chunk)
  if ((M <= kSmallM || (int64_t)M * std::min(K, KC) <= kSmallA || (int64_t)M * K <= kSmallWhole) &&
      (nthreads == 1 || N >= 2 * NR * nthreads)) {
    sgemm_small_m(uk, M, N, K, KC, alpha, A, rsA, csA, pre, B, beta, C, ldc, epi, nthreads);
    return;
  }

  const int nc_max = std::min(NC, (N + NR - 1) / NR * NR);
  // B's whole column block [K x nc], packed once per jc as kblocks slabs of [KC x nc]: the threads then need to
  // meet only twice per column block (after packing, after computing), not at every K block.
  const size_t bp_bytes = (size_t)K * nc_max * sizeof(float);
  float* Bp = static_cast<float*>(device_alloc(Device::CPU, bp_bytes));

  // Thread t of nt; team: inside this call's own parallel region (else alone, on the caller's thread, where a barrier
  // would bind to the caller's team, and a nested region would cost a team's making and joining per call).
  auto run = [&](int t, int nt, bool team) {
    const size_t a_floats = round16((size_t)MC * std::min(KC, K));
    float* Ap = thread_buffer(a_floats + (size_t)KC * NR * 2 * kGroup);
    float* scratch = Ap + a_floats;  // a window of B, when B has to be made
    for (int jc = 0; jc < N; jc += NC) {
      const int nc = std::min(NC, N - jc), panels = (nc + NR - 1) / NR;
      const int groups = (panels + 2 * kGroup - 1) / (2 * kGroup);  // rows of B read 8 * NR floats at a time
      // the (K block, group) pairs in nt equal runs, as a static schedule would split them
      const int pairs = kblocks * groups;
      for (int i = (int)((int64_t)pairs * t / nt); i < (int)((int64_t)pairs * (t + 1) / nt); i++) {
        const int kb = i / groups, g = i % groups;
        const int pc = kb * KC, kc = std::min(KC, K - pc);
        const int jp0 = g * 2 * kGroup, jp1 = std::min(panels, jp0 + 2 * kGroup);
        const int j0 = jc + jp0 * NR, ncg = std::min(nc - jp0 * NR, (jp1 - jp0) * NR);
        pack_window(uk, B, pc, kc, j0, ncg, scratch, Bp + (int64_t)pc * panels * NR + (int64_t)jp0 * NR * kc);
      }
      if (team) {
#pragma omp barrier
      }  // B is packed

      // Each thread takes an equal share of the MR-row panels (not of MC blocks: 512 rows in MC = 96 blocks of 90
      // are 270 + 242 rows on 2 threads) and walks its rows in blocks of at most MC, each block through all K
      // blocks (the first applies the caller's beta, later ones accumulate). Calls come here with M > kSmallM (many
      // more row panels than threads), or with N too narrow to split (then a thread may get no rows: fine, small).
      const int row_panels = (M + MR - 1) / MR;
      const int r0 = std::min(M, row_panels * t / nt * MR), r1 = std::min(M, row_panels * (t + 1) / nt * MR);
      for (int ic = r0; ic < r1; ic += MC) {
        const int mc = std::min(MC, r1 - ic);
        for (int pc = 0; pc < K; pc += KC) {
          const int kc = std::min(KC, K - pc);
          const float beta_k = pc == 0 ? beta : 1.0f;
          const float* Bslab = Bp + (int64_t)pc * panels * NR;
          const float* Ak = pre ? pre->block(ic, pc) : Ap;
          if (!pre) uk.pack_A(mc, kc, A + (int64_t)ic * rsA + (int64_t)pc * csA, rsA, csA, Ap);
          for (int jp = 0; jp < panels; jp++) {
            const int j = jc + jp * NR;
            GemmEpilogue e;
            column_of_tiles(uk, mc, std::min(NR, N - j), kc, Ak, Bslab + (int64_t)jp * NR * kc,
                            C + (int64_t)ic * ldc + j, ldc, alpha, beta_k,
                            pc + KC >= K ? epilogue_at(epi, ic, j, &e) : nullptr);
          }
        }
      }
      if (team) {
#pragma omp barrier
      }  // before B is repacked for the next column block
    }
  };
  if (nthreads == 1) {
    run(0, 1, false);
  } else {
#pragma omp parallel num_threads(nthreads)
    run(omp_get_thread_num(), omp_get_num_threads(), true);
  }
  device_free(Device::CPU, Bp, bp_bytes);
}

}  // namespace cpu
