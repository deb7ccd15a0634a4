// SubPixelConvTranspose2d: ConvTranspose2d(k=4, s=2, p=1) computed as one ordinary convolution.
//
// Output pixel (2i+a, 2j+b), a, b in {0, 1}, of such a transposed convolution reads only a 2x2 window of the
// input with a fixed 2x2 subset of the kernel's taps (flipped). The four "phases" are therefore four 2x2
// convolutions; stacked along the output channels they are ONE conv2d (4*Cout channels, 2x2 kernel) over the
// input padded by 1, whose outputs are then interleaved into the 2x upsampled map (a strided view + one
// copy, like pixel_shuffle). LibTorch 1.13 runs ConvTranspose2d on the CPU as im2col + col2im (~30-50% of the
// sgemm rate); conv2d runs on oneDNN. Same arithmetic, same result up to rounding.
//
// The module owns the same parameters as torch::nn::ConvTranspose2d under the same names (`weight`
// [Cin, Cout, 4, 4], `bias` [Cout]) and initialises them by building a ConvTranspose2d, so state dicts,
// checkpoints and the random stream of a model are unchanged; the 2x2 kernels are gathered from `weight` in
// every forward, so gradients flow to it.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace fergan::models {

// The functional form: input [N, Cin, H, W], weight [Cin, Cout, 4, 4], bias [Cout] or undefined ->
// [N, Cout, 2H, 2W], equal to conv_transpose2d(input, weight, bias, stride 2, padding 1).
torch::Tensor subpixel_conv_transpose2d(const torch::Tensor& input, const torch::Tensor& weight,
                                        const torch::Tensor& bias);

class SubPixelConvTranspose2dImpl : public torch::nn::Cloneable<SubPixelConvTranspose2dImpl> {
 public:
  SubPixelConvTranspose2dImpl(int64_t in_channels, int64_t out_channels, bool with_bias = true);
  void reset() override;
  torch::Tensor forward(const torch::Tensor& input);
  void pretty_print(std::ostream& stream) const override;

  int64_t in_channels = 0, out_channels = 0;
  bool with_bias = true;
  torch::Tensor weight;  // [Cin, Cout, 4, 4], exactly ConvTranspose2d's
  torch::Tensor bias;    // [Cout]; undefined without bias
};
TORCH_MODULE(SubPixelConvTranspose2d);

}  // namespace fergan::models
