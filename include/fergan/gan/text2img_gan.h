// The Text->Image GAN: its two networks, their optimizers, and one training step.
//
// real = the image, fake = G(caption embedding[, noise]); the discriminator's condition is the caption
// embedding (used only when it is conditional). With matching-aware negatives, (real image, caption embedding
// of another emotion) is a third, fake, input. The G step reuses the step's noise: it re-runs the generator
// on the same inputs, as the original re-ran it on the same captions.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "fergan/gan/grad_sync.h"
#include "fergan/gan/step.h"
#include "fergan/models/text2img.h"

namespace fergan::gan {

struct Text2ImgGAN {
  Text2ImgGAN(const models::Text2ImgOptions& options, bool matching_aware, const AdamSettings& adam,
              torch::Device device);
  // text2img.* and train.{lr,beta1,beta2} from the config.
  static Text2ImgGAN from(const Config& config, torch::Device device);

  models::Text2ImageGenerator G;
  models::Text2ImageDiscriminator D;
  std::unique_ptr<torch::optim::Adam> opt_g, opt_d;
  bool matching_aware = false;  // then every StepInputs must carry wrong_emb
};

// One D update then one G update, in the order of SPEC §2. `sync` brackets each backward (data parallelism).
StepStats text2img_step(Text2ImgGAN& gan, const StepInputs& inputs, GradSync& sync);

}  // namespace fergan::gan
