// BucketReducer under `mpirun -np 2`: gradients after end() equal the average of per-rank gradients.
//
// The reference is computed without any communication: every rank rebuilds every rank's batch from its
// seed, runs plain backward for each, and averages. The reduced path runs one backward on its own batch
// between begin() and end(). A D-like and a G-like parameter set alternate (the G step freezes D, the D step
// detaches G's output), with an SGD step in between so the weights move; tiny buckets force one bucket per
// parameter, a huge bucket puts everything in one.
#include <gtest/gtest.h>

#include "fergan/dist/batch_stats.h"
#include "fergan/dist/bucket_reducer.h"
#include "fergan/dist/communicator.h"
#include "fergan/models/sync_batchnorm.h"
#include "mpi_gtest_main.h"

using namespace fergan;
using namespace fergan::dist;

namespace {

struct Batch {
  torch::Tensor real, noise;
};

Batch batch_of(int rank, int step) {
  torch::manual_seed(10000 + 100 * step + rank);
  return {torch::randn({5, 6}), torch::randn({5, 4})};
}

struct Gan {
  torch::nn::Sequential g{nullptr}, d{nullptr};
  Gan() {
    torch::manual_seed(7);  // identical weights on every rank, as after broadcast_module
    g = torch::nn::Sequential(torch::nn::Linear(4, 8), torch::nn::ReLU(), torch::nn::Linear(8, 6));
    d = torch::nn::Sequential(torch::nn::Linear(6, 16), torch::nn::Tanh(), torch::nn::Linear(16, 3),
                              torch::nn::Tanh(), torch::nn::Linear(3, 1));
  }
  void set_trainable(torch::nn::Module& m, bool on) {
    for (auto& p : m.parameters()) p.set_requires_grad(on);
  }
  torch::Tensor d_loss(const Batch& b) {
    auto fake = g->forward(b.noise).detach();
    return (torch::softplus(-d->forward(b.real)).mean() + torch::softplus(d->forward(fake)).mean()) / 2;
  }
  torch::Tensor g_loss(const Batch& b) { return torch::softplus(-d->forward(g->forward(b.noise))).mean(); }
};

std::vector<torch::Tensor> grads_of(const std::vector<torch::Tensor>& params) {
  std::vector<torch::Tensor> out;
  for (auto& p : params) out.push_back(p.grad().clone());
  return out;
}

void zero_grads(const std::vector<torch::Tensor>& params) {
  for (auto& p : params) {
    if (p.grad().defined()) p.mutable_grad().zero_();
  }
}

// Average over ranks of the gradients of `loss_of(batch of rank r)`, computed locally.
std::vector<torch::Tensor> reference_grads(const std::vector<torch::Tensor>& params, int world, int step,
                                           const std::function<torch::Tensor(const Batch&)>& loss_of) {
  std::vector<torch::Tensor> sum;
  for (int r = 0; r < world; ++r) {
    zero_grads(params);
    loss_of(batch_of(r, step)).backward();
    auto g = grads_of(params);
    if (sum.empty()) {
      sum = g;
    } else {
      for (size_t i = 0; i < g.size(); ++i) sum[i] += g[i];
    }
  }
  for (auto& s : sum) s /= world;
  return sum;
}

void run_alternating_steps(double bucket_mb, size_t expected_d_buckets, size_t expected_g_buckets) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  const int world = comm->world();
  ASSERT_EQ(world, 2);
  Gan gan;
  auto d_params = gan.d->parameters();
  auto g_params = gan.g->parameters();
  BucketReducer reducer(*comm, bucket_mb);
  EXPECT_EQ(reducer.bucket_count(d_params), expected_d_buckets);
  EXPECT_EQ(reducer.bucket_count(g_params), expected_g_buckets);
  torch::optim::SGD d_opt(d_params, 0.1), g_opt(g_params, 0.1);

