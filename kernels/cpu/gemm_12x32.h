// gemm_12x32.h: the 12x32 micro-kernel (and its 8x32 and 6x64 siblings: one template, tile<MR, NV>), written once
// with GCC's generic vectors of 16 floats (64 bytes, one zmm register) and compiled twice:
//   gemm_avx512.cpp       with -mavx512f: each v16 operation is one AVX-512 instruction (v4, "avx512")
//   gemm_avx512_emul.cpp  with the baseline x86-64 flags: GCC splits each v16 operation into SSE instructions, so
//                         the very same source runs, slowly, on any CPU ("avx512_emul"). The tests run it where
//                         the CPU lacks AVX-512, so the kernel's logic is checked on every machine, and only the
//                         instruction selection is left to the AVX-512 build.
//
// Why 12x32: 32 zmm registers. The tile takes 24 (12 rows x 2 vectors of 16 floats), B takes 2, the broadcast
// of A one, leaving headroom so the compiler never spills. Each k step: 2 loads of B, 12 broadcasts, 24 FMAs,
// 768 flops: twice the work per instruction of the AVX2 kernel.
#pragma once
#include <cstdint>
#include <cstring>

// The helpers below pass 64-byte vectors by value; they are inlined within one file, so GCC's note that the ABI of
// such calls differs with and without AVX-512 does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace cpu {

typedef float v16 __attribute__((vector_size(64)));

static inline v16 load16(const float* p) {  // unaligned load, one vmovups
  v16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
static inline void store16(float* p, v16 v) { std::memcpy(p, &v, sizeof v); }

// The sums of an MR x (16 NV) tile: NV vectors of B per step, MR broadcasts of A. tile<12, 2> is v4, tile<8, 2> v5,
// tile<6, 4> v6. PB > 0: B's panel is also asked for PB steps ahead (GemmKernel::tile_stream).
template <int MR, int NV, int PB = 0>
__attribute__((always_inline)) static inline void tile_sums(int kc, const float* A, const float* B, v16 (&c)[MR][NV]) {
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) c[i][v] = v16{};
  const char* ahead = t_ahead.cur;  // the next layer's weights, a line a step (gemm.h: ahead_set)
  const char* const ahead_end = t_ahead.end;
  for (int k = 0; k < kc; k++, A += MR, B += 16 * NV) {
    if (ahead < ahead_end) {
      __builtin_prefetch(ahead, 0, kAheadLocality);
      ahead += 64;
    }
    // A's panel is MR floats a step, from L2 or (weights at batch 1, used for only 64-256 columns) from memory:
    // asked for 384 floats ahead. Measured 1.19x on ResNet-18's layer4 3x3 GEMM at batch 1 with its weights out of
    // cache, 1.03x on the whole network.
    __builtin_prefetch(A + 384);
    if constexpr (PB > 0) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) __builtin_prefetch(B + 16 * (NV * PB + v));
    }
    v16 b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) b[v] = load16(B + 16 * v);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      // broadcast, written as {x, x, ..., x}: one vbroadcastss from memory. (Written as v16{} + A[i], GCC makes it
      // an add of 0.0f and a broadcast from a register, two more operations on the FP pipes the FMAs need: on AMD
      // Zen 5, one thread, bench_gemm, that form ran square 2048 at 141-146 GFLOP/s against 168-174 for this one
      // in the 12x32 kernel, and square 1024 at 162-171 against 176-187 in the 6x64.)
      const float x = A[i];
      const v16 a = v16{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) c[i][v] += a * b[v];  // contracted to one FMA (GCC's -ffp-contract=fast)
    }
  }
  t_ahead.cur = ahead;
}

// One row of the finished tile: alpha * sums + beta * C (C not read when beta == 0).
template <int NV>
__attribute__((always_inline)) static inline void scaled_row(const v16 (&c)[NV], const float* row, float alpha,
                                                             float beta, v16 (&r)[NV]) {
#pragma GCC unroll 4
  for (int v = 0; v < NV; v++) {
    r[v] = alpha * c[v];
    if (beta != 0.0f) r[v] += beta * load16(row + 16 * v);
  }
}

template <int MR, int NV, int PB = 0>
static inline void tile(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha, float beta) {
  v16 c[MR][NV];
  tile_sums<MR, NV, PB>(kc, A, B, c);
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    float* row = C + i * ldc;
    v16 r[NV];
    scaled_row<NV>(c[i], row, alpha, beta, r);
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) store16(row + 16 * v, r[v]);
  }
}

// The tile with a convolution's epilogue in registers (gemm.h: GemmKernel::tile_epi): the tile is stored once, as
// C = relu?(((alpha * sums + beta * C) + bias) + res). Before it, the sums went to a buffer and finish_tile read them
// back: 24 stores and loads a tile, and the pass's own loop.
template <int MR, int NV>
static inline void tile_epilogue(int kc, const float* A, const float* B, float* C, int64_t ldc, float alpha,
                                 float beta, const GemmEpilogue& e) {
  v16 c[MR][NV];
  tile_sums<MR, NV>(kc, A, B, c);
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    float* row = C + i * ldc;
    v16 r[NV];
    scaled_row<NV>(c[i], row, alpha, beta, r);
    const float bias = e.bias ? e.bias[i] : 0.0f;
    const float* res = e.res ? e.res + i * e.ldr : nullptr;
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      if (e.bias) r[v] += bias;
      if (res) r[v] += load16(res + 16 * v);
      if (e.relu) r[v] = r[v] < v16{} ? v16{} : r[v];  // std::max(v, 0.0f): -0 and NaN pass through
      store16(row + 16 * v, r[v]);
    }
  }
}

}  // namespace cpu
