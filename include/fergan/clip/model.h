// CLIP's text and vision towers (OpenAI clip/model.py, ViT variant) as LibTorch modules of any size.
//
// Parameter names inside ClipModel equal OpenAI's state_dict names, with the text tower's prefixed "text."
// (OpenAI keeps them at the top level): "text.transformer.resblocks.0.attn.in_proj_weight",
// "visual.conv1.weight", ... so that loading is a name-by-name copy (see weights.h).
//   text embedding  = ln_final(x)[position of <|endoftext|> (= argmax of the ids)] @ text_projection
//   image embedding = ln_post(class token) @ proj
// Neither is L2-normalised unless asked. LayerNorms always run in float32 (as OpenAI's LayerNorm subclass),
// so fp16/bf16 weights on a GPU keep their statistics stable.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fergan::clip {

struct TextConfig {
  int64_t vocab_size = 49408, context_length = 77, width = 512, layers = 12, heads = 8, embed_dim = 512;
};
struct VisionConfig {
  int64_t resolution = 224, patch_size = 32, width = 768, layers = 12, heads = 12, embed_dim = 512;
};
struct ClipConfig {
  TextConfig text;
  VisionConfig vision;
  bool has_vision = true;
};

// LayerNorm computed in float32 whatever the input dtype.
struct LayerNormFp32Impl : torch::nn::Module {
  explicit LayerNormFp32Impl(int64_t width);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;
};
TORCH_MODULE(LayerNormFp32);

// Multi-head self-attention with OpenAI's fused parameters (in_proj_weight [3W, W], in_proj_bias, out_proj).
struct SelfAttentionImpl : torch::nn::Module {
  SelfAttentionImpl(int64_t width, int64_t heads);
  // x [B, L, W]; mask additive [L, L] or undefined.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  int64_t heads;
  torch::Tensor in_proj_weight, in_proj_bias;
  torch::nn::Linear out_proj{nullptr};
};
TORCH_MODULE(SelfAttention);

// c_fc -> QuickGELU (x * sigmoid(1.702 x)) -> c_proj.
struct MlpImpl : torch::nn::Module {
  explicit MlpImpl(int64_t width);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear c_fc{nullptr}, c_proj{nullptr};
};
TORCH_MODULE(Mlp);

// Pre-LN residual block: x + attn(ln_1(x)); x + mlp(ln_2(x)).
struct ResidualAttentionBlockImpl : torch::nn::Module {
  ResidualAttentionBlockImpl(int64_t width, int64_t heads);
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& mask);
  SelfAttention attn{nullptr};
  LayerNormFp32 ln_1{nullptr}, ln_2{nullptr};
  Mlp mlp{nullptr};
};
TORCH_MODULE(ResidualAttentionBlock);

struct TransformerImpl : torch::nn::Module {
  TransformerImpl(int64_t width, int64_t layers, int64_t heads);
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& mask);
  torch::nn::ModuleList resblocks;
};
TORCH_MODULE(Transformer);

struct TextTransformerImpl : torch::nn::Module {
  explicit TextTransformerImpl(const TextConfig& config);
  // tokens int64 [B, L] with L <= context_length -> [B, embed_dim]. Columns after the last <|endoftext|> are
  // dropped first: the causal mask makes them irrelevant, and short captions then cost far less.
  torch::Tensor forward(const torch::Tensor& tokens);
  TextConfig config;
  torch::nn::Embedding token_embedding{nullptr};
  torch::Tensor positional_embedding, text_projection;
  Transformer transformer{nullptr};
  LayerNormFp32 ln_final{nullptr};
};
TORCH_MODULE(TextTransformer);

struct VisionTransformerImpl : torch::nn::Module {
  explicit VisionTransformerImpl(const VisionConfig& config);
  // pixels [B, 3, R, R], CLIP-normalised -> [B, embed_dim].
  torch::Tensor forward(const torch::Tensor& pixels);
  VisionConfig config;
  torch::nn::Conv2d conv1{nullptr};
  torch::Tensor class_embedding, positional_embedding, proj;
  LayerNormFp32 ln_pre{nullptr}, ln_post{nullptr};
  Transformer transformer{nullptr};
};
TORCH_MODULE(VisionTransformer);

struct ClipModelImpl : torch::nn::Module {
  explicit ClipModelImpl(const ClipConfig& config);
  torch::Tensor encode_text(const torch::Tensor& tokens, bool normalize = false);
  torch::Tensor encode_image(const torch::Tensor& pixels, bool normalize = false);
  int64_t embed_dim() const { return config.text.embed_dim; }
  int64_t image_embed_dim() const;
  int64_t image_resolution() const;
  int64_t context_length() const { return config.text.context_length; }
  const std::string& model_id() const { return id; }
  torch::Device device() const;
  torch::Dtype dtype() const;  // of the matmul weights

  ClipConfig config;
  std::string id;  // e.g. "clip-vit-w768-l12-p32-r224/text-w512-l12" + source file name
  TextTransformer text{nullptr};
  VisionTransformer visual{nullptr};
  torch::Tensor logit_scale;
};
TORCH_MODULE(ClipModel);

}  // namespace fergan::clip