  for (int step = 0; step < 4; ++step) {
    // D step: G frozen by detach; G's .grad carries a sentinel that must survive untouched.
    gan.set_trainable(*gan.d, true);
    for (auto& p : g_params) p.mutable_grad() = torch::full_like(p, 42.0);
    auto d_loss = [&](const Batch& b) { return gan.d_loss(b); };
    auto expected_d = reference_grads(d_params, world, 2 * step, d_loss);
    zero_grads(d_params);
    reducer.begin(d_params);
    d_loss(batch_of(comm->rank(), 2 * step)).backward();
    reducer.end(d_params);
    // Every parameter gets a gradient here, so every bucket must have started from the hooks.
    EXPECT_EQ(reducer.buckets_started_in_backward_last(), expected_d_buckets);
    for (size_t i = 0; i < d_params.size(); ++i) {
      EXPECT_TRUE(torch::allclose(d_params[i].grad(), expected_d[i], 1e-6, 1e-7))
          << "D step " << step << " param " << i << "\n"
          << (d_params[i].grad() - expected_d[i]).abs().max();
    }
    for (auto& p : g_params)
      EXPECT_TRUE(torch::equal(p.grad(), torch::full_like(p, 42.0))) << "G grad touched";
    d_opt.step();

    // G step: D does not require grad, so nothing is computed or sent for it.
    gan.set_trainable(*gan.d, false);
    for (auto& p : d_params) p.mutable_grad() = torch::full_like(p, -7.0);
    auto g_loss = [&](const Batch& b) { return gan.g_loss(b); };
    auto expected_g = reference_grads(g_params, world, 2 * step + 1, g_loss);
    zero_grads(g_params);
    reducer.begin(g_params);
    g_loss(batch_of(comm->rank(), 2 * step + 1)).backward();
    reducer.end(g_params);
    for (size_t i = 0; i < g_params.size(); ++i) {
      EXPECT_TRUE(torch::allclose(g_params[i].grad(), expected_g[i], 1e-6, 1e-7))
          << "G step " << step << " param " << i;
    }
    for (auto& p : d_params)
      EXPECT_TRUE(torch::equal(p.grad(), torch::full_like(p, -7.0))) << "D grad touched";
    g_opt.step();
  }
  EXPECT_GT(reducer.bytes_reduced_total(), 0);
  EXPECT_GE(reducer.wait_seconds_total(), 0.0);
  // The same averaged gradients on both ranks keep the weights identical.
  for (auto& p : gan.g->parameters()) {
    auto copy = p.detach().clone();
    comm->allreduce(copy, ReduceOp::Max);
    EXPECT_TRUE(torch::equal(copy, p.detach()));
  }
}

}  // namespace

TEST(BucketReducer, TinyBucketsOneParameterEach) {
  // D: 6 tensors, G: 4 tensors; a 1-byte bucket holds one parameter each.
  run_alternating_steps(1e-9, 6, 4);
}

TEST(BucketReducer, HugeBucketHoldsEverything) {
  run_alternating_steps(1000.0, 1, 1);
}

TEST(BucketReducer, MediumBucketsSplitInReverseOrder) {
  // 200 bytes. D's tensors in reverse order: 4, 12, 12, 192, 64, 384 bytes -> [4 12 12] [192] [64] [384];
  // G's: 24, 192, 32, 128 bytes -> [24] [192] [32 128].
  run_alternating_steps(200.0 / (1024.0 * 1024.0), 4, 3);
}

TEST(BucketReducer, ParameterWithoutGradientOnOneRankContributesZero) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  torch::manual_seed(3);
  torch::nn::Linear trunk(3, 4), head_a(4, 1), head_b(4, 1);
  std::vector<torch::Tensor> params = trunk->parameters();
  for (auto& p : head_a->parameters()) params.push_back(p);
  for (auto& p : head_b->parameters()) params.push_back(p);
  BucketReducer reducer(*comm, 1e-9);  // one bucket per parameter: head_b's buckets never fill on rank 1

  auto loss_of = [&](int rank, bool use_b) {
    torch::manual_seed(50 + rank);
    auto h = trunk->forward(torch::randn({2, 3}));
    auto loss = head_a->forward(h).sum();
    if (use_b) loss = loss + head_b->forward(h).pow(2).sum();
    return loss;
  };
  // Reference: rank 0 uses both heads, rank 1 only head A (head B's gradient there is zero).
  std::vector<torch::Tensor> expected;
  for (int r = 0; r < 2; ++r) {
    for (auto& p : params) p.mutable_grad() = torch::zeros_like(p);
    loss_of(r, r == 0).backward();
    for (size_t i = 0; i < params.size(); ++i) {
      if (r == 0) {
        expected.push_back(params[i].grad().clone());
      } else {
        expected[i] = (expected[i] + params[i].grad()) / 2;
      }
    }
  }
  for (auto& p : params) p.mutable_grad() = torch::Tensor();
  reducer.begin(params);
  loss_of(comm->rank(), comm->rank() == 0).backward();
  reducer.end(params);
  // Reverse order: head_b's two buckets come first, so on rank 1 nothing can start before end().
  EXPECT_EQ(reducer.buckets_started_in_backward_last(), comm->rank() == 0 ? 6u : 0u);
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << i;
    EXPECT_TRUE(torch::allclose(params[i].grad(), expected[i], 1e-6, 1e-7)) << i;
  }
}

