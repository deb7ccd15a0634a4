// The NCCL communicator and the bucketed reducer on GPUs (skipped in builds without FERGAN_WITH_CUDA or
// without enough GPUs for one per rank: NCCL refuses two ranks on one GPU).
//
// Run by CTest as `mpirun -np 2`; on a one-GPU machine launch/gpu_check.sh runs it with -np 1, where NCCL
// still runs its kernels (the reductions are identities) and the stream ordering is exercised. It also prints
// all-reduce bandwidth for a 25 MB bucket (the GPU benchmark line of launch/gpu_check.sh).
#include <gtest/gtest.h>

#include <chrono>

#include "fergan/dist/broadcast.h"
#include "fergan/dist/bucket_reducer.h"
#include "fergan/dist/communicator.h"
#include "mpi_gtest_main.h"

using namespace fergan;
using namespace fergan::dist;

namespace {

bool gpus_for_every_rank(std::string* why) {
#ifndef FERGAN_WITH_CUDA
  *why = "built without FERGAN_WITH_CUDA";
  return false;
#else
  const int ranks_here = test::context().local_size();
  if (!torch::cuda::is_available()) {
    *why = "no CUDA device";
    return false;
  }
  if (static_cast<int>(torch::cuda::device_count()) < ranks_here) {
    *why = "fewer GPUs than ranks on this node";
    return false;
  }
  return true;
#endif
}

#define REQUIRE_GPUS()                                   \
  do {                                                   \
    std::string why;                                     \
    if (!gpus_for_every_rank(&why)) GTEST_SKIP() << why; \
  } while (0)

torch::Device my_gpu() {
  return torch::Device(torch::kCUDA, test::context().local_rank());
}

torch::Tensor rank_input(int rank, int64_t n, torch::ScalarType type, uint64_t base) {
  torch::manual_seed(base + rank);
  auto values = torch::randn({n}, torch::kFloat64) * 100;
  if (!torch::isFloatingType(type)) values = values.round();
  return values.to(type);
}

}  // namespace

TEST(Nccl, AllreduceMatchesCpuReference) {
  REQUIRE_GPUS();
  auto comm = make_communicator(test::context(), my_gpu(), "auto", 60.0);
  ASSERT_EQ(comm->backend(), "nccl");
  const int world = comm->world();
  for (auto type : {torch::kFloat32, torch::kFloat64, torch::kInt64}) {
    for (int64_t n : {int64_t(1), int64_t(1000), (int64_t(1) << 20) + 3}) {
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
        if (op == ReduceOp::Avg && type == torch::kInt64) continue;
        torch::Tensor expected = rank_input(0, n, type, 7);
        for (int r = 1; r < world; ++r) {
          auto x = rank_input(r, n, type, 7);
          expected = op == ReduceOp::Max ? torch::maximum(expected, x) : expected + x;
        }
        if (op == ReduceOp::Avg) expected = expected / world;
        auto x = rank_input(comm->rank(), n, type, 7).to(my_gpu());
        comm->allreduce(x, op);
        EXPECT_TRUE(torch::allclose(x.cpu(), expected, 1e-6, 1e-6))
            << type << " n=" << n << " op=" << int(op);
      }
    }
  }
}

// Mixed precision: float16 and bfloat16 reduce in their own type on NCCL, so the reference is the float32
// reduction with a tolerance of a few units in the last place of the 16-bit type.
TEST(Nccl, HalfAndBFloat16AllreduceMatchCpuReference) {
  REQUIRE_GPUS();
  auto comm = make_communicator(test::context(), my_gpu(), "auto", 60.0);
  const int world = comm->world();
  for (auto type : {torch::kFloat16, torch::kBFloat16}) {
    for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max}) {
      const int64_t n = 1000;
      torch::Tensor expected = rank_input(0, n, type, 9).to(torch::kFloat32);
      for (int r = 1; r < world; ++r) {
        auto x = rank_input(r, n, type, 9).to(torch::kFloat32);
        expected = op == ReduceOp::Max ? torch::maximum(expected, x) : expected + x;
      }
      if (op == ReduceOp::Avg) expected = expected / world;
      auto x = rank_input(comm->rank(), n, type, 9).to(my_gpu());
      comm->allreduce(x, op);
      ASSERT_EQ(x.scalar_type(), type);
      const double tolerance = type == torch::kBFloat16 ? 2e-2 : 2e-3;
      EXPECT_TRUE(torch::allclose(x.cpu().to(torch::kFloat32), expected, tolerance, tolerance))
          << type << " op=" << int(op);
    }
  }
}

