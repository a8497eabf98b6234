// SGEMM: every micro-kernel, forced in turn, against ref::gemm in double on odd shapes, all four transpose
// combinations, alpha/beta cases, and guard bands around C to catch writes outside the matrix.
#include <omp.h>

#include "kernels/cpu/gemm.h"
#include "kernels/ref/ref.h"
#include "test_util.h"

namespace {

struct ThreadCount {  // sets OpenMP's thread count for one scope
  explicit ThreadCount(int n) : saved(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~ThreadCount() { omp_set_num_threads(saved); }
  int saved;
};

struct KernelPin {  // pins a micro-kernel for one test, restores the automatic choice after
  explicit KernelPin(const char* name) { ok = cpu::gemm_force(name); }
  ~KernelPin() { cpu::gemm_force("auto"); }
  bool ok;
};

// One case: C [M,N] with row stride ldc = N + 3; A, B stored transposed or not with padded leading dimensions.
void check_gemm(int M, int N, int K, bool ta, bool tb, float alpha, float beta, uint64_t seed) {
  const int lda = (ta ? M : K) + 2, ldb = (tb ? K : N) + 1, ldc = N + 3, guard = 16;
  std::vector<float> A = random_vec((size_t)(ta ? K : M) * lda, seed);
  std::vector<float> B = random_vec((size_t)(tb ? N : K) * ldb, seed + 1);
  std::vector<float> Cbuf = random_vec((size_t)M * ldc + 2 * guard, seed + 2);
  std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end());
  std::vector<double> Cd(Cbuf.begin() + guard, Cbuf.end() - guard);
  const std::vector<float> before = Cbuf;
  cpu::sgemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, Cbuf.data() + guard, ldc);
  ref::gemm<double>(ta, tb, M, N, K, alpha, Ad.data(), lda, Bd.data(), ldb, beta, Cd.data(), ldc);
  INFO("kernel " << cpu::gemm_active().name << " M=" << M << " N=" << N << " K=" << K << " ta=" << ta << " tb=" << tb
                 << " alpha=" << alpha << " beta=" << beta << " seed=" << seed);
  // Float accumulation over K terms of size <= 1: error grows like sqrt(K) * 6e-8; 1e-5 * sqrt(K) is ample.
  const double atol = 1e-5 * std::sqrt((double)K + 1);
  std::vector<float> got, gaps;
  std::vector<double> want;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < ldc; j++) {
      float g = Cbuf[guard + (size_t)i * ldc + j];
      if (j < N) { got.push_back(g); want.push_back(Cd[(size_t)i * ldc + j]); }
      else REQUIRE(g == before[guard + (size_t)i * ldc + j]);  // padding between rows untouched
    }
  for (int i = 0; i < guard; i++) {
    REQUIRE(Cbuf[i] == before[i]);
    REQUIRE(Cbuf[Cbuf.size() - 1 - i] == before[before.size() - 1 - i]);
  }
  check_close("C", got.data(), want.data(), got.size(), atol, 1e-5);
  // A packed ahead (as a convolution's weights at inference) gives the same C bit for bit: the same kernel, blocks
  // and order of operations, only the packing moved; packed for another shape it is ignored, not misread.
  const cpu::GemmKernel& uk = cpu::gemm_for(M, N);
  std::vector<float> Ap(cpu::packed_a_floats(uk, M, K) + 1);
  const int64_t rsA = ta ? 1 : lda, csA = ta ? lda : 1, rsB = tb ? 1 : ldb, csB = tb ? ldb : 1;
  const cpu::PackedA pa = cpu::pack_a(uk, M, K, A.data(), rsA, csA, Ap.data());
  const cpu::PackedA other = cpu::packed_view(uk, M + 1, K, Ap.data());
  for (const cpu::PackedA* pre : {&pa, &other}) {
    std::vector<float> C2 = before;
    cpu::sgemm(M, N, K, alpha, A.data(), rsA, csA, pre, B.data(), rsB, csB, beta, C2.data() + guard, ldc);
    REQUIRE(C2 == Cbuf);
  }
  // B packed ahead (as Winograd's weights) and multiplied on this thread: the same blocks and order of operations,
  // so the same C bit for bit, and nothing outside C [M x N] written.
  if (alpha == 1.0f && beta == 0.0f) {
    std::vector<float> Bbuf(cpu::packed_b_floats(uk, K, N) + 16);
    float* Bp = Bbuf.data() + (16 - (reinterpret_cast<uintptr_t>(Bbuf.data()) / sizeof(float)) % 16) % 16;  // 64-byte aligned
    cpu::pack_b(uk, K, N, B.data(), rsB, csB, Bp);
    std::vector<float> C4 = before;
    cpu::sgemm_packed_b(uk, M, N, K, A.data(), rsA, csA, Bp, C4.data() + guard, ldc);
    REQUIRE(C4 == Cbuf);
  }
  // The epilogue (bias per row, a residual with its own row stride, ReLU; or bias alone), applied by the driver to
  // each finished tile, gives what the same float operations give applied afterwards: bit for bit.
  const int ldr = N + 5;
  const std::vector<float> bias = random_vec(M, seed + 3), res = random_vec((size_t)M * ldr, seed + 4);
  const bool full = seed % 2 == 0;
  const cpu::GemmEpilogue epi{bias.data(), full ? res.data() : nullptr, ldr, full};
  std::vector<float> C3 = before, want_epi = Cbuf;
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      float& c = want_epi[guard + (size_t)i * ldc + j];
      c = full ? std::max((c + bias[i]) + res[(size_t)i * ldr + j], 0.0f) : c + bias[i];
    }
  cpu::sgemm(M, N, K, alpha, A.data(), rsA, csA, &pa, B.data(), rsB, csB, beta, C3.data() + guard, ldc, &epi);
  REQUIRE(C3 == want_epi);
}

