// dist.cpp: MPI (and NCCL) behind dist.h. Without MPI compiled in, a single process is the whole world.
#include "pipnet/dist.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <type_traits>

#include "tensor/device.h"

#ifdef PIPNET_MPI
#include <mpi.h>
#endif
#ifdef PIPNET_NCCL
#include <cuda_runtime.h>
#include <nccl.h>
#include "kernels/cuda/cuda.h"
#endif

namespace dist {

namespace {
int g_rank = 0, g_size = 1, g_local = 0;
double g_timeout = 300;
bool g_nccl = false;

// Started by a launcher? Open MPI, MPICH/Hydra and Slurm's PMI each leave their mark in the environment.
int launcher_size() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"})
    if (const char* s = std::getenv(v)) return std::atoi(s);
  return 1;
}

#ifdef PIPNET_MPI
MPI_Comm g_comm = MPI_COMM_NULL;  // a private duplicate of MPI_COMM_WORLD
#endif
#ifdef PIPNET_NCCL
ncclComm_t g_nccl_comm = nullptr;

// Waits for the engine's stream (where NCCL's all-reduce was queued) with the same deadline as MPI's collectives.
void wait_stream(const char* what) {
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    cudaError_t e = cudaStreamQuery(cuda_stream());
    if (e == cudaSuccess) return;
    if (e != cudaErrorNotReady) throw Error(strf("%s: CUDA error %s", what, cudaGetErrorString(e)));
    ncclResult_t async = ncclSuccess;
    ncclCommGetAsyncError(g_nccl_comm, &async);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (async != ncclSuccess || s > g_timeout) {
      std::fprintf(stderr, "\npipnet: error: rank %d of %d: %s %s. Stopping every rank.\n", g_rank, g_size, what,
                   async != ncclSuccess ? ncclGetErrorString(async) : "did not complete within comm_timeout: another rank has died or stalled");
      std::fflush(stderr);
      ncclCommAbort(g_nccl_comm);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}
#endif
#ifdef PIPNET_MPI

// Waits for a started collective with a deadline. MPI itself never gives up on a dead or stalled peer, so this is
// what turns a hang into a message: past the deadline every rank is stopped with MPI_Abort.
void wait(MPI_Request& req, const char* what) {
  const auto t0 = std::chrono::steady_clock::now();
  for (int done = 0, spins = 0;; spins++) {
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
    if (done) return;
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > g_timeout) {
      std::fprintf(stderr,
                   "\npipnet: error: rank %d of %d: %s did not complete within %.0f s (comm_timeout): another rank has "
                   "died or stalled. Stopping every rank.\n", g_rank, g_size, what, g_timeout);
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
    if (spins > 1000) std::this_thread::sleep_for(std::chrono::microseconds(50));  // a long wait: give up the core
  }
}
#endif
}  // namespace

void init(int* argc, char*** argv) {
  const int n = launcher_size();
#ifdef PIPNET_MPI
  if (n > 1) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_dup(MPI_COMM_WORLD, &g_comm);
    MPI_Comm_rank(g_comm, &g_rank);
    MPI_Comm_size(g_comm, &g_size);
    MPI_Comm local;
    MPI_Comm_split_type(g_comm, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &local);
    MPI_Comm_rank(local, &g_local);
    MPI_Comm_free(&local);
  }
#else
  (void)argc, (void)argv;
  if (n > 1)
    throw Error(strf("started as one of %d ranks, but this pipnet was built without MPI: apt-get install openmpi-bin "
                     "libopenmpi-dev, then build again (cmake finds MPI by itself)", n));
#endif
}

void use_nccl() {
#ifdef PIPNET_NCCL
  if (g_size == 1 || g_nccl) return;
  cudaSetDevice(g_local % std::max(1, [] { int n = 0; cudaGetDeviceCount(&n); return n; }()));
  ncclUniqueId id;
  if (g_rank == 0) ncclGetUniqueId(&id);
  broadcast(&id, sizeof id, 0, "the NCCL start-up");
  if (ncclCommInitRank(&g_nccl_comm, g_size, id, g_rank) != ncclSuccess)
    throw Error(strf("rank %d: NCCL could not start (ncclCommInitRank)", g_rank));
  g_nccl = true;
#endif
}

void finalize() {
#ifdef PIPNET_NCCL
  if (g_nccl) ncclCommDestroy(g_nccl_comm);
#endif
#ifdef PIPNET_MPI
  if (g_size > 1) {
    MPI_Comm_free(&g_comm);
    MPI_Finalize();
  }
#endif
}

