// The round trip image -> Img2Text embedding -> Text2Img image, shown by fergan_infer roundtrip and
// fergan_eval: a pair of GANs that learned the same caption space returns a face of the same emotion.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "fergan/eval/checkpoint_models.h"

namespace fergan::eval {

// images float [N, 1|3, S, S] in [-1, 1] -> Text2Img(Img2Text(images)) resized to S x S, noise from `seed`.
torch::Tensor round_trip_images(LoadedImg2Text& img2text, LoadedText2Img& text2img,
                                const torch::Tensor& images, int64_t batch_size, uint64_t seed);

// Pairs of rows of `columns`: images labelled REAL, then their round trips labelled ROUND TRIP (a short last
// pair padded with white tiles). real and back: float [N, 1|3, S, S] in [-1, 1]. Returns uint8 [H, W, 3].
torch::Tensor round_trip_grid(const torch::Tensor& real, const torch::Tensor& back, int64_t columns);

}  // namespace fergan::eval
