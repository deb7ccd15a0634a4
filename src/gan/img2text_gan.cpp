// The Image->Text GAN's construction and step (see img2text_gan.h).
#include "fergan/gan/img2text_gan.h"

#include "fergan/check.h"

namespace fergan::gan {

Img2TextGAN::Img2TextGAN(const models::Img2TextOptions& options, bool matching_aware,
                         const AdamSettings& adam, torch::Device device)
    : G(options), D(options), matching_aware(matching_aware) {
  // An unconditional discriminator never sees which caption belongs to which image, so "wrong caption" pairs
  // would just be real embeddings labelled fake.
  FG_CHECK(!matching_aware || options.conditional,
           "img2text.matching_aware = true needs img2text.conditional = true");
  G->to(device);
  D->to(device);
  // Optimizers are built after the move so they hold the device tensors.
  opt_g = std::make_unique<torch::optim::Adam>(G->parameters(), adam.options());
  opt_d = std::make_unique<torch::optim::Adam>(D->parameters(), adam.options());
}

Img2TextGAN Img2TextGAN::from(const Config& config, torch::Device device) {
  return Img2TextGAN(models::Img2TextOptions::from(config), config.img2text.matching_aware,
                     AdamSettings::from(config), device);
}

StepStats img2text_step(Img2TextGAN& gan, const StepInputs& inputs, GradSync& sync) {
  FG_CHECK(inputs.images.defined() && inputs.real_emb.defined(),
           "img2text_step: images and real_emb are required");
  FG_CHECK(inputs.wrong_emb.defined() == gan.matching_aware, "img2text_step: wrong_emb must be given ",
           gan.matching_aware ? "(matching-aware GAN)" : "only to a matching-aware GAN");
  const torch::Tensor& images = inputs.images;  // the discriminator's condition
  AdversarialStep step;
  step.generate = [&] { return gan.G(images); };
  step.score_real = [&] { return gan.D(inputs.real_emb, images); };
  step.score_fake = [&](const torch::Tensor& fake) { return gan.D(fake, images); };
  if (gan.matching_aware) step.score_wrong = [&] { return gan.D(inputs.wrong_emb, images); };
  return adversarial_step(step, *gan.G, *gan.D, *gan.opt_g, *gan.opt_d, sync);
}

}  // namespace fergan::gan