TEST(Nccl, CollectiveSeesComputeQueuedJustBefore) {
  REQUIRE_GPUS();
  auto comm = make_communicator(test::context(), my_gpu(), "nccl", 60.0);
  // A long kernel on the compute stream, then the all-reduce: without the event ordering NCCL would read
  // the output buffer before the matmul wrote it.
  auto a = torch::ones({4096, 4096}, torch::TensorOptions().device(my_gpu()));
  auto y = torch::matmul(a, a);  // every element 4096
  auto work = comm->allreduce_async(y, ReduceOp::Sum);
  work->wait();
  auto expected = torch::full({4096, 4096}, 4096.0 * comm->world());
  EXPECT_TRUE(torch::equal(y.cpu(), expected));
}

TEST(Nccl, BroadcastModuleFromRankZero) {
  REQUIRE_GPUS();
  auto comm = make_communicator(test::context(), my_gpu(), "auto", 60.0);
  torch::manual_seed(11 + comm->rank());
  torch::nn::Sequential net(torch::nn::Linear(5, 7), torch::nn::BatchNorm1d(7));
  net->to(my_gpu());
  broadcast_module(*comm, *net);
  EXPECT_TRUE(modules_identical(*comm, *net));
  torch::manual_seed(11);
  torch::nn::Sequential rank0(torch::nn::Linear(5, 7), torch::nn::BatchNorm1d(7));
  auto got = net->named_parameters();
  for (const auto& item : rank0->named_parameters()) {
    EXPECT_TRUE(torch::equal(got[item.key()].cpu(), item.value())) << item.key();
  }
}

TEST(Nccl, BucketReducerAveragesGpuGradients) {
  REQUIRE_GPUS();
  auto comm = make_communicator(test::context(), my_gpu(), "auto", 60.0);
  for (double bucket_mb : {1e-9, 1000.0}) {
    torch::manual_seed(5);
    torch::nn::Sequential net(torch::nn::Linear(6, 32), torch::nn::Tanh(), torch::nn::Linear(32, 1));
    net->to(my_gpu());
    auto params = net->parameters();
    auto loss_of = [&](int rank) {
      torch::manual_seed(300 + rank);
      auto x = torch::randn({8, 6}).to(my_gpu());
      return net->forward(x).pow(2).mean();
    };
    std::vector<torch::Tensor> expected;
    for (int r = 0; r < comm->world(); ++r) {
      for (auto& p : params) p.mutable_grad() = torch::Tensor();
      loss_of(r).backward();
      for (size_t i = 0; i < params.size(); ++i) {
        auto g = params[i].grad().cpu() / comm->world();
        if (r == 0) {
          expected.push_back(g);
        } else {
          expected[i] += g;
        }
      }
    }
    BucketReducer reducer(*comm, bucket_mb);
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    reducer.begin(params);
    loss_of(comm->rank()).backward();
    reducer.end(params);
    for (size_t i = 0; i < params.size(); ++i) {
      EXPECT_TRUE(torch::allclose(params[i].grad().cpu(), expected[i], 1e-5, 1e-6))
          << "bucket_mb " << bucket_mb;
    }
  }
}

TEST(Nccl, AllreduceBandwidth) {
  REQUIRE_GPUS();
  auto comm = make_communicator(test::context(), my_gpu(), "auto", 60.0);
  auto bucket = torch::ones({25 * 1024 * 1024 / 4}, torch::TensorOptions().device(my_gpu()));
  for (int i = 0; i < 5; ++i) comm->allreduce_avg(bucket);  // warm-up
  const int reps = 50;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < reps; ++i) comm->allreduce_async(bucket, ReduceOp::Avg)->wait();
  torch::cuda::synchronize();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / reps;
  const double bytes = bucket.numel() * 4.0;
  // Bus bandwidth as nccl-tests reports it: algorithm bandwidth * 2 (n-1) / n.
  const double n = comm->world();
  if (comm->rank() == 0) {
    std::printf("BENCH nccl_allreduce_25MB ranks=%d time_ms=%.3f algbw_GBps=%.2f busbw_GBps=%.2f\n",
                comm->world(), seconds * 1e3, bytes / seconds / 1e9,
                bytes / seconds / 1e9 * (n > 1 ? 2 * (n - 1) / n : 1.0));
  }
  EXPECT_TRUE(torch::allclose(bucket.cpu(), torch::ones({bucket.numel()})));
}
