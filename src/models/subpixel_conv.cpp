// SubPixelConvTranspose2d (see subpixel_conv.h).
//
// The index arithmetic. ConvTranspose2d(k4, s2, p1): out[y] = sum over (iy, ky) with y = 2*iy - 1 + ky of
// in[iy] * W[ky]. For y = 2i + a: a = 0 reads rows i-1, i with taps 3, 1; a = 1 reads rows i, i+1 with taps
// 2, 0. With P = input padded by 1 (P[u] = in[u-1]), a 2x2 valid conv at position u reads rows u-1, u, so
// phase a's output row i is the conv's row u = i + a, tap dy in {0, 1} being ky = 3 - a - 2*dy. In the
// kernel flipped along both axes (Wf[k] = W[3-k]) that tap is index a + 2*dy: viewing Wf's 4 taps as
// [dy, a] gives all four phases' 2x2 kernels at once, with no gather.
//
// The conv's output Y [N, 4*Cout, H+1, W+1] holds phase (a, b) in channels (2a+b)*Cout.., shifted by (a, b).
// out[n, c, 2i+a, 2j+b] = Y[n, (2a+b)*Cout + c, i+a, j+b] is an affine function of (n, c, i, a, j, b), so it
// is one strided view of Y whatever Y's memory format; copying it into [N, Cout, 2H, 2W] is the one copy.
// Cost: the conv computes (H+1)(W+1) positions for HW useful ones per phase (27% extra at 8x8, 6% at 32x32).
#include "fergan/models/subpixel_conv.h"

#include <ATen/Parallel.h>

#include <cstring>
#include <vector>

#include "fergan/core/check.h"

namespace fergan::models {

namespace {

// The strided view of the conv output y [N, 4C, H+1, W+1] that holds out[n, c, 2i+a, 2j+b] at
// [n, c, i, a, j, b] (see the file comment); valid for any memory format of y.
torch::Tensor phase_view(const torch::Tensor& y, int64_t channels, int64_t h, int64_t w) {
  const auto s = y.strides();
  return y.as_strided({y.size(0), channels, h, 2, w, 2},
                      {s[0], s[1], s[2], 2 * channels * s[1] + s[2], s[3], channels * s[1] + s[3]},
                      y.storage_offset());
}

// Strides of [N, C, 2H, 2W] seen as [N, C, H, 2, W, 2] (row 2i+a, column 2j+b).
std::vector<int64_t> six_d_strides(const torch::Tensor& t) {
  const auto s = t.strides();
  return {s[0], s[1], 2 * s[2], s[2], 2 * s[3], s[3]};
}

// Copies between y [N, 4C, H+1, W+1] and out [N, C, 2H, 2W], both NHWC-contiguous CPU tensors of one dtype:
// out[n, 2i+a, 2j+b, :] <-> y[n, i+a, j+b, (2a+b)C : (2a+b+1)C], C contiguous elements each. LibTorch's
// strided copy of the equivalent 6-d views walks them element by element (~8 ns per element measured here,
// most of the layer's time at 128x128); this loop moves whole channel vectors.
void copy_phases_nhwc(const torch::Tensor& y, const torch::Tensor& out, bool to_out) {
  const int64_t n = out.size(0), c = out.size(1), h = out.size(2) / 2, w = out.size(3) / 2;
  const int64_t bytes = c * static_cast<int64_t>(out.element_size());
  auto* y_base = static_cast<char*>(y.data_ptr());
  auto* out_base = static_cast<char*>(out.data_ptr());
  // One task per (sample, output row): rows 2i+a of out.
  at::parallel_for(0, n * 2 * h, 1, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t sample = task / (2 * h), row = task % (2 * h), i = row / 2, a = row % 2;
      char* out_row = out_base + ((sample * 2 * h + row) * 2 * w) * bytes;
      char* y_row = y_base + ((sample * (h + 1) + i + a) * (w + 1)) * 4 * bytes;
      for (int64_t j = 0; j < w; ++j) {
        for (int64_t b = 0; b < 2; ++b) {
          char* o = out_row + (2 * j + b) * bytes;
          char* v = y_row + ((j + b) * 4 + 2 * a + b) * bytes;
          if (to_out)
            std::memcpy(o, v, bytes);
          else
            std::memcpy(v, o, bytes);
        }
      }
    }
  });
}

