// The seam between a GAN step and data parallelism.
//
// A GAN step calls begin() just before loss.backward() and end() just after. A single process uses
// the no-op NoGradSync; the distributed trainer passes a bucketed all-reducer (dist/bucket_reducer.h) that
// starts each bucket's all-reduce from autograd hooks during backward and, in end(), waits for the
// buckets and leaves every parameter's .grad holding the average over ranks.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace fergan::gan {

class GradSync {
 public:
  virtual ~GradSync() = default;
  // `params`: exactly the parameters that this backward pass gives gradients to (requires_grad = true).
  virtual void begin(const std::vector<torch::Tensor>& params) {}
  virtual void end(const std::vector<torch::Tensor>& params) {}
};

class NoGradSync : public GradSync {};

}  // namespace fergan::gan
