// Shared step pieces (see step.h).
#include "fergan/gan/step.h"

#include "fergan/gan/grad_sync.h"

namespace fergan::gan {

AdamSettings AdamSettings::from(const Config& config) {
  return AdamSettings{config.train.lr, config.train.beta1, config.train.beta2};
}

torch::optim::AdamOptions AdamSettings::options() const {
  return torch::optim::AdamOptions(lr).betas(std::make_tuple(beta1, beta2));
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

StepStats adversarial_step(const AdversarialStep& step, torch::nn::Module& generator,
                           torch::nn::Module& discriminator, torch::optim::Optimizer& opt_g,
                           torch::optim::Optimizer& opt_d, GradSync& sync) {
  StepStats stats;

  // Discriminator update. The generator runs without a graph: its output is a constant here.
  torch::Tensor fake;
  {
    torch::NoGradGuard no_grad;
    fake = step.generate();
  }
  const std::vector<torch::Tensor> d_params = discriminator.parameters(true);
  opt_d.zero_grad();
  torch::Tensor real_logits = step.score_real();
  torch::Tensor fake_logits = step.score_fake(fake);
  torch::Tensor wrong_logits = step.score_wrong ? step.score_wrong() : torch::Tensor();
  stats.d_loss = discriminator_loss(real_logits, fake_logits, wrong_logits);
  sync.begin(d_params);
  stats.d_loss.backward();
  sync.end(d_params);
  opt_d.step();
  stats.d_real = torch::sigmoid(real_logits.detach()).mean();
  stats.d_fake = torch::sigmoid(fake_logits.detach()).mean();
  stats.d_loss = stats.d_loss.detach();

  // Generator update through the just-updated discriminator, whose parameters get no gradients.
  const std::vector<torch::Tensor> g_params = generator.parameters(true);
  {
    FrozenParameters frozen(discriminator);
    opt_g.zero_grad();
    stats.g_loss = bce_with_logits(step.score_fake(step.generate()), 1.0);
    sync.begin(g_params);
    stats.g_loss.backward();
    sync.end(g_params);
  }
  opt_g.step();
  stats.g_loss = stats.g_loss.detach();
  return stats;
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
