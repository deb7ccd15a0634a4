// Image grids: tiles land where the layout says, the bitmap font draws the glyphs it claims, and labels and
// titles sit where a reader looks for them, for gray and colour tiles.
#include <gtest/gtest.h>

#include "fergan/core/check.h"
#include "fergan/data/image_grid.h"

namespace fergan::data {
namespace {

constexpr int64_t kMargin = 2;  // labeled_grid's margin around tiles

// Expects the 5x7 glyph rows `rows` drawn at `scale` with the top-left corner (x, y) of canvas [H, W, C]:
// ink (0) on '1', the white background elsewhere, in every channel.
void expect_glyph(const torch::Tensor& canvas, int64_t x, int64_t y, const char* const rows[7],
                  int64_t scale) {
  for (int64_t gy = 0; gy < 7 * scale; ++gy) {
    for (int64_t gx = 0; gx < 5 * scale; ++gx) {
      const int want = rows[gy / scale][gx / scale] == '1' ? 0 : 255;
      for (int64_t c = 0; c < canvas.size(2); ++c) {
        ASSERT_EQ(canvas[y + gy][x + gx][c].item<int>(), want) << "glyph pixel " << gx << "," << gy;
      }
    }
  }
}

const char* const kGlyphT[7] = {"11111", "00100", "00100", "00100", "00100", "00100", "00100"};
const char* const kGlyphA[7] = {"01110", "10001", "10001", "11111", "10001", "10001", "10001"};

TEST(MakeGrid, PlacesTilesWithMargins) {
  auto images = torch::zeros({3, 2, 3, 1}, torch::kUInt8);
  for (int i = 0; i < 3; ++i) images[i].fill_(10 * (i + 1));
  auto grid = make_grid(images, 2, 1, 255);
  ASSERT_EQ(grid.sizes(), (std::vector<int64_t>{2 * 2 + 3, 2 * 3 + 3, 1}));
  EXPECT_EQ(grid[0][0][0].item<int>(), 255);
  EXPECT_EQ(grid[1][1][0].item<int>(), 10);   // tile 0 at (1, 1)
  EXPECT_EQ(grid[1][5][0].item<int>(), 20);   // tile 1 at (1, 5)
  EXPECT_EQ(grid[4][1][0].item<int>(), 30);   // tile 2 at (4, 1)
  EXPECT_EQ(grid[4][5][0].item<int>(), 255);  // empty slot stays fill
  EXPECT_EQ(grid[3][1][0].item<int>(), 255);  // margin row between tile rows
}

TEST(BitmapFont, DrawsTheGlyphPixelForPixel) {
  auto canvas = torch::full({9, 7, 1}, 255, torch::kUInt8);
  draw_text(canvas, 1, 1, "t", 1, 0);  // lower case maps to the upper-case glyph
  expect_glyph(canvas, 1, 1, kGlyphT, 1);
  // Nothing outside the glyph box.
  EXPECT_TRUE(canvas[0].eq(255).all().item<bool>());
  EXPECT_TRUE(canvas[8].eq(255).all().item<bool>());
  EXPECT_TRUE(canvas.select(1, 0).eq(255).all().item<bool>());
  EXPECT_TRUE(canvas.select(1, 6).eq(255).all().item<bool>());
  EXPECT_EQ(text_width("HAPPY", 2), (5 * 6 - 1) * 2);
  EXPECT_EQ(text_height(3), 21);
}

TEST(LabeledGrid, PlacesTilesAndLabels) {
  // 2 rows x 3 columns of constant tiles with distinct values.
  auto images =
      torch::arange(6, torch::kUInt8).mul(40).view({6, 1, 1, 1}).expand({6, 48, 48, 3}).contiguous();
  auto grid = labeled_grid(images, 3, {"ANGRY", "HAPPY"});
  const int64_t scale = 2;  // 48 px tiles: 48 / 24
  const int64_t label_w = text_width("ANGRY", scale) + 3 * kMargin * scale;
  ASSERT_EQ(grid.size(0), 2 * 48 + 3 * kMargin);
  ASSERT_EQ(grid.size(1), label_w + 3 * 48 + 4 * kMargin);
  for (int64_t i = 0; i < 6; ++i) {
    const int64_t r = i / 3, c = i % 3;
    const int64_t y = kMargin + r * (48 + kMargin), x = label_w + kMargin + c * (48 + kMargin);
    auto tile = grid.slice(0, y, y + 48).slice(1, x, x + 48);
    EXPECT_TRUE(tile.eq(static_cast<int>(i * 40)).all().item<bool>()) << "tile " << i;
  }
  // Each row's label column carries ink (black pixels).
  for (int64_t r = 0; r < 2; ++r) {
    const int64_t y = kMargin + r * (48 + kMargin);
    auto column = grid.slice(0, y, y + 48).slice(1, 0, label_w);
    EXPECT_GT(column.eq(0).sum().item<int64_t>(), 50) << "row " << r;
  }
  EXPECT_THROW(labeled_grid(images, 3, {"ONLY ONE"}), fergan::Error);
  EXPECT_THROW(labeled_grid(images.to(torch::kFloat), 3, {}), fergan::Error);
}

TEST(LabeledGrid, DrawsTheLabelAndTitleWhereTheLayoutSays) {
  // One gray 48 px tile (a grayscale grid comes out as 3 channels), label "A", title "T", short last row.
  auto images = torch::full({2, 48, 48, 1}, 100, torch::kUInt8);
  auto grid = labeled_grid(images, 3, {"A"}, "T");
  const int64_t scale = 2, title_h = 7 * scale + 4 * kMargin,
                label_w = text_width("A", scale) + 3 * kMargin * scale;
  ASSERT_EQ(grid.sizes(),
            (std::vector<int64_t>{title_h + 48 + 2 * kMargin, label_w + 3 * 48 + 4 * kMargin, 3}));
  // The title at (margin, 2 * margin); the label at x = margin * scale, centred on the row.
  expect_glyph(grid, kMargin, 2 * kMargin, kGlyphT, scale);
  expect_glyph(grid, kMargin * scale, title_h + kMargin + (48 - 7 * scale) / 2, kGlyphA, scale);
  // The tiles, all channels 100; the empty third slot stays white.
  auto slot = [&](int64_t c) {
    const int64_t y = title_h + kMargin, x = label_w + kMargin + c * (48 + kMargin);
    return grid.slice(0, y, y + 48).slice(1, x, x + 48);
  };
  EXPECT_TRUE(slot(0).eq(100).all().item<bool>());
  EXPECT_TRUE(slot(1).eq(100).all().item<bool>());
  EXPECT_TRUE(slot(2).eq(255).all().item<bool>());
  // Nothing but the title and the label is drawn outside the tiles: ink only in those two boxes.
  auto ink = grid.eq(0).any(2);
  const int64_t title_ink = ink.slice(0, 0, title_h).sum().item<int64_t>();
  const int64_t label_ink = ink.slice(0, title_h).slice(1, 0, label_w).sum().item<int64_t>();
  EXPECT_EQ(ink.sum().item<int64_t>(), title_ink + label_ink);
  EXPECT_EQ(title_ink, 4 * (5 + 6));  // 'T': 11 font pixels of 2x2
  EXPECT_EQ(label_ink, 4 * 18);       // 'A': 18 font pixels
}

}  // namespace
}  // namespace fergan::data
