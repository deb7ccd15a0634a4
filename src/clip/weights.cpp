// CLIP weight loading (see weights.h): file reading, HuggingFace -> OpenAI renaming, config inference and the
// all-problems-at-once validation.
#include "fergan/clip/weights.h"

#include <torch/script.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"
#include "fergan/core/safetensors.h"

namespace fergan::clip {
namespace {

namespace stdfs = std::filesystem;

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

std::string shape_str(const torch::Tensor& t) {
  return c10::str(t.sizes());
}

// Names OpenAI's checkpoints carry besides the weights (build_model deletes them).
const std::set<std::string> kIgnoredOpenAiNames = {"input_resolution", "context_length", "vocab_size"};

int64_t count_layers(const std::map<std::string, torch::Tensor>& t, const std::string& prefix) {
  int64_t layers = 0;
  for (const auto& [name, _] : t) {
    if (!starts_with(name, prefix)) continue;
    const auto rest = name.substr(prefix.size());
    const auto dot = rest.find('.');
    if (dot == std::string::npos) continue;
    try {
      layers = std::max<int64_t>(layers, std::stoll(rest.substr(0, dot)) + 1);
    } catch (const std::exception&) {
    }
  }
  return layers;
}

// Head counts recorded next to the weights, if any.
void heads_from_sidecars(const std::string& path, int64_t* text_heads, int64_t* vision_heads) {
  const stdfs::path dir = stdfs::path(path).parent_path();
  auto read_json = [](const stdfs::path& p) -> nlohmann::json {
    if (!stdfs::exists(p)) return nullptr;
    try {
      return nlohmann::json::parse(fs::read_file(p.string()));
    } catch (const std::exception&) {
      return nullptr;
    }
  };
  auto get_int = [](const nlohmann::json& j, const char* key, int64_t* out) {
    if (*out == 0 && j.is_object() && j.contains(key) && j[key].is_number_integer())
      *out = j[key].get<int64_t>();
  };
  const auto hf = read_json(dir / "config.json");
  if (hf.is_object()) {
    if (hf.contains("text_config")) get_int(hf["text_config"], "num_attention_heads", text_heads);
    if (hf.contains("vision_config")) get_int(hf["vision_config"], "num_attention_heads", vision_heads);
  }
  const auto meta = read_json(dir / "meta.json");
  if (meta.is_object() && meta.contains("config")) {
    get_int(meta["config"], "transformer_heads", text_heads);
    get_int(meta["config"], "vision_heads", vision_heads);
  }
}

}  // namespace

std::map<std::string, torch::Tensor> read_weight_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FG_CHECK(in, "CLIP weights '", path, "' cannot be opened");
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  if (!(magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4)) return safetensors::load(path);
  // A zip archive: TorchScript (OpenAI's released ViT-B-32.pt and friends).
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    fail(str("CLIP weights '", path,
             "' are a zip archive but not TorchScript (a torch.save()d state_dict cannot be read from C++; "
             "convert it with safetensors.torch.save_file): ",
             std::string(e.what()).substr(0, 300)));
  }
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out[p.name] = p.value.detach().clone();
  for (const auto& b : module.named_buffers(/*recurse=*/true))
    if (!out.count(b.name)) out[b.name] = b.value.detach().clone();
  return out;
}

bool has_huggingface_names(const std::map<std::string, torch::Tensor>& tensors) {
  for (const auto& [name, _] : tensors)
    if (starts_with(name, "text_model.") || starts_with(name, "vision_model.")) return true;
  return false;
}

