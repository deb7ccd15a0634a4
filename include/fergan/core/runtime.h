// Process-wide runtime setup: LibTorch threads, BLAS threads, device choice.
//
// Debian's LibTorch runs convolutions' GEMMs through libblas.so.3 (OpenBLAS once installed). OpenBLAS
// must stay at one thread inside LibTorch ops, or its own pool fights LibTorch's intra-op pool for cores.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fergan::runtime {

// Sets LibTorch's intra-op threads (0 = cores / ranks_on_this_node, at least 1) and OpenBLAS to 1 thread.
// Returns the thread count in use.
int configure_threads(int requested, int ranks_on_this_node = 1);

// "auto" -> cuda when available, else cpu; "cuda" without a GPU is an error. The GPU is
// cuda_device_for_rank(visible GPUs, local_rank); on a GPU every rank logs its choice (node, local rank,
// device index, CUDA_VISIBLE_DEVICES entry, PCI bus id), one line each.
torch::Device select_device(const std::string& requested, int local_rank = 0);

// The CUDA device index of the rank with this node-local rank, given how many GPUs the process sees.
// Launchers present GPUs in two ways: `srun --gpus-per-task=1` or `--gpu-bind` show each task only its own
// GPU (one visible device: every rank uses device 0), while `--gpus-per-node` or a plain mpirun show all of
// the node's GPUs (device = local_rank). With fewer visible GPUs than ranks the choice wraps around
// (local_rank % visible_devices). No visible device is an error naming CUDA_VISIBLE_DEVICES.
int cuda_device_for_rank(int visible_devices, int local_rank);

// Entry `index` of a CUDA_VISIBLE_DEVICES value (a GPU number, GPU-/MIG- UUID), trimmed: the physical GPU
// behind cuda:index. Empty when the variable is unset (nullptr) or has no such entry.
std::string visible_device_entry(const char* cuda_visible_devices, int index);

#ifdef FERGAN_WITH_CUDA
// "PCI <bus id>, <name>" of CUDA device `index` (runtime_cuda.cpp), for the per-rank GPU line.
std::string describe_cuda_device(int index);
#endif

// The number of cores this process may use (affinity mask), at least 1.
int available_cores();

}  // namespace fergan::runtime
