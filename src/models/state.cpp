// named_state / parameter_count / export_safetensors / load_state (see state.h).
#include "fergan/models/state.h"

#include "fergan/core/check.h"
#include "fergan/core/safetensors.h"

namespace fergan::models {

std::vector<std::pair<std::string, torch::Tensor>> named_state(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : module.named_parameters(/*recurse=*/true))
    out.emplace_back(item.key(), item.value());
  for (const auto& item : module.named_buffers(/*recurse=*/true)) out.emplace_back(item.key(), item.value());
  return out;
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters(/*recurse=*/true)) n += p.numel();
  return n;
}

void export_safetensors(const std::string& path, const torch::nn::Module& module,
                        const std::map<std::string, std::string>& metadata) {
  std::map<std::string, torch::Tensor> tensors;
  for (const auto& [name, tensor] : named_state(module)) tensors.emplace(name, tensor.detach());
  safetensors::save(path, tensors, metadata);
}

void load_state(torch::nn::Module& module, const std::map<std::string, torch::Tensor>& state,
                const std::string& origin) {
  std::string problems;
  size_t matched = 0;
  auto current = named_state(module);
  for (const auto& [name, tensor] : current) {
    auto it = state.find(name);
    if (it == state.end()) {
      problems += fergan::str("\n  missing '", name, "' ", tensor.sizes());
    } else if (it->second.sizes() != tensor.sizes()) {
      problems += fergan::str("\n  '", name, "': file has ", it->second.sizes(), ", network expects ",
                              tensor.sizes());
    } else {
      ++matched;
    }
  }
  if (matched != state.size()) {
    for (const auto& [name, tensor] : state) {
      bool known = false;
      for (const auto& entry : current) known = known || entry.first == name;
      if (!known) problems += fergan::str("\n  unexpected '", name, "' ", tensor.sizes());
    }
  }
  FG_CHECK(problems.empty(), origin, ": state does not match the network:", problems);
  torch::NoGradGuard no_grad;
  for (auto& [name, tensor] : current) tensor.copy_(state.at(name).to(tensor.dtype()));
}

}  // namespace fergan::models
