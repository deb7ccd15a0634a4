// Synchronized BatchNorm (config dist.sync_batchnorm): in data-parallel training, every training-mode
// BatchNorm2d normalises with the mean and variance of the GLOBAL batch (all ranks), so R ranks with batch B
// each behave like one process with batch R*B, as PyTorch's SyncBatchNorm does. Without it each rank
// normalises with the statistics of its own B samples (DistributedDataParallel's default), which differ
// from rank to rank and from a single-process run.
//
// The networks keep their plain torch::nn::BatchNorm2d modules (same parameter and buffer names and shapes,
// so checkpoints move freely between sync on/off and world sizes); only how their forward is computed
// changes, and only while a BatchStatsAllReduce is attached and the module is in training mode. Detached
// (one rank, or sync off), the networks run exactly the original nn::BatchNorm2d code path.
//
// The models library knows nothing about communication: BatchStatsAllReduce is the seam, implemented by the
// distributed code (dist/batch_stats.h) on top of its Communicator.
#pragma once

#include <torch/torch.h>

#include <memory>

namespace fergan::models {

// A sum over all data-parallel ranks, in place. Every rank must call it in the same order with tensors of
// the same shape (it is a collective). Called with contiguous float64 tensors on the input's device.
class BatchStatsAllReduce {
 public:
  virtual ~BatchStatsAllReduce() = default;
  virtual void sum_in_place(torch::Tensor& tensor) = 0;
};

// One training-mode BatchNorm2d forward of `bn` over the global batch: one all-reduce of the per-channel
// moments and the sample count in forward, one of sum(dy) and sum(dy * (x - mean)) in backward (when the
// input needs a gradient). Updates bn's running statistics with the global mean and the unbiased global
// variance, and num_batches_tracked, like BatchNorm2d. Weight and bias gradients are this rank's share
// (the gradient all-reduce averages them, as for every other parameter).
torch::Tensor sync_batch_norm2d(const torch::Tensor& input, torch::nn::BatchNorm2dImpl& bn,
                                const std::shared_ptr<BatchStatsAllReduce>& all_reduce);

// bn.forward(input), except that with `all_reduce` set and bn in training mode it is sync_batch_norm2d.
torch::Tensor batch_norm_forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& input,
                                 const std::shared_ptr<BatchStatsAllReduce>& all_reduce);

// seq->forward(input), except that with `all_reduce` set every BatchNorm2d in training mode goes through
// sync_batch_norm2d. With `all_reduce` null it IS seq->forward(input).
torch::Tensor forward_with_batch_stats(torch::nn::Sequential& seq, const torch::Tensor& input,
                                       const std::shared_ptr<BatchStatsAllReduce>& all_reduce);

}  // namespace fergan::models
