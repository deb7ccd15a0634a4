// Img2TextGenerator and Img2TextDiscriminator (see img2text.h). Layer order and widths follow the original
// exactly; initialisation is LibTorch's default, which equals PyTorch's (kaiming_uniform(a=sqrt(5)) weights,
// uniform(+-1/sqrt(fan_in)) biases).
#include "fergan/models/img2text.h"

#include "fergan/core/check.h"

namespace fergan::models {
namespace nn = torch::nn;

namespace {
nn::Conv2d conv_down(int64_t in, int64_t out) {
  return nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1));
}

void check_images(const torch::Tensor& images, const char* who) {
  FG_CHECK(images.defined() && images.dim() == 4 && images.size(1) == 3, who,
           ": expected images [B,3,S,S], got ", images.defined() ? images.sizes() : c10::IntArrayRef{});
}
}  // namespace

Img2TextGeneratorImpl::Img2TextGeneratorImpl(const Img2TextOptions& options) : options(options) {
  reset();
}

void Img2TextGeneratorImpl::reset() {
  if (!options.deep_encoder) {
    features = register_module("features", nn::Sequential(conv_down(3, 64), nn::ReLU(),     //
                                                          conv_down(64, 128), nn::ReLU(),   //
                                                          conv_down(128, 256), nn::ReLU(),  //
                                                          nn::AdaptiveAvgPool2d(1)));
    fc = register_module("fc", nn::Linear(256, options.latent_dim));
    return;
  }
  // The original's global average pool forgets where a feature was (mouth or brow), and its three
  // unnormalised convs see 22 px of a 64 px face; in our FER2013 runs it gave every test face the same emotion
  // (docs/quality.md). Four convs see the whole face; GroupNorm is per sample, so data parallelism needs no
  // synchronised statistics; the pooled 4x4 map keeps coarse position.
  nn::Sequential deep;
  const int64_t widths[] = {3, 64, 128, 256, 256};
  for (int i = 0; i < 4; ++i) {
    deep->push_back(conv_down(widths[i], widths[i + 1]));
    deep->push_back(nn::GroupNorm(nn::GroupNormOptions(8, widths[i + 1])));
    deep->push_back(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)));
  }
  deep->push_back(nn::AdaptiveAvgPool2d(4));
  features = register_module("features", deep);
  fc = register_module("fc", nn::Linear(256 * 16, options.latent_dim));
}

torch::Tensor Img2TextGeneratorImpl::forward(const torch::Tensor& images) {
  check_images(images, "Img2TextGenerator");
  return fc(features->forward(images).flatten(1));
}

Img2TextDiscriminatorImpl::Img2TextDiscriminatorImpl(const Img2TextOptions& options) : options(options) {
  reset();
}

void Img2TextDiscriminatorImpl::reset() {
  const int64_t hidden = options.hidden_dim;
  trunk = register_module("trunk", nn::Sequential(nn::Linear(options.latent_dim, hidden),
                                                  nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2))));
  head = register_module("head", nn::Linear(hidden, 1));
  if (options.conditional) {
    const int64_t c = options.encoder_channels;
    auto lrelu = [] { return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)); };
    image_encoder = register_module("image_encoder", nn::Sequential(conv_down(3, c), lrelu(),          //
                                                                    conv_down(c, 2 * c), lrelu(),      //
                                                                    conv_down(2 * c, 4 * c), lrelu(),  //
                                                                    nn::AdaptiveAvgPool2d(1)));
    projection = register_module("projection", nn::Linear(nn::LinearOptions(4 * c, hidden).bias(false)));
  }
}

torch::Tensor Img2TextDiscriminatorImpl::forward(const torch::Tensor& embedding,
                                                 const torch::Tensor& images) {
  FG_CHECK(embedding.dim() == 2 && embedding.size(1) == options.latent_dim,
           "Img2TextDiscriminator: expected embedding [B,", options.latent_dim, "], got ", embedding.sizes());
  torch::Tensor h = trunk->forward(embedding);
  torch::Tensor logit = head(h);
  if (!options.conditional) return logit;
  check_images(images, "Img2TextDiscriminator (conditional)");
  FG_CHECK(images.size(0) == embedding.size(0), "Img2TextDiscriminator: ", images.size(0), " images for ",
           embedding.size(0), " embeddings");
  torch::Tensor image_code = projection(image_encoder->forward(images).flatten(1));  // [B, hidden]
  return logit + (image_code * h).sum(1, /*keepdim=*/true);
}

}  // namespace fergan::models
