// Generator weight averaging and standing BatchNorm statistics (see weight_average.h).
#include "fergan/gan/weight_average.h"

#include <algorithm>
#include <vector>

#include "fergan/core/check.h"

namespace fergan::gan {

WeightAverage::WeightAverage(std::shared_ptr<torch::nn::Module> copy, double decay)
    : model_(std::move(copy)), decay_(decay) {
  FG_CHECK(decay_ > 0 && decay_ < 1, "weight average: decay must be in (0, 1), got ", decay_);
  for (auto& p : model_->parameters()) p.requires_grad_(false);
}

void WeightAverage::update(const torch::nn::Module& generator) {
  const double d =
      std::min(decay_, (1.0 + static_cast<double>(updates_)) / (10.0 + static_cast<double>(updates_)));
  torch::NoGradGuard no_grad;
  const auto source = generator.parameters();
  auto target = model_->parameters();
  FG_CHECK(source.size() == target.size(), "weight average: the generator has ", source.size(),
           " parameters, its average ", target.size());
  for (size_t i = 0; i < source.size(); ++i) target[i].mul_(d).add_(source[i].detach(), 1.0 - d);
  ++updates_;
}

void WeightAverage::restart_from(const torch::nn::Module& generator) {
  torch::NoGradGuard no_grad;
  const auto source = generator.parameters();
  auto target = model_->parameters();
  for (size_t i = 0; i < source.size(); ++i) target[i].copy_(source[i]);
  const auto source_buffers = generator.buffers();
  auto target_buffers = model_->buffers();
  for (size_t i = 0; i < source_buffers.size(); ++i) target_buffers[i].copy_(source_buffers[i]);
  updates_ = 0;
}

void refresh_batch_norm_statistics(torch::nn::Module& module, const std::function<void()>& run_batches) {
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, c10::optional<double>>> norms;
  for (auto& m : module.modules(/*include_self=*/true)) {
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      if (!bn->options.track_running_stats()) continue;
      norms.emplace_back(bn, bn->options.momentum());
      bn->options.momentum(c10::nullopt);  // cumulative average over the batches below
      bn->reset_running_stats();
    }
  }
  const bool was_training = module.is_training();
  module.train();
  {
    torch::NoGradGuard no_grad;
    run_batches();
  }
  module.train(was_training);
  for (auto& [bn, momentum] : norms) bn->options.momentum(momentum);
}

}  // namespace fergan::gan
