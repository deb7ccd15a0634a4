// What one GAN training step takes and returns, and the pieces both GANs' steps share.
//
// A step is one discriminator update followed by one generator update (SPEC §2). Its statistics stay on the
// device as 0-dim tensors so the step never forces a host sync; the trainer reads them when it logs.
#pragma once

#include <torch/torch.h>

#include <functional>
#include <vector>

#include "fergan/config.h"

namespace fergan::gan {

struct StepInputs {
  torch::Tensor images;    // [B,3,S,S] in [-1,1]
  torch::Tensor real_emb;  // [B,D] caption embeddings of the samples' emotions
  torch::Tensor
      wrong_emb;        // [B,D] caption embeddings of ANOTHER emotion; defined iff the GAN is matching-aware
  torch::Tensor noise;  // [B,noise_dim] for Text->Image when noise_dim > 0; undefined otherwise
};

struct StepStats {
  torch::Tensor d_loss;  // the discriminator loss that was minimised
  torch::Tensor g_loss;  // BCE(D(G(x)), 1)
  torch::Tensor d_real;  // mean sigmoid(D(real)) in the D step
  torch::Tensor d_fake;  // mean sigmoid(D(fake)) in the D step
};

// Adam(lr, (beta1, beta2)) for all four networks, as in the original.
struct AdamSettings {
  double lr = 2e-4;
  double beta1 = 0.5;
  double beta2 = 0.999;
  static AdamSettings from(const Config& config);
  torch::optim::AdamOptions options() const;
};

// Mean binary cross-entropy of sigmoid(logits) against a constant target (1 real, 0 fake): the original's
// Sigmoid + BCELoss, computed stably.
torch::Tensor bce_with_logits(const torch::Tensor& logits, double target);

// The discriminator loss. Plain: (BCE(real,1) + BCE(fake,0)) / 2. Matching-aware (Reed et al. 2016, GAN-CLS),
// when `wrong_logits` is defined: (BCE(real,1) + (BCE(fake,0) + BCE(wrong,0)) / 2) / 2.
torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits,
                                 const torch::Tensor& wrong_logits);

class GradSync;

// The step both GANs share, written once so their order cannot drift apart:
//   D step: fake = generate() under NoGradGuard; real, fake (and wrong) through D SEPARATELY (BatchNorm batch
//           statistics depend on it); d_loss = discriminator_loss(...); zero_grad; sync.begin(D params);
//           backward; sync.end(D params); opt_d.step().
//   G step: D params frozen; zero_grad; fake = generate() afresh; g_loss = BCE(score_fake(fake), 1);
//           sync.begin(G params); backward; sync.end(G params); opt_g.step().
// score_wrong is empty unless matching-aware.
struct AdversarialStep {
  std::function<torch::Tensor()> generate;
  std::function<torch::Tensor()> score_real;
  std::function<torch::Tensor(const torch::Tensor& fake)> score_fake;
  std::function<torch::Tensor()> score_wrong;
};
StepStats adversarial_step(const AdversarialStep& step, torch::nn::Module& generator,
                           torch::nn::Module& discriminator, torch::optim::Optimizer& opt_g,
                           torch::optim::Optimizer& opt_d, GradSync& sync);

// Sets requires_grad(false) on a module's parameters for its lifetime and restores each flag afterwards, so
// the generator's backward does not fill the discriminator's gradients.
class FrozenParameters {
 public:
  explicit FrozenParameters(const torch::nn::Module& module);
  ~FrozenParameters();
  FrozenParameters(const FrozenParameters&) = delete;
  FrozenParameters& operator=(const FrozenParameters&) = delete;

 private:
  std::vector<torch::Tensor> params_;
  std::vector<bool> flags_;
};

}  // namespace fergan::gan
