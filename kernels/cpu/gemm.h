// gemm.h: single-precision matrix multiply on the CPU, BLIS style.
//
//   C[M,N] = alpha * A[M,K] * B[K,N] + beta * C        (row-major C with row stride ldc)
//
// A and B are given by a pointer and two strides (row stride rs, column stride cs), so a transposed operand is
// just swapped strides: packing reads either layout, and the micro-kernel never sees the difference.
//
// Kernel versions (numbered by technique, each one idea more than the last; all stay compiled and tested):
//   v0  ref::gemm                     triple loop (kernels/ref/ref.h), the definition
//   v1  "generic"  4x8   micro-kernel  packed panels, cache blocking, plain C++ the compiler vectorises
//   v2  "avx2"     6x16  micro-kernel  AVX2 + FMA intrinsics, 12 ymm accumulators
//   v3  "avx2_4x24" 4x24 micro-kernel  same registers, one broadcast per 3 FMAs (AMD Zen), M multiple of 4
//   v4  "avx512"   12x32 micro-kernel  16-float GCC vectors built for AVX-512F, 24 zmm accumulators; the same
//                                     source built without AVX-512 is "avx512_emul", which tests v4's logic on
//                                     CPUs without it (gemm_12x32.h)
//   v5  "avx512_8x32" 8x32 micro-kernel the same source with 8 rows, for M = 64 (12 rows would compute 72);
//                                     "avx512_8x32_emul" built without AVX-512
//   v6  "avx512_6x64" 6x64 micro-kernel 6 rows of 4 vectors: per step 4 loads of B and 6 broadcasts feed 24 FMAs
//                                     (v4: 2 and 12); 4-15% faster than v4 on ResNet's GEMM shapes on AMD Zen 5,
//                                     the same on 2048^3; "avx512_6x64_emul" built without AVX-512
// At run time the widest ISA the CPU supports (CPUID) is used (AVX-512, else AVX2, else generic), and for each call
// the kernel of that ISA whose tiles pad the shape least, weighed by its speed (6x16 suits M = 6k, 4x24 M = 4k with
// wide N: ResNet's 64-row GEMMs; on AVX-512 6x64 where N is a multiple of 64, 8x32 for M = 8k that 6 and 12 pad);
// gemm_force() pins one kernel for tests and benchmarks.
#pragma once
#include <algorithm>
#include <cstdint>

