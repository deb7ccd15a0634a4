// Polling with a deadline, shared by the MPI and NCCL backends (private to src/dist).
//
// A blocking MPI_Wait or cudaStreamSynchronize cannot be interrupted: a dead or stuck peer would hang the
// job until the batch system kills it. Both backends instead poll a non-blocking test (which also drives
// MPI's progress engine) and give up at the deadline. Polling spins briefly, then yields, then naps, so a
// rank waiting for a slow peer does not steal the core its peer computes on.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "fergan/core/check.h"
#include "fergan/dist/communicator.h"

namespace fergan::dist::detail {

// Calls `done()` until it returns true; after `timeout_s` calls `on_timeout()`, which throws (a
// CommunicationError: a collective that does not complete is a communication failure).
inline void poll_until(const std::function<bool()>& done, double timeout_s,
                       const std::function<void()>& on_timeout) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout_s));
  for (long iteration = 0;; ++iteration) {
    if (done()) return;
    if ((iteration & 63) == 0) {
      const auto now = clock::now();
      if (now > deadline) {
        on_timeout();
        throw CommunicationError("collective timed out");  // on_timeout should have thrown
      }
      if (now - start > std::chrono::milliseconds(20)) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
        continue;
      }
    }
    std::this_thread::yield();
  }
}

}  // namespace fergan::dist::detail
