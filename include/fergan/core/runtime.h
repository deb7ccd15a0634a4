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

// "auto" -> cuda when available, else cpu; "cuda" without a GPU is an error.
torch::Device select_device(const std::string& requested, int local_rank = 0);

// The number of cores this process may use (affinity mask), at least 1.
int available_cores();

}  // namespace fergan::runtime
