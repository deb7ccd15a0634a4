// One GAN training step: a discriminator update, then a generator update, for either GAN (gan.h).
//
//   D step: fake = G(condition, noise) as a constant; real, fake (and, matching-aware, the wrong pair)
//           through D SEPARATELY (BatchNorm batch statistics depend on it), each augmented first when the GAN
//           uses DiffAugment; d_loss (BCE or hinge) [+ class_weight x D's emotion cross-entropy on the real
//           samples, from the same D pass]; zero_grad; sync.begin(D params); backward;
//           sync.end(D params); D's optimizer step.
//   G step: D's parameters frozen; zero_grad; fake = G(condition, noise) (the D step's output and graph,
//           which are the same function of the same weights; with the mode-seeking term, a fresh pass that
//           also makes a second fake from noise2); g_loss = the adversarial loss [+ mode-seeking term]
//           [+ supervised term] [+ auxiliary classifier term]; sync.begin(G params); backward; sync.end(G
//           params); G's optimizer step; the weight average follows G.
// With every option off this is exactly the original's step (the generator's BatchNorm running statistics
// included: RepeatedRunningStats). With GanOptions::amp the forward passes run under bf16 autocast
// (core/autocast.h) and the losses in float32.
// `sync` (grad_sync.h) is where data parallelism enters: it averages the gradients over all ranks between
// backward and the optimizer step. The step's statistics stay on the device as 0-dim tensors, so the step
// never forces a host sync; the trainer reads them when it logs.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "fergan/gan/gan.h"
#include "fergan/gan/grad_sync.h"
#include "fergan/gan/step_timer.h"

namespace fergan::gan {

// One batch as the step sees it (see gan.h for what condition and sample are in each GAN).
struct StepInputs {
  torch::Tensor condition;  // G's input and D's condition
  torch::Tensor real;       // the true sample of each condition
  torch::Tensor noise;      // [B, noise_dim] for a generator with a noise input; undefined otherwise
  // Matching-aware negative: a real sample paired with a condition of ANOTHER emotion, scored as fake.
  // Defined (both) iff the GAN is matching-aware.
  torch::Tensor wrong_sample, wrong_condition;
  torch::Tensor noise2;   // a second, independent noise draw; the mode-seeking term needs it
  torch::Tensor augment;  // DiffAugment: [B, kAugmentUses, kAugmentParams] uniforms in [0, 1)
  torch::Tensor labels;  // [B] int64 emotion of each sample: the auxiliary classifier's target (class_weight)
};

// Which of D's inputs an augmentation draw is for: each gets its own draw.
enum class AugmentUse : int64_t { Real = 0, Fake, Wrong, GeneratorFake, GeneratorFake2 };
constexpr int64_t kAugmentUses = 5;

struct StepStats {
  torch::Tensor d_loss;  // the discriminator loss that was minimised
  torch::Tensor g_loss;  // the generator loss that was minimised
  torch::Tensor d_real;  // mean sigmoid(D(real)) in the D step
  torch::Tensor d_fake;  // mean sigmoid(D(fake)) in the D step
  // Defined when the term is on: mean |G(c,z1) - G(c,z2)| / mean |z1 - z2|; mean 1 - cos(G(condition), real).
  torch::Tensor mode_seeking, supervised;
  // Defined when class_weight > 0: D's cross-entropy on the real faces' emotions, and on the fakes' (G step).
  torch::Tensor class_real, class_fake;
};

// `timer`, when given, gets a lap at every boundary between forward, backward, communication wait
// (sync.end) and optimizer, in both updates.
StepStats train_step(Gan& gan, const StepInputs& inputs, GradSync& sync, StepTimer* timer = nullptr);

// Mean binary cross-entropy of sigmoid(logits) against a constant target (1 real, 0 fake): the original's
// Sigmoid + BCELoss, computed stably.
torch::Tensor bce_with_logits(const torch::Tensor& logits, double target);

// The discriminator loss. Plain: (BCE(real,1) + BCE(fake,0)) / 2. Matching-aware (Reed et al. 2016, GAN-CLS),
// when `wrong_logits` is defined: (BCE(real,1) + (BCE(fake,0) + BCE(wrong,0)) / 2) / 2. Hinge: the same
// with relu(1 - real) for BCE(real,1) and relu(1 + fake) for BCE(fake,0).
torch::Tensor discriminator_loss(Loss loss, const torch::Tensor& real_logits,
                                 const torch::Tensor& fake_logits, const torch::Tensor& wrong_logits);
// The generator's adversarial loss: BCE(fake,1), or -mean(fake) with the hinge loss.
torch::Tensor generator_loss(Loss loss, const torch::Tensor& fake_logits);

// While alive, each training-mode BatchNorm2d of `module` (with a momentum m) updates its running statistics
// as if the forward had run twice: momentum 1 - (1 - m)^2, and one more batch counted on destruction. The
// original loop runs the generator twice per step on the same batch with the same weights (once for the D
// step, once for the G step), so its running statistics take two identical updates; train_step computes
// that output once and keeps the running statistics (and so checkpoints) the original's.
class RepeatedRunningStats {
 public:
  explicit RepeatedRunningStats(torch::nn::Module& module);
  ~RepeatedRunningStats();
  RepeatedRunningStats(const RepeatedRunningStats&) = delete;
  RepeatedRunningStats& operator=(const RepeatedRunningStats&) = delete;

 private:
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, double>> changed_;
};

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
