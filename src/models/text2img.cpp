// Text2ImageGenerator and Text2ImageDiscriminator (see text2img.h), with the size rule for larger outputs:
// log2(image_size/8) stride-2 blocks in each network, so 64 -> 3 blocks (exactly the original), 128 -> 4,
// 256 -> 5. LibTorch's default initialisation equals PyTorch's.
#include "fergan/models/text2img.h"

#include <algorithm>

#include "fergan/core/check.h"
#include "fergan/models/spectral_norm.h"
#include "fergan/models/subpixel_conv.h"

namespace fergan::models {
namespace nn = torch::nn;

namespace {
constexpr int64_t kBaseSize = 8;           // spatial size of the generator's base / discriminator's top map
constexpr int64_t kMinGenChannels = 16;    // up-blocks halve channels, not below this
constexpr int64_t kMaxDiscChannels = 512;  // down-blocks double channels, capped at this
constexpr int64_t kStddevGroup = 4;        // minibatch standard deviation over groups of this many samples

nn::LeakyReLU lrelu() {
  return nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2));
}

// The largest group size <= kStddevGroup that divides the batch (every sample belongs to one group).
int64_t stddev_group(int64_t batch) {
  int64_t g = std::min(kStddevGroup, batch);
  while (batch % g != 0) --g;
  return g;
}
}  // namespace

torch::Tensor minibatch_stddev_channel(const torch::Tensor& h) {
  const int64_t b = h.size(0), g = stddev_group(b);
  // Samples i, i + b/g, i + 2b/g, ... form a group; the feature is one number per group, the mean over
  // channels and positions of the standard deviation across the group's samples.
  auto grouped = h.reshape({g, b / g, h.size(1), h.size(2), h.size(3)});
  auto stddev = (grouped.var(0, /*unbiased=*/false) + 1e-8).sqrt().mean({1, 2, 3});  // [b/g]
  return stddev.view({1, b / g, 1, 1, 1})
      .expand({g, b / g, 1, h.size(2), h.size(3)})
      .reshape({b, 1, h.size(2), h.size(3)});
}

Text2ImageGeneratorImpl::Text2ImageGeneratorImpl(const Text2ImgOptions& options) : options(options) {
  this->options.validate();
  reset();
}

void Text2ImageGeneratorImpl::reset() {
  base_channels = options.ngf * 8;
  const int64_t input_dim = options.latent_dim + options.noise_dim;
  fc = register_module("fc", nn::Linear(input_dim, base_channels * kBaseSize * kBaseSize));
  nn::Sequential blocks;
  int64_t channels = base_channels;
  if (options.film) film = register_module("film", nn::ModuleList());
  for (int64_t b = 0; b < options.num_scale_blocks(); ++b) {
    const int64_t out = std::max(channels / 2, kMinGenChannels);
    if (options.subpixel)
      blocks->push_back(SubPixelConvTranspose2d(channels, out));
    else
      blocks->push_back(
          nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, out, 4).stride(2).padding(1)));
    blocks->push_back(nn::BatchNorm2d(out));
    blocks->push_back(nn::ReLU());
    if (options.film) {
      // Starts as the identity (scale 1, shift 0): the network begins as the plain one and learns how much
      // the caption and the noise should modulate each scale.
      nn::Linear modulation(input_dim, 2 * out);
      torch::NoGradGuard no_grad;
      modulation->weight.zero_();
      modulation->bias.zero_();
      film->push_back(modulation);
    }
    channels = out;
  }
  blocks->push_back(
      nn::ConvTranspose2d(nn::ConvTranspose2dOptions(channels, options.channels, 3).stride(1).padding(1)));
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
  torch::Tensor x = fc(input).view({embedding.size(0), base_channels, kBaseSize, kBaseSize});
  if (!options.film) return forward_with_batch_stats(net, x, batch_stats_all_reduce);
  // FiLM: after each up-block's BatchNorm, x * (1 + scale(input)) + shift(input).
  size_t block = 0;
  for (auto& layer : *net) {
    auto* bn = layer.ptr()->as<nn::BatchNorm2dImpl>();
    if (!bn) {
      x = layer.forward(x);
      continue;
    }
    x = batch_norm_forward(*bn, x, batch_stats_all_reduce);
    const auto scale_shift = film[block++]->as<nn::LinearImpl>()->forward(input).unsqueeze(-1).unsqueeze(-1);
    const auto parts = scale_shift.chunk(2, 1);
    x = x * (1 + parts[0]) + parts[1];
  }
  return x;
}

Text2ImageDiscriminatorImpl::Text2ImageDiscriminatorImpl(const Text2ImgOptions& options) : options(options) {
  this->options.validate();
  reset();
}

