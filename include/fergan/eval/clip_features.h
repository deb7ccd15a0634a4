// CLIP as a judge: text and image features for CLIP score and Fréchet distance on CLIP image features.
//
// Images from the generators are [-1, 1]; CLIP wants its own preprocessing (resize to the model's
// resolution, [0, 1], then per-channel mean/std normalisation). The original project skipped that
// normalisation and scored real faces below its collapsed outputs; encode_image() always applies it.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

namespace fergan::eval {

struct ClipFeatures {
  std::string model_id;
  // Captions -> float32 [C, E] (text tower output, not normalised).
  std::function<torch::Tensor(const std::vector<std::string>&)> encode_text;
  // Images float [N, 3, S, S] in [-1, 1] -> float32 [N, E] (CLIP-preprocessed inside, batched, no grad).
  std::function<torch::Tensor(const torch::Tensor&)> encode_image;
};

// Loads CLIP weights (.safetensors / .pt) and the BPE vocabulary. Errors name the file.
ClipFeatures load_clip_features(const std::string& weights, const std::string& vocab, torch::Device device,
                                int64_t batch_size);

}  // namespace fergan::eval
