// Graceful stop on SIGTERM / SIGUSR1 (SLURM's pre-timeout signal), agreed by all ranks at a step boundary.
//
// A signal reaches one rank or all of them at slightly different times. Each rank only sets a local flag
// in its handler; at a step boundary all ranks take the maximum of their flags, so either every rank stops
// after the same step (rank 0 writes a checkpoint, all exit with kExitRequeue) or none does. StopVote makes
// the vote nearly free: its MPI_Iallreduce starts at the beginning of a step and is completed at the end.
#pragma once

#include <memory>
#include <vector>

#include "fergan/dist/communicator.h"

namespace fergan::dist {

// Exit code of a run that stopped on a signal after writing its checkpoint: "checkpointed, please requeue".
constexpr int kExitRequeue = 3;

// Installs handlers for SIGTERM and SIGUSR1 that set the local stop flag (async-signal-safe).
void install_stop_signals();

bool stop_requested_locally();
void request_stop_locally();  // as if a signal arrived (tests, fault injection)
void clear_stop_request();    // tests

// Synchronous vote: true on every rank when any rank's flag is set.
bool agree_stop(Communicator& comm);

// Asynchronous vote: start() at step start snapshots the local flag and starts the reduction; finish()
// at the step boundary completes it and returns the agreed answer. A signal arriving after start() is
// seen by the next vote.
class StopVote {
 public:
  explicit StopVote(Communicator& comm) : comm_(comm) {}
  void start();
  bool finish();

 private:
  Communicator& comm_;
  std::vector<double> flag_{0.0};
  std::unique_ptr<Work> work_;
};

}  // namespace fergan::dist
