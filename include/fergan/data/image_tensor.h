// The conversions between the forms an image takes in fergan, written once for the trainer, fergan_infer and
// fergan_eval:
//   stored   uint8 [B, H, W, C], C = 1 or 3, 0..255, any size (the shards hold 48x48 grayscale);
//   model    float32 [B, C, S, S] in [-1, 1], what the networks take and produce, C = 1 or 3;
//   display  uint8 [B, H, W, 3], what PNG grids are made of (grayscale repeated to 3 channels).
// Resizing is bilinear with align_corners = false, PyTorch's definition and the original Python code's.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fergan::data {

// float [B, C, H, W] -> [B, C, size, size], bilinear, align_corners = false (edge pixels clamp). Returns
// `images` itself when it already has that size.
torch::Tensor resize_bilinear(const torch::Tensor& images, int64_t size);

// [B, 1|3, H, W] -> [B, channels, H, W] (channels 1 or 3): grayscale repeated to 3 channels, or 3 channels
// averaged to grayscale. Returns `images` itself when it already has `channels`.
torch::Tensor with_channels(const torch::Tensor& images, int64_t channels);

// stored -> model: uint8 [B, H, W, 1|3] -> float32 [B, channels, size, size] in [-1, 1]: bilinear resize,
// then with_channels, then x / 127.5 - 1 (so 0 -> -1 and 255 -> 1 exactly).
torch::Tensor to_model_input(const torch::Tensor& images_u8, int64_t size, int64_t channels = 3);

// model -> display: float [B, 1|3, H, W] (any device; values outside [-1, 1] clamped) -> uint8 [B, H, W, 3]
// on the CPU, round((x + 1) * 127.5). The exact inverse of to_model_input at the native size.
torch::Tensor to_uint8_nhwc(const torch::Tensor& images);

}  // namespace fergan::data
