// DistributedSampler invariants: every index once per epoch, wrap padding, equal batch counts on all ranks,
// determinism from (seed, epoch), and the union over ranks equal to the single-process order.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "fergan/core/check.h"
#include "fergan/data/sampler.h"

using namespace fergan::data;

namespace {
SamplerOptions opts(uint64_t seed, int rank, int world, int64_t batch, bool shuffle = true,
                    bool drop_last = false) {
  SamplerOptions o;
  o.seed = seed;
  o.rank = rank;
  o.world = world;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.drop_last = drop_last;
  return o;
}
}  // namespace

TEST(Sampler, EveryIndexOncePerEpochAndShuffled) {
  DistributedSampler s(1000, opts(7, 0, 1, 32));
  auto e0 = s.rank_indices(0), e1 = s.rank_indices(1);
  ASSERT_EQ(e0.size(), 1000u);
  auto sorted = e0;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 1000; ++i) ASSERT_EQ(sorted[i], i);
  EXPECT_NE(e0, e1);  // a new order each epoch
  int64_t fixed_points = 0;
  for (int64_t i = 0; i < 1000; ++i) fixed_points += e0[i] == i;
  EXPECT_LT(fixed_points, 20);  // a real shuffle (expected ~1)
}

TEST(Sampler, DeterministicFromSeedAndEpoch) {
  DistributedSampler a(500, opts(3, 0, 1, 8)), b(500, opts(3, 0, 1, 8)), c(500, opts(4, 0, 1, 8));
  EXPECT_EQ(a.rank_indices(5), b.rank_indices(5));
  EXPECT_NE(a.rank_indices(5), c.rank_indices(5));
  DistributedSampler plain(10, opts(3, 0, 1, 4, /*shuffle=*/false));
  EXPECT_EQ(plain.rank_indices(9), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(Sampler, UnionOverRanksEqualsSingleProcessOrderWithWrapPadding) {
  for (int64_t n : {1, 7, 10, 64, 101}) {
    for (int world : {1, 2, 3, 4}) {
      const auto single = DistributedSampler(n, opts(11, 0, 1, 5)).rank_indices(2);
      const int64_t per_rank = (n + world - 1) / world;
      std::vector<std::vector<int64_t>> ranks;
      for (int r = 0; r < world; ++r)
        ranks.push_back(DistributedSampler(n, opts(11, r, world, 5)).rank_indices(2));
      for (int r = 0; r < world; ++r) ASSERT_EQ(static_cast<int64_t>(ranks[r].size()), per_rank);
      // Interleave the ranks back: position p lives on rank p % world at slot p / world.
      for (int64_t p = 0; p < per_rank * world; ++p) {
        EXPECT_EQ(ranks[p % world][p / world], single[p % n])
            << "n=" << n << " world=" << world << " p=" << p;
      }
      std::set<int64_t> seen;
      for (auto& r : ranks) seen.insert(r.begin(), r.end());
      EXPECT_EQ(static_cast<int64_t>(seen.size()), n);  // nothing lost
    }
  }
}

TEST(Sampler, EqualBatchCountsAcrossRanksAndBatchContents) {
  for (bool drop_last : {false, true}) {
    const int world = 3;
    const int64_t n = 100, batch = 8;  // 34 per rank -> 5 batches (4 with drop_last)
    std::vector<int64_t> counts;
    for (int r = 0; r < world; ++r) {
      DistributedSampler s(n, opts(1, r, world, batch, true, drop_last));
      counts.push_back(s.batches_per_epoch());
      const auto mine = s.rank_indices(0);
      std::vector<int64_t> concat;
      for (int64_t b = 0; b < s.batches_per_epoch(); ++b) {
        auto part = s.batch(0, b);
        EXPECT_LE(static_cast<int64_t>(part.size()), batch);
        if (drop_last) EXPECT_EQ(static_cast<int64_t>(part.size()), batch);
        concat.insert(concat.end(), part.begin(), part.end());
      }
      EXPECT_EQ(std::vector<int64_t>(mine.begin(), mine.begin() + concat.size()), concat);
    }
    EXPECT_EQ(counts, std::vector<int64_t>(world, drop_last ? 4 : 5));
  }
}

TEST(Sampler, RejectsBadOptions) {
  EXPECT_THROW(DistributedSampler(0, opts(1, 0, 1, 1)), fergan::Error);
  EXPECT_THROW(DistributedSampler(10, opts(1, 2, 2, 1)), fergan::Error);
  EXPECT_THROW(DistributedSampler(10, opts(1, 0, 1, 0)), fergan::Error);
  DistributedSampler s(10, opts(1, 0, 1, 4));
  EXPECT_THROW(s.batch(0, 3), fergan::Error);
}

TEST(Sampler, ClassBalancedDrawsEveryClassAlike) {
  // 1000 samples: class 0 holds 900, class 1 holds 90, class 2 holds 10.
  std::vector<int64_t> labels(1000, 0);
  for (int64_t i = 900; i < 990; ++i) labels[i] = 1;
  for (int64_t i = 990; i < 1000; ++i) labels[i] = 2;
  auto o = opts(5, 0, 1, 10);
  o.class_labels = labels;
  DistributedSampler s(1000, o);
  std::vector<int64_t> per_class(3, 0);
  for (int64_t epoch = 0; epoch < 3; ++epoch)
    for (auto i : s.rank_indices(epoch)) ++per_class[labels[i]];
  for (auto count : per_class) EXPECT_NEAR(count, 1000.0, 120.0);             // 3000 draws, a third each
  EXPECT_EQ(s.rank_indices(1), DistributedSampler(1000, o).rank_indices(1));  // deterministic
  EXPECT_NE(s.rank_indices(1), s.rank_indices(2));
  // Over two ranks: the union of their draws is the one-process draw.
  auto o0 = o, o1 = o;
  o0.world = o1.world = 2;
  o1.rank = 1;
  const auto one = s.rank_indices(0), r0 = DistributedSampler(1000, o0).rank_indices(0),
             r1 = DistributedSampler(1000, o1).rank_indices(0);
  for (size_t k = 0; k < r0.size(); ++k) {
    EXPECT_EQ(r0[k], one[2 * k]);
    EXPECT_EQ(r1[k], one[2 * k + 1]);
  }
  o.class_labels.pop_back();
  EXPECT_THROW(DistributedSampler(1000, o), fergan::Error);
}
