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

namespace fergan::data {

struct ShardEntry {
  std::string file;  // relative to the dataset directory
  int64_t samples = 0;
  std::string sha256;
};

struct Manifest {
  std::string dir;
  std::string source;                      // e.g. "folders:/path" or "csv:/path/fer2013.csv" or "synth"
  std::vector<std::string> emotion_names;  // label order
  std::string clip_model;                  // CLIP model id, or "random" for seeded random embeddings
  int embed_dim = 0;
  bool random_embeddings = false;
  bool has_image_embeddings = false;
  int height = 0, width = 0, channels = 0;
  std::string tool_version;
  std::vector<std::string> captions;  // the caption table [C]
  std::vector<int64_t> caption_labels;
  std::map<std::string, std::vector<ShardEntry>> splits;  // split name -> shards
};

// Reads and checks <dir>/manifest.json; a missing manifest is an error saying the directory is incomplete.
Manifest read_manifest(const std::string& dir);

// Writes <dir>/manifest.json atomically (data_prep's last step). class_counts: split -> samples per label.
void write_manifest(const std::string& dir, const Manifest& manifest,
                    const std::map<std::string, std::vector<int64_t>>& class_counts = {},
                    int64_t bad_skipped = 0);

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

  // Thread-safe random access; indices in [0, size()).
  Batch get_batch(const std::vector<int64_t>& indices) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fergan::data
