// GPU choice per rank as the launchers present GPUs: srun --gpus-per-task=1 or --gpu-bind shows each task a
// single GPU (so every rank must use device 0), --gpus-per-node shows all of them (device = local rank), and
// CUDA_VISIBLE_DEVICES names the physical GPU behind each index for the log.
#include <gtest/gtest.h>

#include <string>

#include "fergan/core/check.h"
#include "fergan/core/runtime.h"

using fergan::runtime::cuda_device_for_rank;
using fergan::runtime::visible_device_entry;

TEST(GpuChoice, OneVisibleGpuServesEveryLocalRank) {
  // srun --gpus-per-task=1 / --gpu-bind=single:1: task k sees only its own GPU, as device 0.
  for (int local_rank = 0; local_rank < 8; ++local_rank) EXPECT_EQ(cuda_device_for_rank(1, local_rank), 0);
}

TEST(GpuChoice, AllGpusVisibleMapsLocalRankToItsGpu) {
  // --gpus-per-node=4 --ntasks-per-node=4: every task sees the node's 4 GPUs.
  for (int local_rank = 0; local_rank < 4; ++local_rank)
    EXPECT_EQ(cuda_device_for_rank(4, local_rank), local_rank);
  // CUDA_VISIBLE_DEVICES=2,3 with 2 ranks on the node: devices 0 and 1 of the two visible ones.
  EXPECT_EQ(cuda_device_for_rank(2, 0), 0);
  EXPECT_EQ(cuda_device_for_rank(2, 1), 1);
}

TEST(GpuChoice, MoreRanksThanVisibleGpusWrapAround) {
  // e.g. --gpus-per-task=2 on a 4-task node, or a site that binds 2 GPUs per task: local_rank % count.
  EXPECT_EQ(cuda_device_for_rank(2, 2), 0);
  EXPECT_EQ(cuda_device_for_rank(2, 3), 1);
  EXPECT_EQ(cuda_device_for_rank(4, 5), 1);
  EXPECT_EQ(cuda_device_for_rank(3, 7), 1);
}

TEST(GpuChoice, NoVisibleGpuIsAnErrorNamingCudaVisibleDevices) {
  try {
    cuda_device_for_rank(0, 0);
    FAIL() << "no error for 0 visible devices";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("CUDA_VISIBLE_DEVICES"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cuda_device_for_rank(2, -1), fergan::Error);
}

TEST(GpuChoice, VisibleDeviceEntryNamesThePhysicalGpu) {
  EXPECT_EQ(visible_device_entry("3", 0), "3");  // srun --gpus-per-task=1 on the node's 4th GPU
  EXPECT_EQ(visible_device_entry("2,3", 0), "2");
  EXPECT_EQ(visible_device_entry("2,3", 1), "3");
  EXPECT_EQ(visible_device_entry("GPU-8f3a,GPU-77b1", 1), "GPU-77b1");
  EXPECT_EQ(visible_device_entry(" 4 , 5 ", 1), "5");
  EXPECT_EQ(visible_device_entry(nullptr, 0), "");  // unset: CUDA numbers all GPUs itself
  EXPECT_EQ(visible_device_entry("", 0), "");
  EXPECT_EQ(visible_device_entry("2,3", 2), "");
}
