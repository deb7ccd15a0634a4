// Where a training step's time goes: data wait, forward, backward, optimizer, communication wait.
//
// Images/s says how fast a phase ran; this says which part to make faster. The trainer and the step call
// lap(section) at each boundary, which adds the time since the previous boundary to that section, so the
// sections partition the loop's time with nothing counted twice. On a GPU, kernels run asynchronously: a
// boundary only means something after a device synchronize, which the caller passes in (and which slows the
// step, hence the timer is opt-in: train.step_timing). A null StepTimer* costs nothing.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace fergan::gan {

enum class StepSection : int { DataWait = 0, Forward, Backward, CommWait, Optimizer, Other };
constexpr int kStepSections = 6;
// "data_wait", "forward", "backward", "comm_wait", "optimizer", "other".
const char* section_name(StepSection section);

class StepTimer {
 public:
  // `synchronize` (may be empty) runs before each clock reading, e.g. a CUDA device synchronize.
  explicit StepTimer(std::function<void()> synchronize = {});

  // Starts a new interval: the next lap counts from now.
  void restart();
  // Adds the time since the previous boundary to `section`.
  void lap(StepSection section);

  double seconds(StepSection section) const { return seconds_[static_cast<size_t>(section)]; }
  double total_seconds() const;

 private:
  using Clock = std::chrono::steady_clock;
  std::function<void()> synchronize_;
  Clock::time_point last_;
  std::array<double, kStepSections> seconds_{};
};

// Null-safe helper for code that times only when asked.
inline void lap(StepTimer* timer, StepSection section) {
  if (timer) timer->lap(section);
}

}  // namespace fergan::gan
