// The Text->Image GAN's construction and step (see text2img_gan.h).
#include "fergan/gan/text2img_gan.h"

#include "fergan/check.h"

namespace fergan::gan {

Text2ImgGAN::Text2ImgGAN(const models::Text2ImgOptions& options, bool matching_aware,
                         const AdamSettings& adam, torch::Device device)
    : G(options), D(options), matching_aware(matching_aware) {
  // An unconditional discriminator never sees the caption, so (image, wrong caption) would just be a real
  // image labelled fake.
  FG_CHECK(!matching_aware || options.conditional,
           "text2img.matching_aware = true needs text2img.conditional = true");
  G->to(device);
  D->to(device);
  opt_g = std::make_unique<torch::optim::Adam>(G->parameters(), adam.options());
  opt_d = std::make_unique<torch::optim::Adam>(D->parameters(), adam.options());
}

Text2ImgGAN Text2ImgGAN::from(const Config& config, torch::Device device) {
  return Text2ImgGAN(models::Text2ImgOptions::from(config), config.text2img.matching_aware,
                     AdamSettings::from(config), device);
}

StepStats text2img_step(Text2ImgGAN& gan, const StepInputs& inputs, GradSync& sync) {
  FG_CHECK(inputs.images.defined() && inputs.real_emb.defined(),
           "text2img_step: images and real_emb are required");
  FG_CHECK(inputs.wrong_emb.defined() == gan.matching_aware, "text2img_step: wrong_emb must be given ",
           gan.matching_aware ? "(matching-aware GAN)" : "only to a matching-aware GAN");
  const torch::Tensor& caption = inputs.real_emb;  // the discriminator's condition and the generator's input
  AdversarialStep step;
  step.generate = [&] { return gan.G(caption, inputs.noise); };
  step.score_real = [&] { return gan.D(inputs.images, caption); };
  step.score_fake = [&](const torch::Tensor& fake) { return gan.D(fake, caption); };
  if (gan.matching_aware) step.score_wrong = [&] { return gan.D(inputs.images, inputs.wrong_emb); };
  return adversarial_step(step, *gan.G, *gan.D, *gan.opt_g, *gan.opt_d, sync);
}

}  // namespace fergan::gan
