// From a loader batch to the inputs of one GAN step (gan/step.h).
//
// Besides the batch itself a step needs, per sample, the caption it is trained with (the stored one, or a
// fresh draw among its emotion's captions with captions.resample), the "wrong" caption of a matching-aware
// negative (a caption of another emotion), the generator's noise (and a second draw for the mode-seeking
// term), and the DiffAugment parameters of every image D sees. Each is a pure function of
// (seed, phase, epoch, sample index): a resumed run continues exactly where the interrupted one stopped
// without saving RNG state, and N ranks with batch B draw exactly what one process with batch N*B draws.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fergan/core/config.h"
#include "fergan/data/dataset.h"
#include "fergan/gan/step.h"

namespace fergan::train {

// Which caption ids belong to which emotion label, for resampling and wrong-caption draws.
struct CaptionIndex {
  explicit CaptionIndex(const std::vector<int64_t>& caption_labels);
  std::vector<std::vector<int64_t>> by_label;  // label -> its caption ids, in table order
  std::vector<int64_t> labels;                 // caption id -> label
};

// What a phase draws per sample.
struct DrawSettings {
  uint64_t seed = 0;
  std::string phase;            // salts the draws: the two phases draw independently
  bool resample = false;        // captions.resample
  bool matching_aware = false;  // draw a wrong caption
  int64_t noise_dim = 0;        // draw this many standard-normal values
  bool second_noise = false;    // and as many again (mode seeking)
  bool augment = false;         // draw kAugmentUses x kAugmentParams uniforms (DiffAugment)
  bool flip = false;            // draw whether the sample's face is mirrored left-right

  static DrawSettings from(const Config& config, const std::string& phase);
};

struct SampleDraw {
  int64_t caption = 0;         // the caption the sample is trained with
  int64_t wrong_caption = -1;  // a caption of another emotion (matching-aware), else -1
  std::vector<float> noise;    // noise_dim values
  std::vector<float> noise2;   // noise_dim values when second_noise
  std::vector<float> augment;  // kAugmentUses * kAugmentParams uniforms in [0, 1) when augment
  bool flipped = false;        // mirror the face (flip)
};

// The draws of sample `index` (label `label`, stored caption `stored_caption`) in `epoch`.
SampleDraw draw_sample(const DrawSettings& settings, const CaptionIndex& captions, int64_t epoch,
                       int64_t index, int64_t label, int64_t stored_caption);

// Builds gan::StepInputs for the phase: images as the model sees them ([-1, 1], image_size, 1 or 3 channels,
// on the device),
// caption embeddings looked up in the table, noise, and the matching-aware pair, placed in the condition /
// real / wrong roles of the phase's GAN.
class StepInputBuilder {
 public:
  StepInputBuilder(const Config& config, const std::string& phase, const std::vector<int64_t>& caption_labels,
                   torch::Tensor caption_embeddings, torch::Device device);
  gan::StepInputs build(const data::Batch& batch, int64_t epoch) const;

  const CaptionIndex& captions() const { return captions_; }
  const torch::Tensor& caption_embeddings() const { return embeddings_; }

 private:
  DrawSettings settings_;
  CaptionIndex captions_;
  torch::Tensor embeddings_;  // [C, D] on the device
  torch::Device device_;
  int64_t image_size_;
  int64_t channels_;
  bool image_to_text_;
};

// Img2Text reads images at the original's 64x64 whatever the Text2Img output size is.
constexpr int64_t kImg2TextImageSize = 64;

}  // namespace fergan::train
