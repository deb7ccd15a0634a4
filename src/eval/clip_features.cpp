// CLIP text and image features for fergan_eval / fergan_infer (see clip_features.h).
#include "fergan/eval/clip_features.h"

#include "fergan/clip/encoders.h"
#include "fergan/clip/tokenizer.h"
#include "fergan/clip/weights.h"
#include "fergan/data/image_tensor.h"

namespace fergan::eval {

ClipFeatures load_clip_features(const std::string& weights, const std::string& vocab, torch::Device device,
                                int64_t batch_size) {
  auto model = clip::load_clip(weights, device);
  auto tokenizer = clip::Tokenizer::from_file(vocab, model->context_length());
  ClipFeatures f;
  f.model_id = model->model_id();
  f.encode_text = clip::caption_encoder_for(model, tokenizer, /*normalize=*/false, batch_size);
  auto image_encoder = clip::image_encoder_for(model, /*normalize=*/false, batch_size);
  // [-1, 1] floats -> the 8-bit images CLIP's reference preprocessing starts from (resize, crop, normalise).
  f.encode_image = [image_encoder](const torch::Tensor& images) {
    return image_encoder(data::to_uint8_nhwc(images));
  };
  return f;
}

}  // namespace fergan::eval
