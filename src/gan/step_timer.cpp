// The step-time breakdown (see step_timer.h).
#include "fergan/gan/step_timer.h"

namespace fergan::gan {

const char* section_name(StepSection section) {
  static const char* const kNames[kStepSections] = {"data_wait", "forward",   "backward",
                                                    "comm_wait", "optimizer", "other"};
  return kNames[static_cast<int>(section)];
}

StepTimer::StepTimer(std::function<void()> synchronize) : synchronize_(std::move(synchronize)) {
  restart();
}

void StepTimer::restart() {
  if (synchronize_) synchronize_();
  last_ = Clock::now();
}

void StepTimer::lap(StepSection section) {
  if (synchronize_) synchronize_();
  const auto now = Clock::now();
  seconds_[static_cast<size_t>(section)] += std::chrono::duration<double>(now - last_).count();
  last_ = now;
}

double StepTimer::total_seconds() const {
  double sum = 0;
  for (double s : seconds_) sum += s;
  return sum;
}

}  // namespace fergan::gan
