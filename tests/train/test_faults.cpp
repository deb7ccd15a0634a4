// Fault injection from the environment: exact step, rank filter, and bad values named.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fergan/core/check.h"
#include "fergan/dist/stop.h"
#include "fergan/train/faults.h"

using namespace fergan;
using namespace fergan::train;

namespace {
struct Env {
  using Vars = std::vector<std::pair<const char*, const char*>>;
  explicit Env(Vars vars) : vars_(std::move(vars)) {
    for (auto& [k, v] : vars_) setenv(k, v, 1);
  }
  ~Env() {
    for (auto& [k, v] : vars_) unsetenv(k);
  }
  Vars vars_;
};
}  // namespace

TEST(Faults, NothingWhenUnset) {
  const auto f = FaultInjection::from_env();
  EXPECT_EQ(f.stop_at, -1);
  EXPECT_EQ(f.throw_at, -1);
  dist::clear_stop_request();
  for (int64_t step = 0; step < 5; ++step) EXPECT_NO_THROW(f.before_step(step, 0));
  EXPECT_FALSE(dist::stop_requested_locally());
}

TEST(Faults, ThrowsAtTheStepOnTheRank) {
  Env env(Env::Vars{{"FERGAN_FAULT_THROW_AT_STEP", "3"}, {"FERGAN_FAULT_RANK", "1"}});
  const auto f = FaultInjection::from_env();
  EXPECT_NO_THROW(f.before_step(2, 1));
  EXPECT_NO_THROW(f.before_step(3, 0));  // another rank
  try {
    f.before_step(3, 1);
    FAIL() << "no fault at step 3 on rank 1";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("step 3"), std::string::npos) << e.what();
  }
}

TEST(Faults, StopActsLikeASignal) {
  Env env(Env::Vars{{"FERGAN_FAULT_STOP_AT_STEP", "2"}});
  const auto f = FaultInjection::from_env();
  dist::clear_stop_request();
  f.before_step(1, 0);
  EXPECT_FALSE(dist::stop_requested_locally());
  f.before_step(2, 0);
  EXPECT_TRUE(dist::stop_requested_locally());
  dist::clear_stop_request();
}

TEST(Faults, BadValueNamesTheVariable) {
  Env env(Env::Vars{{"FERGAN_FAULT_SLEEP_MS", "10ms"}});
  try {
    FaultInjection::from_env();
    FAIL() << "no error for 10ms";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("FERGAN_FAULT_SLEEP_MS"), std::string::npos) << e.what();
  }
}