int rank() { return g_rank; }
int size() { return g_size; }
bool is_root() { return g_rank == 0; }
int local_rank() { return g_local; }
void set_timeout(double s) { g_timeout = s; }
std::string transport() { return g_size == 1 ? "none" : g_nccl ? "mpi+nccl" : "mpi"; }

namespace {
template <class T>
void allreduce_sum_of(T* v, int64_t n, const char* what) {
  if (g_size == 1 || n == 0) return;
#ifdef PIPNET_MPI
  MPI_Request r;
  MPI_Iallreduce(MPI_IN_PLACE, v, (int)n, std::is_same_v<T, double> ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, g_comm, &r);
  wait(r, what);
#else
  (void)v, (void)what;
#endif
}
}  // namespace

void allreduce_sum(double* v, int64_t n, const char* what) { allreduce_sum_of(v, n, what); }
void allreduce_sum(float* v, int64_t n, const char* what) { allreduce_sum_of(v, n, what); }

void broadcast(void* bytes, int64_t n, int root, const char* what) {
  if (g_size == 1 || n == 0) return;
#ifdef PIPNET_MPI
  MPI_Request r;
  MPI_Ibcast(bytes, (int)n, MPI_BYTE, root, g_comm, &r);
  wait(r, what);
#else
  (void)bytes, (void)root, (void)what;
#endif
}

std::vector<std::string> allgather(const std::string& mine, const char* what) {
  if (g_size == 1) return {mine};
  std::vector<std::string> all(g_size);
#ifdef PIPNET_MPI
  std::vector<int> lens(g_size), offs(g_size);
  int len = (int)mine.size();
  MPI_Request r;
  MPI_Iallgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, g_comm, &r);
  wait(r, what);
  int total = 0;
  for (int i = 0; i < g_size; i++) offs[i] = total, total += lens[i];
  std::string buf(total, '\0');
  MPI_Iallgatherv(mine.data(), len, MPI_BYTE, buf.data(), lens.data(), offs.data(), MPI_BYTE, g_comm, &r);
  wait(r, what);
  for (int i = 0; i < g_size; i++) all[i] = buf.substr(offs[i], lens[i]);
#else
  (void)what;
#endif
  return all;
}

void barrier(const char* what) {
  double x = 0;
  allreduce_sum(&x, 1, what);
}

bool agree(bool root_value, const char* what) {
  char v = root_value;
  broadcast(&v, 1, 0, what);
  return v != 0;
}

// ---- the gradient all-reduce --------------------------------------------------------------------------------------
struct GradReducer::Bucket {
  std::vector<int> params;   // indices into params_
  int64_t numel = 0;
  std::vector<float> host;   // the flat gradients, all-reduced in place
  bool started = false;
  uint64_t fingerprint = 0;  // of the gradients as they left
  float* dev = nullptr;      // NCCL: the flat gradients on the GPU
#ifdef PIPNET_MPI
  MPI_Request req = MPI_REQUEST_NULL;
#endif
};

GradReducer::GradReducer(std::vector<Tensor> params, double bucket_mb) : params_(std::move(params)) {
  const int64_t cap = std::max<int64_t>(1, (int64_t)(bucket_mb * 1e6 / sizeof(float)));
  Bucket* b = nullptr;
  for (int i = (int)params_.size() - 1; i >= 0; i--) {  // the backward pass finishes the last layers first
    CHECK_OR_FAIL(params_[i].dtype() == DType::F32, "GradReducer: parameters must be float32");
    if (!b || b->numel >= cap) buckets_.push_back(b = new Bucket);
    b->params.push_back(i);
    b->numel += params_[i].numel();
  }
  for (Bucket* k : buckets_) k->host.resize(k->numel);
#ifdef PIPNET_NCCL
  nccl_ = g_nccl && !params_.empty() && params_[0].device() != Device::CPU;
  if (nccl_)
    for (Bucket* k : buckets_) k->dev = static_cast<float*>(cuda_raw_alloc(k->numel * sizeof(float)));
#endif
}

GradReducer::~GradReducer() {
  for (Bucket* b : buckets_) {
    if (b->dev) cuda_raw_free(b->dev);
    delete b;
  }
}

int64_t GradReducer::bytes_per_step() const {
  int64_t n = 0;
  for (const Bucket* b : buckets_) n += b->numel;
  return n * (int64_t)sizeof(float);
}

void GradReducer::zero_grad() {
  for (Tensor& p : params_) p.drop_grad();
  for (Bucket* b : buckets_) b->started = false;
  next_ = 0;
}

