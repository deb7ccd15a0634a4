// CLIP ViT text and vision towers (see model.h); the forward passes follow OpenAI's clip/model.py.
#include "fergan/clip/model.h"

#include <cmath>

#include "fergan/core/check.h"

namespace fergan::clip {

LayerNormFp32Impl::LayerNormFp32Impl(int64_t width) {
  weight = register_parameter("weight", torch::ones({width}));
  bias = register_parameter("bias", torch::zeros({width}));
}

torch::Tensor LayerNormFp32Impl::forward(const torch::Tensor& x) {
  return torch::layer_norm(x.to(torch::kFloat32), {weight.size(0)}, weight.to(torch::kFloat32),
                           bias.to(torch::kFloat32), 1e-5)
      .to(x.scalar_type());
}

SelfAttentionImpl::SelfAttentionImpl(int64_t width, int64_t heads) : heads(heads) {
  FG_CHECK(heads > 0 && width % heads == 0, "CLIP attention: width ", width, " is not divisible by ", heads,
           " heads");
  in_proj_weight = register_parameter("in_proj_weight", torch::empty({3 * width, width}));
  in_proj_bias = register_parameter("in_proj_bias", torch::zeros({3 * width}));
  out_proj = register_module("out_proj", torch::nn::Linear(width, width));
  torch::nn::init::xavier_uniform_(in_proj_weight);
}

torch::Tensor SelfAttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  const int64_t B = x.size(0), L = x.size(1), W = x.size(2), head_dim = W / heads;
  // [B, L, 3W] -> three [B, heads, L, head_dim]
  auto qkv = torch::nn::functional::linear(x, in_proj_weight, in_proj_bias)
                 .view({B, L, 3, heads, head_dim})
                 .permute({2, 0, 3, 1, 4});
  auto q =
      qkv[0] * (1.0 / std::sqrt(static_cast<double>(head_dim)));  // scaled before the product, as PyTorch
  auto scores = torch::matmul(q, qkv[1].transpose(-2, -1));
  if (mask.defined()) scores = scores + mask;
  auto attn = torch::softmax(scores, -1);
  auto out = torch::matmul(attn, qkv[2]).permute({0, 2, 1, 3}).reshape({B, L, W});
  return out_proj(out);
}

MlpImpl::MlpImpl(int64_t width) {
  c_fc = register_module("c_fc", torch::nn::Linear(width, 4 * width));
  c_proj = register_module("c_proj", torch::nn::Linear(4 * width, width));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  auto h = c_fc(x);
  return c_proj(h * torch::sigmoid(1.702 * h));
}

ResidualAttentionBlockImpl::ResidualAttentionBlockImpl(int64_t width, int64_t heads) {
  attn = register_module("attn", SelfAttention(width, heads));
  ln_1 = register_module("ln_1", LayerNormFp32(width));
  mlp = register_module("mlp", Mlp(width));
  ln_2 = register_module("ln_2", LayerNormFp32(width));
}

torch::Tensor ResidualAttentionBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& mask) {
  auto y = x + attn(ln_1(x), mask);
  return y + mlp(ln_2(y));
}

TransformerImpl::TransformerImpl(int64_t width, int64_t layers, int64_t heads) {
  resblocks = register_module("resblocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) resblocks->push_back(ResidualAttentionBlock(width, heads));
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, const torch::Tensor& mask) {
  for (const auto& block : *resblocks) x = block->as<ResidualAttentionBlockImpl>()->forward(x, mask);
  return x;
}

TextTransformerImpl::TextTransformerImpl(const TextConfig& c) : config(c) {
  token_embedding = register_module("token_embedding", torch::nn::Embedding(c.vocab_size, c.width));
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({c.context_length, c.width}) * 0.01);
  transformer = register_module("transformer", Transformer(c.width, c.layers, c.heads));
  ln_final = register_module("ln_final", LayerNormFp32(c.width));
  text_projection = register_parameter("text_projection",
                                       torch::randn({c.width, c.embed_dim}) / std::sqrt(double(c.width)));
}

