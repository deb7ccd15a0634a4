// Differentiable augmentation (DiffAugment, Zhao et al. 2020) of the images a discriminator sees.
//
// On a small dataset (FER2013 has 28k training faces) the discriminator memorises the real images and its
// gradient stops being informative. DiffAugment applies the SAME family of random transformations to real
// and generated images, every time D sees them (in the D step and in the G step), and differentiably, so
// the generator is still trained through them. D can no longer memorise, and since both sides are
// augmented alike, the augmentations do not leak into the generated images.
//
// Policies (any combination): translation (shift by up to 1/8 of the size, zero fill), cutout (a zeroed
// square of half the size), color (brightness and contrast; saturation for 3 channels).
//
// The random parameters are inputs, not draws made here: the trainer draws them per sample from
// (seed, epoch, sample index) like every other per-sample draw, which keeps resume exact and N ranks equal to
// one process with N times the batch.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::gan {

struct AugmentPolicy {
  bool translation = false;
  bool cutout = false;
  bool color = false;
  bool any() const { return translation || cutout || color; }
  // From names ("translation", "cutout", "color"); an unknown name is an error naming it and `key`.
  static AugmentPolicy parse(const std::vector<std::string>& names, const std::string& key);
};

// Random parameters of one augmentation of one image, each uniform in [0, 1).
// translate x, translate y, cutout x, cutout y, brightness, contrast, saturation
constexpr int64_t kAugmentParams = 7;

// Applies `policy` to images [B, C, S, S] in [-1, 1] with per-image parameters `params` [B, kAugmentParams]
// in [0, 1). Differentiable in `images`.
torch::Tensor augment(const torch::Tensor& images, const torch::Tensor& params, const AugmentPolicy& policy);

}  // namespace fergan::gan
