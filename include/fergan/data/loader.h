// Batch delivery for training: a background thread assembles the next batches of a DistributedSampler
// (sampler.h) so the training step never waits.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "fergan/data/dataset.h"
#include "fergan/data/image_tensor.h"  // to_model_input: a batch's images as the networks take them
#include "fergan/data/sampler.h"

namespace fergan::data {

class Loader {
 public:
  // Yields this rank's batches of `epoch` from global position `start_sample` of the epoch's order to its
  // end (sampler.batches_per_epoch(start_sample) of them), prefetching `prefetch` ahead.
  Loader(const ShardDataset& dataset, const DistributedSampler& sampler, int64_t epoch,
         int64_t start_sample = 0, int prefetch = 4);
  ~Loader();
  std::optional<Batch> next();  // empty at the end of the epoch; rethrows errors from the worker thread

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fergan::data
