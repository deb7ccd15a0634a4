// Synchronized BatchNorm2d (see sync_batchnorm.h): a custom autograd function whose forward normalises with
// statistics all-reduced over ranks and whose backward all-reduces the two per-channel sums that the input
// gradient needs, the same split of work as PyTorch's SyncBatchNorm.
//
// Statistics: each rank computes its per-channel mean and biased variance in the input's precision (a
// careful two-pass reduction), then packs n*mean, M2 + n*mean^2 (= sum of squares) and n in float64 into one
// tensor for ONE all-reduce. Combining in float64 keeps the sum-of-squares form free of the float32
// cancellation it would suffer (mean^2 >> variance), so the global moments match a single-process
// BatchNorm2d over the whole batch to float32 rounding.
#include "fergan/models/sync_batchnorm.h"

#include "fergan/core/check.h"

namespace fergan::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// What the forward updates besides its output: BatchNorm2d's running statistics (undefined when the module
// does not track them) and the weight of the new batch in their moving average.
struct RunningStats {
  torch::Tensor mean, var;
  double average_factor = 0;
};

// Lets the all-reduce interface ride in an autograd context's saved_data (which holds IValues) until
// backward, keeping it alive as long as the graph.
struct AllReduceHolder : torch::CustomClassHolder {
  explicit AllReduceHolder(std::shared_ptr<BatchStatsAllReduce> all_reduce)
      : all_reduce(std::move(all_reduce)) {}
  std::shared_ptr<BatchStatsAllReduce> all_reduce;
};

// [C] -> [1, C, 1, 1], to broadcast a per-channel value over an NCHW tensor.
torch::Tensor per_channel(const torch::Tensor& t) {
  return t.view({1, -1, 1, 1});
}

