// The GAN training step (see step.h), read top to bottom: D step, then G step.
#include "fergan/gan/step.h"

#include "fergan/core/check.h"

namespace fergan::gan {

namespace {
void check_inputs(const Gan& gan, const StepInputs& in) {
  FG_CHECK(in.condition.defined() && in.real.defined(), "train_step: condition and real are required");
  FG_CHECK(in.wrong_sample.defined() == gan.matching_aware() &&
               in.wrong_condition.defined() == gan.matching_aware(),
           "train_step: wrong_sample/wrong_condition must be given ",
           gan.matching_aware() ? "(matching-aware GAN)" : "only to a matching-aware GAN");
}
}  // namespace

StepStats train_step(Gan& gan, const StepInputs& in, GradSync& sync) {
  check_inputs(gan, in);
  StepStats stats;

  // Discriminator update. The generator runs without a graph: its output is a constant here.
  torch::Tensor fake;
  {
    torch::NoGradGuard no_grad;
    fake = gan.generate(in.condition, in.noise);
  }
  const std::vector<torch::Tensor> d_params = gan.discriminator().parameters(true);
  gan.discriminator_optimizer().zero_grad();
  torch::Tensor real_logits = gan.discriminate(in.real, in.condition);
  torch::Tensor fake_logits = gan.discriminate(fake, in.condition);
  torch::Tensor wrong_logits;
  if (gan.matching_aware()) wrong_logits = gan.discriminate(in.wrong_sample, in.wrong_condition);
  stats.d_loss = discriminator_loss(real_logits, fake_logits, wrong_logits);
  sync.begin(d_params);
  stats.d_loss.backward();
  sync.end(d_params);
  gan.discriminator_optimizer().step();
  stats.d_real = torch::sigmoid(real_logits.detach()).mean();
  stats.d_fake = torch::sigmoid(fake_logits.detach()).mean();
  stats.d_loss = stats.d_loss.detach();

  // Generator update through the just-updated discriminator, whose parameters get no gradients.
  const std::vector<torch::Tensor> g_params = gan.generator().parameters(true);
  {
    FrozenParameters frozen(gan.discriminator());
    gan.generator_optimizer().zero_grad();
    torch::Tensor fake_for_g = gan.generate(in.condition, in.noise);
    stats.g_loss = bce_with_logits(gan.discriminate(fake_for_g, in.condition), 1.0);
    sync.begin(g_params);
    stats.g_loss.backward();
    sync.end(g_params);
  }
  gan.generator_optimizer().step();
  stats.g_loss = stats.g_loss.detach();
  return stats;
}

torch::Tensor bce_with_logits(const torch::Tensor& logits, double target) {
  return torch::binary_cross_entropy_with_logits(logits, torch::full_like(logits, target));
}

torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits,
                                 const torch::Tensor& wrong_logits) {
  torch::Tensor real_loss = bce_with_logits(real_logits, 1.0);
  torch::Tensor fake_loss = bce_with_logits(fake_logits, 0.0);
  if (wrong_logits.defined()) fake_loss = (fake_loss + bce_with_logits(wrong_logits, 0.0)) / 2;
  return (real_loss + fake_loss) / 2;
}

FrozenParameters::FrozenParameters(const torch::nn::Module& module) : params_(module.parameters(true)) {
  for (auto& p : params_) {
    flags_.push_back(p.requires_grad());
    p.requires_grad_(false);
  }
}

FrozenParameters::~FrozenParameters() {
  for (size_t i = 0; i < params_.size(); ++i) params_[i].requires_grad_(flags_[i]);
}

}  // namespace fergan::gan
