// Fault injection from the environment (see faults.h).
#include "fergan/train/faults.h"

#include <chrono>
#include <cstdlib>
#include <fstream>
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
  if (const char* log = std::getenv("FERGAN_SAMPLE_LOG")) f.sample_log = log;
  return f;
}

void FaultInjection::before_step(int64_t step, int my_rank) const {
  if (sleep_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
  if (rank >= 0 && rank != my_rank) return;
  if (step == stop_at) dist::request_stop_locally();
  if (step == throw_at) fail(str("injected fault at step ", step, " (FERGAN_FAULT_THROW_AT_STEP)"));
}

void FaultInjection::record_batch(int64_t epoch, int64_t step, int my_rank,
                                  const torch::Tensor& indices) const {
  if (sample_log.empty()) return;
  const std::string path = sample_log + ".rank" + std::to_string(my_rank);
  std::ofstream out(path, std::ios::app);
  const auto cpu = indices.to(torch::kCPU).to(torch::kLong).contiguous();
  out << epoch << ' ' << step << ' ' << my_rank;
  for (int64_t i = 0; i < cpu.numel(); ++i) out << ' ' << cpu.data_ptr<int64_t>()[i];
  out << '\n';
  FG_CHECK(out.good(), "FERGAN_SAMPLE_LOG: cannot append to '", path, "'");
}

}  // namespace fergan::train
