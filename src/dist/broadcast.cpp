// Rank 0's weights to every rank at start, and a cross-rank identity check (see broadcast.h).
#include "fergan/dist/broadcast.h"

#include "fergan/core/check.h"

namespace fergan::dist {

namespace {

std::vector<torch::Tensor> state_tensors(const torch::nn::Module& module) {
  std::vector<torch::Tensor> tensors = module.parameters(/*recurse=*/true);
  for (const auto& buffer : module.buffers(/*recurse=*/true)) tensors.push_back(buffer);
  return tensors;
}

}  // namespace

void broadcast_module(Communicator& comm, torch::nn::Module& module) {
  if (comm.world() == 1) return;
  torch::NoGradGuard no_grad;
  for (torch::Tensor& t : state_tensors(module)) {
    if (!t.defined() || t.numel() == 0) continue;
    FG_CHECK(t.is_contiguous(), "broadcast_module: a parameter or buffer of shape ", t.sizes(),
             " is not contiguous");
    comm.broadcast(t, 0);
  }
}

double module_checksum(const torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  double total = 0;
  double index = 1;
  for (const torch::Tensor& t : state_tensors(module)) {
    if (!t.defined() || t.numel() == 0) continue;
    // Weights by tensor position and by element position make swapped tensors, permuted rows or a
    // broadcast in the wrong order visible, which a plain sum would not.
    auto flat = t.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
    auto element_weight = 1.0 + torch::arange(flat.numel(), torch::kFloat64).fmod(97.0) / 97.0;
    total += index * (flat * element_weight).sum().item<double>();
    index += 1;
  }
  return total;
}

bool modules_identical(Communicator& comm, const torch::nn::Module& module) {
  const double local = module_checksum(module);
  std::vector<double> range = {local, -local};
  comm.allreduce_host(range, ReduceOp::Max);
  return range[0] == local && -range[1] == local;
}

}  // namespace fergan::dist
