// Labelled grids: the bitmap font draws the glyphs it claims, tiles land where the layout says, labels have
// ink.
#include <gtest/gtest.h>

#include "fergan/core/check.h"
#include "fergan/eval/labeled_grid.h"

namespace fergan::eval {
namespace {

TEST(LabeledGrid, DrawsTheGlyphPixelForPixel) {
  auto canvas = torch::full({9, 7, 1}, 255, torch::kUInt8);
  draw_text(canvas, 1, 1, "t", 1, 0);  // lower case maps to the upper-case glyph
  const char* rows[7] = {"11111", "00100", "00100", "00100", "00100", "00100", "00100"};
  for (int y = 0; y < 7; ++y) {
    for (int x = 0; x < 5; ++x) {
      EXPECT_EQ(canvas[y + 1][x + 1][0].item<int>(), rows[y][x] == '1' ? 0 : 255)
          << "pixel " << x << "," << y;
    }
  }
  // Nothing outside the glyph box.
  EXPECT_EQ(canvas[0].eq(255).all().item<bool>(), true);
  EXPECT_EQ(canvas[8].eq(255).all().item<bool>(), true);
  EXPECT_EQ(text_width("HAPPY", 2), (5 * 6 - 1) * 2);
}

TEST(LabeledGrid, PlacesTilesAndLabels) {
  // 2 rows x 3 columns of constant tiles with distinct values.
  auto images =
      torch::arange(6, torch::kUInt8).mul(40).view({6, 1, 1, 1}).expand({6, 48, 48, 3}).contiguous();
  auto grid = labeled_grid(images, 3, {"ANGRY", "HAPPY"});
  const int64_t scale = 2, margin = 2;
  const int64_t label_w = text_width("ANGRY", scale) + 3 * margin * scale;
  ASSERT_EQ(grid.size(0), 2 * 48 + 3 * margin);
  ASSERT_EQ(grid.size(1), label_w + 3 * 48 + 4 * margin);
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t r = i / 3, c = i % 3;
    const int64_t y = margin + r * (48 + margin), x = label_w + margin + c * (48 + margin);
    auto tile = grid.slice(0, y, y + 48).slice(1, x, x + 48);
    EXPECT_TRUE(tile.eq(static_cast<int>(i * 40)).all().item<bool>()) << "tile " << i;
  }
  // Each row's label column carries ink (black pixels), and nothing is drawn outside the rows' band.
  for (int64_t r = 0; r < 2; ++r) {
    const int64_t y = margin + r * (48 + margin);
    auto column = grid.slice(0, y, y + 48).slice(1, 0, label_w);
    EXPECT_GT(column.eq(0).sum().item<int64_t>(), 50) << "row " << r;
  }
  EXPECT_THROW(labeled_grid(images, 3, {"ONLY ONE"}), fergan::Error);
}

TEST(LabeledGrid, ConvertsMinusOneToOneIntoBytes) {
  auto x = torch::tensor({-1.0f, 0.0f, 1.0f, 2.0f}).view({1, 1, 2, 2});
  auto u8 = to_uint8_nhwc(x);
  ASSERT_EQ(u8.sizes(), (std::vector<int64_t>{1, 2, 2, 3}));
  EXPECT_EQ(u8[0][0][0][0].item<int>(), 0);
  EXPECT_EQ(u8[0][0][1][1].item<int>(), 128);  // 127.5 rounds to 128
  EXPECT_EQ(u8[0][1][0][2].item<int>(), 255);
  EXPECT_EQ(u8[0][1][1][0].item<int>(), 255);  // clamped
}

}  // namespace
}  // namespace fergan::eval
