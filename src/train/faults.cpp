// Fault injection from the environment (see faults.h).
#include "fergan/train/faults.h"

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "fergan/core/check.h"
#include "fergan/dist/stop.h"

namespace fergan::train {

namespace {
int64_t env_int(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (!value || !*value) return fallback;
  size_t used = 0;
  int64_t v = 0;
  try {
    v = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  FG_CHECK(used > 0 && value[used] == '\0', "environment variable ", name, "='", value,
           "': expected an integer");
  return v;
}
}  // namespace

FaultInjection FaultInjection::from_env() {
  FaultInjection f;
  f.stop_at = env_int("FERGAN_FAULT_STOP_AT_STEP", -1);
  f.throw_at = env_int("FERGAN_FAULT_THROW_AT_STEP", -1);
  f.sleep_ms = env_int("FERGAN_FAULT_SLEEP_MS", 0);
  f.rank = static_cast<int>(env_int("FERGAN_FAULT_RANK", -1));
  return f;
}

void FaultInjection::before_step(int64_t step, int my_rank) const {
  if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  if (rank >= 0 && rank != my_rank) return;
  if (step == stop_at) dist::request_stop_locally();
  if (step == throw_at) fail(str("injected fault at step ", step, " (FERGAN_FAULT_THROW_AT_STEP)"));
}

}  // namespace fergan::train
