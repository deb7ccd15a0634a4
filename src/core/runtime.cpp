// Threads and device selection (see runtime.h).
#include "fergan/core/runtime.h"

#include <dlfcn.h>
#include <sched.h>

#include <algorithm>

#include "fergan/core/check.h"

namespace fergan::runtime {

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return 1;
}

int configure_threads(int requested, int ranks_on_this_node) {
  // OpenBLAS exports openblas_set_num_threads; look it up at run time so the reference BLAS also works.
  using SetThreads = void (*)(int);
  if (auto fn = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) fn(1);
  int threads = requested;
  if (threads <= 0) threads = std::max(1, available_cores() / std::max(1, ranks_on_this_node));
  torch::set_num_threads(threads);
  return threads;
}

torch::Device select_device(const std::string& requested, int local_rank) {
  const bool have_cuda = torch::cuda::is_available();
  if (requested == "cpu" || (requested == "auto" && !have_cuda)) return torch::Device(torch::kCPU);
  FG_CHECK(have_cuda, "device 'cuda' was requested but no CUDA device is available (this LibTorch ",
           "build has CUDA: ", torch::cuda::is_available() ? "yes" : "no", "); use --set device=cpu");
  const int count = static_cast<int>(torch::cuda::device_count());
  FG_CHECK(local_rank < count, "local rank ", local_rank, " has no GPU: this node has ", count,
           " CUDA device(s); start at most one rank per GPU");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
}

}  // namespace fergan::runtime
