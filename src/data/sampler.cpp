// DistributedSampler: the per-epoch sample order of every rank (see loader.h).
//
// The permutation is a Fisher-Yates shuffle driven by our splitmix64 RNG seeded from (seed, epoch), so the
// order is identical on every platform and LibTorch version, and any rank can compute any rank's share.
#include "fergan/data/sampler.h"
#include "fergan/core/check.h"
#include "fergan/data/rng.h"

#include <algorithm>
#include <numeric>

namespace fergan::data {

DistributedSampler::DistributedSampler(int64_t dataset_size, SamplerOptions options)
    : size_(dataset_size), options_(options) {
  FG_CHECK(dataset_size > 0, "sampler: the dataset is empty");
  FG_CHECK(options.world >= 1 && options.rank >= 0 && options.rank < options.world, "sampler: rank ",
           options.rank, " is not in [0, world=", options.world, ")");
  FG_CHECK(options.batch_size >= 1, "sampler: batch size must be >= 1, got ", options.batch_size);
  FG_CHECK(options.class_labels.empty() || static_cast<int64_t>(options.class_labels.size()) == dataset_size,
           "sampler: ", options.class_labels.size(), " class labels for ", dataset_size, " samples");
  for (size_t i = 0; i < options.class_labels.size(); ++i) {
    const auto label = static_cast<size_t>(options.class_labels[i]);
    if (label >= members_.size()) members_.resize(label + 1);
    members_[label].push_back(static_cast<int64_t>(i));
  }
  members_.erase(std::remove_if(members_.begin(), members_.end(), [](const auto& m) { return m.empty(); }),
                 members_.end());
}

std::vector<int64_t> DistributedSampler::global_order(int64_t epoch) const {
  std::vector<int64_t> order(size_);
  Rng rng(splitmix64(options_.seed) ^ splitmix64(0x5eed0000ull + static_cast<uint64_t>(epoch)));
  if (!members_.empty()) {
    for (auto& index : order) {
      const auto& of_class = members_[rng.below(members_.size())];
      index = of_class[rng.below(of_class.size())];
    }
    return order;
  }
  std::iota(order.begin(), order.end(), 0);
  if (options_.shuffle) {
    for (int64_t i = size_ - 1; i > 0; --i) {
      const int64_t j = static_cast<int64_t>(rng.below(static_cast<uint64_t>(i + 1)));
      std::swap(order[i], order[j]);
    }
  }
  return order;
}

std::vector<int64_t> DistributedSampler::rank_indices(int64_t epoch) const {
  const std::vector<int64_t> order = global_order(epoch);
  // Pad by wrapping around (as PyTorch's DistributedSampler) so every rank gets the same count.
  const int64_t world = options_.world;
  const int64_t per_rank = (size_ + world - 1) / world;
  const int64_t total = per_rank * world;
  std::vector<int64_t> mine;
  mine.reserve(per_rank);
  for (int64_t pos = options_.rank; pos < total; pos += world) mine.push_back(order[pos % size_]);
  return mine;
}

int64_t DistributedSampler::batches_per_epoch() const {
  const int64_t per_rank = (size_ + options_.world - 1) / options_.world;
  return options_.drop_last ? per_rank / options_.batch_size
                            : (per_rank + options_.batch_size - 1) / options_.batch_size;
}

std::vector<int64_t> DistributedSampler::batch(int64_t epoch, int64_t b) const {
  FG_CHECK(b >= 0 && b < batches_per_epoch(), "sampler: batch ", b, " is outside [0, ", batches_per_epoch(),
           ")");
  const auto mine = rank_indices(epoch);
  const int64_t begin = b * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(mine.size()));
  return std::vector<int64_t>(mine.begin() + begin, mine.begin() + end);
}

const SamplerOptions& DistributedSampler::options() const {
  return options_;
}

}  // namespace fergan::data
