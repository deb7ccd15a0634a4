// Start-of-training agreement on weights: rank 0's parameters and buffers copied to every rank.
//
// Each rank builds its networks with its own default initialisation; before the first step every rank
// must hold rank 0's weights (and BatchNorm running statistics), or data parallelism averages gradients of
// different models. module_checksum() gives a cheap cross-rank check that they really are identical.
#pragma once

#include <torch/torch.h>

#include "fergan/dist/communicator.h"

namespace fergan::dist {

// Broadcasts every parameter and buffer of `module` (recursively) from rank 0, in place.
void broadcast_module(Communicator& comm, torch::nn::Module& module);

// A position-weighted sum over all parameters and buffers, in double: equal weights give bit-identical
// checksums on every rank; swapped tensors or permuted elements give a different one.
double module_checksum(const torch::nn::Module& module);

// True when every rank's module_checksum() equals rank 0's.
bool modules_identical(Communicator& comm, const torch::nn::Module& module);

}  // namespace fergan::dist