void Text2ImageDiscriminatorImpl::reset() {
  nn::Sequential blocks;
  int64_t in = options.channels, out = options.ndf;
  for (int64_t b = 0; b < options.num_scale_blocks(); ++b) {
    if (b > 0) out = std::max(options.ndf, std::min(in * 2, kMaxDiscChannels));
    nn::Conv2d conv(nn::Conv2dOptions(in, out, 4).stride(2).padding(1));
    if (options.spectral_norm) add_spectral_norm(*conv);
    blocks->push_back(conv);
    // None after the first conv, as in the original; none at all with spectral normalisation, which takes
    // BatchNorm's place in keeping D's gradients in scale.
    if (b > 0 && !options.spectral_norm) blocks->push_back(nn::BatchNorm2d(out));
    blocks->push_back(lrelu());
    in = out;
  }
  FG_CHECK(in == options.discriminator_top_channels(),
           "Text2ImageDiscriminator: internal channel rule mismatch");
  features = register_module("features", blocks);
  const int64_t head_in = in + (options.minibatch_std ? 1 : 0);
  head = register_module("head", nn::Conv2d(nn::Conv2dOptions(head_in, 1, 4).stride(1).padding(0)));
  if (options.spectral_norm) add_spectral_norm(*head);
  if (options.conditional) {
    projection =
        register_module("projection", nn::Linear(nn::LinearOptions(options.latent_dim, in).bias(false)));
    if (options.spectral_norm) add_spectral_norm(*projection);
  }
  if (options.num_classes > 0) {
    // Not spectrally normalised: a unit-norm head caps the logits of pooled features near zero, and the
    // cross-entropy would stay at log(num_classes). The adversarial logits do not pass through it.
    classes = register_module("classes", nn::Linear(in, options.num_classes));
  }
}

torch::Tensor Text2ImageDiscriminatorImpl::top_features(const torch::Tensor& images) {
  const int64_t s = options.image_size, c = options.channels;
  FG_CHECK(images.dim() == 4 && images.size(1) == c && images.size(2) == s && images.size(3) == s,
           "Text2ImageDiscriminator: expected images [B,", c, ",", s, ",", s, "], got ", images.sizes());
  // [B, C, 8, 8]; BatchNorms over the global batch when synchronized.
  if (!options.spectral_norm) return forward_with_batch_stats(features, images, batch_stats_all_reduce);
  torch::Tensor h = images;
  for (auto& layer : *features) {
    h = layer.ptr()->as<nn::Conv2dImpl>() ? spectral_norm_forward(*layer.ptr(), h) : layer.forward(h);
  }
  return h;
}

torch::Tensor Text2ImageDiscriminatorImpl::patch_logits(const torch::Tensor& h,
                                                        const torch::Tensor& embedding) {
  const torch::Tensor head_input =
      options.minibatch_std ? torch::cat({h, minibatch_stddev_channel(h)}, 1) : h;
  torch::Tensor logits = options.spectral_norm ? spectral_norm_forward(*head, head_input) : head(head_input);
  if (options.conditional) {
    FG_CHECK(embedding.defined() && embedding.dim() == 2 && embedding.size(0) == h.size(0) &&
                 embedding.size(1) == options.latent_dim,
             "Text2ImageDiscriminator (conditional): expected embedding [", h.size(0), ",",
             options.latent_dim, "], got ", embedding.defined() ? embedding.sizes() : c10::IntArrayRef{});
    torch::Tensor patch_features = torch::avg_pool2d(h, /*kernel=*/4, /*stride=*/1);  // [B, C, 5, 5]
    torch::Tensor code =
        options.spectral_norm ? spectral_norm_forward(*projection, embedding) : projection(embedding);
    logits = logits + (patch_features * code.unsqueeze(-1).unsqueeze(-1)).sum(1, /*keepdim=*/true);
  }
  return logits.reshape({-1, 1});
}

torch::Tensor Text2ImageDiscriminatorImpl::forward(const torch::Tensor& images,
                                                   const torch::Tensor& embedding) {
  return patch_logits(top_features(images), embedding);
}

std::pair<torch::Tensor, torch::Tensor> Text2ImageDiscriminatorImpl::forward_with_classes(
    const torch::Tensor& images, const torch::Tensor& embedding) {
  FG_CHECK(options.num_classes > 0, "Text2ImageDiscriminator: built without an emotion classifier head");
  const torch::Tensor h = top_features(images);
  // Spectrally normalised layers keep the features small, and a linear head on them would start with logits
  // near zero and learn slowly: the pooled features are scaled to unit root-mean-square per sample first.
  const torch::Tensor pooled = h.mean({2, 3});  // [B, C]
  const torch::Tensor scaled = pooled * torch::rsqrt(pooled.pow(2).mean(1, /*keepdim=*/true) + 1e-8);
  return {patch_logits(h, embedding), classes(scaled)};
}

}  // namespace fergan::models
