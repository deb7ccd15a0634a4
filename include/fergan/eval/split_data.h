// One split of data_prep's shards held in memory for evaluation: images, labels, caption choices and the
// caption table (strings, labels, embeddings). Evaluation reads a split once and scores it many ways, so
// it is loaded whole (FER2013's test split is 3,589 images of 48x48: ~8 MB) or as a seeded random subset.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::eval {

struct SplitData {
  std::string shards, split;
  torch::Tensor images_u8;                   // uint8 [N, H, W, C], native size
  torch::Tensor labels;                      // int64 [N]
  torch::Tensor captions;                    // int64 [N] caption index of each sample
  torch::Tensor image_embeddings;            // float32 [N, E] or undefined
  std::vector<std::string> caption_strings;  // [C]
  torch::Tensor caption_labels;              // int64 [C]
  torch::Tensor caption_embeddings;          // float32 [C, D]
  std::vector<std::string> emotion_names;    // [K]
  bool random_embeddings = false;            // the shards' caption embeddings are seeded random, not CLIP

  int64_t size() const { return labels.numel(); }
  int64_t num_classes() const { return static_cast<int64_t>(emotion_names.size()); }
  // float32 [N, 3, size, size] in [-1, 1] (data::to_model_input).
  torch::Tensor model_input(int64_t size) const;
  // Index of the first caption of each label (-1 when a label has none).
  std::vector<int64_t> first_caption_of_label() const;
};

// max_samples > 0: only max_samples of the split, evenly spaced (see data::ShardDataset). subsample > 0: then
// a seeded random subset of that many (sorted, so shard reads stay sequential).
SplitData load_split(const std::string& shards, const std::string& split, int64_t max_samples = 0,
                     int64_t subsample = 0, uint64_t seed = 0);

}  // namespace fergan::eval
