// broadcast_module and the stop vote under `mpirun -np 2`.
#include <gtest/gtest.h>

#include <csignal>
#include <type_traits>

#include "fergan/dist/broadcast.h"
#include "fergan/dist/communicator.h"
#include "fergan/dist/stop.h"
#include "mpi_gtest_main.h"

using namespace fergan;
using namespace fergan::dist;

namespace {

torch::nn::Sequential make_net(int seed) {
  torch::manual_seed(seed);
  torch::nn::Sequential net(torch::nn::Linear(5, 7), torch::nn::BatchNorm1d(7), torch::nn::ReLU(),
                            torch::nn::Linear(7, 2));
  // Move the BatchNorm running statistics and the int64 batch counter away from their defaults.
  net->train();
  net->forward(torch::randn({4, 5}) * (seed + 1));
  return net;
}

}  // namespace

TEST(BroadcastModule, EveryRankEndsWithRankZerosParametersAndBuffers) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  const int rank = comm->rank();
  auto net = make_net(100 + rank);  // different weights and BN statistics per rank
  auto rank0_net = make_net(100);   // what rank 0 holds, rebuilt locally
  EXPECT_FALSE(modules_identical(*comm, *net));
  broadcast_module(*comm, *net);
  EXPECT_TRUE(modules_identical(*comm, *net));
  auto got = net->named_parameters();
  for (const auto& item : rank0_net->named_parameters()) {
    EXPECT_TRUE(torch::equal(got[item.key()], item.value())) << item.key();
  }
  auto got_buffers = net->named_buffers();
  ASSERT_EQ(got_buffers.size(), 3u);  // running_mean, running_var, num_batches_tracked
  for (const auto& item : rank0_net->named_buffers()) {
    EXPECT_TRUE(torch::equal(got_buffers[item.key()], item.value())) << item.key();
  }
  // Parameters still require grad and train normally afterwards.
  for (auto& p : net->parameters()) EXPECT_TRUE(p.requires_grad());
}

TEST(BroadcastModule, ChecksumSeesASwapOfTwoTensors) {
  torch::nn::Linear a(3, 3);
  double before = module_checksum(*a);
  torch::NoGradGuard no_grad;
  auto w = a->weight.clone();
  a->weight.copy_(w.flip({0}));
  EXPECT_NE(module_checksum(*a), before);
}

TEST(StopAgreement, NoFlagMeansNoStop) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  clear_stop_request();
  EXPECT_FALSE(agree_stop(*comm));
}

TEST(StopAgreement, OneRanksFlagStopsBoth) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  clear_stop_request();
  if (comm->rank() == 1) request_stop_locally();
  EXPECT_TRUE(agree_stop(*comm));
  clear_stop_request();
  EXPECT_FALSE(agree_stop(*comm));
}

TEST(StopAgreement, RealSignalsOnOneRank) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  install_stop_signals();
  for (int signal_number : {SIGUSR1, SIGTERM}) {
    clear_stop_request();
    if (comm->rank() == 1) std::raise(signal_number);  // the handler, not the default action, must run
    EXPECT_EQ(stop_requested_locally(), comm->rank() == 1);
    EXPECT_TRUE(agree_stop(*comm)) << "signal " << signal_number;
  }
  clear_stop_request();
}

TEST(StopAgreement, AsyncVoteSeesFlagsSetBeforeStartNotAfter) {
  auto comm = make_mpi_communicator(test::context(), 60.0);
  clear_stop_request();
  StopVote vote(*comm);
  vote.start();
  if (comm->rank() == 0) request_stop_locally();  // arrives mid-step: counted at the next boundary
  EXPECT_FALSE(vote.finish());
  vote.start();
  EXPECT_TRUE(vote.finish());
  clear_stop_request();
  vote.start();
  EXPECT_FALSE(vote.finish());
  EXPECT_THROW(vote.finish(), fergan::Error);
  EXPECT_EQ(kExitRequeue, 3);
}

// A peer that does not join a collective within dist.timeout_s is a communication failure, which fergan_dist
// reports with its own exit code (5, "may be requeued"), not as an input error. Rank 1 joins only after rank
// 0 has given up (it waits for rank 0's message), so the abandoned collective still completes on both sides.
TEST(CommunicationTimeout, IsACommunicationErrorNamingTheTimeout) {
  const int rank = test::context().rank();
  auto comm = make_mpi_communicator(test::context(), rank == 0 ? 0.5 : 120.0);
  static auto x = torch::ones({16});  // MPI may still write into it after the wait was abandoned
  int go = 0;
  if (rank == 0) {
    try {
      comm->allreduce_sum(x);
      ADD_FAILURE() << "the all-reduce did not time out";
    } catch (const CommunicationError& e) {
      EXPECT_NE(std::string(e.what()).find("dist.timeout_s"), std::string::npos) << e.what();
    } catch (const std::exception& e) {
      ADD_FAILURE() << "a timeout must throw dist::CommunicationError, got: " << e.what();
    }
    go = 1;
    MPI_CHECK(MPI_Send(&go, 1, MPI_INT, 1, 77, test::context().world_comm()));
  } else {
    MPI_CHECK(MPI_Recv(&go, 1, MPI_INT, 0, 77, test::context().world_comm(), MPI_STATUS_IGNORE));
    comm->allreduce_sum(x);
  }
  // Not comm->barrier(): rank 0's 0.5 s deadline would make this test depend on the machine's load.
  MPI_CHECK(MPI_Barrier(test::context().world_comm()));
  static_assert(std::is_base_of_v<fergan::Error, CommunicationError>,
                "existing catch sites of fergan::Error must still see communication failures");
}
