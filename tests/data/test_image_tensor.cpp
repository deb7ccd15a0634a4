// The image conversions: bilinear resize against hand-computed values and a scalar reference, the exact
// stored <-> model <-> display round trip, and 1- and 3-channel images through every helper.
#include <gtest/gtest.h>

#include <vector>

#include "fergan/core/check.h"
#include "fergan/data/image_tensor.h"

using namespace fergan;
using namespace fergan::data;

namespace {

torch::Tensor as_image(const std::vector<float>& values, int64_t h, int64_t w) {
  return torch::tensor(values).view({1, 1, h, w});
}

}  // namespace

TEST(ResizeBilinear, UpsamplesAsComputedByHand) {
  // 2x2 -> 4x4, align_corners = false: output pixel o samples input coordinate (o + 0.5) / 2 - 0.5, i.e.
  // -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the last pixel). Along a row 0 -> 4 gives 0, 1, 3, 4;
  // down a column 0 -> 8 gives 0, 2, 6, 8; the image is their sum.
  auto out = resize_bilinear(as_image({0, 4, 8, 12}, 2, 2), 4);
  const auto want = as_image({0, 1, 3, 4, 2, 3, 5, 6, 6, 7, 9, 10, 8, 9, 11, 12}, 4, 4);
  ASSERT_EQ(out.sizes(), want.sizes());
  EXPECT_TRUE(torch::allclose(out, want, 0, 1e-6)) << out;
}

TEST(ResizeBilinear, DownsamplesToTheMeanOfEachTwoByTwoBlock) {
  // 4x4 -> 2x2 samples coordinates 0.5 and 2.5: the centre of each 2x2 block.
  auto out = resize_bilinear(torch::arange(16, torch::kFloat).view({1, 1, 4, 4}), 2);
  EXPECT_TRUE(torch::allclose(out, as_image({2.5, 4.5, 10.5, 12.5}, 2, 2), 0, 1e-6)) << out;
}

TEST(ResizeBilinear, KeepsChannelsAndReturnsTheSameTensorAtItsSize) {
  auto images = torch::rand({2, 3, 5, 5});
  EXPECT_TRUE(resize_bilinear(images, 5).is_same(images));
  auto one = resize_bilinear(images.slice(1, 0, 1), 7);
  auto three = resize_bilinear(images, 7);
  ASSERT_EQ(three.sizes(), (std::vector<int64_t>{2, 3, 7, 7}));
  EXPECT_TRUE(torch::equal(one, three.slice(1, 0, 1)));  // each channel resized on its own
  EXPECT_THROW(resize_bilinear(torch::rand({3, 5, 5}), 4), Error);
}

TEST(WithChannels, RepeatsGrayAndAveragesColour) {
  auto gray = torch::rand({2, 1, 3, 3});
  auto rgb = with_channels(gray, 3);
  ASSERT_EQ(rgb.sizes(), (std::vector<int64_t>{2, 3, 3, 3}));
  for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(rgb.select(1, c), gray.select(1, 0)));
  auto colour =
      torch::stack({torch::full({3, 3}, 0.3f), torch::full({3, 3}, -0.6f), torch::full({3, 3}, 0.9f)})
          .unsqueeze(0);
  EXPECT_TRUE(torch::allclose(with_channels(colour, 1), torch::full({1, 1, 3, 3}, 0.2f), 0, 1e-6));
  EXPECT_TRUE(with_channels(gray, 1).is_same(gray));
  EXPECT_THROW(with_channels(torch::rand({1, 2, 3, 3}), 3), Error);
}

TEST(ImageTensor, StoredToModelToDisplayIsExactForEveryByte) {
  // All 256 values as a 16x16 image, gray and colour: to_model_input at the native size then to_uint8_nhwc
  // gives the bytes back, with 0 -> -1 and 255 -> 1 exactly.
  auto bytes = torch::arange(256, torch::kInt).to(torch::kUInt8).view({1, 16, 16, 1});
  for (int64_t channels : {1, 3}) {
    auto x = to_model_input(bytes, 16, channels);
    ASSERT_EQ(x.sizes(), (std::vector<int64_t>{1, channels, 16, 16}));
    ASSERT_EQ(x.scalar_type(), torch::kFloat32);
    EXPECT_FLOAT_EQ(x[0][0][0][0].item<float>(), -1.0f);
    EXPECT_FLOAT_EQ(x[0][channels - 1][15][15].item<float>(), 1.0f);
    auto back = to_uint8_nhwc(x);
    ASSERT_EQ(back.sizes(), (std::vector<int64_t>{1, 16, 16, 3}));
    for (int c = 0; c < 3; ++c) EXPECT_TRUE(torch::equal(back.select(3, c), bytes.select(3, 0))) << channels;
  }
  auto colour = torch::randint(0, 256, {2, 6, 6, 3}, torch::kUInt8);
  EXPECT_TRUE(torch::equal(to_uint8_nhwc(to_model_input(colour, 6)), colour));
}

