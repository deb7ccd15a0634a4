// DistributedSampler: the per-epoch sample order of every rank (see loader.h).
//
// The permutation is a Fisher-Yates shuffle driven by our splitmix64 RNG seeded from (seed, epoch), so the
// order is identical on every platform and LibTorch version, and any rank can compute any rank's share.
#include "fergan/data/sampler.h"
#include "fergan/core/check.h"
#include "fergan/data/rng.h"

#include <algorithm>
#include <cmath>
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
  FG_CHECK(options.balance_strength >= 0 && options.balance_strength <= 1, "sampler: balance strength ",
           options.balance_strength, " is outside [0, 1]");
  if (!members_.empty() && options.balance_strength < 1) {
    double total = 0;
    for (const auto& m : members_) {
      total += std::pow(static_cast<double>(m.size()), 1 - options.balance_strength);
      class_cdf_.push_back(total);
    }
    for (auto& c : class_cdf_) c /= total;
  }
}

std::vector<int64_t> DistributedSampler::global_order(int64_t epoch) const {
  std::vector<int64_t> order(size_);
  Rng rng(splitmix64(options_.seed) ^ splitmix64(0x5eed0000ull + static_cast<uint64_t>(epoch)));
  if (!members_.empty()) {
    for (auto& index : order) {
      // Equal class draws keep their exact integer draw, so strength 1 orders stay what they were.
      size_t k = 0;
      if (class_cdf_.empty()) {
        k = rng.below(members_.size());
      } else {
        const double u = rng.uniform();
        k = std::min<size_t>(std::upper_bound(class_cdf_.begin(), class_cdf_.end(), u) - class_cdf_.begin(),
                             members_.size() - 1);
      }
      const auto& of_class = members_[k];
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

int64_t DistributedSampler::per_rank(int64_t start) const {
  FG_CHECK(start >= 0 && start <= size_, "sampler: start position ", start, " is outside the epoch [0, ",
           size_, "]");
  const int64_t world = options_.world;
  return (size_ - start + world - 1) / world;
}

std::vector<int64_t> DistributedSampler::rank_indices(int64_t epoch, int64_t start) const {
  const int64_t count = per_rank(start);
  const std::vector<int64_t> order = global_order(epoch);
  // Pad by wrapping around to the epoch's start (as PyTorch's DistributedSampler) so every rank gets the
  // same count; from a start that is a multiple of world this pads exactly as the whole epoch does.
  const int64_t world = options_.world;
  std::vector<int64_t> mine;
  mine.reserve(count);
  for (int64_t k = 0; k < count; ++k) mine.push_back(order[(start + options_.rank + k * world) % size_]);
  return mine;
}

int64_t DistributedSampler::batches_per_epoch(int64_t start) const {
  const int64_t count = per_rank(start);
  return options_.drop_last ? count / options_.batch_size
                            : (count + options_.batch_size - 1) / options_.batch_size;
}

std::vector<int64_t> DistributedSampler::batch(int64_t epoch, int64_t b, int64_t start) const {
  const int64_t batches = batches_per_epoch(start);
  FG_CHECK(b >= 0 && b < batches, "sampler: batch ", b, " is outside [0, ", batches, ")");
  const auto mine = rank_indices(epoch, start);
  const int64_t begin = b * options_.batch_size;
  const int64_t end = std::min<int64_t>(begin + options_.batch_size, static_cast<int64_t>(mine.size()));
  return std::vector<int64_t>(mine.begin() + begin, mine.begin() + end);
}

int64_t DistributedSampler::samples_in(int64_t batches) const {
  return batches * options_.batch_size * options_.world;
}

int64_t DistributedSampler::dataset_size() const {
  return size_;
}

const SamplerOptions& DistributedSampler::options() const {
  return options_;
}

}  // namespace fergan::data
