// An exponential moving average of the generator's weights, the generator that inference and evaluation use.
//
// GAN generators oscillate around a good solution rather than converge to it; averaging the weights over the
// last few hundred steps (Yazici et al. 2019; Karras et al.) gives markedly better and more stable samples at
// no training cost. The average is a second copy of the generator, updated after every generator step:
//   avg = d * avg + (1 - d) * weights,   d = min(decay, (1 + n) / (10 + n)),  n = updates so far,
// the warm-up making early averages follow the fast-moving weights instead of the random initialisation.
//
// BatchNorm running statistics belong to the weights they were measured with, so the average's are not
// averaged: refresh_batch_norm_statistics() measures them anew on the averaged weights ("standing
// statistics", Brock et al. 2019), which the trainer does before each checkpoint.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>

namespace fergan::gan {

class WeightAverage {
 public:
  // `copy`: a deep copy of the generator, which becomes the average (same parameter order).
  WeightAverage(std::shared_ptr<torch::nn::Module> copy, double decay);

  // After each generator optimizer step.
  void update(const torch::nn::Module& generator);

  torch::nn::Module& model() { return *model_; }
  double decay() const { return decay_; }
  int64_t updates() const { return updates_; }
  void set_updates(int64_t n) { updates_ = n; }  // on resume
  // Copies the generator's weights and buffers into the average and restarts the warm-up.
  void restart_from(const torch::nn::Module& generator);

 private:
  std::shared_ptr<torch::nn::Module> model_;
  double decay_;
  int64_t updates_ = 0;
};

// Resets every BatchNorm's running statistics in `module` and re-estimates them as the plain average over
// the batches that `run_batches` pushes through the module in training mode (no gradients). The module's
// training flag and the BatchNorms' momentum are restored afterwards.
void refresh_batch_norm_statistics(torch::nn::Module& module, const std::function<void()>& run_batches);

}  // namespace fergan::gan
