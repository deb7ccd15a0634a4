// Synchronized BatchNorm (models/sync_batchnorm.h over dist/batch_stats.h) under `mpirun -np 2`.
//
// Every rank builds the same seeded full batch, runs a plain single-process BatchNorm2d on ALL of it as the
// reference, and runs the synchronized BatchNorm on its own slice only. Forward output, input gradient,
// weight/bias gradients (summed over ranks, as the gradient all-reduce would) and running statistics must
// match the reference: two ranks behave like one process with the whole batch.
#include <gtest/gtest.h>

#include <atomic>

#include "fergan/dist/batch_stats.h"
#include "fergan/dist/communicator.h"
#include "fergan/models/sync_batchnorm.h"
#include "fergan/models/text2img.h"
#include "mpi_gtest_main.h"

using namespace fergan;

namespace {

constexpr double kTolerance = 1e-6;  // on max|a - b| / max|b|, float32 rounding is ~1e-7

// max|a - b| / max|b|: scale-free, and meaningful for tensors that hold values near zero.
double relative_difference(const torch::Tensor& a, const torch::Tensor& b) {
  const auto a64 = a.detach().to(torch::kFloat64), b64 = b.detach().to(torch::kFloat64);
  return (a64 - b64).abs().max().item<double>() / std::max(b64.abs().max().item<double>(), 1e-30);
}

// Counts the collectives, to check when synchronized BatchNorm communicates.
class CountingBatchStats : public models::BatchStatsAllReduce {
 public:
  explicit CountingBatchStats(dist::Communicator& comm) : inner_(comm) {}
  void sum_in_place(torch::Tensor& tensor) override {
    ++calls;
    inner_.sum_in_place(tensor);
  }
  int calls = 0;

 private:
  dist::CommunicatorBatchStats inner_;
};

std::unique_ptr<dist::Communicator> comm() {
  return dist::make_mpi_communicator(test::context(), 60.0);
}

// A BatchNorm2d with seeded non-default affine parameters and running statistics.
torch::nn::BatchNorm2d make_bn(int64_t channels, c10::optional<double> momentum) {
  torch::manual_seed(7);
  torch::nn::BatchNorm2d bn(torch::nn::BatchNorm2dOptions(channels).momentum(momentum));
  torch::NoGradGuard no_grad;
  bn->weight.uniform_(0.5, 1.5);
  bn->bias.uniform_(-0.5, 0.5);
  bn->running_mean.uniform_(-1, 1);
  bn->running_var.uniform_(0.5, 2);
  return bn;
}

// Rows [begin, end) of the batch belong to this rank.
struct Slice {
  int64_t begin, end;
};

// Two training steps on a batch of `total` samples split as `slices` (one per rank); compares everything.
void check_against_whole_batch(dist::Communicator& c, int64_t total, const std::vector<Slice>& slices,
                               c10::optional<double> momentum) {
  const int64_t channels = 6;
  auto reference = make_bn(channels, momentum);
  auto synced = make_bn(channels, momentum);
  auto all_reduce = std::make_shared<CountingBatchStats>(c);
  const Slice mine = slices.at(c.rank());
  for (int step = 0; step < 2; ++step) {
    torch::manual_seed(100 + step);
    // A channel mean far from zero relative to its spread: the case where a naive float32 E[x^2] - E[x]^2
    // would lose digits.
    const auto offsets = torch::linspace(-20, 30, channels).view({1, channels, 1, 1});
    const auto whole = torch::randn({total, channels, 5, 7}) * 0.7 + offsets;
    const auto upstream = torch::randn({total, channels, 5, 7});  // dLoss/dOutput

    auto x_ref = whole.clone().requires_grad_(true);
    reference->zero_grad();
    auto y_ref = reference->forward(x_ref);
    (y_ref * upstream).sum().backward();

    auto x = whole.slice(0, mine.begin, mine.end).clone().requires_grad_(true);
    synced->zero_grad();
    const int calls_before = all_reduce->calls;
    auto y = models::sync_batch_norm2d(x, *synced, all_reduce);
    EXPECT_EQ(all_reduce->calls - calls_before, 1) << "one all-reduce per forward";
    (y * upstream.slice(0, mine.begin, mine.end)).sum().backward();
    EXPECT_EQ(all_reduce->calls - calls_before, 2) << "one all-reduce per backward";
    // Weight and bias gradients are this rank's share; the gradient all-reduce adds the others.
    auto grad_weight = synced->weight.grad().clone(), grad_bias = synced->bias.grad().clone();
    c.allreduce_sum(grad_weight);
    c.allreduce_sum(grad_bias);

    const std::map<std::string, double> diffs = {
        {"output", relative_difference(y, y_ref.slice(0, mine.begin, mine.end))},
        {"input grad", relative_difference(x.grad(), x_ref.grad().slice(0, mine.begin, mine.end))},
        {"weight grad", relative_difference(grad_weight, reference->weight.grad())},
        {"bias grad", relative_difference(grad_bias, reference->bias.grad())},
        {"running_mean", relative_difference(synced->running_mean, reference->running_mean)},
        {"running_var", relative_difference(synced->running_var, reference->running_var)},
    };
    for (const auto& [what, diff] : diffs) {
      EXPECT_LE(diff, kTolerance) << what << " (step " << step << ", rank " << c.rank() << ")";
      if (c.rank() == 0) std::printf("    step %d, %-12s max rel diff %.3g\n", step, what.c_str(), diff);
    }
    EXPECT_TRUE(torch::equal(synced->num_batches_tracked, reference->num_batches_tracked));
  }
}

}  // namespace