void sweep(const char* kernel) {
  KernelPin pin(kernel);
  if (!pin.ok) SKIP_TEST(std::string("this CPU lacks the ") + kernel + " micro-kernel's instructions");
  uint64_t seed = 100;
  for (int M : {1, 7, 65, 150})
    for (int N : {1, 7, 63, 129})
      for (int K : {1, 7, 257})
        for (int t = 0; t < 4; t++) check_gemm(M, N, K, t & 1, t & 2, 1.0f, 0.0f, seed++);
  // alpha/beta, blocks larger than MC/KC/NC, the conv shapes' extremes
  check_gemm(63, 65, 129, false, false, 0.5f, 1.0f, 1);
  check_gemm(129, 63, 65, true, false, -2.0f, 0.25f, 2);
  check_gemm(300, 33, 520, false, true, 1.0f, 1.0f, 3);
  check_gemm(6, 4100, 9, false, false, 1.0f, 0.0f, 4);
  check_gemm(64, 64, 1152, false, false, 1.0f, 0.0f, 5);
  // Both drivers (sgemm picks the small-M one for M <= 256, an A block M x min(K, KC) of at most 128K floats, or a
  // whole A of at most 256K) at 1 and 3 threads, so that the panel slices, the row blocks and the K blocks all split
  // unevenly: small M with packed A whole (64 x 300) and per K block (200 x 520), many rows of a shallow A (700 x
  // 40) and of an A that fits L2 whole (1000 x 256); large M with two column blocks of B (N > NC) and a ragged last
  // row block (600 x 480).
  for (int threads : {1, 3}) {
    ThreadCount tc(threads);
    check_gemm(64, 1000, 300, false, false, 1.0f, 0.5f, 6);
    check_gemm(200, 129, 520, true, false, 1.0f, 0.0f, 7);
    check_gemm(600, 1100, 480, false, true, 1.0f, 0.0f, 8);
    check_gemm(700, 200, 40, false, false, 1.0f, 0.0f, 10);
    check_gemm(1000, 150, 256, false, false, 1.0f, 0.5f, 11);
    check_gemm(301, 77, 700, true, true, 0.5f, -1.0f, 9);
  }
}

}  // namespace

TEST_CASE("sgemm v1 generic 4x8 matches the reference", "[gemm]") { sweep("generic"); }
TEST_CASE("sgemm v2 avx2 6x16 matches the reference", "[gemm]") { sweep("avx2"); }
TEST_CASE("sgemm v3 avx2 4x24 matches the reference", "[gemm]") { sweep("avx2_4x24"); }
TEST_CASE("sgemm v4 avx512 12x32 matches the reference", "[gemm]") { sweep("avx512"); }
TEST_CASE("sgemm v4 12x32 built without AVX-512 (avx512_emul) matches the reference", "[gemm]") { sweep("avx512_emul"); }
TEST_CASE("sgemm v5 avx512 8x32 matches the reference", "[gemm]") { sweep("avx512_8x32"); }
TEST_CASE("sgemm v5 8x32 built without AVX-512 (avx512_8x32_emul) matches the reference", "[gemm]") {
  sweep("avx512_8x32_emul");
}
TEST_CASE("sgemm v6 avx512 6x64 matches the reference", "[gemm]") { sweep("avx512_6x64"); }
TEST_CASE("sgemm v6 6x64 built without AVX-512 (avx512_6x64_emul) matches the reference", "[gemm]") {
  sweep("avx512_6x64_emul");
}

