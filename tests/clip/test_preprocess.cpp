// CLIP image preprocessing: Pillow-equivalent bicubic resize (values worked out by hand from Pillow's
// Resample.c), shorter-side resize + center crop geometry, grayscale -> 3 channels, CLIP mean/std.
#include <gtest/gtest.h>

#include "fergan/clip/preprocess.h"
#include "fergan/core/check.h"

namespace clip = fergan::clip;

TEST(ClipPreprocess, PillowBicubicUpsampleByHand) {
  // Row [0, 255] widened to 4 pixels. Pillow: scale 0.5, support 2, bicubic a = -0.5.
  //   out 0: center 0.25, taps x=0,1 weights b(0.25)=0.8671875, b(1.25)=-0.0703125 -> 255*(-0.0882) < 0 -> 0
  //   out 1: center 0.75, weights b(-0.25)=0.8671875, b(0.75)=0.2265625, normalised 0.79286/0.20714
  //          -> 255*0.20714 = 52.8 in 22-bit fixed point: (2^21 + 255*868820) >> 22 = 53
  //   out 2: mirror image: (2^21 + 255*3325484) >> 22 = 202;  out 3: 255*1.0882 clipped -> 255
  auto row = torch::tensor({0, 255}, torch::kUInt8).view({1, 2, 1});
  auto out = clip::pil_bicubic_resize(row, 1, 4).flatten();
  EXPECT_EQ(out[0].item<int>(), 0);
  EXPECT_EQ(out[1].item<int>(), 53);
  EXPECT_EQ(out[2].item<int>(), 202);
  EXPECT_EQ(out[3].item<int>(), 255);
  // The same along the vertical axis.
  auto col = clip::pil_bicubic_resize(row.view({2, 1, 1}), 4, 1).flatten();
  EXPECT_TRUE(torch::equal(col, out));
}

TEST(ClipPreprocess, ConstantImagesStayConstantAndNormalise) {
  auto gray = torch::full({2, 48, 48, 1}, 100, torch::kUInt8);
  auto pixels = clip::preprocess_images(gray, 224);
  ASSERT_EQ(pixels.sizes(), (std::vector<int64_t>{2, 3, 224, 224}));
  for (int c = 0; c < 3; ++c) {
    const double expected = (100.0 / 255.0 - clip::kClipMean[c]) / clip::kClipStd[c];
    EXPECT_NEAR(pixels.select(1, c).min().item<double>(), expected, 1e-5);
    EXPECT_NEAR(pixels.select(1, c).max().item<double>(), expected, 1e-5);
  }
}

TEST(ClipPreprocess, GrayscaleIsRepeatedToThreeChannels) {
  torch::manual_seed(1);
  auto gray = torch::randint(0, 256, {1, 48, 48, 1}, torch::kUInt8);
  auto pixels = clip::preprocess_images(gray, 64);
  auto rgb = clip::preprocess_images(gray.expand({1, 48, 48, 3}).contiguous(), 64);
  EXPECT_TRUE(torch::allclose(pixels, rgb));
  // Undo the per-channel normalisation: the three channels hold the same image.
  std::vector<torch::Tensor> raw;
  for (int c = 0; c < 3; ++c) raw.push_back(pixels.select(1, c) * clip::kClipStd[c] + clip::kClipMean[c]);
  EXPECT_LE((raw[0] - raw[1]).abs().max().item<double>(), 1e-5);
  EXPECT_LE((raw[0] - raw[2]).abs().max().item<double>(), 1e-5);
  // [B, H, W] is accepted as grayscale too.
  EXPECT_TRUE(torch::allclose(clip::preprocess_images(gray.squeeze(-1), 64), pixels));
}

TEST(ClipPreprocess, ShorterSideResizeThenCenterCrop) {
  // 20x40 image whose left half is black and right half white, resized to 8: shorter side 20 -> 8, longer
  // 40 -> int(8 * 40 / 20) = 16; crop left = round((16 - 8) / 2) = 4, so the crop spans columns 4..11 of
  // the 16-wide image, whose black/white edge is at column 8: left 4 columns dark, right 4 bright.
  auto img = torch::zeros({1, 20, 40, 1}, torch::kUInt8);
  img.narrow(2, 20, 20).fill_(255);
  auto raw = clip::preprocess_images(img, 8).select(1, 0) * clip::kClipStd[0] + clip::kClipMean[0];
  ASSERT_EQ(raw.sizes(), (std::vector<int64_t>{1, 8, 8}));
  EXPECT_LT(raw.narrow(2, 0, 3).max().item<double>(), 0.1);
  EXPECT_GT(raw.narrow(2, 5, 3).min().item<double>(), 0.9);
  // Identity geometry: an image already at the resolution is only normalised.
  auto same = torch::randint(0, 256, {1, 8, 8, 3}, torch::kUInt8);
  auto p = clip::preprocess_images(same, 8);
  auto expect = same.permute({0, 3, 1, 2}).to(torch::kFloat32) / 255.0;
  for (int c = 0; c < 3; ++c)
    EXPECT_LE((p.select(1, c) * clip::kClipStd[c] + clip::kClipMean[c] - expect.select(1, c))
                  .abs()
                  .max()
                  .item<double>(),
              1e-5);
}

TEST(ClipPreprocess, BadInputsAreErrors) {
  EXPECT_THROW(clip::preprocess_images(torch::zeros({1, 8, 8, 3}), 8), fergan::Error);  // float, not uint8
  EXPECT_THROW(clip::preprocess_images(torch::zeros({1, 8, 8, 2}, torch::kUInt8), 8), fergan::Error);
  EXPECT_THROW(clip::preprocess_images(torch::zeros({8, 8}, torch::kUInt8), 8), fergan::Error);
}