TEST(SyncBatchNorm, TwoRanksWithHalfTheBatchEqualOneProcessWithAll) {
  auto c = comm();
  ASSERT_EQ(c->world(), 2) << "run under mpirun -np 2";
  check_against_whole_batch(*c, 8, {{0, 4}, {4, 8}}, /*momentum=*/0.1);
}

TEST(SyncBatchNorm, UnequalShardsAndCumulativeAverage) {
  // 3 + 5 samples: the global count, not world * local count, weighs the statistics; momentum none means
  // BatchNorm's cumulative moving average (1 / num_batches_tracked).
  auto c = comm();
  check_against_whole_batch(*c, 8, {{0, 3}, {3, 8}}, /*momentum=*/c10::nullopt);
}

TEST(SyncBatchNorm, EvalModeUsesRunningStatisticsWithoutCommunication) {
  auto c = comm();
  auto all_reduce = std::make_shared<CountingBatchStats>(*c);
  auto plain = make_bn(4, 0.1);
  torch::nn::Sequential seq(make_bn(4, 0.1), torch::nn::ReLU());
  seq->eval();
  plain->eval();
  torch::manual_seed(5 + c->rank());  // different inputs per rank: nothing may be shared
  const auto x = torch::randn({3, 4, 2, 2});
  auto y = models::forward_with_batch_stats(seq, x, all_reduce);
  EXPECT_EQ(all_reduce->calls, 0);
  EXPECT_TRUE(torch::equal(y, torch::relu(plain->forward(x))));
}

TEST(SyncBatchNorm, DiscriminatorOnTwoRanksEqualsOneProcessOnTheWholeBatch) {
  // The wiring through the network: every BatchNorm2d of the PatchGAN goes through the synchronized path.
  auto c = comm();
  models::Text2ImgOptions options;
  options.latent_dim = 16;
  options.ndf = 8;
  options.image_size = 64;
  options.conditional = true;
  torch::manual_seed(11);
  models::Text2ImageDiscriminator reference(options);
  torch::manual_seed(11);
  models::Text2ImageDiscriminator synced(options);
  auto all_reduce = std::make_shared<CountingBatchStats>(*c);
  synced->batch_stats_all_reduce = all_reduce;

  torch::manual_seed(12);
  const int64_t total = 6, half = total / 2, begin = c->rank() * half;
  const auto images = torch::rand({total, 3, 64, 64}) * 2 - 1;
  const auto embeddings = torch::randn({total, options.latent_dim});
  const auto upstream = torch::randn({total * models::Text2ImgOptions::kPatchesPerSample, 1});

  auto logits_ref = reference->forward(images, embeddings);
  (logits_ref * upstream).sum().backward();
  auto logits =
      synced->forward(images.slice(0, begin, begin + half), embeddings.slice(0, begin, begin + half));
  const int64_t patches = models::Text2ImgOptions::kPatchesPerSample;
  (logits * upstream.slice(0, begin * patches, (begin + half) * patches)).sum().backward();
  EXPECT_EQ(all_reduce->calls, 2 * 2) << "two BatchNorms at 64x64, forward and backward each";

  double worst = relative_difference(logits, logits_ref.slice(0, begin * patches, (begin + half) * patches));
  EXPECT_LE(worst, kTolerance) << "logits";
  // The biases of the convs in front of a BatchNorm have an exactly-zero true gradient (BatchNorm removes
  // any per-channel shift); both runs hold only rounding noise there, so those are checked to be noise-sized
  // and every other gradient relatively.
  double largest_grad = 0;
  for (const auto& p : reference->parameters())
    largest_grad = std::max(largest_grad, p.grad().abs().max().item<double>());
  const double noise_level = 1e-5 * largest_grad;
  auto got = synced->named_parameters();
  for (const auto& item : reference->named_parameters()) {
    auto grad = got[item.key()].grad().clone();
    c->allreduce_sum(grad);
    const auto& ref = item.value().grad();
    if (ref.abs().max().item<double>() < noise_level) {
      EXPECT_LT(grad.abs().max().item<double>(), noise_level) << item.key() << " grad should be ~0";
      continue;
    }
    const double diff = relative_difference(grad, ref);
    EXPECT_LE(diff, 1e-5) << item.key() << " grad";  // sums of thousands of terms in another order
    worst = std::max(worst, diff);
  }
  auto got_buffers = synced->named_buffers();
  for (const auto& item : reference->named_buffers()) {
    const double diff = relative_difference(got_buffers[item.key()], item.value());
    EXPECT_LE(diff, kTolerance) << item.key();
  }
  if (c->rank() == 0) std::printf("    discriminator: max rel diff of logits and gradients %.3g\n", worst);
}
