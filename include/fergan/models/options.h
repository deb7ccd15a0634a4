// Shape and switch options of the four networks, built from the run configuration.
//
// The networks take these small structs rather than the whole Config so that tests, the parity reference and
// tools can build any variant directly. `from(const Config&)` is the one place that maps config keys to
// network options; at image_size 64, ngf = ndf = 64, noise_dim 0 and conditional off they describe exactly
// the original train.py's networks (docs/original.md).
#pragma once

#include <cstdint>

#include "fergan/core/config.h"

namespace fergan::models {

struct Img2TextOptions {
  int64_t latent_dim = 512;       // generator output = discriminator input (CLIP text embedding size)
  int64_t hidden_dim = 256;       // the discriminator's MLP width (the original's 256)
  bool conditional = false;       // projection discriminator that also sees the image
  int64_t encoder_channels = 32;  // first conv width of the conditional discriminator's own image encoder
  bool deep_encoder = false;  // generator: 4 convs + GroupNorm + flattened 4x4 map instead of the original's

  static Img2TextOptions from(const Config& config);
};

struct Text2ImgOptions {
  int64_t latent_dim = 512;  // caption embedding size
  int64_t ngf = 64;          // generator: the 8x8 base has ngf*8 channels
  int64_t ndf = 64;          // discriminator: first conv width
  int64_t image_size = 64;   // 64, 128 or 256
  int64_t noise_dim = 0;     // 0 = no noise input (the original)
  bool conditional = false;  // projection term from the caption embedding on every patch logit
  int64_t channels = 3;      // image channels: 3 (the original's grey replicated) or 1 (FER2013 is grayscale)
  bool spectral_norm = false;  // discriminator: spectral normalisation of every layer, no BatchNorm
  bool minibatch_std = false;  // discriminator: a minibatch standard-deviation channel before the head
  bool film = false;           // generator: FiLM from (embedding, noise) after every up-block's BatchNorm
  int64_t num_classes = 0;     // discriminator: an emotion classifier head with this many classes; 0 = none
  // generator: stride-2 up-blocks as SubPixelConvTranspose2d (subpixel_conv.h): the same parameters and
  // function as ConvTranspose2d, computed as one conv2d (faster on small maps on the CPU with LibTorch 1.13,
  // slower from 32x32 up)
  bool subpixel = false;

  static Text2ImgOptions from(const Config& config);

  // Number of stride-2 up-blocks (generator) = stride-2 down-blocks (discriminator): log2(image_size / 8).
  int64_t num_scale_blocks() const;
  // Channels of the discriminator's final 8x8 feature map (the head's input).
  int64_t discriminator_top_channels() const;
  // Patch logits per sample: the k4 s1 p0 head on an 8x8 map gives 5x5 = 25.
  static constexpr int64_t kPatchesPerSample = 25;

  // Throws fergan::Error naming the offending key (text2img.*) when a value cannot build a network.
  void validate() const;
};

}  // namespace fergan::models