torch::Tensor TextTransformerImpl::forward(const torch::Tensor& tokens_in) {
  FG_CHECK(tokens_in.dim() == 2 && tokens_in.size(1) <= config.context_length && tokens_in.size(1) > 0,
           "CLIP text tower: tokens must be [B, L<=", config.context_length, "], got ", tokens_in.sizes());
  auto tokens = tokens_in.to(token_embedding->weight.device(), torch::kInt64);
  FG_CHECK(tokens.min().item<int64_t>() >= 0 && tokens.max().item<int64_t>() < config.vocab_size,
           "CLIP text tower: token ids outside [0, ", config.vocab_size, ")");
  // <|endoftext|> has the largest id, so argmax finds it (as OpenAI's encode_text).
  auto eot = tokens.argmax(-1);
  const int64_t L = eot.max().item<int64_t>() + 1;
  tokens = tokens.narrow(1, 0, L);
  const auto dtype = text_projection.scalar_type();
  auto x = token_embedding(tokens).to(dtype) + positional_embedding.narrow(0, 0, L).to(dtype);
  auto mask = torch::full({L, L}, -std::numeric_limits<float>::infinity(), x.options()).triu(1);
  x = ln_final(transformer(x, mask));
  x = x.index({torch::arange(x.size(0), eot.options()), eot});
  return torch::matmul(x, text_projection);
}

VisionTransformerImpl::VisionTransformerImpl(const VisionConfig& c) : config(c) {
  FG_CHECK(c.patch_size > 0 && c.resolution % c.patch_size == 0, "CLIP vision tower: resolution ",
           c.resolution, " is not a multiple of the patch size ", c.patch_size);
  const int64_t grid = c.resolution / c.patch_size;
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.width));
  conv1 = register_module(
      "conv1",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(3, c.width, c.patch_size).stride(c.patch_size).bias(false)));
  class_embedding = register_parameter("class_embedding", torch::randn({c.width}) * scale);
  positional_embedding =
      register_parameter("positional_embedding", torch::randn({grid * grid + 1, c.width}) * scale);
  ln_pre = register_module("ln_pre", LayerNormFp32(c.width));
  transformer = register_module("transformer", Transformer(c.width, c.layers, c.heads));
  ln_post = register_module("ln_post", LayerNormFp32(c.width));
  proj = register_parameter("proj", torch::randn({c.width, c.embed_dim}) * scale);
}

torch::Tensor VisionTransformerImpl::forward(const torch::Tensor& pixels) {
  FG_CHECK(pixels.dim() == 4 && pixels.size(1) == 3 && pixels.size(2) == config.resolution &&
               pixels.size(3) == config.resolution,
           "CLIP vision tower: pixels must be [B, 3, ", config.resolution, ", ", config.resolution, "], got ",
           pixels.sizes());
  const auto dtype = proj.scalar_type();
  auto x = conv1(pixels.to(proj.device(), dtype));  // [B, W, g, g]
  x = x.flatten(2).transpose(1, 2);                 // [B, g*g, W]
  auto cls = class_embedding.to(dtype).view({1, 1, -1}).expand({x.size(0), 1, x.size(2)});
  x = torch::cat({cls, x}, 1) + positional_embedding.to(dtype);
  x = transformer(ln_pre(x), torch::Tensor());
  return torch::matmul(ln_post(x.select(1, 0)), proj);
}

ClipModelImpl::ClipModelImpl(const ClipConfig& c) : config(c) {
  text = register_module("text", TextTransformer(c.text));
  if (c.has_vision) visual = register_module("visual", VisionTransformer(c.vision));
  logit_scale =
      register_parameter("logit_scale", torch::tensor(std::log(1.0 / 0.07), torch::kFloat32), false);
  id = str("clip-vit-text-w", c.text.width, "-l", c.text.layers, "-h", c.text.heads, "-e", c.text.embed_dim);
  if (c.has_vision)
    id += str("-vision-w", c.vision.width, "-l", c.vision.layers, "-p", c.vision.patch_size, "-r",
              c.vision.resolution);
}

torch::Tensor ClipModelImpl::encode_text(const torch::Tensor& tokens, bool normalize) {
  torch::NoGradGuard no_grad;  // CLIP is frozen everywhere in fergan
  auto e = text(tokens);
  return normalize
             ? torch::nn::functional::normalize(e, torch::nn::functional::NormalizeFuncOptions().dim(-1))
             : e;
}

torch::Tensor ClipModelImpl::encode_image(const torch::Tensor& pixels, bool normalize) {
  torch::NoGradGuard no_grad;
  FG_CHECK(!visual.is_empty(), "CLIP model '", id,
           "' has no vision tower (the weights held only the text tower)");
  auto e = visual(pixels);
  return normalize
             ? torch::nn::functional::normalize(e, torch::nn::functional::NormalizeFuncOptions().dim(-1))
             : e;
}

int64_t ClipModelImpl::image_embed_dim() const {
  return config.has_vision ? config.vision.embed_dim : 0;
}
int64_t ClipModelImpl::image_resolution() const {
  return config.has_vision ? config.vision.resolution : 0;
}
torch::Device ClipModelImpl::device() const {
  return text->text_projection.device();
}
torch::Dtype ClipModelImpl::dtype() const {
  return text->text_projection.scalar_type();
}

}  // namespace fergan::clip
