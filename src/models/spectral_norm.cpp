// Spectral normalisation by power iteration (see spectral_norm.h).
#include "fergan/models/spectral_norm.h"

#include "fergan/core/check.h"

namespace fergan::models {

namespace {
constexpr double kEps = 1e-12;

torch::Tensor normalized(const torch::Tensor& v) {
  return v / (v.norm() + kEps);
}

torch::Tensor& weight_of(torch::nn::Module& layer) {
  if (auto* conv = layer.as<torch::nn::Conv2dImpl>()) return conv->weight;
  if (auto* linear = layer.as<torch::nn::LinearImpl>()) return linear->weight;
  fail(str("spectral norm: ", layer.name(), " is neither Conv2d nor Linear"));
}

// A handle to one of the layer's power-iteration buffers (same storage: in-place updates reach the layer).
torch::Tensor buffer(torch::nn::Module& layer, const char* name) {
  const auto buffers = layer.named_buffers(/*recurse=*/false);
  const torch::Tensor* found = buffers.find(name);
  FG_CHECK(found, "spectral norm: ", layer.name(), " has no '", name, "' buffer (call add_spectral_norm)");
  return *found;
}
}  // namespace

void add_spectral_norm(torch::nn::Module& layer) {
  const torch::Tensor& w = weight_of(layer);
  const torch::Tensor matrix = w.detach().reshape({w.size(0), -1});
  const torch::Tensor u = normalized(torch::randn({matrix.size(0)}, w.options()));
  const torch::Tensor v = normalized(torch::mv(matrix.t(), u));
  layer.register_buffer("weight_u", u);
  layer.register_buffer("weight_v", v);
}

torch::Tensor spectral_normalized_weight(torch::nn::Module& layer) {
  const torch::Tensor& w = weight_of(layer);
  torch::Tensor u = buffer(layer, "weight_u"), v = buffer(layer, "weight_v");
  const torch::Tensor matrix = w.reshape({w.size(0), -1});
  if (layer.is_training()) {
    torch::NoGradGuard no_grad;
    v.copy_(normalized(torch::mv(matrix.t(), u)));
    u.copy_(normalized(torch::mv(matrix, v)));
  }
  // u and v are constants for autograd; clones, so a later in-place power step cannot corrupt this graph.
  const torch::Tensor sigma = torch::dot(u.clone(), torch::mv(matrix, v.clone()));
  return w / sigma;
}

torch::Tensor spectral_norm_forward(torch::nn::Module& layer, const torch::Tensor& input) {
  const torch::Tensor w = spectral_normalized_weight(layer);
  if (auto* conv = layer.as<torch::nn::Conv2dImpl>()) {
    const auto& o = conv->options;
    namespace F = torch::nn::functional;
    return F::conv2d(input, w,
                     F::Conv2dFuncOptions()
                         .bias(conv->bias)
                         .stride(o.stride())
                         .padding(o.padding())
                         .dilation(o.dilation())
                         .groups(o.groups()));
  }
  auto* linear = layer.as<torch::nn::LinearImpl>();
  return torch::linear(input, w, linear->bias);
}

}  // namespace fergan::models
