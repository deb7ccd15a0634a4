// Caption embeddings for the caption table: imported from a file, seeded random, or computed by an encoder.
//
// Import formats (float32 [C, D] plus the captions the rows belong to, which must equal the caption table):
//   .npy          the table; captions beside it in <stem>.captions.json (JSON list) or <stem>.captions.txt
//   .safetensors  tensor "embeddings"; metadata "captions" = JSON list of strings
//   .h5/.hdf5     datasets "embeddings" and "captions" (fixed- or variable-length strings)
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace fergan::data {

// Encodes a list of captions into float32 [C, D] (e.g. the C++ CLIP text tower).
using CaptionEncoder = std::function<torch::Tensor(const std::vector<std::string>&)>;

// Loads the table from `path` and checks it against `captions` (error naming the first mismatch) and
// `expected_dim` (0 = any).
torch::Tensor import_caption_embeddings(const std::string& path, const std::vector<std::string>& captions,
                                        int64_t expected_dim);

// Seeded standard-normal vectors [C, dim] from our own RNG (identical on every platform).
torch::Tensor random_caption_embeddings(int64_t count, int64_t dim, uint64_t seed);

// Runs `encoder` on the caption table and checks the result's shape [C, expected_dim] and finiteness.
torch::Tensor encode_caption_embeddings(const CaptionEncoder& encoder,
                                        const std::vector<std::string>& captions, int64_t expected_dim);

// Writers for the three formats (tests and users who prepare their own tables).
void save_embeddings_npy(const std::string& path, const torch::Tensor& table);  // float32 [C, D], no captions
void save_embeddings_h5(const std::string& path, const torch::Tensor& table,
                        const std::vector<std::string>& captions);

}  // namespace fergan::data
