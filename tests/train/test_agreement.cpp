// The pure parts of the cross-rank agreement: the configuration lines ranks compare (one per key, without the
// paths that may be node-local, so that a per-rank difference names its key) and the digests that carry them.
// The collectives themselves run under mpirun in tests/scripts/test_train_mpi.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "fergan/train/agreement.h"

using namespace fergan;
using namespace fergan::train;

namespace {
std::vector<std::string> differing_lines(const Config& a, const Config& b) {
  const auto la = comparable_config_lines(a), lb = comparable_config_lines(b);
  EXPECT_EQ(la.size(), lb.size());
  std::vector<std::string> out;
  for (size_t i = 0; i < std::min(la.size(), lb.size()); ++i)
    if (la[i] != lb[i]) out.push_back(lb[i]);
  return out;
}
}  // namespace

TEST(Agreement, ConfigLinesNameEachKeyAndLeaveOutNodeLocalPaths) {
  const Config base;
  const auto lines = comparable_config_lines(base);
  EXPECT_EQ(lines.size(), config_keys().size() - 3);  // all keys but run_dir, checkpoint_dir, data.shards
  for (const auto& line : lines) {
    const std::string key = line.substr(0, line.find(':'));
    EXPECT_NE(std::find(config_keys().begin(), config_keys().end(), key), config_keys().end()) << line;
    EXPECT_TRUE(key != "run_dir" && key != "checkpoint_dir" && key != "data.shards") << line;
  }
  Config lr = base;
  lr.train.lr = base.train.lr * 0.5;
  const auto changed = differing_lines(base, lr);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed[0].rfind("train.lr: ", 0), 0u) << changed[0];
  Config seed = base;
  seed.seed = base.seed + 1;
  ASSERT_EQ(differing_lines(base, seed).size(), 1u);
  EXPECT_EQ(differing_lines(base, seed)[0].rfind("seed: ", 0), 0u);
  Config paths = base;
  paths.run_dir = "/node-local/run";
  paths.checkpoint_dir = "/node-local/ckpt";
  paths.data.shards = "/node-local/shards";
  EXPECT_TRUE(differing_lines(base, paths).empty());
}

TEST(Agreement, DigestsAreExactDoublesOfTheText) {
  const double a = text_digest("train.lr: 0.0002"), b = text_digest("train.lr: 0.0002"),
               c = text_digest("train.lr: 0.0001");
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (double d : {a, c}) {
    EXPECT_EQ(d, std::floor(d));  // an integer below 2^48: exact in a double, and in a sum with zeros
    EXPECT_LT(d, std::ldexp(1.0, 48));
    EXPECT_GE(d, 0.0);
  }
  EXPECT_EQ(rank_list({1, 3}), "1, 3");
}
