// Spectral normalisation (Miyato et al. 2018, "Spectral Normalization for GANs") of a Conv2d or Linear layer:
// the layer computes with W / sigma(W), sigma the largest singular value of W viewed as [out, in*k*k],
// estimated by one power iteration per training-mode forward (as PyTorch's torch.nn.utils.spectral_norm).
// It keeps the discriminator 1-Lipschitz per layer, which is what lets it replace BatchNorm there: no batch
// statistics, so real and fake batches, ranks and batch sizes no longer influence each other through D.
//
// The layer keeps its own `weight` parameter (the unnormalised W) and gains two buffers, `weight_u` [out]
// and `weight_v` [in*k*k], the power-iteration vectors, saved in checkpoints like any buffer.
#pragma once

#include <torch/torch.h>

namespace fergan::models {

// Registers the power-iteration buffers on `layer` (a Conv2dImpl or LinearImpl), drawn from LibTorch's
// global generator.
void add_spectral_norm(torch::nn::Module& layer);

// W / sigma(W). In training mode first advances the power iteration one step (updating the buffers in
// place, without gradient); sigma is differentiable in W with u and v held constant.
torch::Tensor spectral_normalized_weight(torch::nn::Module& layer);

// The layer's forward with its spectrally normalised weight (Conv2d: same stride/padding; Linear).
torch::Tensor spectral_norm_forward(torch::nn::Module& layer, const torch::Tensor& input);

}  // namespace fergan::models
