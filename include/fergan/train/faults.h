// Fault injection for the fault-tolerance tests, read from the environment so that a test can make any rank
// fail at an exact step without a special build:
//   FERGAN_FAULT_STOP_AT_STEP=k   acts as if SIGTERM arrived before step k (0-based, counted per phase)
//   FERGAN_FAULT_THROW_AT_STEP=k  throws before step k ...
//   FERGAN_FAULT_RANK=r           ... on rank r only (default: every rank)
//   FERGAN_FAULT_SLEEP_MS=ms      sleeps before every step (to make a run long enough to signal or kill)
// Unset variables inject nothing; a value that is not an integer is an error naming the variable.
// Beside the faults, one observation hook for the resume tests:
//   FERGAN_SAMPLE_LOG=PREFIX      every rank r appends a line "epoch step rank index..." per step, with the
//                                 sample indices of its batch, to PREFIX.rank<r>
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace fergan::train {

struct FaultInjection {
  int64_t stop_at = -1;
  int64_t throw_at = -1;
  int64_t sleep_ms = 0;
  int rank = -1;           // -1 = every rank
  std::string sample_log;  // "" = no sample log

  static FaultInjection from_env();
  // Called by every rank before each step.
  void before_step(int64_t step, int my_rank) const;
  // Called by every rank with the sample indices of each step's batch.
  void record_batch(int64_t epoch, int64_t step, int my_rank, const torch::Tensor& indices) const;
};

}  // namespace fergan::train
