// A module's full state (parameters + buffers) as a flat, ordered list, and its export to safetensors.
//
// The trainer's checkpoints, the Python parity reference and the generator export for Python users all need
// the same thing: every tensor that defines a network, under its dotted name ("net.0.weight",
// "features.3.running_mean"), in one stable order (parameters in registration order, then buffers in
// registration order), so two processes or two runs can be compared tensor by tensor.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace fergan::models {

// Parameters then buffers, each in registration order (recursive). The tensors alias the module's storage.
std::vector<std::pair<std::string, torch::Tensor>> named_state(const torch::nn::Module& module);

// Trainable parameter count (buffers excluded, as in the parameter counts of docs/original.md).
int64_t parameter_count(const torch::nn::Module& module);

// Writes named_state(module) to a safetensors file (atomically), loadable in Python with
// `safetensors.torch.load_file(path)` and then `model.load_state_dict(...)` for a model with the same names.
// `metadata` goes to the "__metadata__" header (e.g. the network name and its options).
void export_safetensors(const std::string& path, const torch::nn::Module& module,
                        const std::map<std::string, std::string>& metadata = {});

// Copies `state` (name -> tensor, as read from a safetensors file) into `module`. Every name of the module
// must be present with the same shape; extra or missing names and shape mismatches throw one fergan::Error
// listing all of them, prefixed by `origin` (the file).
void load_state(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& state,
                const std::string& origin);

}  // namespace fergan::models
