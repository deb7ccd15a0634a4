// MPI communicator collectives under `mpirun -np 2`, checked against references each rank computes alone.
//
// Rank r's input is generated from seed (base + r), so every rank can rebuild every other rank's input and
// compute the expected reduction locally, without communication: a second, independent path.
#include <gtest/gtest.h>

#include <thread>

#include "fergan/dist/communicator.h"
#include "mpi_gtest_main.h"

using namespace fergan;
using namespace fergan::dist;

namespace {

torch::Tensor rank_input(int rank, int64_t n, torch::ScalarType type, uint64_t base) {
  torch::manual_seed(base + rank);
  auto values = torch::randn({n}, torch::kFloat64) * 100;
  if (!torch::isFloatingType(type)) values = values.round();
  return values.to(type);
}

torch::Tensor reference(ReduceOp op, int world, int64_t n, torch::ScalarType type, uint64_t base) {
  torch::Tensor out = rank_input(0, n, type, base).clone();
  for (int r = 1; r < world; ++r) {
    auto x = rank_input(r, n, type, base);
    if (op == ReduceOp::Max) {
      out = torch::maximum(out, x);
    } else if (op == ReduceOp::Min) {
      out = torch::minimum(out, x);
    } else {
      out = out + x;
    }
  }
  if (op == ReduceOp::Avg) out = out / world;
  return out;
}

std::unique_ptr<Communicator> comm() {
  return make_mpi_communicator(test::context(), 60.0);
}

}  // namespace

TEST(MpiCollectives, RunsOnTwoRanks) {
  auto c = comm();
  ASSERT_EQ(c->world(), 2) << "run under mpirun -np 2";
  EXPECT_EQ(c->rank(), test::context().rank());
  EXPECT_EQ(c->backend(), "mpi");
}

TEST(MpiCollectives, AllreduceMatchesLocalReferenceForDtypesAndSizes) {
  auto c = comm();
  const std::vector<torch::ScalarType> types = {torch::kFloat32, torch::kFloat64, torch::kInt32,
                                                torch::kInt64};
  // 1, a prime, a non-power-of-two, one past a power of two (not a multiple of any segment size).
  const std::vector<int64_t> sizes = {1, 7, 1000, 65537};
  uint64_t base = 1000;
  for (auto type : types) {
    for (int64_t n : sizes) {
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min}) {
        if (op == ReduceOp::Avg && !torch::isFloatingType(type)) continue;
        base += 10;
        auto x = rank_input(c->rank(), n, type, base);
        c->allreduce(x, op);
        auto expected = reference(op, c->world(), n, type, base);
        ASSERT_EQ(x.scalar_type(), type);
        if (torch::isFloatingType(type)) {
          EXPECT_TRUE(torch::allclose(x, expected, 1e-6, 1e-6)) << type << " n=" << n << " op=" << int(op);
        } else {
          EXPECT_TRUE(torch::equal(x, expected)) << type << " n=" << n << " op=" << int(op);
        }
      }
    }
  }
}

// Mixed precision reduces float16 and bfloat16 gradients. MPI has no such types: they travel as float32, so
// the result is the float32 reduction rounded once to the tensor's type, exactly.
TEST(MpiCollectives, HalfAndBFloat16AllreduceAsFloat32RoundedOnce) {
  auto c = comm();
  uint64_t base = 5000;
  for (auto type : {torch::kFloat16, torch::kBFloat16}) {
    for (int64_t n : {1, 7, 1000}) {
      for (ReduceOp op : {ReduceOp::Sum, ReduceOp::Avg, ReduceOp::Max, ReduceOp::Min}) {
        base += 10;
        auto x = rank_input(c->rank(), n, type, base);
        c->allreduce_async(x, op)->wait();
        ASSERT_EQ(x.scalar_type(), type);
        // The same reduction on the float32 values of every rank's (already rounded) input.
        torch::Tensor expected = rank_input(0, n, type, base).to(torch::kFloat32);
        for (int r = 1; r < c->world(); ++r) {
          auto other = rank_input(r, n, type, base).to(torch::kFloat32);
          if (op == ReduceOp::Max) {
            expected = torch::maximum(expected, other);
          } else if (op == ReduceOp::Min) {
            expected = torch::minimum(expected, other);
          } else {
            expected = expected + other;
          }
        }
        if (op == ReduceOp::Avg) expected = expected / c->world();
        EXPECT_TRUE(torch::equal(x, expected.to(type))) << type << " n=" << n << " op=" << int(op);
      }
    }
  }
}

TEST(MpiCollectives, LargeTensorOverEightMegabytes) {
  auto c = comm();
  const int64_t n = (int64_t(1) << 21) + 3;
  auto x = rank_input(c->rank(), n, torch::kFloat32, 999);
  c->allreduce_avg(x);
  EXPECT_TRUE(torch::allclose(x, reference(ReduceOp::Avg, c->world(), n, torch::kFloat32, 999), 1e-6, 1e-6));
}