TEST(ImageTensor, DisplayConversionRoundsAndClamps) {
  auto x = torch::tensor({-1.0f, 0.0f, 1.0f, 2.0f}).view({1, 1, 2, 2});
  auto u8 = to_uint8_nhwc(x);
  ASSERT_EQ(u8.sizes(), (std::vector<int64_t>{1, 2, 2, 3}));
  EXPECT_EQ(u8[0][0][0][0].item<int>(), 0);
  EXPECT_EQ(u8[0][0][1][1].item<int>(), 128);  // 127.5 rounds to 128
  EXPECT_EQ(u8[0][1][0][2].item<int>(), 255);
  EXPECT_EQ(u8[0][1][1][0].item<int>(), 255);  // clamped
  EXPECT_THROW(to_uint8_nhwc(torch::zeros({1, 2, 4, 4})), Error);
}

TEST(ImageTensor, ColourStoredImagesAverageToOneChannel) {
  auto rgb = torch::tensor({0, 30, 60}, torch::kUInt8).view({1, 1, 1, 3});
  auto x = to_model_input(rgb, 1, 1);
  EXPECT_NEAR(x.item<float>(), 30.0f / 127.5f - 1.0f, 1e-6);
}

namespace {
// Scalar reference: bilinear, align_corners = false, edge clamp (PyTorch's definition).
float bilinear_ref(const std::vector<float>& src, int h, int w, int size, int y, int x) {
  auto coord = [](int o, int in, int out) {
    double c = (o + 0.5) * static_cast<double>(in) / out - 0.5;
    return std::max(c, 0.0);
  };
  const double cy = coord(y, h, size), cx = coord(x, w, size);
  const int y0 = static_cast<int>(cy), x0 = static_cast<int>(cx);
  const int y1 = std::min(y0 + 1, h - 1), x1 = std::min(x0 + 1, w - 1);
  const double fy = cy - y0, fx = cx - x0;
  auto at = [&](int yy, int xx) { return static_cast<double>(src[yy * w + xx]); };
  return static_cast<float>((1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) +
                            fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1)));
}
}  // namespace

TEST(ImageTensor, ToModelInputMatchesAScalarBilinearReference) {
  auto images = torch::randint(0, 256, {2, 5, 7, 1}, torch::kUInt8);
  const int size = 9;
  auto x = to_model_input(images, size);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{2, 3, size, size}));
  ASSERT_EQ(x.scalar_type(), torch::kFloat32);
  for (int b = 0; b < 2; ++b) {
    auto img = images[b].contiguous();
    std::vector<float> src(img.data_ptr<uint8_t>(), img.data_ptr<uint8_t>() + 35);
    for (int y = 0; y < size; ++y) {
      for (int xx = 0; xx < size; ++xx) {
        const float want = bilinear_ref(src, 5, 7, size, y, xx) / 127.5f - 1.0f;
        for (int c = 0; c < 3; ++c) ASSERT_NEAR(x[b][c][y][xx].item<float>(), want, 1e-5) << y << "," << xx;
      }
    }
  }
  // Native size: exactly x / 127.5 - 1, with 0 -> -1 and 255 -> 1.
  auto extremes = torch::tensor({0, 255}, torch::kUInt8).reshape({1, 1, 2, 1});
  auto e = to_model_input(extremes, 2);  // rows duplicated, columns unchanged
  EXPECT_FLOAT_EQ(e[0][0][0][0].item<float>(), -1.0f);
  EXPECT_FLOAT_EQ(e[0][2][1][1].item<float>(), 1.0f);
  EXPECT_THROW(to_model_input(torch::zeros({1, 4, 4, 1}), 4), Error);  // float input
}