struct SyncBatchNorm2dFunction : torch::autograd::Function<SyncBatchNorm2dFunction> {
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input, const torch::Tensor& weight,
                               const torch::Tensor& bias, RunningStats running, double eps,
                               std::shared_ptr<BatchStatsAllReduce> all_reduce) {
    const int64_t channels = input.size(1);
    const double local_count = static_cast<double>(input.numel() / channels);
    auto [local_var, local_mean] = torch::var_mean(input, {0, 2, 3}, /*unbiased=*/false);
    const torch::Tensor mean64 = local_mean.to(torch::kFloat64);
    const torch::Tensor sum = mean64 * local_count;
    const torch::Tensor sum_of_squares = (local_var.to(torch::kFloat64) + mean64 * mean64) * local_count;
    torch::Tensor packed = torch::cat({sum, sum_of_squares, torch::full({1}, local_count, sum.options())});
    all_reduce->sum_in_place(packed);

    const torch::Tensor count = packed.slice(0, 2 * channels);  // [1], stays on the device: no host sync
    const torch::Tensor global_mean = packed.slice(0, 0, channels) / count;
    const torch::Tensor global_var =
        (packed.slice(0, channels, 2 * channels) / count - global_mean * global_mean).clamp_min(0);
    const torch::Tensor invstd64 = (global_var + eps).rsqrt();

    if (running.mean.defined()) {
      const double f = running.average_factor;
      const torch::Tensor unbiased_var = global_var * count / (count - 1);
      running.mean.mul_(1 - f).add_(global_mean.to(running.mean.dtype()), f);
      running.var.mul_(1 - f).add_(unbiased_var.to(running.var.dtype()), f);
    }

    const torch::Tensor mean = global_mean.to(input.dtype());
    const torch::Tensor invstd = invstd64.to(input.dtype());
    torch::Tensor output = (input - per_channel(mean)) * per_channel(invstd * weight) + per_channel(bias);

    ctx->save_for_backward({input, weight, mean, invstd, count});
    ctx->saved_data["all_reduce"] =
        c10::IValue::make_capsule(c10::make_intrusive<AllReduceHolder>(std::move(all_reduce)));
    return output;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &input = saved[0], &weight = saved[1], &mean = saved[2], &invstd = saved[3],
                        &count = saved[4];
    const torch::Tensor grad_output = grad_outputs[0].contiguous();
    const torch::Tensor centered = input - per_channel(mean);
    const torch::Tensor local_sum_dy = grad_output.sum({0, 2, 3});
    const torch::Tensor local_sum_dy_centered = (grad_output * centered).sum({0, 2, 3});

    torch::Tensor grad_input, grad_weight, grad_bias;
    if (ctx->needs_input_grad(0)) {
      // Every rank's output depends on every rank's input through the statistics, so the input gradient
      // needs the global sums. (Whether the input needs a gradient is a property of the graph, the same on
      // every rank, so the collective is called everywhere or nowhere.)
      const int64_t channels = input.size(1);
      torch::Tensor packed = torch::cat({local_sum_dy, local_sum_dy_centered}).to(torch::kFloat64);
      auto holder = ctx->saved_data["all_reduce"].toCapsule();
      static_cast<AllReduceHolder*>(holder.get())->all_reduce->sum_in_place(packed);
      const torch::Tensor mean_dy = (packed.slice(0, 0, channels) / count).to(input.dtype());
      const torch::Tensor mean_dy_centered = (packed.slice(0, channels) / count).to(input.dtype());
      grad_input =
          (grad_output - per_channel(mean_dy) - centered * per_channel(invstd * invstd * mean_dy_centered)) *
          per_channel(invstd * weight);
    }
    if (ctx->needs_input_grad(1)) grad_weight = local_sum_dy_centered * invstd;
    if (ctx->needs_input_grad(2)) grad_bias = local_sum_dy;
    // One entry per forward argument: input, weight, bias, running, eps, all_reduce.
    return {grad_input, grad_weight, grad_bias, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

torch::Tensor sync_batch_norm2d(const torch::Tensor& input, torch::nn::BatchNorm2dImpl& bn,
                                const std::shared_ptr<BatchStatsAllReduce>& all_reduce) {
  FG_CHECK(all_reduce, "sync_batch_norm2d: no all-reduce attached");
  FG_CHECK(input.dim() == 4, "sync_batch_norm2d: expected an NCHW input, got ", input.sizes());
  FG_CHECK(bn.options.affine(), "sync_batch_norm2d: only affine BatchNorm2d is supported");
  // The moving-average weight exactly as BatchNorm2d computes it (momentum, or a cumulative average).
  RunningStats running;
  if (bn.options.track_running_stats()) {
    running.mean = bn.running_mean;
    running.var = bn.running_var;
    bn.num_batches_tracked += 1;
    running.average_factor =
        bn.options.momentum() ? *bn.options.momentum() : 1.0 / bn.num_batches_tracked.item<double>();
  }
  return SyncBatchNorm2dFunction::apply(input.contiguous(), bn.weight, bn.bias, running, bn.options.eps(),
                                        all_reduce);
}

torch::Tensor batch_norm_forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& input,
                                 const std::shared_ptr<BatchStatsAllReduce>& all_reduce) {
  // Eval mode normalises with the running statistics: local, nothing to synchronise.
  if (all_reduce && (bn.is_training() || !bn.options.track_running_stats()))
    return sync_batch_norm2d(input, bn, all_reduce);
  return bn.forward(input);
}

torch::Tensor forward_with_batch_stats(torch::nn::Sequential& seq, const torch::Tensor& input,
                                       const std::shared_ptr<BatchStatsAllReduce>& all_reduce) {
  if (!all_reduce) return seq->forward(input);
  torch::Tensor x = input;
  for (auto& layer : *seq) {
    auto* bn = layer.ptr()->as<torch::nn::BatchNorm2dImpl>();
    x = bn ? batch_norm_forward(*bn, x, all_reduce) : layer.forward(x);
  }
  return x;
}

}  // namespace fergan::models
