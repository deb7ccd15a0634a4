// CLIP's image preprocessing (OpenAI clip.load's transform), in C++:
//   Resize(R, BICUBIC) of the shorter side (the longer one becomes int(R * long / short)), CenterCrop(R),
//   convert("RGB"), ToTensor, Normalize(CLIP mean, CLIP std).
// The resize reproduces Pillow's bicubic resampling (a = -0.5, support scaled when shrinking, 8-bit
// fixed-point coefficients, horizontal pass then vertical, each rounded and clipped to uint8) because that is
// what the reference pipeline runs on; torch's bicubic (a = -0.75) would give slightly different pixels.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fergan::clip {

constexpr double kClipMean[3] = {0.48145466, 0.4578275, 0.40821073};
constexpr double kClipStd[3] = {0.26862954, 0.26130258, 0.27577711};

// uint8 images [B, H, W, C] (C = 1 grayscale or 3 RGB) or [B, H, W] -> float32 [B, 3, R, R], normalised.
// Grayscale is repeated to 3 channels (as PIL's convert("RGB")).
torch::Tensor preprocess_images(const torch::Tensor& images_uint8, int64_t resolution);

// Pillow's bicubic resize of one uint8 image [H, W, C] to [out_h, out_w, C] (exposed for tests).
torch::Tensor pil_bicubic_resize(const torch::Tensor& image_hwc, int64_t out_h, int64_t out_w);

}  // namespace fergan::clip
