// Sample order for training: which samples each rank sees, in which order, every epoch.
//
// DistributedSampler: each epoch a global permutation from (seed, epoch) with our own RNG (same on every
// platform and LibTorch version), padded by wrapping to a multiple of world size as PyTorch's
// DistributedSampler does; rank r takes positions r, r+world, ... so every rank runs the same number of
// batches.
//
// Mid-epoch resume: after b batches of B on each of W ranks, the ranks together have consumed exactly the
// global positions [0, b*B*W) of the epoch's order (the "global sample offset"). A run resumed at any world
// size starts every rank at that offset and splits the rest the same way (rank r takes start + r,
// start + r + world, ...), so every sample of the epoch is used once whatever the world size was before.
// From offset 0, or from b*B*W at the same world size, the split is exactly the uninterrupted run's.
//
// Class-balanced (SamplerOptions::class_labels given): each epoch's global order is instead N draws with
// replacement, every draw first an emotion uniformly among those present and then a sample of it uniformly,
// so a rare emotion (FER2013's disgust is 1.5% of the faces) is seen as often as a common one. With a
// balance strength s below 1 the emotion is drawn in proportion to count^(1 - s) instead: s = 0.5 shows
// FER2013's disgust in 5% of the draws, between its 1.5% share and the 14% of equal draws.
#pragma once

#include <cstdint>
#include <vector>

namespace fergan::data {

struct SamplerOptions {
  uint64_t seed = 0;
  int rank = 0;
  int world = 1;
  int64_t batch_size = 1;  // per rank
  bool shuffle = true;
  bool drop_last = false;             // drop the last short batch (per rank)
  std::vector<int64_t> class_labels;  // non-empty: class-balanced draws over these per-sample labels
  double balance_strength = 1;  // class-balanced: a class of n samples is drawn in proportion to n^(1-s)
};

class DistributedSampler {
 public:
  DistributedSampler(int64_t dataset_size, SamplerOptions options);
  // This rank's sample indices for `epoch`, in order, from global position `start` of the epoch's order
  // (0 = the whole epoch; start in [0, dataset size], else an error).
  std::vector<int64_t> rank_indices(int64_t epoch, int64_t start = 0) const;
  // This rank's batches from global position `start` to the end of the epoch (the same on every rank).
  int64_t batches_per_epoch(int64_t start = 0) const;
  // The sample indices of batch `b` (counted from `start`) of `epoch` on this rank.
  std::vector<int64_t> batch(int64_t epoch, int64_t b, int64_t start = 0) const;
  // Samples that `batches` full batches on every rank consume from the global order: batches * B * world.
  int64_t samples_in(int64_t batches) const;
  int64_t dataset_size() const;
  const SamplerOptions& options() const;

 private:
  // The epoch's order over all ranks: a permutation (or, class-balanced, draws with replacement).
  std::vector<int64_t> global_order(int64_t epoch) const;
  // Samples per rank from global position `start` on (the rest, padded to a multiple of world).
  int64_t per_rank(int64_t start) const;

  int64_t size_;
  SamplerOptions options_;
  std::vector<std::vector<int64_t>> members_;  // class-balanced: the samples of each present class
  std::vector<double> class_cdf_;              // balance strength below 1: cumulative class probabilities
};

}  // namespace fergan::data
