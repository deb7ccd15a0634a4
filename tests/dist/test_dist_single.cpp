// The distributed runtime as a single process (MPI singleton, world size 1), plus the child side of the
// abort test (tests/scripts/test_dist_abort.sh runs this binary under mpirun with FERGAN_ABORT_CHILD set).
#include <gtest/gtest.h>

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <thread>

#include "fergan/dist/broadcast.h"
#include "fergan/dist/bucket_reducer.h"
#include "fergan/dist/communicator.h"
#include "fergan/dist/context.h"
#include "fergan/dist/stop.h"

using namespace fergan;
using namespace fergan::dist;

namespace {

// One Context for the whole binary: MPI cannot be initialised again after MPI_Finalize.
class ContextEnvironment : public ::testing::Environment {
 public:
  void SetUp() override { context_ = std::make_unique<Context>(); }
  void TearDown() override { context_.reset(); }

 private:
  std::unique_ptr<Context> context_;
};
const auto* const g_environment = ::testing::AddGlobalTestEnvironment(new ContextEnvironment);

Context& context() {
  return *Context::current();
}

bool abort_child() {
  return std::getenv("FERGAN_ABORT_CHILD") != nullptr;
}

}  // namespace

TEST(DistSingle, ContextIsASingleton) {
  if (abort_child()) GTEST_SKIP();
  EXPECT_EQ(context().rank(), 0);
  EXPECT_EQ(context().world(), 1);
  EXPECT_EQ(context().local_rank(), 0);
  EXPECT_EQ(context().local_size(), 1);
  EXPECT_TRUE(context().is_root());
  EXPECT_GE(context().thread_level(), MPI_THREAD_SERIALIZED);
  EXPECT_THROW(Context second, fergan::Error);
}

TEST(DistSingle, MpiErrorsBecomeFerganErrorsNamingTheCall) {
  if (abort_child()) GTEST_SKIP();
  int rank = 0;
  try {
    MPI_CHECK(MPI_Comm_rank(MPI_COMM_NULL, &rank));
    ADD_FAILURE() << "MPI_Comm_rank(MPI_COMM_NULL) should fail";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("MPI_Comm_rank"), std::string::npos) << e.what();
  }
}

TEST(DistSingle, CollectivesOverOneRankAreIdentities) {
  if (abort_child()) GTEST_SKIP();
  auto comm = make_communicator(context(), torch::kCPU, "auto", 10.0);
  EXPECT_EQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->world(), 1);
  auto x = torch::arange(10, torch::kFloat32);
  comm->allreduce_sum(x);
  EXPECT_TRUE(torch::equal(x, torch::arange(10, torch::kFloat32)));
  comm->allreduce_avg(x);
  EXPECT_TRUE(torch::equal(x, torch::arange(10, torch::kFloat32)));
  comm->broadcast(x, 0);
  std::vector<double> v = {1.5, -2};
  comm->allreduce_host(v, ReduceOp::Avg);
  EXPECT_EQ(v, (std::vector<double>{1.5, -2}));
  comm->barrier();
}

TEST(DistSingle, BackendChoiceErrors) {
  if (abort_child()) GTEST_SKIP();
  EXPECT_THROW(make_communicator(context(), torch::kCPU, "gloo"), fergan::Error);
  try {
    make_communicator(context(), torch::kCPU, "nccl");
    ADD_FAILURE() << "nccl on a CPU device must be refused";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find("dist.backend"), std::string::npos) << e.what();
  }
  EXPECT_EQ(make_communicator(context(), torch::kCPU, "mpi")->backend(), "mpi");
}

TEST(DistSingle, ReducerIsANoOpForOneRank) {
  if (abort_child()) GTEST_SKIP();
  auto comm = make_mpi_communicator(context());
  torch::nn::Linear layer(3, 2);
  auto params = layer->parameters();
  BucketReducer reducer(*comm, 25.0);
  reducer.begin(params);
  layer->forward(torch::ones({4, 3})).sum().backward();
  auto before = layer->weight.grad().clone();
  const void* storage = layer->weight.grad().data_ptr();
  reducer.end(params);
  EXPECT_TRUE(torch::equal(layer->weight.grad(), before));
  EXPECT_EQ(layer->weight.grad().data_ptr(), storage);  // not even copied
  EXPECT_EQ(reducer.bytes_reduced_total(), 0);
  broadcast_module(*comm, *layer);
  EXPECT_TRUE(modules_identical(*comm, *layer));
}

TEST(DistSingle, StopSignalSetsTheFlag) {
  if (abort_child()) GTEST_SKIP();
  auto comm = make_mpi_communicator(context());
  install_stop_signals();
  clear_stop_request();
  EXPECT_FALSE(agree_stop(*comm));
  std::raise(SIGTERM);
  EXPECT_TRUE(stop_requested_locally());
  EXPECT_TRUE(agree_stop(*comm));
  clear_stop_request();
  EXPECT_EQ(kExitRequeue, 3);
}

// Child side of tests/scripts/test_dist_abort.sh (skipped unless FERGAN_ABORT_CHILD is set):
//   throw: rank 1 throws and goes through Context::abort from its top-level catch while rank 0 waits in a
//          collective; the job must end non-zero within seconds with rank 1's message.
//   kill:  rank 1 dies by SIGKILL (no chance to clean up) while rank 0 waits.
TEST(DistAbortChild, FailOnRankOne) {
  if (!abort_child()) GTEST_SKIP() << "run by tests/scripts/test_dist_abort.sh";
  const std::string mode = std::getenv("FERGAN_ABORT_CHILD");
  auto comm = make_mpi_communicator(context(), 600.0);
  ASSERT_EQ(comm->world(), 2);
  comm->barrier();
  if (comm->rank() == 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    // The script measures the time from here to the job's end (start-up time on a busy machine excluded).
    const auto now = std::chrono::system_clock::now().time_since_epoch();
    std::fprintf(stderr, "FAIL_AT_MS=%lld\n",
                 static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()));
    std::fflush(stderr);
    if (mode == "kill") raise(SIGKILL);
    try {
      fergan::fail("deliberate failure on rank 1 (corrupt shard stand-in)");
    } catch (const std::exception& e) {
      context().abort(e.what());
    }
  }
  // Rank 0: blocked in collectives that rank 1 will never join.
  for (;;) {
    auto x = torch::ones({1000});
    comm->allreduce_sum(x);
  }
}
