// The Text->Image GAN's networks.
//
// Text2ImageGenerator: Linear(latent[+noise] -> ngf*8 * 8*8) -> view [B, ngf*8, 8, 8] -> stride-2
// ConvTranspose up-blocks (BatchNorm + ReLU, channels halving, not below 16) until image_size ->
// ConvT(k3,s1,p1) -> Tanh. At 64x64, ngf 64, no noise, 3 channels: the original's 19,565,571 parameters.
// With options.subpixel the stride-2 ConvTranspose2d layers are SubPixelConvTranspose2d (subpixel_conv.h):
// same parameter names, shapes, initial values and function, computed faster.
// With options.film, each up-block's BatchNorm output is modulated, x * (1 + scale) + shift, by a Linear of
// the generator's input (caption embedding and noise), so that caption and noise reach every scale instead
// of entering only through the first layer (FiLM, Perez et al. 2018; BigGAN's conditional BatchNorm).
//
// Text2ImageDiscriminator: a PatchGAN. Stride-2 conv blocks (LeakyReLU 0.2; BatchNorm from the second on;
// channels doubling from ndf, capped at 512) until 8x8, then Conv(k4,s1,p0) -> 5x5 patch LOGITS, returned as
// [B*25, 1] (sample-major, like the original's .view(-1, 1)). At 64x64, ndf 64: 663,745 parameters.
// options.spectral_norm: every layer spectrally normalised (spectral_norm.h) and no BatchNorm.
// options.num_classes > 0: an auxiliary emotion classifier on the globally pooled 8x8 features, scaled to
// unit root-mean-square (AC-GAN, Odena et al. 2017). Trained on real faces only, it gives the generator a
// second, explicit signal that a face must show the caption's emotion, beside the projection term's implicit
// one. options.minibatch_std: the head also sees one channel holding the standard deviation of the features
// across a group of samples (Karras et al. 2018): a batch of near-identical fakes is then visibly fake, which
// a per-sample discriminator cannot see.
//
// Conditional variant (options.conditional), a patch-wise projection discriminator: every patch logit gets
// <V e, mean of the 8x8 features under that patch's 4x4 head window>. Miyato & Koyama's projection term
// uses one globally pooled feature vector; here each of the 25 patch classifiers gets the same kind of term
// computed over exactly the features it sees, so every patch judges whether ITS region matches the caption
// (a globally pooled term would add one identical offset to all 25 and let a single region carry the match).
// Averaging the 25 per-patch terms gives back the global term (up to border weighting), so it is a strict
// refinement of the standard design. V has no bias, as in the paper.
#pragma once

#include <torch/torch.h>

#include <utility>

#include "fergan/models/options.h"
#include "fergan/models/sync_batchnorm.h"

namespace fergan::models {

class Text2ImageGeneratorImpl : public torch::nn::Cloneable<Text2ImageGeneratorImpl> {
 public:
  explicit Text2ImageGeneratorImpl(const Text2ImgOptions& options = {});
  void reset() override;

  // embedding: [B, latent_dim]; noise: [B, noise_dim] (undefined when noise_dim == 0).
  // Returns images [B, 3, image_size, image_size] in (-1, 1).
  torch::Tensor forward(const torch::Tensor& embedding, const torch::Tensor& noise = {});

  // Synchronized BatchNorm (dist.sync_batchnorm): the trainer attaches an all-reduce when it runs on several
  // ranks; null (the default) keeps every BatchNorm2d on this process's batch.
  std::shared_ptr<BatchStatsAllReduce> batch_stats_all_reduce;

  Text2ImgOptions options;
  int64_t base_channels = 0;            // ngf*8, the 8x8 base
  torch::nn::Linear fc{nullptr};        // (latent_dim + noise_dim) -> base_channels*8*8
  torch::nn::Sequential net{nullptr};   // up-blocks, final ConvT k3, Tanh
  torch::nn::ModuleList film{nullptr};  // options.film: one Linear(input -> 2 * channels) per up-block
};
TORCH_MODULE(Text2ImageGenerator);

class Text2ImageDiscriminatorImpl : public torch::nn::Cloneable<Text2ImageDiscriminatorImpl> {
 public:
  explicit Text2ImageDiscriminatorImpl(const Text2ImgOptions& options = {});
  void reset() override;

  // images: [B,3,image_size,image_size]; embedding: [B, latent_dim] when conditional (else may be undefined).
  // Returns patch logits [B*25, 1].
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& embedding = {});
  // The same patch logits and, from the same features, emotion logits [B, num_classes] (needs num_classes).
  std::pair<torch::Tensor, torch::Tensor> forward_with_classes(const torch::Tensor& images,
                                                               const torch::Tensor& embedding = {});

  // As in Text2ImageGeneratorImpl.
  std::shared_ptr<BatchStatsAllReduce> batch_stats_all_reduce;

  Text2ImgOptions options;
  torch::nn::Sequential features{nullptr};  // stride-2 blocks down to 8x8
  torch::nn::Conv2d head{nullptr};          // top_channels -> 1, k4 s1 p0
  torch::nn::Linear projection{nullptr};    // conditional only: V, latent_dim -> top_channels, no bias
  torch::nn::Linear classes{nullptr};       // num_classes > 0 only: pooled top features -> emotion logits

 private:
  torch::Tensor top_features(const torch::Tensor& images);
  torch::Tensor patch_logits(const torch::Tensor& h, const torch::Tensor& embedding);
};
TORCH_MODULE(Text2ImageDiscriminator);

// [B, C, H, W] -> [B, 1, H, W]: the minibatch standard-deviation feature (groups of up to 4 samples).
torch::Tensor minibatch_stddev_channel(const torch::Tensor& features);

}  // namespace fergan::models