TEST_CASE("sgemm: K = 0 and alpha = 0 scale C by beta without reading A or B", "[gemm]") {
  std::vector<float> C = {1, 2, 3, 4};
  cpu::sgemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 1, 0.5f, C.data(), 2);
  CHECK(C == std::vector<float>{0.5f, 1, 1.5f, 2});
  const std::vector<float> bias = {-10, 1}, res = {1, 1, 1, 1};
  const cpu::GemmEpilogue epi{bias.data(), res.data(), 2, true};  // and then the epilogue, still
  cpu::sgemm(2, 2, 0, 1.0f, nullptr, 1, 1, nullptr, nullptr, 1, 1, 1.0f, C.data(), 2, &epi);
  CHECK(C == std::vector<float>{0, 0, 3.5f, 4});
}

TEST_CASE("sgemm: the automatic choice is the widest supported kernel", "[gemm]") {
  std::string want = cpu::cpu_has_avx512f() ? "avx512" : cpu::cpu_has_avx2_fma() ? "avx2" : "generic";
  if (std::getenv("PIPNET_GEMM")) SKIP_TEST("PIPNET_GEMM pins a kernel");
  CHECK(std::string(cpu::gemm_active().name) == want);
}

TEST_CASE("weights ahead: each thread takes its share, and every kernel asks for them without changing C", "[gemm]") {
  if (!cpu::ahead_enabled()) SKIP_TEST("PIPNET_AHEAD=0 turns it off");
  std::vector<char> buf(10000);
  const char* p = buf.data();
  cpu::ahead_set(p, (int64_t)buf.size());
  std::vector<const char*> cur(3), end(3);
  int nt = 0;
#pragma omp parallel num_threads(3)
  {
    cpu::ahead_claim();
    const int t = omp_get_thread_num();
    cur[t] = cpu::t_ahead.cur, end[t] = cpu::t_ahead.end;
    if (t == 0) nt = omp_get_num_threads();
  }
  for (int t = 0; t < nt; t++) {  // whole lines, and together all of the bytes
    CHECK(cur[t] == p + 10000 * t / nt / 64 * 64);
    CHECK(end[t] == p + 10000 * (t + 1) / nt);
  }
  cpu::ahead_set(p, (int64_t)buf.size());  // named again (a thread keeps its share until then)
  cpu::ahead_claim();  // outside a parallel region: all of them
  CHECK(cpu::t_ahead.cur == p);
  CHECK(cpu::t_ahead.end == p + 10000);
  cpu::ahead_set(nullptr, 0);
  cpu::ahead_claim();
  CHECK(cpu::t_ahead.cur == nullptr);

  ThreadCount one(1);
  const int M = 29, N = 70, K = 45;
  const std::vector<float> A = random_vec((size_t)M * K, 5), B = random_vec((size_t)K * N, 6);
  for (const char* name : {"generic", "avx2", "avx2_4x24", "avx512", "avx512_emul", "avx512_8x32", "avx512_8x32_emul",
                           "avx512_6x64", "avx512_6x64_emul"}) {
    KernelPin pin(name);
    if (!pin.ok) continue;
    INFO("kernel " << name);
    std::vector<float> plain((size_t)M * N), with((size_t)M * N), short_run((size_t)M * N);
    cpu::ahead_set(nullptr, 0);
    cpu::sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, plain.data(), N);
    cpu::ahead_set(p, (int64_t)buf.size());
    cpu::sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, with.data(), N);
    CHECK(with == plain);
    // a line a step (AVX-512's) or every 4 steps (AVX2's), never past the end; the generic kernel asks for none
    const bool asks = std::string(name) != "generic";
    CHECK((cpu::t_ahead.cur > p) == asks);
    CHECK(cpu::t_ahead.cur <= p + buf.size() + 63);
    cpu::ahead_set(p, 128);  // two lines: far fewer than the steps
    cpu::sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, short_run.data(), N);
    CHECK(short_run == plain);
    CHECK(cpu::t_ahead.cur == (asks ? p + 128 : p));
  }
  cpu::ahead_set(nullptr, 0);
}