namespace cpu {

// What the driver does to each tile of C after its last K block, while the tile is still in L1: a convolution's
// bias, shortcut and ReLU, without a second pass over C (which at batch 1 was a serial pass over the whole output
// after a parallel GEMM: a quarter of the time of ResNet-50's 64-deep 1x1 convolutions).
//   C[i][j] = relu?((C[i][j] + bias[i]) + res[i * ldr + j])        (bias and res optional)
struct GemmEpilogue {
  const float* bias = nullptr;  // one value per row of C
  const float* res = nullptr;   // [M x N], row stride ldr
  int64_t ldr = 0;
  bool relu = false;
  bool empty() const { return !bias && !res && !relu; }
};
// One micro-kernel and its block sizes (the only place block sizes live). It computes a full MR x NR tile:
//   C[0:MR, 0:NR] = alpha * sum_k Ap[k*MR + i] * Bp[k*NR + j] + beta * C     (C is not read when beta == 0)
// from packed panels Ap [kc][MR] and Bp [kc][NR]. Ragged edges never reach it: the driver pads the panels with
// zeros and writes partial tiles back through a small buffer.
struct GemmKernel {
  const char* name;
  const char* isa;  // kernels of one ISA are interchangeable; sgemm picks among them by shape
  int MR, NR;       // register tile
  int MC, KC, NC;   // cache blocks: A block MC x KC (L2), B panel KC x NC (L3), micro-panels in L1
  void (*tile)(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, float beta);
  // The same full tile with the epilogue applied in registers before the one store (e's bias and res moved to the
  // tile's first row and column):  C = relu?(((alpha * sum + beta * C) + bias) + res), the operations and their order
  // as tile() and then the epilogue on C would give. Null where a kernel has none: the driver then goes through a
  // buffer (finish_tile).
  void (*tile_epi)(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, float beta,
                   const GemmEpilogue& e);
  bool (*supported)();
  // Packing for this tile shape: A block [mc x kc] into MR-tall micro-panels; B panels jp0..jp1-1 of [kc x nc].
  void (*pack_A)(int mc, int kc, const float* A, int64_t rs, int64_t cs, float* Ap);
  void (*pack_B)(int kc, int nc, int jp0, int jp1, const float* B, int64_t rs, int64_t cs, float* Bp);
  // Throughput relative to the ISA's other kernels on a shape that pads neither (measured: bench_gemm --kernel, the
  // 8x32 at 0.91-0.94 of the 12x32 on M = 72 and 960): sgemm's choice weighs the padding against it.
  double speed;
  // The same tile, with B's panel asked for kStreamAhead steps ahead: for B packed ahead and read once from memory
  // (sgemm_packed_b: Winograd's and narrow maps' weights). Null: tile. (In every kernel, A's panel is asked for
  // ahead: weights are A in the other paths.)
  void (*tile_stream)(int kc, const float* Ap, const float* Bp, float* C, int64_t ldc, float alpha, float beta) = nullptr;
};
// Steps of B that tile_stream asks for ahead: 8 KB for the 6x64 kernel, 4 KB for the 12x32 and 8x32. Measured on
// ResNet-18 at 64x64 (its layer4 on 2x2 maps, the weights read once a call): 0.785x the network's time at batch 1;
// ResNet-50 at 256x256 0.988x (16 steps: 1.008x of 32's time, 64 steps: 0.98-1.0x). Asked for in every tile, the
// prefetches cost ResNet-50 1.7% (its 1x1 layers' B is in cache), hence a tile of its own.
constexpr int kStreamAhead = 32;
// __builtin_prefetch's locality for the next layer's weights (ahead_set, below): 2, into L2 (and from there, as it is
// evicted, the L3). Measured on ResNet-50 at batch 1 against none: 0.982x the time with 2, 0.984x with 1, 1.002x with
// 0 (non-temporal); with 2 lines a step 1.08x, with each thread fetching all of them (not its share) 1.03x.
constexpr int kAheadLocality = 2;

// ---- weights ahead ----
// At batch 1 each layer's weights come from memory, and the Winograd layers' (up to 17 MB a call) faster than one
// core can ask for them. So while one convolution computes, its micro-kernels ask for the next one's weights, one
// cache line every step, each thread for its share: by the time that convolution runs they wait in this core's L2
// and L3. ahead_set names the bytes (the host thread, before the call's parallel regions; null: none), and each
// thread takes its share (the t-th of nt equal slices) at its first column of tiles after that.
struct AheadCursor {
  uint64_t epoch = 0;
  const char* cur = nullptr;  // the next line to ask for
  const char* end = nullptr;
};
extern thread_local AheadCursor t_ahead;
void ahead_set(const void* p, int64_t bytes);
void ahead_claim();  // this thread's share of the bytes ahead_set named last, unless it has it already
bool ahead_enabled();  // false when PIPNET_AHEAD=0 turned it off (to measure it)

int gemm_kernel_count();
const GemmKernel& gemm_kernel(int i);        // in version order (v4, v5, v6 each followed by its build without AVX-512)
const GemmKernel& gemm_active();             // the pinned kernel, or the automatic choice's default
// Whether the active kernels are AVX-512's: the other AVX-512 loops (the stride-2 deinterleave, the direct stem, the
// pool's row loop) follow it, so that pinning an AVX2 kernel (PIPNET_GEMM) runs an AVX-512 machine as an AVX2 one.
bool gemm_avx512();
const GemmKernel& gemm_for(int M, int N);    // what sgemm uses for an M x N result
// Pin a kernel by name ("generic", "avx2", "avx2_4x24", "avx512", "avx512_emul", "avx512_8x32", "avx512_8x32_emul",
// "avx512_6x64", "avx512_6x64_emul");
// nullptr or "auto" goes back to the CPUID choice. Returns
// false if that kernel is not compiled in or the CPU lacks it. The environment variable PIPNET_GEMM does the same.
bool gemm_force(const char* name);

void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const float* B, int64_t rsB,
           int64_t csB, float beta, float* C, int64_t ldc);

// B given not as memory but as a function that makes any window of it on demand: rows [k0, k0 + kc) and columns
// [j0, j0 + nc), written into scratch (room for kc * nc floats) or found elsewhere; it returns where the window's
// (0, 0) is and sets the window's row and column strides. Convolution passes its im2col matrix this way, so that
// the column matrix is never written out whole: the driver asks for each window just before packing it, and the
// window is made in cache. That saves the matrix's memory (9 MB per thread for ResNet's layer1 at 256x256) and
// measured 0-6% faster than im2col first on ResNet-18's layers at batch 1. A plain matrix is the window function
// that returns a pointer into it.
// (Packing im2col windows of the raw image straight into micro-panels measured 0-20% slower: the runs that cross
// the image's edge needed the general path, one call each. From an image padded first, every run is a plain copy,
// and packing straight into the panels is what convolution's forward does now: see BWindow::pack.)
struct BWindow {
  const float* (*get)(const void* ctx, int k0, int kc, int j0, int nc, float* scratch, int64_t* rs, int64_t* cs);
  const void* ctx;
  // Or, with get null: the same window written straight into the kernel's NR-wide micro-panels, panel i at
  // Bp + i * NR * kc as [kc][NR], zero past nc (what get and the kernel's pack_B would make, without the copy
  // through scratch; convolution's padded phase planes make each panel row from a few plain runs).
  void (*pack)(const void* ctx, int k0, int kc, int j0, int nc, int NR, float* Bp) = nullptr;
};
void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const BWindow& B, float beta,
           float* C, int64_t ldc);

