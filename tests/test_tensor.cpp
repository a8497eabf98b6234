// Tensors, the caching allocator and the RNG.
#include "kernels/graph.h"
#include "test_util.h"

TEST_CASE("tensor: shape / views share storage / slices", "[tensor]") {
  Tensor x = Tensor::from({2, 3, 2, 2}, random_vec(24, 1));
  REQUIRE(x.numel() == 24);
  REQUIRE(x.shape().str() == "[2, 3, 2, 2]");
  Tensor v = x.reshape({6, 4});
  v.data<float>()[5] = 42.0f;
  CHECK(x.data<float>()[5] == 42.0f);
  Tensor s = x.slice(1, 2);
  CHECK(s.shape() == Shape({1, 3, 2, 2}));
  CHECK(s.data<float>() == x.data<float>() + 12);
  CHECK_THROWS_AS(x.reshape({5, 5}), Error);
  CHECK_THROWS_AS(x.data<double>(), Error);
  Tensor d = x.to(DType::F64);
  CHECK(d.data<double>()[5] == 42.0);
  CHECK(d.to(DType::F32).to_vector() == x.to_vector());
}

TEST_CASE("allocator: a repeated step reuses cached blocks", "[tensor]") {
  for (int warm = 0; warm < 2; warm++) { Tensor a = Tensor::empty({1000, 100}); Tensor b = Tensor::empty({77}); }
  AllocatorStats before = allocator_stats(Device::CPU);
  for (int step = 0; step < 10; step++) { Tensor a = Tensor::empty({1000, 100}); Tensor b = Tensor::empty({77}); }
  AllocatorStats after = allocator_stats(Device::CPU);
  CHECK(after.os_allocs == before.os_allocs);
  CHECK(after.cache_hits >= before.cache_hits + 20);
}

TEST_CASE("allocator: blocks freed during a graph capture stay the graph's until its pool is released", "[tensor]") {
  const size_t bytes = 123457;  // a size no other test uses: its free list starts empty
  void* outside = device_alloc(Device::CPU, bytes);
  allocator_capture_begin(Device::CPU);
  void* a = device_alloc(Device::CPU, bytes);  // from the OS (nothing cached)
  device_free(Device::CPU, a, bytes);          // -> the private pool
  CHECK(device_alloc(Device::CPU, bytes) == a);  // reused within the capture
  device_free(Device::CPU, a, bytes);
  device_free(Device::CPU, outside, bytes);    // any block freed while capturing is kept, even an older one
  BlockList pool = allocator_capture_end(Device::CPU);
  CHECK(pool.size() == 2);
  void* b = device_alloc(Device::CPU, bytes);  // after the capture: the graph's blocks are not handed out
  CHECK(b != a);
  CHECK(b != outside);
  allocator_release_pool(Device::CPU, pool);  // the graph is gone: its blocks are ordinary cached blocks again
  void* c = device_alloc(Device::CPU, bytes);
  CHECK((c == a || c == outside));
  for (void* p : {b, c}) device_free(Device::CPU, p, bytes);
}

TEST_CASE("replay: on the CPU run() does the work again", "[tensor]") {
  int calls = 0;
  Replay r(Device::CPU, [&] { calls++; });
  CHECK(calls == 1);
  CHECK_FALSE(r.captured());
  r.run();
  r.run();
  CHECK(calls == 3);
}

TEST_CASE("rng: seeded / reproducible / kaiming has the right spread", "[tensor]") {
  Rng a(7), b(7);
  for (int i = 0; i < 5; i++) CHECK(a.normal() == b.normal());
  std::string st = a.state();
  double next = a.uniform();
  b.set_state(st);
  CHECK(b.uniform() == next);
  // kaiming_normal_(fan_out): std = sqrt(2 / (out*kh*kw)) = sqrt(2 / (64*9)) = 0.0589
  Tensor w = Tensor::empty({64, 32, 3, 3});
  init_kaiming_normal(w, a, true);
  std::vector<float> v = w.to_vector();
  double s = 0, s2 = 0;
  for (float x : v) { s += x; s2 += x * x; }
  double mean = s / v.size(), sd = std::sqrt(s2 / v.size() - mean * mean);
  CHECK(std::fabs(mean) < 0.002);
  CHECK(sd == Approx(std::sqrt(2.0 / 576)).epsilon(0.02));
}
