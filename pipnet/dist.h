// dist.h: data-parallel training and evaluation across processes: `mpirun -np R pipnet train ...`.
//
// Every rank holds the whole model. Each training step, rank r takes its slice of the global batch (data/loader.h),
// runs forward and backward on it, and the gradients are averaged over the ranks (an all-reduce) before every rank
// takes the same optimizer step, so the replicas stay identical. With `--sync-bn` BatchNorm's batch statistics are
// all-reduced too (autograd/ops.h), and R ranks then compute what one process computes on the whole batch.
//
// The transport is MPI (Open MPI), compiled in when found (PIPNET_MPI); on CUDA tensors the gradient all-reduce runs
// on the GPU through NCCL when that is found too (PIPNET_NCCL), MPI carrying only its start-up. Every collective is
// started non-blocking and waited for with a deadline (`comm_timeout`): a rank that died or stalled makes the
// others stop with a message naming the collective, instead of hanging.
//
// A process started without mpirun (or with one rank) is rank 0 of 1, and every function here is then a no-op.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace dist {

// Joins the MPI job when the process was started by mpirun (its environment says so); otherwise stays alone.
// Started by mpirun but built without MPI: an Error saying how to build with it. Call once, first thing in main.
void init(int* argc, char*** argv);
void finalize();  // at a normal exit
int rank();
int size();
bool is_root();                  // rank 0: the rank that writes files, logs and progress bars
int local_rank();                // the rank among the processes on this machine (its GPU index)
void set_timeout(double seconds);  // the deadline of each collective (default 300 s)
std::string transport();         // "none", "mpi", or "mpi+nccl"
// For CUDA training: picks this rank's GPU (local_rank modulo the GPUs) and starts NCCL; GradReducers made after it
// all-reduce CUDA gradients on the GPU. An Error when NCCL cannot start. A no-op for one rank or without NCCL.
void use_nccl();

// Collectives. Every rank calls the same ones in the same order. `what` names the collective in a timeout message.
void allreduce_sum(double* v, int64_t n, const char* what);
void allreduce_sum(float* v, int64_t n, const char* what);
void broadcast(void* bytes, int64_t n, int root, const char* what);
// Every rank's bytes, in rank order, on every rank.
std::vector<std::string> allgather(const std::string& mine, const char* what);
void barrier(const char* what);
// Rank 0's decision, on every rank (for choices that must agree, such as stopping at a time limit).
bool agree(bool root_value, const char* what);

// The gradient all-reduce. Parameters are grouped into buckets of about `bucket_mb` MB, in reverse registration
// order (the order the backward pass finishes them). During backward, ready() is called after each tape step: a
// bucket whose parameters all hold a gradient is copied out and its all-reduce started at once, so communication
// overlaps the rest of the backward pass. finish() starts any bucket not yet started, waits for all, checks that no
// gradient changed after its bucket left (a parameter used twice in one step would; such a bucket is all-reduced
// again), and writes the averages back. zero_grad() drops the gradients, so "holds a gradient" means "this step
// wrote one".
class GradReducer {
 public:
  GradReducer(std::vector<Tensor> params, double bucket_mb = 25.0);
  ~GradReducer();
  void zero_grad();
  void ready();    // give to ag::backward as its after-each-step hook
  void finish();   // after ag::backward, before the optimizer step
  int buckets() const { return (int)buckets_.size(); }
  double seconds_waiting() const { return wait_s_; }  // time finish() spent waiting (communication not hidden)
  int64_t bytes_per_step() const;                     // what one step all-reduces

 private:
  struct Bucket;
  void start(Bucket& b);
  void wait_bucket(Bucket& b);
  bool nccl_ = false;  // the parameters live on a GPU and NCCL carries their gradients
  std::vector<Tensor> params_;
  std::vector<Bucket*> buckets_;
  size_t next_ = 0;  // the first bucket not yet started
  double wait_s_ = 0;
};

}  // namespace dist
