// The Image->Text GAN: its two networks, their optimizers, and one training step.
//
// real = the CLIP embedding of the image's caption, fake = G(image); the discriminator's condition is the
// image (used only when it is conditional). With matching-aware negatives, (image, caption embedding of
// another emotion) is a third, fake, input.
#pragma once

#include <torch/torch.h>

#include <memory>

#include "fergan/gan/grad_sync.h"
#include "fergan/gan/step.h"
#include "fergan/models/img2text.h"

namespace fergan::gan {

struct Img2TextGAN {
  Img2TextGAN(const models::Img2TextOptions& options, bool matching_aware, const AdamSettings& adam,
              torch::Device device);
  // img2text.* and train.{lr,beta1,beta2} from the config.
  static Img2TextGAN from(const Config& config, torch::Device device);

  models::Img2TextGenerator G;
  models::Img2TextDiscriminator D;
  std::unique_ptr<torch::optim::Adam> opt_g, opt_d;
  bool matching_aware = false;  // then every StepInputs must carry wrong_emb
};

// One D update then one G update, in the order of SPEC §2. `sync` brackets each backward (data parallelism).
StepStats img2text_step(Img2TextGAN& gan, const StepInputs& inputs, GradSync& sync);

}  // namespace fergan::gan
