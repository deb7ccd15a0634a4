// Loading CLIP weights into ClipModel from the files users actually have:
//   (1) safetensors with OpenAI state_dict names ("transformer.resblocks.0.attn.in_proj_weight",
//   "visual.proj") (2) safetensors with HuggingFace transformers names
//   ("text_model.encoder.layers.0.self_attn.q_proj.weight",
//       "visual_projection.weight", ...): q/k/v fused into in_proj, projections transposed
//   (3) OpenAI's released TorchScript .pt archives (torch::jit::load, parameters taken by name).
// Model sizes come from the tensor shapes. Head counts are not visible in shapes; they come from, in order:
// LoadOptions, safetensors metadata ("text_heads", "vision_heads"), a config.json (HuggingFace) or meta.json
// ({"config": {"transformer_heads": N}}) next to the weights, else OpenAI's rule width / 64.
// Any missing, unexpected or misshaped tensor is an error that lists all of them and names the file.
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>
#include <vector>

#include "fergan/clip/model.h"

namespace fergan::clip {

struct LoadOptions {
  int64_t text_heads = 0;    // 0: from the file / width / 64
  int64_t vision_heads = 0;  // 0: from the file / width / 64
};

ClipModel load_clip(const std::string& path, torch::Device device = torch::kCPU,
                    torch::Dtype dtype = torch::kFloat32, const LoadOptions& options = {});

// The pieces, exposed for tests and tools.
// All tensors of a safetensors file or a TorchScript archive (by parameter name), on the CPU.
std::map<std::string, torch::Tensor> read_weight_file(const std::string& path);
// True when the names are HuggingFace transformers' (text_model.*, vision_model.*).
bool has_huggingface_names(const std::map<std::string, torch::Tensor>& tensors);
// HuggingFace names -> OpenAI names. Pieces that cannot be converted (a q_proj without its k_proj/v_proj) are
// appended to `missing`; unknown names pass through unchanged (and are later reported as unexpected).
std::map<std::string, torch::Tensor> huggingface_to_openai(const std::map<std::string, torch::Tensor>& hf,
                                                           std::vector<std::string>* missing);
// Sizes of the model the OpenAI-named tensors describe; `source` names the file in errors.
ClipConfig infer_config(const std::map<std::string, torch::Tensor>& openai, int64_t text_heads,
                        int64_t vision_heads, const std::string& source);
// Builds the model and copies the tensors in; errors list every missing / unexpected / misshaped tensor.
ClipModel build_from_openai(const std::map<std::string, torch::Tensor>& openai, const ClipConfig& config,
                            const std::string& source, const std::vector<std::string>& already_missing = {});

}  // namespace fergan::clip
