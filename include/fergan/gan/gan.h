// One conditional GAN: a generator G(condition, noise) -> sample, a discriminator D(sample, condition) ->
// logits, and their Adam optimizers.
//
// Both of fergan's GANs have this shape, with the roles of image and caption embedding swapped:
//   Image->Text:  condition = face image,        sample = caption embedding (no noise)
//   Text->Image:  condition = caption embedding, sample = face image (+ noise)
// so one training step (step.h) serves both, written once against this interface. A concrete GAN only says
// how to call its two networks.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <utility>

#include "fergan/core/autocast.h"
#include "fergan/core/config.h"
#include "fergan/gan/augment.h"
#include "fergan/gan/weight_average.h"
#include "fergan/models/img2text.h"
#include "fergan/models/sync_batchnorm.h"
#include "fergan/models/text2img.h"

namespace fergan::gan {

// Adam(lr, (beta1, beta2), eps) for both networks; the original's lr 2e-4, betas (0.5, 0.999), eps 1e-8.
struct AdamSettings {
  double lr = 2e-4;
  double beta1 = 0.5;
  double beta2 = 0.999;
  double eps = 1e-8;
  static AdamSettings from(const Config& config);
  torch::optim::AdamOptions options() const;
};

enum class Loss { Bce, Hinge };

// How a GAN is trained, beyond its networks (all off = the original).
struct GanOptions {
  bool matching_aware = false;  // (real sample, condition of another emotion) pairs count as fake
  Loss loss = Loss::Bce;        // BCE on logits, or hinge (Lim & Ye 2017; Miyato et al. 2018)
  double mode_seeking = 0;      // weight of the mode-seeking term: needs two noise draws per sample
  double supervised = 0;        // weight of 1 - cos(G(condition), real): the supervised term
  double class_weight = 0;      // weight of the auxiliary emotion classifier in D (AC-GAN); sample = image
  AugmentPolicy augment;        // DiffAugment of the samples D sees (image samples only)
  double ema_decay = 0;         // weight average of G (weight_average.h); 0 = none
  amp::Mode amp = amp::Mode::None;  // train.amp: forward passes under bf16 autocast (losses in float32)
  bool channels_last = false;       // Text->Image: 4-d weights and D's input images in NHWC memory format
  // {phase}.* of the config ("img2text" | "text2img").
  static GanOptions from(const Config& config, const std::string& phase);
};

class Gan {
 public:
  virtual ~Gan() = default;
  Gan(const Gan&) = delete;
  Gan& operator=(const Gan&) = delete;

  // G(condition, noise) -> sample. `noise` is undefined for a generator without a noise input.
  torch::Tensor generate(const torch::Tensor& condition, const torch::Tensor& noise) {
    return run_generator(*generator_, condition, noise);
  }
  // The same with the weight average (the generator itself when there is none): what inference uses.
  torch::Tensor generate_average(const torch::Tensor& condition, const torch::Tensor& noise) {
    return run_generator(average_ ? average_->model() : *generator_, condition, noise);
  }
  // D(sample, condition) -> logits. An unconditional discriminator ignores `condition`.
  virtual torch::Tensor discriminate(const torch::Tensor& sample, const torch::Tensor& condition) = 0;
  // The same logits and D's emotion logits [B, kNumEmotions] for the same samples (options().class_weight >
  // 0).
  virtual std::pair<torch::Tensor, torch::Tensor> discriminate_with_classes(const torch::Tensor& sample,
                                                                            const torch::Tensor& condition);
  // Makes every training-mode BatchNorm of both networks normalise over the global batch of all ranks
  // (dist.sync_batchnorm); null detaches it. Networks without BatchNorm ignore it.
  virtual void set_batch_stats_all_reduce(std::shared_ptr<models::BatchStatsAllReduce> all_reduce) {}
  virtual bool has_batch_norm() const { return false; }

  torch::nn::Module& generator() { return *generator_; }
  torch::nn::Module& discriminator() { return *discriminator_; }
  torch::optim::Adam& generator_optimizer() { return *generator_optimizer_; }
  torch::optim::Adam& discriminator_optimizer() { return *discriminator_optimizer_; }
  // The generator's weight average, or null when options().ema_decay is 0.
  WeightAverage* weight_average() { return average_.get(); }
  const GanOptions& options() const { return options_; }
  bool matching_aware() const { return options_.matching_aware; }

 protected:
  // Moves both networks to `device`, then builds the optimizers over the moved parameters (and the weight
  // average as a copy of the generator).
  Gan(std::shared_ptr<torch::nn::Module> generator, std::shared_ptr<torch::nn::Module> discriminator,
      const GanOptions& options, const AdamSettings& adam, torch::Device device);
  // `generator` is generator() or its weight average.
  virtual torch::Tensor run_generator(torch::nn::Module& generator, const torch::Tensor& condition,
                                      const torch::Tensor& noise) = 0;

 private:
  std::shared_ptr<torch::nn::Module> generator_, discriminator_;
  std::unique_ptr<torch::optim::Adam> generator_optimizer_, discriminator_optimizer_;
  std::unique_ptr<WeightAverage> average_;
  GanOptions options_;
};

// Image->Text: condition = images [B,3,S,S], sample = caption embeddings [B,D].
class Img2TextGan final : public Gan {
 public:
  Img2TextGan(const models::Img2TextOptions& networks, const GanOptions& options, const AdamSettings& adam,
              torch::Device device);
  torch::Tensor discriminate(const torch::Tensor& embeddings, const torch::Tensor& images) override;

  models::Img2TextGenerator G;
  models::Img2TextDiscriminator D;

 private:
  static std::pair<models::Img2TextGenerator, models::Img2TextDiscriminator> make_networks(
      const models::Img2TextOptions& options);
  Img2TextGan(std::pair<models::Img2TextGenerator, models::Img2TextDiscriminator> networks,
              const GanOptions& options, const AdamSettings& adam, torch::Device device);
  torch::Tensor run_generator(torch::nn::Module& generator, const torch::Tensor& images,
                              const torch::Tensor& noise) override;
};

// Text->Image: condition = caption embeddings [B,D], sample = images [B,3,S,S].
class Text2ImgGan final : public Gan {
 public:
  Text2ImgGan(const models::Text2ImgOptions& networks, const GanOptions& options, const AdamSettings& adam,
              torch::Device device);
  torch::Tensor discriminate(const torch::Tensor& images, const torch::Tensor& embeddings) override;
  std::pair<torch::Tensor, torch::Tensor> discriminate_with_classes(const torch::Tensor& images,
                                                                    const torch::Tensor& embeddings) override;
  void set_batch_stats_all_reduce(std::shared_ptr<models::BatchStatsAllReduce> all_reduce) override;
  bool has_batch_norm() const override { return true; }

  models::Text2ImageGenerator G;
  models::Text2ImageDiscriminator D;

 private:
  static std::pair<models::Text2ImageGenerator, models::Text2ImageDiscriminator> make_networks(
      const models::Text2ImgOptions& options);
  Text2ImgGan(std::pair<models::Text2ImageGenerator, models::Text2ImageDiscriminator> networks,
              const GanOptions& options, const AdamSettings& adam, torch::Device device);
  torch::Tensor run_generator(torch::nn::Module& generator, const torch::Tensor& embeddings,
                              const torch::Tensor& noise) override;
};

// The GAN of `phase` ("img2text" | "text2img") as the config describes it (img2text.* / text2img.* and
// train.{lr,beta1,beta2,adam_eps}).
std::unique_ptr<Gan> make_gan(const Config& config, const std::string& phase, torch::Device device);

}  // namespace fergan::gan