TEST(MpiCollectives, SumAndAvgHelpers) {
  auto c = comm();
  auto x = torch::full({5}, double(c->rank() + 1));
  c->allreduce_sum(x);
  EXPECT_TRUE(torch::equal(x, torch::full({5}, 3.0)));
  auto y = torch::full({5}, double(c->rank() + 1));
  c->allreduce_avg(y);
  EXPECT_TRUE(torch::equal(y, torch::full({5}, 1.5)));
}

TEST(MpiCollectives, ManyAsyncAllreducesInFlightWaitedInAnyOrder) {
  auto c = comm();
  std::vector<torch::Tensor> inputs;
  std::vector<std::unique_ptr<Work>> works;
  for (int i = 0; i < 12; ++i) {
    inputs.push_back(rank_input(c->rank(), 100 + 37 * i, torch::kFloat32, 5000 + 10 * i));
    works.push_back(c->allreduce_async(inputs.back(), ReduceOp::Avg));
  }
  for (int i = 11; i >= 0; --i) {
    works[i]->wait();
    EXPECT_TRUE(works[i]->is_completed());
    EXPECT_TRUE(torch::allclose(
        inputs[i], reference(ReduceOp::Avg, 2, 100 + 37 * i, torch::kFloat32, 5000 + 10 * i), 1e-6, 1e-6))
        << i;
  }
}

TEST(MpiCollectives, BroadcastAnyDtypeFromEitherRoot) {
  auto c = comm();
  for (int root = 0; root < c->world(); ++root) {
    for (auto type : {torch::kFloat32, torch::kInt64, torch::kUInt8, torch::kBool, torch::kFloat64}) {
      auto expected = rank_input(root, 333, torch::kFloat64, 77).to(type);
      auto x = rank_input(c->rank(), 333, torch::kFloat64, 77).to(type);
      c->broadcast(x, root);
      EXPECT_TRUE(torch::equal(x, expected)) << "root " << root << " " << type;
    }
  }
}

TEST(MpiCollectives, HostVectorReductions) {
  auto c = comm();
  const double r = c->rank();
  std::vector<double> sum = {1.0 + r, 10.0 * r, -r};
  c->allreduce_host(sum, ReduceOp::Sum);
  EXPECT_EQ(sum, (std::vector<double>{3.0, 10.0, -1.0}));
  std::vector<double> avg = {1.0 + r, 4.0};
  c->allreduce_host(avg, ReduceOp::Avg);
  EXPECT_EQ(avg, (std::vector<double>{1.5, 4.0}));
  std::vector<double> max = {r, -r};
  c->allreduce_host(max, ReduceOp::Max);
  EXPECT_EQ(max, (std::vector<double>{1.0, 0.0}));
  std::vector<double> min = {r, -r};
  c->allreduce_host(min, ReduceOp::Min);
  EXPECT_EQ(min, (std::vector<double>{0.0, -1.0}));
}

TEST(MpiCollectives, BadInputsAreErrorsOnEveryRank) {
  auto c = comm();
  auto strided = torch::zeros({4, 4}).t();
  EXPECT_THROW(c->allreduce_sum(strided), fergan::Error);
  auto bytes = torch::zeros({4}, torch::kUInt8);
  try {
    c->allreduce_sum(bytes);
    ADD_FAILURE() << "uint8 all-reduce should be rejected";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("unsupported dtype"), std::string::npos) << e.what();
  }
  auto ints = torch::zeros({4}, torch::kInt64);
  EXPECT_THROW(c->allreduce_avg(ints), fergan::Error);
  EXPECT_THROW(c->broadcast(torch::zeros({3}), 5), fergan::Error);
}

TEST(MpiCollectives, WaitTimesOutInsteadOfHangingWhenAPeerIsMissing) {
  // A communicator of its own, so the deliberately unmatched collective cannot disturb the others.
  auto c = make_mpi_communicator(test::context(), 1.0);
  auto world = comm();
  static torch::Tensor x = torch::ones({16});  // stays alive: rank 0's abandoned request still points at it
  if (c->rank() == 0) {
    try {
      c->allreduce_sum(x);
      ADD_FAILURE() << "the all-reduce without rank 1 should have timed out";
    } catch (const fergan::Error& e) {
      EXPECT_NE(std::string(e.what()).find("dist.timeout_s"), std::string::npos) << e.what();
    }
  }
  world->barrier();
  if (c->rank() == 1) {
    // Now rank 1 joins; rank 0 keeps MPI progressing in the barrier below, so this completes.
    auto y = torch::ones({16});
    auto work = c->allreduce_async(y, ReduceOp::Sum);
    EXPECT_NO_THROW(work->wait());
  }
  world->barrier();
}

TEST(MpiCollectives, Barrier) {
  auto c = comm();
  // Rank 1 arrives late; rank 0 must not leave the barrier before rank 1 has entered it.
  std::vector<double> entered = {0.0};
  auto start = std::chrono::steady_clock::now();
  if (c->rank() == 1) std::this_thread::sleep_for(std::chrono::milliseconds(300));
  c->barrier();
  double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_GE(waited, 0.25);
}
