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

#include "fergan/core/config.h"
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

class Gan {
 public:
  virtual ~Gan() = default;
  Gan(const Gan&) = delete;
  Gan& operator=(const Gan&) = delete;

  // G(condition, noise) -> sample. `noise` is undefined for a generator without a noise input.
  virtual torch::Tensor generate(const torch::Tensor& condition, const torch::Tensor& noise) = 0;
  // D(sample, condition) -> logits. An unconditional discriminator ignores `condition`.
  virtual torch::Tensor discriminate(const torch::Tensor& sample, const torch::Tensor& condition) = 0;
  // Makes every training-mode BatchNorm of both networks normalise over the global batch of all ranks
  // (dist.sync_batchnorm); null detaches it. Networks without BatchNorm ignore it.
  virtual void set_batch_stats_all_reduce(std::shared_ptr<models::BatchStatsAllReduce> all_reduce) {}
  virtual bool has_batch_norm() const { return false; }

  torch::nn::Module& generator() { return *generator_; }
  torch::nn::Module& discriminator() { return *discriminator_; }
  torch::optim::Adam& generator_optimizer() { return *generator_optimizer_; }
  torch::optim::Adam& discriminator_optimizer() { return *discriminator_optimizer_; }
  // (real sample, wrong condition) pairs count as fake: every StepInputs then carries wrong_* tensors.
  bool matching_aware() const { return matching_aware_; }

 protected:
  // Moves both networks to `device`, then builds the optimizers over the moved parameters.
  Gan(std::shared_ptr<torch::nn::Module> generator, std::shared_ptr<torch::nn::Module> discriminator,
      bool matching_aware, const AdamSettings& adam, torch::Device device);

 private:
  std::shared_ptr<torch::nn::Module> generator_, discriminator_;
  std::unique_ptr<torch::optim::Adam> generator_optimizer_, discriminator_optimizer_;
  bool matching_aware_ = false;
};

// Image->Text: condition = images [B,3,S,S], sample = caption embeddings [B,D].
class Img2TextGan final : public Gan {
 public:
  Img2TextGan(const models::Img2TextOptions& options, bool matching_aware, const AdamSettings& adam,
              torch::Device device);
  torch::Tensor generate(const torch::Tensor& images, const torch::Tensor& noise) override;
  torch::Tensor discriminate(const torch::Tensor& embeddings, const torch::Tensor& images) override;

  models::Img2TextGenerator G;
  models::Img2TextDiscriminator D;

 private:
  static std::pair<models::Img2TextGenerator, models::Img2TextDiscriminator> make_networks(
      const models::Img2TextOptions& options);
  Img2TextGan(std::pair<models::Img2TextGenerator, models::Img2TextDiscriminator> networks,
              bool matching_aware, const AdamSettings& adam, torch::Device device);
};

// Text->Image: condition = caption embeddings [B,D], sample = images [B,3,S,S].
class Text2ImgGan final : public Gan {
 public:
  Text2ImgGan(const models::Text2ImgOptions& options, bool matching_aware, const AdamSettings& adam,
              torch::Device device);
  torch::Tensor generate(const torch::Tensor& embeddings, const torch::Tensor& noise) override;
  torch::Tensor discriminate(const torch::Tensor& images, const torch::Tensor& embeddings) override;
  void set_batch_stats_all_reduce(std::shared_ptr<models::BatchStatsAllReduce> all_reduce) override;
  bool has_batch_norm() const override { return true; }

  models::Text2ImageGenerator G;
  models::Text2ImageDiscriminator D;

 private:
  static std::pair<models::Text2ImageGenerator, models::Text2ImageDiscriminator> make_networks(
      const models::Text2ImgOptions& options);
  Text2ImgGan(std::pair<models::Text2ImageGenerator, models::Text2ImageDiscriminator> networks,
              bool matching_aware, const AdamSettings& adam, torch::Device device);
};

// The GAN of `phase` ("img2text" | "text2img") as the config describes it (img2text.* / text2img.* and
// train.{lr,beta1,beta2}).
std::unique_ptr<Gan> make_gan(const Config& config, const std::string& phase, torch::Device device);

}  // namespace fergan::gan
