// main() for the MPI test binaries (tests/dist/mpi_*.cpp), run by CTest as `mpirun -np 2 test_mpi_...`.
//
// Every rank runs every test (the tests themselves are collective); the binary's exit code is the
// maximum over ranks, so a failure on any rank fails the test. Only rank 0 prints gtest's progress;
// other ranks print their failures, prefixed by gtest with the file and line.
#pragma once

#include <gtest/gtest.h>

#include "fergan/dist/context.h"

namespace fergan::test {
inline dist::Context* g_context = nullptr;
inline dist::Context& context() {
  return *g_context;
}

// Prints each failed assertion with the rank, for the ranks whose default printer is switched off.
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(), result.summary());
  }

 private:
  int rank_;
};
}  // namespace fergan::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int status = 1;
  try {
    fergan::dist::Context context(&argc, &argv);
    fergan::test::g_context = &context;
    if (context.rank() != 0) {
      // Keep failures visible on all ranks, but print the progress only once.
      auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
      delete listeners.Release(listeners.default_result_printer());
      listeners.Append(new fergan::test::RankFailurePrinter(context.rank()));
    }
    int local = RUN_ALL_TESTS();
    if (local != 0) std::fprintf(stderr, "[rank %d] tests failed\n", context.rank());
    MPI_CHECK(MPI_Allreduce(&local, &status, 1, MPI_INT, MPI_MAX, context.world_comm()));
    fergan::test::g_context = nullptr;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return status;
}
