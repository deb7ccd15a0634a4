// Writing one split's HDF5 shards, streaming: samples are appended one block at a time, a shard is closed
// and renamed from <name>.tmp to <name> when it holds samples_per_shard samples (or at finish()), so memory
// stays bounded however large the dataset.
//
// Shard layout (one HDF5 file):
//   images             uint8   [N, H, W, C]  chunked 256 samples, uncompressed (reader speed)
//   labels             uint8   [N]
//   caption_ids        int64   [N]           index into the caption table
//   captions           fixed-length strings [C_total] (the caption table, identical in every shard)
//   caption_labels     int64   [C_total]
//   caption_embeddings float32 [C_total, D]
//   image_embeddings   float32 [N, E]        optional
//   attributes: source, emotion_names (JSON), clip_model, embed_dim, tool_version, random_embeddings, split
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fergan/data/dataset.h"

namespace fergan::data {

extern const char* const kToolVersion;

// What every shard of a dataset shares.
struct ShardCommon {
  std::string source;
  std::vector<std::string> emotion_names;
  std::string clip_model;
  bool random_embeddings = false;
  std::vector<std::string> captions;
  std::vector<int64_t> caption_labels;
  torch::Tensor caption_embeddings;  // float32 [C, D]
  int64_t image_embed_dim = 0;       // 0 = no image embeddings
  int height = 0, width = 0, channels = 1;
};

class SplitShardWriter {
 public:
  // Shards are named <split>-00000.h5, <split>-00001.h5, ... inside `dir`.
  SplitShardWriter(const std::string& dir, const std::string& split, int64_t samples_per_shard,
                   const ShardCommon& common);
  ~SplitShardWriter();  // an unfinished shard's .tmp file is removed

  // Appends one sample: pixels [H*W*C], label, caption id, image embedding (image_embed_dim floats or null).
  void append(const uint8_t* pixels, int label, int64_t caption_id, const float* image_embedding = nullptr);
  // Closes the last shard; returns all shards (file name relative to dir, sample count, sha256).
  std::vector<ShardEntry> finish();
  int64_t samples() const;
  uint64_t bytes_written() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fergan::data