std::map<std::string, torch::Tensor> huggingface_to_openai(const std::map<std::string, torch::Tensor>& hf,
                                                           std::vector<std::string>* missing) {
  static const std::map<std::string, std::string> kFixed = {
      {"text_model.embeddings.token_embedding.weight", "token_embedding.weight"},
      {"text_model.embeddings.position_embedding.weight", "positional_embedding"},
      {"text_model.final_layer_norm.weight", "ln_final.weight"},
      {"text_model.final_layer_norm.bias", "ln_final.bias"},
      {"vision_model.embeddings.class_embedding", "visual.class_embedding"},
      {"vision_model.embeddings.patch_embedding.weight", "visual.conv1.weight"},
      {"vision_model.embeddings.position_embedding.weight", "visual.positional_embedding"},
      {"vision_model.pre_layrnorm.weight", "visual.ln_pre.weight"},
      {"vision_model.pre_layrnorm.bias", "visual.ln_pre.bias"},
      {"vision_model.post_layernorm.weight", "visual.ln_post.weight"},
      {"vision_model.post_layernorm.bias", "visual.ln_post.bias"},
      {"logit_scale", "logit_scale"},
  };
  // HuggingFace stores nn.Linear weights [out, in]; OpenAI's projections are x @ P with P [in, out].
  static const std::map<std::string, std::string> kTransposed = {
      {"text_projection.weight", "text_projection"}, {"visual_projection.weight", "visual.proj"}};
  static const std::vector<std::pair<std::string, std::string>> kLayerParts = {
      {"self_attn.out_proj.", "attn.out_proj."},
      {"layer_norm1.", "ln_1."},
      {"layer_norm2.", "ln_2."},
      {"mlp.fc1.", "mlp.c_fc."},
      {"mlp.fc2.", "mlp.c_proj."}};
  static const std::vector<std::pair<std::string, std::string>> kTowers = {
      {"text_model.encoder.layers.", "transformer.resblocks."},
      {"vision_model.encoder.layers.", "visual.transformer.resblocks."}};

  std::map<std::string, torch::Tensor> out;
  // (OpenAI block prefix, "weight"|"bias") -> q, k, v pieces and their HF names
  std::map<std::pair<std::string, std::string>, std::map<char, std::pair<std::string, torch::Tensor>>> qkv;
  for (const auto& [name, tensor] : hf) {
    if (name == "text_model.embeddings.position_ids" || name == "vision_model.embeddings.position_ids")
      continue;
    if (auto it = kFixed.find(name); it != kFixed.end()) {
      out[it->second] = tensor;
      continue;
    }
    if (auto it = kTransposed.find(name); it != kTransposed.end()) {
      out[it->second] = tensor.dim() == 2 ? tensor.t().contiguous() : tensor;
      continue;
    }
    bool converted = false;
    for (const auto& [hf_prefix, oa_prefix] : kTowers) {
      if (!starts_with(name, hf_prefix)) continue;
      const auto rest = name.substr(hf_prefix.size());
      const auto dot = rest.find('.');
      if (dot == std::string::npos) break;
      const std::string block = oa_prefix + rest.substr(0, dot + 1);
      const std::string part = rest.substr(dot + 1);
      for (const auto& [hf_part, oa_part] : kLayerParts) {
        if (starts_with(part, hf_part)) {
          out[block + oa_part + part.substr(hf_part.size())] = tensor;
          converted = true;
        }
      }
      for (char which : {'q', 'k', 'v'}) {
        const std::string piece = std::string("self_attn.") + which + "_proj.";
        if (starts_with(part, piece)) {
          qkv[{block, part.substr(piece.size())}][which] = {name, tensor};
          converted = true;
        }
      }
    }
    if (!converted) out[name] = tensor;  // reported as unexpected by build_from_openai
  }
  for (const auto& [key, pieces] : qkv) {
    const auto& [block, kind] = key;
    bool complete = true;
    for (char which : {'q', 'k', 'v'}) {
      if (!pieces.count(which)) {
        // Rebuild the HF name of the absent piece from a present one.
        std::string present = pieces.begin()->second.first;
        const auto at = present.find(std::string("self_attn.") + pieces.begin()->first + "_proj.");
        present[at + 10] = which;
        missing->push_back(present);
        complete = false;
      }
    }
    if (!complete) continue;
    std::vector<torch::Tensor> parts = {pieces.at('q').second, pieces.at('k').second, pieces.at('v').second};
    const bool same = parts[0].sizes() == parts[1].sizes() && parts[0].sizes() == parts[2].sizes();
    if (!same) {
      for (char which : {'q', 'k', 'v'})
        missing->push_back(str(pieces.at(which).first, " (misshaped: ", shape_str(pieces.at(which).second),
                               "; q/k/v must match)"));
      continue;
    }
    out[block + "attn.in_proj_" + kind] = torch::cat(parts, 0);
  }
  return out;
}

ClipConfig infer_config(const std::map<std::string, torch::Tensor>& t, int64_t text_heads,
                        int64_t vision_heads, const std::string& source) {
  if (t.count("visual.layer1.0.conv1.weight") || t.count("visual.attnpool.positional_embedding"))
    fail(str("CLIP weights '", source,
             "' hold a ResNet (ModifiedResNet) vision tower; only ViT CLIP models are supported"));
  std::vector<std::string> absent;
  auto need = [&](const std::string& name, int64_t dims) -> const torch::Tensor* {
    auto it = t.find(name);
    if (it == t.end()) {
      absent.push_back(name);
      return nullptr;
    }
    if (it->second.dim() != dims) {
      absent.push_back(str(name, " (misshaped: ", shape_str(it->second), ", expected ", dims, " dims)"));
      return nullptr;
    }
    return &it->second;
  };
  ClipConfig c;
  const auto* tok = need("token_embedding.weight", 2);
  const auto* pos = need("positional_embedding", 2);
  const auto* tproj = need("text_projection", 2);
  c.has_vision = false;
  for (const auto& [name, _] : t)
    if (starts_with(name, "visual.")) c.has_vision = true;
  const torch::Tensor *conv = nullptr, *vpos = nullptr, *vproj = nullptr;
  if (c.has_vision) {
    conv = need("visual.conv1.weight", 4);
    vpos = need("visual.positional_embedding", 2);
    vproj = need("visual.proj", 2);
  }
  if (!absent.empty()) {
    std::string list;
    for (const auto& a : absent) list += "\n  missing: " + a;
    fail(str("CLIP weights '", source, "': cannot size the model, tensors are missing or misshaped:", list));
  }
  c.text.vocab_size = tok->size(0);
  c.text.width = tok->size(1);
  c.text.context_length = pos->size(0);
  c.text.embed_dim = tproj->size(1);
  c.text.layers = count_layers(t, "transformer.resblocks.");
  c.text.heads = text_heads > 0 ? text_heads : std::max<int64_t>(1, c.text.width / 64);
  FG_CHECK(c.text.layers > 0, "CLIP weights '", source,
           "': no text transformer layers (transformer.resblocks.*)");
  if (c.has_vision) {
    c.vision.width = conv->size(0);
    c.vision.patch_size = conv->size(3);
    const int64_t tokens = vpos->size(0) - 1;
    const auto grid =
        static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(tokens, 0)))));
    FG_CHECK(grid * grid == tokens, "CLIP weights '", source, "': visual.positional_embedding has ",
             vpos->size(0), " rows, not 1 + a square number of patches");
    c.vision.resolution = grid * c.vision.patch_size;
    c.vision.embed_dim = vproj->size(1);
    c.vision.layers = count_layers(t, "visual.transformer.resblocks.");
    c.vision.heads = vision_heads > 0 ? vision_heads : std::max<int64_t>(1, c.vision.width / 64);
    FG_CHECK(c.vision.layers > 0, "CLIP weights '", source,
             "': no vision transformer layers (visual.transformer.resblocks.*)");
  }
  return c;
}