// Synchronized BatchNorm all-reduces in backward on the gradients' communicator. A parameter used on rank 0
// only fills its bucket there while backward is still above the BatchNorm, so a bucket started from a hook
// would pair with rank 1's BatchNorm all-reduce. With BucketLaunch::AtEnd both ranks issue the BatchNorm
// collectives first and the buckets after backward; the gradients must equal one process on the whole batch.
TEST(BucketReducer, SyncBatchNormWithAParameterUsedOnOneRankOnly) {
  auto comm = make_mpi_communicator(test::context(), 10.0);  // a mismatch fails fast instead of hanging
  const int rank = comm->rank();
  torch::manual_seed(11);
  torch::nn::Conv2d conv_in(torch::nn::Conv2dOptions(2, 3, 1));
  torch::nn::BatchNorm2d bn(3);
  torch::nn::Conv2d conv_out(torch::nn::Conv2dOptions(3, 2, 1));
  torch::Tensor only_on_rank0 = torch::full({2}, 0.5).requires_grad_(true);
  std::vector<torch::Tensor> params;
  for (auto* m : std::vector<torch::nn::Module*>{conv_in.get(), bn.get(), conv_out.get()}) {
    for (auto& p : m->parameters()) params.push_back(p);
  }
  params.push_back(only_on_rank0);  // last: its bucket comes first in the reverse order

  torch::manual_seed(12);
  const torch::Tensor whole_batch = torch::randn({8, 2, 3, 3});
  // Per rank: the mean output of its half of the batch, plus on rank 0 a term in `only_on_rank0`, built
  // last so that backward reaches it first.
  auto loss_of = [&](const torch::Tensor& out, int r) {
    torch::Tensor loss = out.mean();
    if (r == 0) loss = loss + (only_on_rank0.view({1, 2, 1, 1}) * out.detach()).sum();
    return loss;
  };

  // Reference: one process, plain BatchNorm over the whole batch, the average of both ranks' losses.
  auto out = conv_out->forward(bn->forward(conv_in->forward(whole_batch)));
  ((loss_of(out.slice(0, 0, 4), 0) + loss_of(out.slice(0, 4, 8), 1)) / 2).backward();
  std::vector<torch::Tensor> expected;
  for (auto& p : params) {
    expected.push_back(p.grad().clone());
    p.mutable_grad() = torch::Tensor();
  }

  auto batch_stats = std::make_shared<CommunicatorBatchStats>(*comm);
  BucketReducer reducer(*comm, 1e-9, BucketLaunch::AtEnd);  // one bucket per parameter
  reducer.begin(params);
  const torch::Tensor own_half = whole_batch.slice(0, 4 * rank, 4 * rank + 4);
  auto normalized = models::sync_batch_norm2d(conv_in->forward(own_half), *bn, batch_stats);
  loss_of(conv_out->forward(normalized), rank).backward();
  reducer.end(params);

  EXPECT_EQ(reducer.buckets_started_in_backward_last(), 0u);
  for (size_t i = 0; i < params.size(); ++i) {
    ASSERT_TRUE(params[i].grad().defined()) << i;
    EXPECT_TRUE(torch::allclose(params[i].grad(), expected[i], 1e-5, 1e-6))
        << "parameter " << i << " on rank " << rank << ": " << params[i].grad() << " vs " << expected[i];
  }
}

TEST(BucketReducer, MisuseIsAnError) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  torch::nn::Linear layer(2, 2);
  auto params = layer->parameters();
  BucketReducer reducer(*comm, 1.0);
  EXPECT_THROW(reducer.end(params), fergan::Error);
  auto frozen = torch::zeros({3});
  EXPECT_THROW(reducer.begin({frozen}), fergan::Error);
  EXPECT_THROW({ BucketReducer bad(*comm, 0.0); }, fergan::Error);
}

TEST(BucketReducer, Bfloat16OnTheWire) {
  // dist.grad_dtype = bf16: the average arrives in float32 .grad, within bf16 rounding (2^-8 relative) of the
  // float32 average, for half the bytes.
  auto comm = make_mpi_communicator(test::context(), 60.0);
  const int world = comm->world();
  Gan gan;
  auto d_params = gan.d->parameters();
  auto d_loss = [&](const Batch& b) { return gan.d_loss(b); };
  const auto expected = reference_grads(d_params, world, 0, d_loss);
  int64_t bytes[2] = {0, 0};
  for (int wire = 0; wire < 2; ++wire) {
    BucketReducer reducer(*comm, 1.0, BucketLaunch::DuringBackward,
                          wire ? c10::optional<torch::ScalarType>(torch::kBFloat16) : c10::nullopt);
    zero_grads(d_params);
    reducer.begin(d_params);
    d_loss(batch_of(comm->rank(), 0)).backward();
    reducer.end(d_params);
    bytes[wire] = reducer.bytes_reduced_total();
    for (size_t i = 0; i < d_params.size(); ++i) {
      EXPECT_EQ(d_params[i].grad().scalar_type(), torch::kFloat32);
      const double scale = expected[i].abs().max().item<double>() + 1e-12;
      const double error = (d_params[i].grad() - expected[i]).abs().max().item<double>() / scale;
      EXPECT_LE(error, wire ? 1.0 / 128 : 1e-6) << "wire " << wire << " param " << i;
    }
  }
  EXPECT_EQ(bytes[1] * 2, bytes[0]);
}
