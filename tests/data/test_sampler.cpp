// DistributedSampler invariants: every index once per epoch, wrap padding, equal batch counts on all ranks,
// determinism from (seed, epoch), the union over ranks equal to the single-process order, and a mid-epoch
// resume from the global offset at another world size using every sample once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
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

TEST(Sampler, BalanceStrengthDrawsClassesAsCountToTheOneMinusStrength) {
  // Classes of 900, 90 and 10 samples: strength 0.5 draws them as sqrt(900) : sqrt(90) : sqrt(10)
  // = 30 : 9.49 : 3.16, strength 0 as 900 : 90 : 10 (the data's own shares, with replacement).
  std::vector<int64_t> labels(1000, 0);
  for (int64_t i = 900; i < 990; ++i) labels[i] = 1;
  for (int64_t i = 990; i < 1000; ++i) labels[i] = 2;
  for (double strength : {0.5, 0.0}) {
    SCOPED_TRACE("strength " + std::to_string(strength));
    auto o = opts(5, 0, 1, 10);
    o.class_labels = labels;
    o.balance_strength = strength;
    DistributedSampler s(1000, o);
    std::vector<double> weight = {std::pow(900.0, 1 - strength), std::pow(90.0, 1 - strength),
                                  std::pow(10.0, 1 - strength)};
    const double total = weight[0] + weight[1] + weight[2];
    std::vector<int64_t> per_class(3, 0);
    const int64_t epochs = 20;
    for (int64_t epoch = 0; epoch < epochs; ++epoch)
      for (auto i : s.rank_indices(epoch)) ++per_class[labels[i]];
    for (int k = 0; k < 3; ++k) {
      const double expected = 1000.0 * epochs * weight[k] / total;
      EXPECT_NEAR(per_class[k], expected, 5 * std::sqrt(expected) + 1) << "class " << k;
    }
    // Still a draw with replacement over one process's order, split across ranks as before.
    auto o1 = o;
    o1.world = 2;
    o1.rank = 1;
    const auto one = s.rank_indices(3), r1 = DistributedSampler(1000, o1).rank_indices(3);
    for (size_t k = 0; k < r1.size(); ++k) EXPECT_EQ(r1[k], one[2 * k + 1]);
  }
  // Strength 1 is the equal draw, unchanged.
  auto equal = opts(5, 0, 1, 10), explicit_one = equal;
  equal.class_labels = explicit_one.class_labels = labels;
  explicit_one.balance_strength = 1;
  EXPECT_EQ(DistributedSampler(1000, equal).rank_indices(2),
            DistributedSampler(1000, explicit_one).rank_indices(2));
  auto bad = equal;
  bad.balance_strength = 1.5;
  EXPECT_THROW(DistributedSampler(1000, bad), fergan::Error);
}

// A mid-epoch stop after b batches on W0 ranks, resumed on W1 ranks from the global offset b*B*W0: the
// batches of both runs together use every sample of the epoch exactly once (the rest padded by wrapping, as a
// whole epoch is), and on the same world size the resumed batches are exactly the uninterrupted run's.
TEST(Sampler, ResumeFromGlobalOffsetAtAnyWorldSize) {
  const int64_t batch = 3;
  for (int64_t n : {24, 36, 37, 50}) {
    for (int w0 : {1, 2, 3}) {
      for (int w1 : {1, 2, 3, 4}) {
        for (bool balanced : {false, true}) {
          SCOPED_TRACE("n=" + std::to_string(n) + " w0=" + std::to_string(w0) + " w1=" + std::to_string(w1) +
                       (balanced ? " class-balanced" : ""));
          auto with = [&](int rank, int world) {
            auto o = opts(9, rank, world, batch);
            if (balanced)
              for (int64_t i = 0; i < n; ++i) o.class_labels.push_back(i % 5);
            return DistributedSampler(n, o);
          };
          const auto order = with(0, 1).rank_indices(4);  // the epoch's global order
          const int64_t stopped = with(0, w0).batches_per_epoch() / 2;
          const int64_t offset = with(0, w0).samples_in(stopped);
          std::vector<int64_t> used;  // global positions, as ranks consume them
          for (int r = 0; r < w0; ++r)
            for (int64_t b = 0; b < stopped; ++b)
              for (auto i : with(r, w0).batch(4, b)) used.push_back(i);
          EXPECT_EQ(static_cast<int64_t>(used.size()), offset);
          for (int r = 0; r < w1; ++r) {
            const auto rest = with(r, w1);
            for (int64_t b = 0; b < rest.batches_per_epoch(offset); ++b)
              for (auto i : rest.batch(4, b, offset)) used.push_back(i);
          }
          // The rest is [offset, n) of the global order plus padding from the epoch's start: with the
          // positions' indices counted, every position below n once, the first `pad` twice.
          const int64_t pad = (w1 - (n - offset) % w1) % w1;
          std::map<int64_t, int64_t> expected, got;
          for (int64_t p = 0; p < n; ++p) ++expected[order[p]];
          for (int64_t p = 0; p < pad; ++p) ++expected[order[p]];
          for (auto i : used) ++got[i];
          EXPECT_EQ(got, expected);
          if (w1 == w0) {  // the same world size: exactly the uninterrupted run's batches
            for (int r = 0; r < w1; ++r) {
              const auto s = with(r, w1);
              ASSERT_EQ(s.batches_per_epoch(offset), s.batches_per_epoch() - stopped);
              for (int64_t b = 0; b < s.batches_per_epoch(offset); ++b)
                EXPECT_EQ(s.batch(4, b, offset), s.batch(4, stopped + b));
            }
          }
        }
      }
    }
  }
  DistributedSampler s(10, opts(1, 0, 2, 2));
  EXPECT_THROW(s.rank_indices(0, 11), fergan::Error);
  EXPECT_THROW(s.rank_indices(0, -1), fergan::Error);
  EXPECT_EQ(s.batches_per_epoch(10), 0);
}