namespace {
// A fingerprint of a gradient's bits (FNV-1a over 32-bit words): a change after its bucket left shows here.
uint64_t fingerprint(const float* v, int64_t n) {
  uint64_t h = 1469598103934665603ull;
  for (int64_t i = 0; i < n; i++) {
    uint32_t w;
    std::memcpy(&w, v + i, 4);
    h = (h ^ w) * 1099511628211ull;
  }
  return h;
}
void copy_grad_out(const Tensor& p, float* dst) {
  const Tensor g = p.grad();
  if (!g.defined()) std::memset(dst, 0, p.numel() * sizeof(float));  // a missing gradient counts as zero
  else if (g.device() == Device::CPU) std::memcpy(dst, g.data<float>(), g.nbytes());
  else cuda_memcpy(dst, Device::CPU, g.raw(), g.device(), g.nbytes());
}
}  // namespace

// Copies a bucket's gradients out, notes their fingerprint, and starts its all-reduce.
void GradReducer::start(Bucket& b) {
  for (int64_t off = 0; int i : b.params) {
    copy_grad_out(params_[i], b.host.data() + off);
    off += params_[i].numel();
  }
  b.fingerprint = fingerprint(b.host.data(), b.numel);
  b.started = true;
  if (g_size == 1) return;
#ifdef PIPNET_NCCL
  if (nccl_) {  // queued on the engine's stream behind the backward kernels; nothing waits here
    for (int64_t off = 0; int i : b.params) {
      const Tensor g = params_[i].grad();
      if (g.defined()) cuda_memcpy(b.dev + off, g.device(), g.raw(), g.device(), g.nbytes());
      else cuda_memset_zero(b.dev + off, params_[i].numel() * sizeof(float));
      off += params_[i].numel();
    }
    ncclAllReduce(b.dev, b.dev, b.numel, ncclFloat, ncclSum, g_nccl_comm, cuda_stream());
    return;
  }
#endif
#ifdef PIPNET_MPI
  MPI_Iallreduce(MPI_IN_PLACE, b.host.data(), (int)b.numel, MPI_FLOAT, MPI_SUM, g_comm, &b.req);
#endif
}

void GradReducer::ready() {
  while (next_ < buckets_.size()) {
    Bucket& b = *buckets_[next_];
    for (int i : b.params)
      if (!params_[i].grad().defined()) {
#ifdef PIPNET_MPI
        if (g_size > 1) {  // MPI moves a non-blocking collective on only while it is tested
          int flag;
          for (size_t k = 0; k < next_; k++) MPI_Test(&buckets_[k]->req, &flag, MPI_STATUS_IGNORE);
        }
#endif
        return;
      }
    start(b);
    next_++;
  }
}

void GradReducer::wait_bucket(Bucket& b) {
  if (g_size == 1) return;
#ifdef PIPNET_NCCL
  if (nccl_) return wait_stream("the gradient all-reduce (NCCL)");
#endif
#ifdef PIPNET_MPI
  wait(b.req, "the gradient all-reduce");
#else
  (void)b;
#endif
}

void GradReducer::finish() {
  const auto t0 = std::chrono::steady_clock::now();
  while (next_ < buckets_.size()) start(*buckets_[next_++]);
  // A gradient written again after its bucket left (a parameter used twice in one step) makes that bucket stale:
  // every rank sees the same graph, so all find the same stale buckets; they agree anyway and send those again.
  std::vector<float> scratch;
  std::vector<double> stale(buckets_.size(), 0.0);
  for (size_t k = 0; k < buckets_.size(); k++) {
    Bucket& b = *buckets_[k];
    scratch.resize(b.numel);
    for (int64_t off = 0; int i : b.params) {
      copy_grad_out(params_[i], scratch.data() + off);
      off += params_[i].numel();
    }
    stale[k] = fingerprint(scratch.data(), b.numel) != b.fingerprint;
  }
  allreduce_sum(stale.data(), (int64_t)stale.size(), "the gradient all-reduce");
  const float inv = 1.0f / (float)g_size;
  for (size_t k = 0; k < buckets_.size(); k++) {
    Bucket& b = *buckets_[k];
    wait_bucket(b);
    if (stale[k] > 0) {
      start(b);
      wait_bucket(b);
    }
#ifdef PIPNET_NCCL
    if (nccl_) cuda_memcpy(b.host.data(), Device::CPU, b.dev, params_[0].device(), b.numel * sizeof(float));
#endif
    for (int64_t off = 0; int i : b.params) {
      Tensor g = params_[i].grad_or_zeros();
      float* h = b.host.data() + off;
      for (int64_t j = 0; j < g.numel(); j++) h[j] *= inv;
      if (g.device() == Device::CPU) std::memcpy(g.data<float>(), h, g.nbytes());
      else cuda_memcpy(g.raw(), g.device(), h, Device::CPU, g.nbytes());
      off += g.numel();
    }
  }
  wait_s_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace dist
