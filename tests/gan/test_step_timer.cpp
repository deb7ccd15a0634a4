// The step-time breakdown: laps partition the time between boundaries, the synchronize hook runs at every
// boundary, and train_step marks all eight of its boundaries (forward, backward, communication wait,
// optimizer; in the D and in the G update).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "fergan/gan/gan.h"
#include "fergan/gan/step.h"
#include "fergan/gan/step_timer.h"

using namespace fergan;
using namespace fergan::gan;

TEST(StepTimer, LapsPartitionTheElapsedTime) {
  int syncs = 0;
  StepTimer timer([&] { ++syncs; });
  const auto start = std::chrono::steady_clock::now();
  timer.restart();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  timer.lap(StepSection::Forward);
  std::this_thread::sleep_for(std::chrono::milliseconds(10));
  timer.lap(StepSection::Backward);
  timer.lap(StepSection::Backward);  // an empty interval adds ~0
  const double outer = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(syncs, 5);  // the constructor, restart and three laps
  EXPECT_GE(timer.seconds(StepSection::Forward), 0.020);
  EXPECT_GE(timer.seconds(StepSection::Backward), 0.010);
  EXPECT_EQ(timer.seconds(StepSection::Optimizer), 0.0);
  EXPECT_LE(timer.total_seconds(), outer);
  EXPECT_DOUBLE_EQ(timer.total_seconds(),
                   timer.seconds(StepSection::Forward) + timer.seconds(StepSection::Backward));
  EXPECT_STREQ(section_name(StepSection::CommWait), "comm_wait");
}

TEST(StepTimer, TrainStepMarksEveryBoundary) {
  const char* src = std::getenv("FERGAN_SOURCE_DIR");
  const Config config = load_config(std::string(src ? src : ".") + "/config/original.yaml");
  torch::manual_seed(0);
  Img2TextGan gan(models::Img2TextOptions::from(config), GanOptions::from(config, "img2text"),
                  AdamSettings::from(config), torch::kCPU);
  StepInputs in;
  in.condition = torch::rand({2, 3, 64, 64}) * 2 - 1;
  in.real = torch::randn({2, 512});
  NoGradSync sync;
  int syncs = 0;
  StepTimer timer([&] { ++syncs; });
  syncs = 0;
  train_step(gan, in, sync, &timer);
  EXPECT_EQ(syncs, 8);
  EXPECT_GT(timer.seconds(StepSection::Forward), 0);
  EXPECT_GT(timer.seconds(StepSection::Backward), 0);
  EXPECT_GT(timer.seconds(StepSection::Optimizer), 0);
  EXPECT_EQ(timer.seconds(StepSection::DataWait), 0);
  // Without a timer the step is the same step: it still runs (and takes no timer calls).
  train_step(gan, in, sync);
  EXPECT_EQ(syncs, 8);
}
