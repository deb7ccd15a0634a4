// The Image->Text GAN's networks (the original train.py's, docs/original.md, plus a conditional variant).
//
// Img2TextGenerator maps a face image to a caption-embedding-sized vector: three stride-2 convs with ReLU,
// global average pooling, one Linear (790,464 parameters at latent_dim 512). Img2TextDiscriminator scores an
// embedding: Linear(D->256) + LeakyReLU(0.2) -> Linear(256->1) (131,585 parameters). It returns LOGITS; the
// original's Sigmoid + BCELoss is applied as BCE-with-logits in gan/ (same math, no saturation).
//
// Conditional variant (options.conditional): a projection discriminator (Miyato & Koyama 2018). With
// h = phi(embedding) the original MLP trunk, logit = psi(h) + <V enc(image), h>, where enc is the
// discriminator's own small image encoder (it must not share the generator's, or the generator could
// shape the discriminator's view). The image then decides which embeddings count as real for it, which is
// what ties the generated embedding to the face's emotion.
#pragma once

#include <torch/torch.h>

#include "fergan/models/options.h"

namespace fergan::models {

class Img2TextGeneratorImpl : public torch::nn::Cloneable<Img2TextGeneratorImpl> {
 public:
  explicit Img2TextGeneratorImpl(const Img2TextOptions& options = {});
  void reset() override;

  // images: float [B,3,S,S] in [-1,1] (any S >= 8; the pooling makes the output size-independent).
  // Returns [B, latent_dim].
  torch::Tensor forward(const torch::Tensor& images);

  Img2TextOptions options;
  torch::nn::Sequential features{nullptr};  // conv/ReLU x3 + AdaptiveAvgPool2d(1)
  torch::nn::Linear fc{nullptr};            // 256 -> latent_dim
};
TORCH_MODULE(Img2TextGenerator);

class Img2TextDiscriminatorImpl : public torch::nn::Cloneable<Img2TextDiscriminatorImpl> {
 public:
  explicit Img2TextDiscriminatorImpl(const Img2TextOptions& options = {});
  void reset() override;

  // embedding: [B, latent_dim]; images: [B,3,S,S], required when conditional, ignored (may be undefined)
  // otherwise. Returns logits [B,1].
  torch::Tensor forward(const torch::Tensor& embedding, const torch::Tensor& images = {});

  Img2TextOptions options;
  torch::nn::Sequential trunk{nullptr};  // phi: Linear(latent_dim -> hidden) + LeakyReLU(0.2)
  torch::nn::Linear head{nullptr};       // psi: Linear(hidden -> 1)
  // Conditional only:
  torch::nn::Sequential image_encoder{nullptr};  // conv/LeakyReLU x3 + global average pool -> [B, 4*enc_ch]
  torch::nn::Linear projection{nullptr};         // V: 4*enc_ch -> hidden, no bias
};
TORCH_MODULE(Img2TextDiscriminator);

}  // namespace fergan::models
