// Batched, frozen CLIP encoders for the programs (see encoders.h).
#include "fergan/clip/encoders.h"

#include "fergan/clip/preprocess.h"
#include "fergan/clip/weights.h"
#include "fergan/core/check.h"

namespace fergan::clip {

TextEncoderFn caption_encoder_for(ClipModel model, Tokenizer tokenizer, bool normalize, int64_t batch_size) {
  FG_CHECK(batch_size > 0, "CLIP caption encoder: batch size must be positive");
  return [model, tokenizer, normalize, batch_size](const std::vector<std::string>& captions) mutable {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    for (size_t start = 0; start < captions.size(); start += batch_size) {
      const size_t end = std::min(captions.size(), start + static_cast<size_t>(batch_size));
      const std::vector<std::string> batch(captions.begin() + start, captions.begin() + end);
      auto tokens = tokenizer.tokenize(batch).to(model->device());
      parts.push_back(model->encode_text(tokens, normalize).to(torch::kCPU, torch::kFloat32));
    }
    if (parts.empty()) return torch::zeros({0, model->embed_dim()}, torch::kFloat32);
    return torch::cat(parts, 0);
  };
}

ImageEncoderFn image_encoder_for(ClipModel model, bool normalize, int64_t batch_size) {
  FG_CHECK(batch_size > 0, "CLIP image encoder: batch size must be positive");
  FG_CHECK(model->config.has_vision, "CLIP model '", model->model_id(), "' has no vision tower");
  return [model, normalize, batch_size](const torch::Tensor& images) mutable {
    torch::NoGradGuard no_grad;
    std::vector<torch::Tensor> parts;
    const int64_t n = images.size(0);
    for (int64_t start = 0; start < n; start += batch_size) {
      auto batch = images.narrow(0, start, std::min(batch_size, n - start));
      auto pixels = preprocess_images(batch, model->image_resolution()).to(model->device());
      parts.push_back(model->encode_image(pixels, normalize).to(torch::kCPU, torch::kFloat32));
    }
    if (parts.empty()) return torch::zeros({0, model->image_embed_dim()}, torch::kFloat32);
    return torch::cat(parts, 0);
  };
}

TextEncoderFn make_caption_encoder(const std::string& weights, const std::string& vocab, torch::Device device,
                                   bool normalize, int64_t batch_size) {
  return caption_encoder_for(load_clip(weights, device), Tokenizer::from_file(vocab), normalize, batch_size);
}

ImageEncoderFn make_image_encoder(const std::string& weights, torch::Device device, bool normalize,
                                  int64_t batch_size) {
  return image_encoder_for(load_clip(weights, device), normalize, batch_size);
}

}  // namespace fergan::clip