ClipModel build_from_openai(const std::map<std::string, torch::Tensor>& t, const ClipConfig& config,
                            const std::string& source, const std::vector<std::string>& already_missing) {
  ClipModel model(config);
  std::vector<std::string> missing = already_missing, unexpected, misshaped;
  std::set<std::string> used;
  torch::NoGradGuard no_grad;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> copies;
  for (auto& p : model->named_parameters(/*recurse=*/true)) {
    // Our names: "text.X" for OpenAI's top-level text weights, "visual.X" and "logit_scale" as OpenAI's.
    const std::string name = starts_with(p.key(), "text.") ? p.key().substr(5) : p.key();
    auto it = t.find(name);
    if (it == t.end()) {
      if (name != "logit_scale") missing.push_back(name);  // logit_scale only matters for training
      continue;
    }
    used.insert(name);
    if (it->second.sizes() != p.value().sizes()) {
      misshaped.push_back(str(name, " is ", shape_str(it->second), ", expected ", shape_str(p.value())));
      continue;
    }
    copies.emplace_back(p.value(), it->second);
  }
  for (const auto& [name, _] : t)
    if (!used.count(name) && !kIgnoredOpenAiNames.count(name)) unexpected.push_back(name);
  if (!missing.empty() || !unexpected.empty() || !misshaped.empty()) {
    std::string list;
    for (const auto& m : missing) list += "\n  missing: " + m;
    for (const auto& m : unexpected) list += "\n  unexpected: " + m;
    for (const auto& m : misshaped) list += "\n  misshaped: " + m;
    fail(str("CLIP weights '", source, "' do not match a CLIP ViT (", model->model_id(),
             "): ", missing.size(), " missing, ", unexpected.size(), " unexpected, ", misshaped.size(),
             " misshaped tensors:", list));
  }
  for (auto& [param, value] : copies) param.copy_(value);
  model->eval();
  return model;
}

ClipModel load_clip(const std::string& path, torch::Device device, torch::Dtype dtype,
                    const LoadOptions& options) {
  FG_CHECK(stdfs::exists(path), "CLIP weights '", path, "' do not exist");
  FG_CHECK(dtype == torch::kFloat32 || dtype == torch::kFloat16 || dtype == torch::kBFloat16 ||
               dtype == torch::kFloat64,
           "CLIP weights '", path, "': unsupported dtype ", c10::toString(dtype));
  auto tensors = read_weight_file(path);
  int64_t text_heads = options.text_heads, vision_heads = options.vision_heads;
  if (text_heads == 0 || vision_heads == 0) {
    std::map<std::string, std::string> meta;
    try {
      meta = safetensors::load_metadata(path);
    } catch (const Error&) {  // TorchScript archives carry no safetensors metadata
    }
    if (text_heads == 0 && meta.count("text_heads")) text_heads = std::stoll(meta["text_heads"]);
    if (vision_heads == 0 && meta.count("vision_heads")) vision_heads = std::stoll(meta["vision_heads"]);
    heads_from_sidecars(path, &text_heads, &vision_heads);
  }
  std::vector<std::string> missing;
  if (has_huggingface_names(tensors)) tensors = huggingface_to_openai(tensors, &missing);
  const ClipConfig config = infer_config(tensors, text_heads, vision_heads, path);
  ClipModel model = build_from_openai(tensors, config, path, missing);
  model->id += ":" + stdfs::path(path).filename().string();
  model->to(device);
  if (dtype != torch::kFloat32) {
    // Matmul weights in the requested precision; LayerNorm parameters and logit_scale stay float32.
    torch::NoGradGuard no_grad;
    for (auto& p : model->named_parameters(true)) {
      const auto& name = p.key();
      const bool layer_norm = name.find(".ln_") != std::string::npos || starts_with(name, "ln_");
      if (!layer_norm && name != "logit_scale") p.value().set_data(p.value().to(dtype));
    }
  }
  return model;
}

}  // namespace fergan::clip
