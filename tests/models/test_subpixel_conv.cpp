// SubPixelConvTranspose2d against LibTorch's conv_transpose2d (stride 2, padding 1, kernel 4): output and the
// gradients with respect to input, weight and bias, on random data of several shapes (odd channel counts,
// batch 1, non-square maps), in float32 (within 1e-5 of the largest magnitude) and float64 (within 1e-12).
// Also: the module has ConvTranspose2d's parameter names and shapes, and draws the same initial values; a
// generator built with either upsampling is the same network.
#include <gtest/gtest.h>

#include <tuple>
#include <vector>

#include "fergan/models/subpixel_conv.h"
#include "fergan/models/text2img.h"

using namespace fergan::models;

namespace {

// max|a - b| / max|b|
double relative_error(const torch::Tensor& a, const torch::Tensor& b) {
  const auto a64 = a.to(torch::kFloat64), b64 = b.to(torch::kFloat64);
  return (a64 - b64).abs().max().item<double>() / (b64.abs().max().item<double>() + 1e-30);
}

void check_against_conv_transpose(torch::ScalarType dtype, double tolerance, bool with_bias,
                                  bool channels_last = false) {
  // N, Cin, Cout, H, W
  const std::vector<std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 1, 1, 1},  {1, 3, 5, 4, 4},   {2, 7, 3, 5, 6},
      {3, 16, 8, 8, 8}, {2, 33, 17, 3, 9}, {4, 64, 32, 8, 8}};
  for (const auto& [n, cin, cout, h, w] : shapes) {
    SCOPED_TRACE(testing::Message() << "N " << n << " Cin " << cin << " Cout " << cout << " " << h << "x" << w
                                    << (with_bias ? " bias" : " no bias"));
    const auto opts = torch::TensorOptions().dtype(dtype);
    auto x = torch::randn({n, cin, h, w}, opts);
    if (channels_last) x = x.contiguous(torch::MemoryFormat::ChannelsLast);
    x.requires_grad_(true);
    auto weight = torch::randn({cin, cout, 4, 4}, opts).requires_grad_(true);
    auto bias = with_bias ? torch::randn({cout}, opts).requires_grad_(true) : torch::Tensor();
    const auto grad = torch::randn({n, cout, 2 * h, 2 * w}, opts);

    std::vector<torch::Tensor> inputs = {x, weight};
    if (with_bias) inputs.push_back(bias);
    const auto expected = torch::conv_transpose2d(x, weight, bias, /*stride=*/2, /*padding=*/1);
    const auto expected_grads = torch::autograd::grad({expected}, inputs, {grad});
    const auto actual = subpixel_conv_transpose2d(x, weight, bias);
    const auto actual_grads = torch::autograd::grad({actual}, inputs, {grad});

    ASSERT_EQ(actual.sizes(), expected.sizes());
    EXPECT_EQ(actual.scalar_type(), dtype);
    EXPECT_LE(relative_error(actual, expected), tolerance) << "output";
    EXPECT_LE(relative_error(actual_grads[0], expected_grads[0]), tolerance) << "grad input";
    EXPECT_LE(relative_error(actual_grads[1], expected_grads[1]), tolerance) << "grad weight";
    if (with_bias) EXPECT_LE(relative_error(actual_grads[2], expected_grads[2]), tolerance) << "grad bias";
  }
}

}  // namespace

TEST(SubPixelConv, MatchesConvTransposeFloat64) {
  torch::manual_seed(1);
  check_against_conv_transpose(torch::kFloat64, 1e-12, /*with_bias=*/true);
  check_against_conv_transpose(torch::kFloat64, 1e-12, /*with_bias=*/false);
  check_against_conv_transpose(torch::kFloat64, 1e-12, /*with_bias=*/true, /*channels_last=*/true);
}

TEST(SubPixelConv, MatchesConvTransposeFloat32) {
  torch::manual_seed(2);
  check_against_conv_transpose(torch::kFloat32, 1e-5, /*with_bias=*/true);
  check_against_conv_transpose(torch::kFloat32, 1e-5, /*with_bias=*/true, /*channels_last=*/true);
}

TEST(SubPixelConv, DetectsAWrongKernel) {
  // The comparison can fail: the same computation with the kernel not flipped is far off.
  torch::manual_seed(3);
  const auto x = torch::randn({2, 4, 5, 5}, torch::kFloat64), w = torch::randn({4, 3, 4, 4}, torch::kFloat64);
  EXPECT_GT(relative_error(subpixel_conv_transpose2d(x, w.flip({2, 3}), {}),
                           torch::conv_transpose2d(x, w, {}, 2, 1)),
            1e-2);
}

TEST(SubPixelConv, SameParametersAndInitialisationAsConvTranspose2d) {
  torch::manual_seed(4);
  torch::nn::ConvTranspose2d reference(torch::nn::ConvTranspose2dOptions(24, 10, 4).stride(2).padding(1));
  torch::manual_seed(4);
  SubPixelConvTranspose2d module(24, 10);
  const auto expected = reference->named_parameters(), actual = module->named_parameters();
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& item : expected) {
    ASSERT_TRUE(actual.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(actual[item.key()], item.value())) << item.key();
  }
  // And the module computes what the reference does with those parameters.
  const auto x = torch::randn({2, 24, 6, 6});
  EXPECT_LE(relative_error(module(x), reference(x)), 1e-5);
  // A second draw differs (the check above is not vacuous).
  SubPixelConvTranspose2d other(24, 10);
  EXPECT_FALSE(torch::equal(other->weight, module->weight));
}

TEST(SubPixelConv, GeneratorWithEitherUpsamplingIsTheSameNetwork) {
  // text2img.upsample: the two generators from one seed have the same state (names, shapes, values) and
  // compute the same images and gradients.
  Text2ImgOptions o;
  o.ngf = 8;
  o.noise_dim = 4;
  o.film = true;
  o.subpixel = false;
  torch::manual_seed(5);
  Text2ImageGenerator reference(o);
  o.subpixel = true;
  torch::manual_seed(5);
  Text2ImageGenerator subpixel(o);
  ASSERT_TRUE(subpixel->net[0]->as<SubPixelConvTranspose2dImpl>() != nullptr);
  const auto expected = reference->named_parameters(), actual = subpixel->named_parameters();
  ASSERT_EQ(actual.size(), expected.size());
  for (const auto& item : expected) {
    ASSERT_TRUE(actual.contains(item.key())) << item.key();
    EXPECT_TRUE(torch::equal(actual[item.key()], item.value())) << item.key();
  }
  // In float64: the biases in front of a BatchNorm have an exactly-zero true gradient, which float32 returns
  // as rounding noise of ~1e-4 that differs between any two summation orders.
  reference->to(torch::kFloat64);
  subpixel->to(torch::kFloat64);
  const auto embedding = torch::randn({3, 512}, torch::kFloat64),
             noise = torch::randn({3, 4}, torch::kFloat64);
  const auto out_ref = reference(embedding, noise), out_sub = subpixel(embedding, noise);
  EXPECT_LE(relative_error(out_sub, out_ref), 1e-12);
  const auto grad = torch::randn_like(out_ref);
  out_ref.backward(grad);
  out_sub.backward(grad);
  for (const auto& item : reference->named_parameters()) {
    const auto a = subpixel->named_parameters()[item.key()].grad(), b = item.value().grad();
    EXPECT_LE((a - b).abs().max().item<double>(), 1e-10 * (b.abs().max().item<double>() + 1)) << item.key();
  }
}
