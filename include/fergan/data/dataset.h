// Reading data_prep's HDF5 shards: manifest, caption table, random access to samples as tensors.
//
// A dataset directory holds manifest.json (written last; its absence means "incomplete") and, per split,
// HDF5 shards with native-size uint8 images, uint8 labels and each sample's caption index, plus the
// caption strings, caption->label map and float32 caption embeddings [C, D] (identical in every shard).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fergan/data/manifest.h"

namespace fergan::data {

struct Batch {
  torch::Tensor images;    // uint8 [B, H, W, C], native size
  torch::Tensor labels;    // int64 [B]
  torch::Tensor captions;  // int64 [B], index into the caption table
  torch::Tensor indices;   // int64 [B], sample index within the split
};

class ShardDataset {
 public:
  // Opens one split. verify_sha256 hashes every shard against the manifest first.
  // max_samples > 0 keeps max_samples samples evenly spaced over the split (sample k is stored sample
  // floor(k * N / max_samples)): every emotion stays represented, since data_prep sorts folder input by
  // emotion.
  ShardDataset(const std::string& dir, const std::string& split, bool verify_sha256 = false,
               int64_t max_samples = 0);
  ~ShardDataset();
  ShardDataset(ShardDataset&&) noexcept;

  int64_t size() const;
  int height() const;
  int width() const;
  int channels() const;
  const Manifest& manifest() const;
  const std::vector<std::string>& captions() const;
  const std::vector<int64_t>& caption_labels() const;
  torch::Tensor caption_embeddings() const;  // float32 [C, D]
  torch::Tensor image_embeddings() const;    // float32 [N, E] or undefined when the shards have none
  bool random_embeddings() const;
  // The emotion label of every sample, in index order.
  std::vector<int64_t> labels() const;

  // Thread-safe random access; indices in [0, size()).
  Batch get_batch(const std::vector<int64_t>& indices) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fergan::data
