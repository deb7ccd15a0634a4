// Collective operations between ranks, behind one interface for CPU (MPI) and GPU (NCCL) tensors.
//
// The trainer and the gradient reducer talk only to Communicator; make_communicator() picks the backend
// from the device ("auto": NCCL for CUDA tensors, MPI for CPU ones) unless the config names one. Tensor
// collectives work in place on contiguous tensors. Host-vector reductions (losses, metrics, the stop
// vote) always travel over MPI on a communicator of their own, so they never interleave with gradients.
//
// Every wait has a deadline (config dist.timeout_s): a peer that died or hangs turns into a
// CommunicationError (and, for NCCL, an aborted communicator) instead of a job that hangs until the
// wall-clock limit.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "fergan/core/check.h"

namespace fergan::dist {

class Context;

// A collective that did not complete: a peer did not join within dist.timeout_s, died, or its connection
// broke. Unlike a bad input, the same job may well succeed when started again (on other nodes), so
// fergan_dist ends with kExitCommunication and the SLURM launcher requeues it, up to a cap.
class CommunicationError : public fergan::Error {
 public:
  explicit CommunicationError(const std::string& what) : fergan::Error(what) {}
};

// fergan_dist's exit code after a CommunicationError.
constexpr int kExitCommunication = 5;

enum class ReduceOp { Sum, Avg, Max, Min };

// One in-flight collective. wait() returns once its result is visible to what comes next: on the CPU (MPI)
// it blocks until the collective is complete, or throws on timeout or a communication error; on GPUs (NCCL)
// it orders the compute stream after the collective without blocking the host, and a watchdog enforces the
// deadline (a failure is thrown by the next call on the communicator). Destroying an unwaited Work waits.
class Work {
 public:
  virtual ~Work() = default;
  virtual void wait() = 0;
  virtual bool is_completed() = 0;  // non-blocking test; also drives MPI progress
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int world() const = 0;
  virtual std::string backend() const = 0;  // "mpi" | "nccl"

  // In-place all-reduce of a contiguous tensor (float32/float64/float16/bfloat16/int32/int64; Avg on
  // floating types only).
  virtual std::unique_ptr<Work> allreduce_async(torch::Tensor tensor, ReduceOp op) = 0;
  void allreduce(torch::Tensor tensor, ReduceOp op) { allreduce_async(tensor, op)->wait(); }
  void allreduce_sum(torch::Tensor tensor) { allreduce(tensor, ReduceOp::Sum); }
  void allreduce_avg(torch::Tensor tensor) { allreduce(tensor, ReduceOp::Avg); }

  // In-place broadcast of a contiguous tensor of any dtype from `root`.
  virtual void broadcast(torch::Tensor tensor, int root) = 0;

  // Reduction of a small host vector (losses, metrics, agreement flags), over MPI.
  // `values` must stay alive and untouched until the returned Work is waited for.
  virtual std::unique_ptr<Work> allreduce_host_async(std::vector<double>& values, ReduceOp op) = 0;
  void allreduce_host(std::vector<double>& values, ReduceOp op) { allreduce_host_async(values, op)->wait(); }

  virtual void barrier() = 0;
};

// backend: "auto" | "mpi" | "nccl". "nccl" needs a CUDA device and a build with FERGAN_WITH_CUDA.
// "mpi" with a CUDA device works (tensors are staged through host memory), for debugging.
std::unique_ptr<Communicator> make_communicator(Context& context, torch::Device device,
                                                const std::string& backend = "auto",
                                                double timeout_s = 600.0);

// The MPI backend, usable directly (and by tests) for CPU tensors.
std::unique_ptr<Communicator> make_mpi_communicator(Context& context, double timeout_s = 600.0);

#ifdef FERGAN_WITH_CUDA
// The NCCL backend (nccl_communicator_cuda.cpp): one communicator over all ranks, one GPU per rank.
std::unique_ptr<Communicator> make_nccl_communicator(Context& context, int device_index, double timeout_s);
#endif

}  // namespace fergan::dist
