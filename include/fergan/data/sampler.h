// Sample order for training: which samples each rank sees, in which order, every epoch.
//
// DistributedSampler: each epoch a global permutation from (seed, epoch) with our own RNG (same on every
// platform and LibTorch version), padded by wrapping to a multiple of world size as PyTorch's
// DistributedSampler does; rank r takes positions r, r+world, ... so every rank runs the same number of
// batches.
//
// Class-balanced (SamplerOptions::class_labels given): each epoch's global order is instead N draws with
// replacement, every draw first an emotion uniformly among those present and then a sample of it uniformly,
// so a rare emotion (FER2013's disgust is 1.5% of the faces) is seen as often as a common one.
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
};

class DistributedSampler {
 public:
  DistributedSampler(int64_t dataset_size, SamplerOptions options);
  // This rank's sample indices for `epoch`, in order.
  std::vector<int64_t> rank_indices(int64_t epoch) const;
  int64_t batches_per_epoch() const;
  // The sample indices of batch `b` of `epoch` on this rank.
  std::vector<int64_t> batch(int64_t epoch, int64_t b) const;
  const SamplerOptions& options() const;

 private:
  // The epoch's order over all ranks: a permutation (or, class-balanced, draws with replacement).
  std::vector<int64_t> global_order(int64_t epoch) const;

  int64_t size_;
  SamplerOptions options_;
  std::vector<std::vector<int64_t>> members_;  // class-balanced: the samples of each present class
};

}  // namespace fergan::data
