// The GAN training step (see step.h), read top to bottom: D step, then G step.
#include "fergan/gan/step.h"

#include "fergan/core/check.h"

namespace fergan::gan {

namespace {

// A bf16/fp16 activation of an autocast forward, widened so that losses (and their gradients) are computed in
// float32; float32 and float64 tensors pass through untouched.
torch::Tensor full_precision(const torch::Tensor& t) {
  const auto type = t.scalar_type();
  return type == torch::kBFloat16 || type == torch::kHalf ? t.to(torch::kFloat32) : t;
}

void check_inputs(const Gan& gan, const StepInputs& in) {
  const GanOptions& o = gan.options();
  FG_CHECK(in.condition.defined() && in.real.defined(), "train_step: condition and real are required");
  FG_CHECK(in.wrong_sample.defined() == o.matching_aware && in.wrong_condition.defined() == o.matching_aware,
           "train_step: wrong_sample/wrong_condition must be given ",
           o.matching_aware ? "(matching-aware GAN)" : "only to a matching-aware GAN");
  FG_CHECK(!o.augment.any() || (in.augment.defined() && in.augment.size(1) == kAugmentUses),
           "train_step: DiffAugment needs augment parameters [B, ", kAugmentUses, ", ", kAugmentParams, "]");
  FG_CHECK(o.mode_seeking == 0 || (in.noise.defined() && in.noise2.defined()),
           "train_step: the mode-seeking term needs noise and noise2");
  FG_CHECK(o.class_weight == 0 || (in.labels.defined() && in.labels.numel() == in.real.size(0)),
           "train_step: the auxiliary classifier term needs one label per sample");
}

// D's logits for a sample and, when the GAN trains D's emotion classifier, its emotion logits from the same
// pass (undefined otherwise).
struct Judgement {
  torch::Tensor logits, classes;
};
Judgement judge(Gan& gan, const torch::Tensor& sample, const torch::Tensor& condition) {
  if (gan.options().class_weight == 0) return {gan.discriminate(sample, condition), {}};
  auto both = gan.discriminate_with_classes(sample, condition);
  return {both.first, both.second};
}

// D's view of a sample: augmented (DiffAugment) in slot `use` when the GAN augments, else as is.
torch::Tensor seen_by_d(const Gan& gan, const StepInputs& in, const torch::Tensor& sample, AugmentUse use) {
  if (!gan.options().augment.any()) return sample;
  return augment(sample, in.augment.select(1, static_cast<int64_t>(use)), gan.options().augment);
}

// mean |G(c, z1) - G(c, z2)| / mean |z1 - z2|: how far the output moves per unit of noise (Mao et al. 2019).
torch::Tensor output_change_per_noise(const torch::Tensor& fake1, const torch::Tensor& fake2,
                                      const torch::Tensor& z1, const torch::Tensor& z2) {
  return (fake1 - fake2).abs().mean() / (z1 - z2).abs().mean();
}

}  // namespace

StepStats train_step(Gan& gan, const StepInputs& in, GradSync& sync, StepTimer* timer) {
  check_inputs(gan, in);
  const GanOptions& o = gan.options();
  StepStats stats;

  const torch::DeviceType device = in.condition.device().type();

  // Discriminator update. Its fake is a constant: without the mode-seeking term the G step needs exactly
  // this generator output again (same weights, same input), so it is computed once, with a graph, and
  // reused there; with the term the G step runs a different (doubled) batch, and this forward has no graph.
  const bool reuse_fake = o.mode_seeking == 0;
  torch::Tensor fake, fake_with_graph;
  {
    amp::Region autocast(o.amp, device);
    if (reuse_fake) {
      RepeatedRunningStats twice(gan.generator());
      fake_with_graph = gan.generate(in.condition, in.noise);
      fake = fake_with_graph.detach();
    } else {
      torch::NoGradGuard no_grad;
      fake = gan.generate(in.condition, in.noise);
    }
  }
  const std::vector<torch::Tensor> d_params = gan.discriminator().parameters(true);
  gan.discriminator_optimizer().zero_grad();
  Judgement real;
  torch::Tensor fake_logits, wrong_logits;
  {
    amp::Region autocast(o.amp, device);
    real = judge(gan, seen_by_d(gan, in, in.real, AugmentUse::Real), in.condition);
    fake_logits = gan.discriminate(seen_by_d(gan, in, fake, AugmentUse::Fake), in.condition);
    if (o.matching_aware)
      wrong_logits =
          gan.discriminate(seen_by_d(gan, in, in.wrong_sample, AugmentUse::Wrong), in.wrong_condition);
  }
  // Losses in float32 whatever precision the forward ran in.
  const torch::Tensor real_logits = full_precision(real.logits);
  if (real.classes.defined()) real.classes = full_precision(real.classes);
  fake_logits = full_precision(fake_logits);
  if (wrong_logits.defined()) wrong_logits = full_precision(wrong_logits);
  stats.d_loss = discriminator_loss(o.loss, real_logits, fake_logits, wrong_logits);
  if (o.class_weight > 0) {
    stats.class_real = torch::cross_entropy_loss(real.classes, in.labels);
    stats.d_loss = stats.d_loss + o.class_weight * stats.class_real;
    stats.class_real = stats.class_real.detach();
  }
  lap(timer, StepSection::Forward);
  sync.begin(d_params);
  stats.d_loss.backward();
  lap(timer, StepSection::Backward);
  sync.end(d_params);
  lap(timer, StepSection::CommWait);
  gan.discriminator_optimizer().step();
  lap(timer, StepSection::Optimizer);
  stats.d_real = torch::sigmoid(real_logits.detach()).mean();
  stats.d_fake = torch::sigmoid(fake_logits.detach()).mean();
  stats.d_loss = stats.d_loss.detach();

  // Generator update through the just-updated discriminator, whose parameters get no gradients.
  const std::vector<torch::Tensor> g_params = gan.generator().parameters(true);
  {
    FrozenParameters frozen(gan.discriminator());
    gan.generator_optimizer().zero_grad();
    // With the mode-seeking term: two samples per condition with independent noise, in one generator pass;
    // both must fool D, and the term rewards their difference.
    torch::Tensor fake_g, fake_g2;
    Judgement judged, judged_2;
    {
      amp::Region autocast(o.amp, device);
      if (o.mode_seeking > 0) {
        const auto both =
            gan.generate(torch::cat({in.condition, in.condition}), torch::cat({in.noise, in.noise2}));
        fake_g = both.chunk(2)[0], fake_g2 = both.chunk(2)[1];
      } else {
        fake_g = fake_with_graph;
      }
      judged = judge(gan, seen_by_d(gan, in, fake_g, AugmentUse::GeneratorFake), in.condition);
      if (o.mode_seeking > 0)
        judged_2 = judge(gan, seen_by_d(gan, in, fake_g2, AugmentUse::GeneratorFake2), in.condition);
    }
    fake_g = full_precision(fake_g);
    torch::Tensor g_loss = generator_loss(o.loss, full_precision(judged.logits));
    torch::Tensor class_fake;
    if (o.class_weight > 0) class_fake = torch::cross_entropy_loss(full_precision(judged.classes), in.labels);
    if (o.mode_seeking > 0) {
      fake_g2 = full_precision(fake_g2);
      const auto change = output_change_per_noise(fake_g, fake_g2, in.noise, in.noise2);
      g_loss = (g_loss + generator_loss(o.loss, full_precision(judged_2.logits))) / 2 +
               o.mode_seeking / (change + 1e-5);
      if (o.class_weight > 0)
        class_fake =
            (class_fake + torch::cross_entropy_loss(full_precision(judged_2.classes), in.labels)) / 2;
      stats.mode_seeking = change.detach();
    }
    if (o.class_weight > 0) {
      // The auxiliary classifier term: D, which learnt emotions from real faces only, must read the
      // caption's emotion in the fake.
      g_loss = g_loss + o.class_weight * class_fake;
      stats.class_fake = class_fake.detach();
    }
    if (o.supervised > 0) {
      // The supervised (pix2pix-style) term: G's output should point where the true sample points.
      const auto distance = (1 - torch::cosine_similarity(fake_g, in.real, 1)).mean();
      g_loss = g_loss + o.supervised * distance;
      stats.supervised = distance.detach();
    }
    stats.g_loss = g_loss;
    lap(timer, StepSection::Forward);
    sync.begin(g_params);
    stats.g_loss.backward();
    lap(timer, StepSection::Backward);
    sync.end(g_params);
    lap(timer, StepSection::CommWait);
  }
  gan.generator_optimizer().step();
  if (gan.weight_average()) gan.weight_average()->update(gan.generator());
  lap(timer, StepSection::Optimizer);
  stats.g_loss = stats.g_loss.detach();
  return stats;
}

torch::Tensor bce_with_logits(const torch::Tensor& logits, double target) {
  return torch::binary_cross_entropy_with_logits(logits, torch::full_like(logits, target));
}

torch::Tensor discriminator_loss(Loss loss, const torch::Tensor& real_logits,
                                 const torch::Tensor& fake_logits, const torch::Tensor& wrong_logits) {
  torch::Tensor real_term, fake_term;
  if (loss == Loss::Hinge) {
    real_term = torch::relu(1 - real_logits).mean();
    fake_term = torch::relu(1 + fake_logits).mean();
    if (wrong_logits.defined()) fake_term = (fake_term + torch::relu(1 + wrong_logits).mean()) / 2;
  } else {
    real_term = bce_with_logits(real_logits, 1.0);
    fake_term = bce_with_logits(fake_logits, 0.0);
    if (wrong_logits.defined()) fake_term = (fake_term + bce_with_logits(wrong_logits, 0.0)) / 2;
  }
  return (real_term + fake_term) / 2;
}

torch::Tensor generator_loss(Loss loss, const torch::Tensor& fake_logits) {
  return loss == Loss::Hinge ? -fake_logits.mean() : bce_with_logits(fake_logits, 1.0);
}

RepeatedRunningStats::RepeatedRunningStats(torch::nn::Module& module) {
  for (auto& m : module.modules(/*include_self=*/false)) {
    auto* bn = m->as<torch::nn::BatchNorm2dImpl>();
    if (!bn || !bn->is_training() || !bn->options.track_running_stats()) continue;
    if (!bn->options.momentum()) {
      // A cumulative average weighs by the batch count; two updates with one statistic are not one update.
      // Such a module keeps its single update (none of fergan's networks has one).
      continue;
    }
    const double m1 = *bn->options.momentum();
    changed_.push_back({bn, m1});
    bn->options.momentum(1 - (1 - m1) * (1 - m1));
  }
}

RepeatedRunningStats::~RepeatedRunningStats() {
  torch::NoGradGuard no_grad;
  for (auto& [bn, momentum] : changed_) {
    bn->options.momentum(momentum);
    bn->num_batches_tracked += 1;
  }
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
