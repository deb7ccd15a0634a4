// The MPI bootstrap of one rank: rank, world size, local rank, and the job-wide abort.
//
// Every fergan process builds exactly one Context at start. Under mpirun or srun it joins the job; run
// as a plain program it is an MPI singleton (world size 1), so development needs no launcher. The local
// rank comes from MPI_Comm_split_type(MPI_COMM_TYPE_SHARED) rather than launcher variables, which differ
// between mpirun (OMPI_COMM_WORLD_LOCAL_RANK) and srun (SLURM_LOCALID); it picks this rank's GPU.
//
// MPI errors are set to return codes (not to kill the job silently), and MPI_CHECK turns a failed call
// into a fergan::Error naming the call. A failure that must end the whole job goes through abort():
// it prints the message with this rank's number, aborts NCCL communicators (registered abort hooks),
// and calls MPI_Abort, which makes the launcher kill every rank within seconds.
#pragma once

// fergan uses MPI's C API only; Open MPI's and MPICH's deprecated C++ bindings would need libmpi_cxx.
#ifndef OMPI_SKIP_MPICXX
#define OMPI_SKIP_MPICXX 1
#endif
#ifndef MPICH_SKIP_MPICXX
#define MPICH_SKIP_MPICXX 1
#endif
#include <mpi.h>

#include <functional>
#include <map>
#include <mutex>
#include <string>

#include "fergan/core/check.h"

namespace fergan::dist {

// Throws a fergan::Error naming the MPI call and MPI's own description of the error code.
void mpi_fail(int code, const char* call, const char* file, int line);

}  // namespace fergan::dist

#define MPI_CHECK(call)                                                                             \
  do {                                                                                              \
    int fg_mpi_rc_ = (call);                                                                        \
    if (fg_mpi_rc_ != MPI_SUCCESS) ::fergan::dist::mpi_fail(fg_mpi_rc_, #call, __FILE__, __LINE__); \
  } while (0)

namespace fergan::dist {

class Context {
 public:
  // Initialises MPI (MPI_THREAD_MULTIPLE requested, at least MPI_THREAD_SERIALIZED required) unless the
  // caller already did; argc/argv may be null.
  Context(int* argc = nullptr, char*** argv = nullptr);
  ~Context();  // finalize()
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // The Context of this process, or null before one is built (for code far from main, e.g. signal paths).
  static Context* current();

  int rank() const { return rank_; }
  int world() const { return world_; }
  int local_rank() const { return local_rank_; }  // rank among the processes on this node
  int local_size() const { return local_size_; }  // processes on this node
  bool is_root() const { return rank_ == 0; }
  int thread_level() const { return thread_level_; }  // MPI_THREAD_* actually provided

  // A private duplicate of MPI_COMM_WORLD (errors return), so fergan's traffic never mixes with a caller's.
  MPI_Comm world_comm() const { return world_comm_; }

  // Prints "[rank R] fatal: <message>" to stderr, runs the abort hooks (ncclCommAbort), then MPI_Abort.
  // Use it from the top-level catch of a distributed program: one failing rank ends every rank.
  [[noreturn]] void abort(const std::string& message, int exit_code = 1);

  // Hooks run by abort() before MPI_Abort (NcclCommunicator registers ncclCommAbort). Returns an id.
  int add_abort_hook(std::function<void()> hook);
  void remove_abort_hook(int id);

  // Frees the communicators and finalizes MPI if this Context initialised it. Idempotent.
  void finalize();

 private:
  int rank_ = 0;
  int world_ = 1;
  int local_rank_ = 0;
  int local_size_ = 1;
  int thread_level_ = 0;
  bool owns_mpi_ = false;
  bool finalized_ = false;
  MPI_Comm world_comm_ = MPI_COMM_NULL;
  std::mutex hooks_mutex_;
  std::map<int, std::function<void()>> abort_hooks_;
  int next_hook_id_ = 0;
};

}  // namespace fergan::dist
