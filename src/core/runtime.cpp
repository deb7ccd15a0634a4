// Threads and device selection (see runtime.h).
#include "fergan/core/runtime.h"

#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

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

int cuda_device_for_rank(int visible_devices, int local_rank) {
  FG_CHECK(visible_devices > 0, "this process sees no CUDA device (CUDA_VISIBLE_DEVICES='",
           std::getenv("CUDA_VISIBLE_DEVICES") ? std::getenv("CUDA_VISIBLE_DEVICES") : "<unset>",
           "'); check the job's GPU request (--gpus-per-node, --gpus-per-task) or use --set device=cpu");
  FG_CHECK(local_rank >= 0, "local rank ", local_rank, " is negative");
  return visible_devices == 1 ? 0 : local_rank % visible_devices;
}

std::string visible_device_entry(const char* cuda_visible_devices, int index) {
  if (cuda_visible_devices == nullptr || index < 0) return "";
  std::stringstream list(cuda_visible_devices);
  std::string entry;
  for (int i = 0; std::getline(list, entry, ','); ++i) {
    if (i != index) continue;
    const auto b = entry.find_first_not_of(" \t");
    const auto e = entry.find_last_not_of(" \t");
    return b == std::string::npos ? "" : entry.substr(b, e - b + 1);
  }
  return "";
}

torch::Device select_device(const std::string& requested, int local_rank) {
  const bool have_cuda = torch::cuda::is_available();
  if (requested == "cpu" || (requested == "auto" && !have_cuda)) return torch::Device(torch::kCPU);
  FG_CHECK(have_cuda, "device 'cuda' was requested but no CUDA device is available (this LibTorch ",
           "build has CUDA: ", torch::cuda::is_available() ? "yes" : "no", "); use --set device=cpu");
  const int count = static_cast<int>(torch::cuda::device_count());
  const int index = cuda_device_for_rank(count, local_rank);
  // One line per rank (not only rank 0's): which physical GPU each rank drives is what a misbound job gets
  // wrong, and only the rank itself knows it.
  char host[256] = "?";
  ::gethostname(host, sizeof(host) - 1);
  const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
  const std::string physical = visible_device_entry(visible, index);
  std::string where = "PCI bus id not known (built without FERGAN_WITH_CUDA)";
#ifdef FERGAN_WITH_CUDA
  where = describe_cuda_device(index);
#endif
  std::printf("GPU: %s local rank %d -> cuda:%d of %d visible (CUDA_VISIBLE_DEVICES entry %s), %s\n", host,
              local_rank, index, count, physical.empty() ? "-" : physical.c_str(), where.c_str());
  std::fflush(stdout);
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace fergan::runtime