// The epilogue on its own, over C [M x N] in place (what a convolution runs as a pass when the GEMM did not).
void apply_epilogue(int M, int N, float* C, int64_t ldc, const GemmEpilogue& e);

// A packed once for a kernel, ahead of many multiplications by it (a convolution's weights at inference): the K
// blocks sgemm cuts K into, each holding all M rows as MR-tall micro-panels, [K block][panel][kc][MR]. Any run of
// whole panels of a K block is then contiguous and laid out as pack_A would write it, so the drivers read it in
// place of packing (at batch 1, ResNet's layer4 GEMMs are only 64 columns wide, and packing its 2.4M weights
// was a third of their time). gemm_for_rows(M) is the kernel to pack for: the one sgemm picks for wide N.
struct PackedA {
  const GemmKernel* uk = nullptr;
  int M = 0, K = 0, KC = 0;
  const float* p = nullptr;
  const float* block(int row0, int k0) const {  // row0 a multiple of MR, k0 a K block's start
    return p + (int64_t)k0 * ((M + uk->MR - 1) / uk->MR * uk->MR) + (int64_t)row0 * std::min(KC, K - k0);
  }
};
const GemmKernel& gemm_for_rows(int M);
int64_t packed_a_floats(const GemmKernel& uk, int M, int K);
PackedA pack_a(const GemmKernel& uk, int M, int K, const float* A, int64_t rs, int64_t cs, float* out);
PackedA packed_view(const GemmKernel& uk, int M, int K, const float* p);  // what pack_a returned, again
int gemm_kernel_index(const GemmKernel& uk);
// sgemm with A packed ahead; `pre` is used when it was packed for the kernel sgemm picks for this M and N, and A
// (which must still be valid) is packed as usual otherwise. epi, if given, is applied to C after the product.
void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const PackedA* pre,
           const BWindow& B, float beta, float* C, int64_t ldc, const GemmEpilogue* epi = nullptr);
void sgemm(int M, int N, int K, float alpha, const float* A, int64_t rsA, int64_t csA, const PackedA* pre,
           const float* B, int64_t rsB, int64_t csB, float beta, float* C, int64_t ldc,
           const GemmEpilogue* epi = nullptr);

// B packed once, ahead of many multiplications by it (Winograd's transformed weights, winograd.cpp): the K blocks
// sgemm cuts K into for uk, each as uk.pack_B writes it, [K block][panel][kc][NR], columns past N zero. Then
// sgemm_packed_b multiplies by it on the calling thread, packing only A: C [M x N] = A [M x K] * B (C's old values
// are not read). Its loops are the small-M path's: per K block, A's block packed, then a column of tiles per panel.
// The packed B must start on a 64-byte boundary, as the drivers' own buffers do (the AVX2 kernels load B aligned).
int64_t packed_b_floats(const GemmKernel& uk, int K, int N);
void pack_b(const GemmKernel& uk, int K, int N, const float* B, int64_t rs, int64_t cs, float* out);
// (Only C's columns of B's panels [jp0, jp1), where given: a thread's share.)
void sgemm_packed_b(const GemmKernel& uk, int M, int N, int K, const float* A, int64_t rsA, int64_t csA,
                    const float* Bp, float* C, int64_t ldc, int jp0 = 0, int jp1 = -1);

// The BLAS-like form: op(A) is A [M,K] (lda = its row stride) or, if ta, the transpose of A stored as [K,M].
inline void sgemm(bool ta, bool tb, int M, int N, int K, float alpha, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc) {
  sgemm(M, N, K, alpha, A, ta ? 1 : lda, ta ? lda : 1, B, tb ? 1 : ldb, tb ? ldb : 1, beta, C, ldc);
}

bool cpu_has_avx2_fma();
bool cpu_has_avx512f();
// Subnormal floats (below 1.2e-38) read and written as zero (MXCSR's DAZ and FTZ bits) on this thread and on every
// OpenMP thread, as inference engines do: arithmetic on them takes a slow path in the CPU. Call it before the first
// parallel region: threads made later inherit it. (Seen in `pipnet bench`: eval-mode BatchNorm maps the very images
// its running statistics came from to about zero, products of those went subnormal, and ResNet-50's layer3 ran 2x
// slower.)
void flush_denormals();

// A thread's own scratch of at least `floats` floats (64-byte aligned), allocated by that thread on first use and
// kept for its later calls, grown (contents lost) when a call asks for more. Each user has its slot, so that a
// GEMM called inside a Winograd chunk or a convolution's image does not take their buffers. (Per-thread shares
// carved from one block that the calling thread allocated ran slower on the other thread: the output transform of
// ResNet-50's layer3 at batch 1 took 1.3-1.45x as long on the thread whose share came second, on either core.
// From their own blocks, layer1's 3x3 at batch 1 took 0.83x the time, layer3's 0.95x.)
enum class Scratch { kGemm, kWinograd, kConv };
constexpr int kScratchSlots = 3;
float* thread_scratch(Scratch slot, size_t floats);

}  // namespace cpu
