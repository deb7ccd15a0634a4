// Ready-made CLIP encoders for the programs: data_prep (caption embeddings, optional image embeddings) and
// fergan_eval (image features). Each loads the weights once and runs batched, frozen, without autograd.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <string>
#include <vector>

#include "fergan/clip/model.h"
#include "fergan/clip/tokenizer.h"

namespace fergan::clip {

// captions -> float32 CPU [N, D] (ln_final(x)[eot] @ text_projection; L2-normalised when `normalize`).
// Captions longer than the context are errors naming the caption.
using TextEncoderFn = std::function<torch::Tensor(const std::vector<std::string>&)>;
// uint8 images [N, H, W, 1|3] (any size) -> float32 CPU [N, E], preprocessed as CLIP does.
using ImageEncoderFn = std::function<torch::Tensor(const torch::Tensor&)>;

TextEncoderFn make_caption_encoder(const std::string& weights, const std::string& vocab, torch::Device device,
                                   bool normalize = false, int64_t batch_size = 256);
ImageEncoderFn make_image_encoder(const std::string& weights, torch::Device device, bool normalize = false,
                                  int64_t batch_size = 64);

// The same over an already loaded model (shared by both encoders when a program needs the two).
TextEncoderFn caption_encoder_for(ClipModel model, Tokenizer tokenizer, bool normalize = false,
                                  int64_t batch_size = 256);
ImageEncoderFn image_encoder_for(ClipModel model, bool normalize = false, int64_t batch_size = 64);

}  // namespace fergan::clip
