// MPI bootstrap, local rank discovery and the job-wide abort (see context.h).
#include "fergan/dist/context.h"

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace fergan::dist {

namespace {
Context* g_current = nullptr;
}  // namespace

void mpi_fail(int code, const char* call, const char* file, int line) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
    std::snprintf(text, sizeof(text), "code %d", code);
  fail(fergan::str("MPI call failed: ", call, ": ", text, " (", file, ":", line, ")"));
}

Context::Context(int* argc, char*** argv) {
  FG_CHECK(g_current == nullptr, "dist::Context: only one Context per process");
  int initialized = 0;
  MPI_CHECK(MPI_Initialized(&initialized));
  if (initialized) {
    MPI_CHECK(MPI_Query_thread(&thread_level_));
  } else {
    // MULTIPLE if available: on GPUs the gradient hooks run on autograd's device thread.
    MPI_CHECK(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &thread_level_));
    owns_mpi_ = true;
  }
  // From here on MPI failures come back as codes that MPI_CHECK turns into exceptions.
  MPI_CHECK(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN));
  FG_CHECK(thread_level_ >= MPI_THREAD_SERIALIZED, "MPI provides thread level ", thread_level_,
           ", fergan needs at least MPI_THREAD_SERIALIZED");
  MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &world_comm_));
  MPI_CHECK(MPI_Comm_set_errhandler(world_comm_, MPI_ERRORS_RETURN));
  MPI_CHECK(MPI_Comm_rank(world_comm_, &rank_));
  MPI_CHECK(MPI_Comm_size(world_comm_, &world_));

  MPI_Comm node_comm = MPI_COMM_NULL;
  MPI_CHECK(MPI_Comm_split_type(world_comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node_comm));
  MPI_CHECK(MPI_Comm_rank(node_comm, &local_rank_));
  MPI_CHECK(MPI_Comm_size(node_comm, &local_size_));
  MPI_CHECK(MPI_Comm_free(&node_comm));
  g_current = this;
}

Context::~Context() {
  try {
    finalize();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "[rank %d] warning: MPI finalize failed: %s\n", rank_, e.what());
  }
  if (g_current == this) g_current = nullptr;
}

Context* Context::current() {
  return g_current;
}

int Context::add_abort_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  int id = next_hook_id_++;
  abort_hooks_[id] = std::move(hook);
  return id;
}

void Context::remove_abort_hook(int id) {
  std::lock_guard<std::mutex> lock(hooks_mutex_);
  abort_hooks_.erase(id);
}

void Context::abort(const std::string& message, int exit_code) {
  std::fprintf(stderr, "[rank %d] fatal: %s\n", rank_, message.c_str());
  std::fflush(stderr);
  std::fflush(stdout);
  // Copy the hooks without holding the lock for long: a hook may block in a driver call.
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lock(hooks_mutex_);
    for (auto& [id, hook] : abort_hooks_) hooks.push_back(hook);
  }
  for (auto& hook : hooks) {
    try {
      hook();
    } catch (...) {
      // Already going down; MPI_Abort below is what matters.
    }
  }
  if (!finalized_) MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  std::_Exit(exit_code == 0 ? 1 : exit_code);
}

void Context::finalize() {
  if (finalized_) return;
  finalized_ = true;
  if (world_comm_ != MPI_COMM_NULL) MPI_Comm_free(&world_comm_);
  int already = 0;
  MPI_Finalized(&already);
  if (owns_mpi_ && !already) MPI_CHECK(MPI_Finalize());
}

}  // namespace fergan::dist
