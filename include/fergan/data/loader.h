// Sample order and batch delivery for training.
//
// DistributedSampler: each epoch a global permutation from (seed, epoch) with our own RNG (same on every
// platform and LibTorch version), padded by wrapping to a multiple of world size as PyTorch's
// DistributedSampler does; rank r takes positions r, r+world, ... so every rank runs the same number of
// batches. Loader: a background thread assembles the next batches so the training step never waits.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "fergan/data/dataset.h"

namespace fergan::data {

struct SamplerOptions {
  uint64_t seed = 0;
  int rank = 0;
  int world = 1;
  int64_t batch_size = 1;  // per rank
  bool shuffle = true;
  bool drop_last = false;  // drop the last short batch (per rank)
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
  int64_t size_;
  SamplerOptions options_;
};

class Loader {
 public:
  // Yields batches start_batch .. batches_per_epoch()-1 of `epoch`, prefetching `prefetch` ahead.
  Loader(const ShardDataset& dataset, const DistributedSampler& sampler, int64_t epoch,
         int64_t start_batch = 0, int prefetch = 4);
  ~Loader();
  std::optional<Batch> next();  // empty at the end of the epoch; rethrows errors from the worker thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// uint8 [B, H, W, C] -> float32 [B, 3, size, size] in [-1, 1]: grayscale repeated to 3 channels,
// bilinear resize (align_corners = false), x / 127.5 - 1.
torch::Tensor to_model_input(const torch::Tensor& images_u8, int64_t size);

}  // namespace fergan::data
