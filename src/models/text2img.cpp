// Text2ImageGenerator and Text2ImageDiscriminator (see text2img.h), with the SPEC §2 size rule:
// log2(image_size/8) stride-2 blocks in each network, so 64 -> 3 blocks (exactly the original), 128 -> 4,
// 256 -> 5. LibTorch's default initialisation equals PyTorch's.
#include "fergan/models/text2img.h"

#include <algorithm>

#include "fergan/core/check.h"

namespace fergan::models {
namespace nn = torch::nn;

namespace {
constexpr int64_t kBaseSize = 8;           // spatial size of the generator's base / discriminator's top map
constexpr int64_t kMinGenChannels = 16;    // up-blocks halve channels, not below this
constexpr int64_t kMaxDiscChannels = 512;  // down-blocks double channels, capped at this

nn::LeakyReLU lrelu() {
  return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2));
}
}  // namespace

Text2ImageGeneratorImpl::Text2ImageGeneratorImpl(const Text2ImgOptions& options) : options(options) {
  this->options.validate();
  reset();
}

void Text2ImageGeneratorImpl::reset() {
  base_channels = options.ngf * 8;
  fc = register_module(
      "fc", nn::Linear(options.latent_dim + options.noise_dim, base_channels * kBaseSize * kBaseSize));
  nn::Sequential blocks;
  int64_t channels = base_channels;
  for (int64_t b = 0; b < options.num_scale_blocks(); ++b) {
    const int64_t out = std::max(channels / 2, kMinGenChannels);
    blocks->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, out, 4).stride(2).padding(1)));
    blocks->push_back(nn::BatchNorm2d(out));
    blocks->push_back(nn::ReLU());
    channels = out;
  }
  blocks->push_back(nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, 3, 3).stride(1).padding(1)));
  blocks->push_back(nn::Tanh());
  net = register_module("net", blocks);
}

torch::Tensor Text2ImageGeneratorImpl::forward(const torch::Tensor& embedding, const torch::Tensor& noise) {
  FG_CHECK(embedding.dim() == 2 && embedding.size(1) == options.latent_dim,
           "Text2ImageGenerator: expected embedding [B,", options.latent_dim, "], got ", embedding.sizes());
  torch::Tensor input = embedding;
  if (options.noise_dim > 0) {
    FG_CHECK(noise.defined() && noise.dim() == 2 && noise.size(0) == embedding.size(0) &&
                 noise.size(1) == options.noise_dim,
             "Text2ImageGenerator: expected noise [", embedding.size(0), ",", options.noise_dim, "], got ",
             noise.defined() ? noise.sizes() : c10::IntArrayRef{});
    input = torch::cat({embedding, noise}, 1);
  } else {
    FG_CHECK(!noise.defined() || noise.numel() == 0,
             "Text2ImageGenerator: noise given but text2img.noise_dim is 0");
  }
  torch::Tensor base = fc(input).view({embedding.size(0), base_channels, kBaseSize, kBaseSize});
  return forward_with_batch_stats(net, base, batch_stats_all_reduce);
}

Text2ImageDiscriminatorImpl::Text2ImageDiscriminatorImpl(const Text2ImgOptions& options) : options(options) {
  this->options.validate();
  reset();
}

void Text2ImageDiscriminatorImpl::reset() {
  nn::Sequential blocks;
  int64_t in = 3, out = options.ndf;
  for (int64_t b = 0; b < options.num_scale_blocks(); ++b) {
    if (b > 0) out = std::max(options.ndf, std::min(in * 2, kMaxDiscChannels));
    blocks->push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 4).stride(2).padding(1)));
    if (b > 0) blocks->push_back(nn::BatchNorm2d(out));  // none after the first conv, as in the original
    blocks->push_back(lrelu());
    in = out;
  }
  FG_CHECK(in == options.discriminator_top_channels(),
           "Text2ImageDiscriminator: internal channel rule mismatch");
  features = register_module("features", blocks);
  head = register_module("head", nn::Conv2d(nn::Conv2dOptions(in, 1, 4).stride(1).padding(0)));
  if (options.conditional)
    projection =
        register_module("projection", nn::Linear(nn::LinearOptions(options.latent_dim, in).bias(false)));
}

torch::Tensor Text2ImageDiscriminatorImpl::forward(const torch::Tensor& images,
                                                   const torch::Tensor& embedding) {
  const int64_t s = options.image_size;
  FG_CHECK(images.dim() == 4 && images.size(1) == 3 && images.size(2) == s && images.size(3) == s,
           "Text2ImageDiscriminator: expected images [B,3,", s, ",", s, "], got ", images.sizes());
  // [B, C, 8, 8]: features->forward(images), with the BatchNorms over the global batch when synchronized.
  torch::Tensor h = forward_with_batch_stats(features, images, batch_stats_all_reduce);
  torch::Tensor logits = head(h);  // [B, 1, 5, 5]
  if (options.conditional) {
    FG_CHECK(embedding.defined() && embedding.dim() == 2 && embedding.size(0) == images.size(0) &&
                 embedding.size(1) == options.latent_dim,
             "Text2ImageDiscriminator (conditional): expected embedding [", images.size(0), ",",
             options.latent_dim, "], got ", embedding.defined() ? embedding.sizes() : c10::IntArrayRef{});
    torch::Tensor patch_features = torch::avg_pool2d(h, /*kernel=*/4, /*stride=*/1);  // [B, C, 5, 5]
    torch::Tensor code = projection(embedding);                                       // [B, C]
    logits = logits + (patch_features * code.unsqueeze(-1).unsqueeze(-1)).sum(1, /*keepdim=*/true);
  }
  return logits.reshape({-1, 1});
}

}  // namespace fergan::models
