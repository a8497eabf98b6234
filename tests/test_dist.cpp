// Data-parallel training's pieces, in one process: synchronised BatchNorm with two threads standing in for two
// ranks equals BatchNorm over the whole batch; the loader's rank slices make up one process's batches exactly; the
// gradient reducer sends again a gradient written after its bucket left. tests/test_mpi.sh runs real ranks.
#include <barrier>
#include <catch2/catch.hpp>
#include <cmath>
#include <thread>

#include "autograd/ops.h"
#include "data/loader.h"
#include "pipnet/dist.h"
#include "tensor/rng.h"

namespace {

// An all-reduce between two threads: each posts its values in its own slot, waits for the other, adds both.
struct TwoThreadSum {
  std::barrier<> bar{2};
  std::vector<double> part[2];
  void operator()(int rank, double* v, int n) {
    part[rank].assign(v, v + n);
    bar.arrive_and_wait();  // both posted
    for (int i = 0; i < n; i++) v[i] = part[0][i] + part[1][i];
    bar.arrive_and_wait();  // both read
  }
};

double max_diff(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector(), y = b.to_vector();
  REQUIRE(x.size() == y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); i++) m = std::max(m, (double)std::fabs(x[i] - y[i]));
  return m;
}

Tensor random(const Shape& s, Rng& rng, double mean, double std, DType t) {
  Tensor x = Tensor::empty(s);
  init_normal(x, rng, mean, std);
  return x.to(t);
}

}  // namespace

TEST_CASE("sync-bn: two threads as two ranks equal BatchNorm over the whole batch (forward, running stats, gradients)") {
  for (DType t : {DType::F64, DType::F32}) {
    const double tol = t == DType::F64 ? 1e-10 : 2e-5;
    Rng rng(11);
    const int N = 6, C = 5, H = 3, W = 7;
    Tensor x = random({N, C, H, W}, rng, 3.0, 2.0, t);  // a mean far from 0, as after a convolution
    Tensor gamma = random({C}, rng, 1.0, 0.5, t), beta = random({C}, rng, 0.0, 0.5, t);
    Tensor dy = random({N, C, H, W}, rng, 0.0, 1.0, t);

    // Backward from a loss whose gradient with respect to y is dy: mse(y, t) with t = y - dy*n/2 (t a constant).
    auto backward_with = [t](const Tensor& y, const Tensor& dy) {
      const double n = (double)y.numel();
      Tensor target = Tensor::empty(y.shape(), DType::F64);
      Tensor y64 = y.to(DType::F64), d64 = dy.to(DType::F64);
      for (int64_t i = 0; i < y.numel(); i++) target.data<double>()[i] = y64.data<double>()[i] - d64.data<double>()[i] * n / 2;
      ag::backward(ag::mse_loss(y, target.to(t)));
    };

    // one process, the whole batch
    Tensor xf = x.clone().set_requires_grad(true), gf = gamma.clone().set_requires_grad(true),
           bf = beta.clone().set_requires_grad(true);
    Tensor rm = Tensor::zeros({C}).to(t), rv = Tensor::full({C}, 1.0).to(t);
    Tensor y = ag::batchnorm2d(xf, gf, bf, rm, rv, true);
    backward_with(y, dy);

    // two ranks, half a batch each
    TwoThreadSum sum;
    Tensor yh[2], dxh[2], dgh[2], dbh[2], rmh[2], rvh[2];
    auto rank = [&](int r) {
      ag::set_batchnorm_sync([&sum, r](double* v, int n) { sum(r, v, n); });
      Tensor xr = x.slice(r * N / 2, (r + 1) * N / 2).clone().set_requires_grad(true);
      Tensor gr = gamma.clone().set_requires_grad(true), br = beta.clone().set_requires_grad(true);
      rmh[r] = Tensor::zeros({C}).to(t), rvh[r] = Tensor::full({C}, 1.0).to(t);
      yh[r] = ag::batchnorm2d(xr, gr, br, rmh[r], rvh[r], true);
      backward_with(yh[r], dy.slice(r * N / 2, (r + 1) * N / 2).clone());
      ag::set_batchnorm_sync({});
      dxh[r] = xr.grad(), dgh[r] = gr.grad(), dbh[r] = br.grad();
    };
    std::thread t0(rank, 0), t1(rank, 1);
    t0.join(), t1.join();

    for (int r = 0; r < 2; r++) {
      CHECK(max_diff(yh[r], y.slice(r * N / 2, (r + 1) * N / 2)) < tol);
      CHECK(max_diff(dxh[r], xf.grad().slice(r * N / 2, (r + 1) * N / 2)) < tol);
      CHECK(max_diff(rmh[r], rm) < tol);
      CHECK(max_diff(rvh[r], rv) < tol);
    }
    // each rank keeps its own share of dgamma and dbeta; the gradient all-reduce averages them, so their sum (the
    // average times two ranks) is the whole batch's
    std::vector<float> g0 = dgh[0].to_vector(), g1 = dgh[1].to_vector(), b0 = dbh[0].to_vector(), b1 = dbh[1].to_vector();
    std::vector<float> gf_ = gf.grad().to_vector(), bf_ = bf.grad().to_vector();
    for (int c = 0; c < C; c++) {
      CHECK(g0[c] + g1[c] == Approx(gf_[c]).epsilon(1e-5).margin(1e-5));  // read back as floats
      CHECK(b0[c] + b1[c] == Approx(bf_[c]).epsilon(1e-5).margin(1e-5));
    }
  }
}