// y [N, 4C, H+1, W+1] (NHWC) -> out [N, C, 2H, 2W] (NHWC) as one gather. Autograd's own backward of an
// as_strided view would allocate and zero a buffer of y's size and, for an NHWC y, take its general scatter
// path (an index_add over every element); the backward here is the reverse copy plus zeroing the row and
// column of each phase that the output never reads.
struct InterleavePhases : torch::autograd::Function<InterleavePhases> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& y_any) {
    const auto nhwc = c10::MemoryFormat::ChannelsLast;
    const torch::Tensor y = y_any.contiguous(nhwc);
    const int64_t n = y.size(0), channels = y.size(1) / 4, h = y.size(2) - 1, w = y.size(3) - 1;
    auto out = torch::empty({n, channels, 2 * h, 2 * w}, y.options().memory_format(nhwc));
    if (y.is_cpu())
      copy_phases_nhwc(y, out, /*to_out=*/true);
    else
      out.as_strided({n, channels, h, 2, w, 2}, six_d_strides(out), out.storage_offset())
          .copy_(phase_view(y, channels, h, w));
    return out;
  }

  static torch::autograd::tensor_list backward(torch::autograd::AutogradContext* ctx,
                                               torch::autograd::tensor_list grads) {
    const auto nhwc = c10::MemoryFormat::ChannelsLast;
    const torch::Tensor grad = grads[0].contiguous(nhwc);
    const int64_t n = grad.size(0), channels = grad.size(1), h = grad.size(2) / 2, w = grad.size(3) / 2;
    auto grad_y = torch::empty({n, 4 * channels, h + 1, w + 1}, grad.options().memory_format(nhwc));
    if (grad.is_cpu())
      copy_phases_nhwc(grad_y, grad, /*to_out=*/false);
    else
      phase_view(grad_y, channels, h, w)
          .copy_(grad.as_strided({n, channels, h, 2, w, 2}, six_d_strides(grad), grad.storage_offset()));
    // Phase (a, b) reads rows a..a+H-1 and columns b..b+W-1 of its channels: the other row and column get
    // no gradient.
    for (int64_t a = 0; a < 2; ++a) {
      for (int64_t b = 0; b < 2; ++b) {
        auto phase = grad_y.narrow(1, (2 * a + b) * channels, channels);
        phase.select(2, a == 0 ? h : 0).zero_();
        phase.select(3, b == 0 ? w : 0).zero_();
      }
    }
    return {grad_y};
  }
};

}  // namespace

torch::Tensor subpixel_conv_transpose2d(const torch::Tensor& input, const torch::Tensor& weight,
                                        const torch::Tensor& bias) {
  FG_CHECK(input.dim() == 4 && weight.dim() == 4 && weight.size(2) == 4 && weight.size(3) == 4 &&
               input.size(1) == weight.size(0),
           "subpixel_conv_transpose2d: expected input [N, Cin, H, W] and weight [Cin, Cout, 4, 4], got ",
           input.sizes(), " and ", weight.sizes());
  const int64_t cin = weight.size(0), cout = weight.size(1);
  // [Cin, Cout, ky, kx] -> [Cout, Cin, 4, 4] flipped -> [Cout, Cin, dy, a, dx, b] -> [a, b, Cout, Cin, dy,
  // dx].
  const torch::Tensor kernels = weight.transpose(0, 1)
                                    .flip({2, 3})
                                    .reshape({cout, cin, 2, 2, 2, 2})
                                    .permute({3, 5, 0, 1, 2, 4})
                                    .reshape({4 * cout, cin, 2, 2});
  // The conv runs in channels_last (NHWC) whatever the input's format: oneDNN's NCHW backward for these
  // shapes (2x2 kernels, many output channels, large maps) is 2-3x slower than its NHWC one (bench_convt),
  // and the output stays NHWC, so a stack of these layers converts only once.
  const auto nhwc = c10::MemoryFormat::ChannelsLast;
  const torch::Tensor conv_bias = bias.defined() ? bias.repeat({4}) : torch::Tensor();
  // padding 1 with a 2x2 kernel: the (H+1) x (W+1) valid positions over the input padded by 1, without
  // materialising the padded input.
  const torch::Tensor y = torch::conv2d(input.contiguous(nhwc), kernels.contiguous(nhwc), conv_bias,
                                        /*stride=*/1, /*padding=*/1);
  return InterleavePhases::apply(y);
}

SubPixelConvTranspose2dImpl::SubPixelConvTranspose2dImpl(int64_t in_channels, int64_t out_channels,
                                                         bool with_bias)
    : in_channels(in_channels), out_channels(out_channels), with_bias(with_bias) {
  reset();
}

void SubPixelConvTranspose2dImpl::reset() {
  // ConvTranspose2d's own initialisation, drawing the same random numbers in the same order.
  torch::nn::ConvTranspose2d init(
      torch::nn::ConvTranspose2dOptions(in_channels, out_channels, 4).stride(2).padding(1).bias(with_bias));
  weight = register_parameter("weight", init->weight.detach());
  if (with_bias) bias = register_parameter("bias", init->bias.detach());
}

torch::Tensor SubPixelConvTranspose2dImpl::forward(const torch::Tensor& input) {
  return subpixel_conv_transpose2d(input, weight, bias);
}

void SubPixelConvTranspose2dImpl::pretty_print(std::ostream& stream) const {
  stream << "fergan::models::SubPixelConvTranspose2d(" << in_channels << ", " << out_channels
         << ", kernel_size=[4, 4], stride=[2, 2], padding=[1, 1])";
}

}  // namespace fergan::models