TEST_CASE("loader: the slices of two ranks make up one process's batches, images and augmentation alike") {
  SampleSource src = synth_source(3, 48);
  LoaderConfig one;
  one.batch = 4;
  one.workers = 2;
  one.seed = 9;
  one.flip_table = flip_table(68);
  LoaderConfig r0 = one, r1 = one;
  r0.ranks = r1.ranks = 2;
  r1.rank = 1;
  Loader L(src, 13, 48, one), A(src, 13, 48, r0), B(src, 13, 48, r1);
  CHECK(A.local_batch() == 2);
  CHECK(A.batches_per_epoch() == L.batches_per_epoch());
  for (int epoch : {0, 3}) {
    L.start_epoch(epoch), A.start_epoch(epoch), B.start_epoch(epoch);
    Batch w, a, b;
    int n = 0;
    while (L.next(w)) {
      REQUIRE(A.next(a));
      REQUIRE(B.next(b));
      REQUIRE(a.images.size(0) == 2);
      CHECK(a.index == std::vector<int64_t>{w.index[0], w.index[1]});
      CHECK(b.index == std::vector<int64_t>{w.index[2], w.index[3]});
      CHECK(max_diff(a.images, w.images.slice(0, 2)) == 0);
      CHECK(max_diff(b.images, w.images.slice(2, 4)) == 0);
      CHECK(b.lms[1] == w.lms[3]);
      n++;
    }
    CHECK(n == 3);
    CHECK_FALSE(A.next(a));
  }
  LoaderConfig bad = one;
  bad.ranks = 3;
  CHECK_THROWS_WITH(Loader(src, 13, 48, bad), Catch::Contains("cannot be split evenly over 3 ranks"));
}

TEST_CASE("grad reducer: a gradient written after its bucket left is sent again (a parameter used twice)") {
  // w is used by the last op and by the first; with tiny buckets, w's bucket leaves after the last op's backward,
  // before the first op adds its share. finish() must notice and send the whole gradient.
  Rng rng(2);
  Tensor w = Tensor::empty({3, 2, 1, 1});
  init_normal(w, rng, 0, 1);
  w.set_requires_grad(true);
  Tensor v = Tensor::empty({2, 2, 1, 1});
  init_normal(v, rng, 0, 1);
  v.set_requires_grad(true);
  Tensor x = Tensor::empty({1, 2, 4, 4});
  init_normal(x, rng, 0, 1);
  auto loss_of = [&] {
    Tensor h = ag::conv2d(x, w, Tensor(), 1, 0);                         // w, first use: [1,3,4,4]
    Tensor z = ag::conv2d(ag::reshape(h, {1, 3, 4, 4}), Tensor::zeros({2, 3, 1, 1}), Tensor(), 1, 0);
    Tensor u = ag::conv2d(x, v, Tensor(), 1, 0);                         // v
    Tensor k = ag::conv2d(ag::add(u, z), ag::reshape(w, {3, 2, 1, 1}), Tensor(), 1, 0);  // w, second use
    return ag::mse_loss(k, Tensor::zeros({1, 3, 4, 4}));
  };
  ag::backward(loss_of());
  const std::vector<float> want = w.grad().to_vector();
  dist::GradReducer red({v, w}, 1e-6);  // one parameter per bucket
  REQUIRE(red.buckets() == 2);
  red.zero_grad();
  CHECK_FALSE(w.grad().defined());
  ag::backward(loss_of(), [&] { red.ready(); });
  red.finish();
  const std::vector<float> got = w.grad().to_vector();
  for (size_t i = 0; i < want.size(); i++) CHECK(got[i] == Approx(want[i]).epsilon(1e-6));
}
