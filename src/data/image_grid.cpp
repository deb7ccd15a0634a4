// Image grids, the built-in 5x7 bitmap font and labelled grids (see image_grid.h).
#include "fergan/data/image_grid.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "fergan/core/check.h"

namespace fergan::data {

namespace {

constexpr int64_t kGlyphW = 5, kGlyphH = 7, kAdvance = 6, kMargin = 2;

using Glyph = std::array<const char*, kGlyphH>;

// Classic 5x7 dot-matrix glyphs, one string per row, '1' = ink.
const std::map<char, Glyph>& font() {
  static const std::map<char, Glyph> glyphs = {
      {'A', {"01110", "10001", "10001", "11111", "10001", "10001", "10001"}},
      {'B', {"11110", "10001", "10001", "11110", "10001", "10001", "11110"}},
      {'C', {"01110", "10001", "10000", "10000", "10000", "10001", "01110"}},
      {'D', {"11110", "10001", "10001", "10001", "10001", "10001", "11110"}},
      {'E', {"11111", "10000", "10000", "11110", "10000", "10000", "11111"}},
      {'F', {"11111", "10000", "10000", "11110", "10000", "10000", "10000"}},
      {'G', {"01110", "10001", "10000", "10111", "10001", "10001", "01111"}},
      {'H', {"10001", "10001", "10001", "11111", "10001", "10001", "10001"}},
      {'I', {"01110", "00100", "00100", "00100", "00100", "00100", "01110"}},
      {'J', {"00111", "00010", "00010", "00010", "00010", "10010", "01100"}},
      {'K', {"10001", "10010", "10100", "11000", "10100", "10010", "10001"}},
      {'L', {"10000", "10000", "10000", "10000", "10000", "10000", "11111"}},
      {'M', {"10001", "11011", "10101", "10101", "10001", "10001", "10001"}},
      {'N', {"10001", "10001", "11001", "10101", "10011", "10001", "10001"}},
      {'O', {"01110", "10001", "10001", "10001", "10001", "10001", "01110"}},
      {'P', {"11110", "10001", "10001", "11110", "10000", "10000", "10000"}},
      {'Q', {"01110", "10001", "10001", "10001", "10101", "10010", "01101"}},
      {'R', {"11110", "10001", "10001", "11110", "10100", "10010", "10001"}},
      {'S', {"01111", "10000", "10000", "01110", "00001", "00001", "11110"}},
      {'T', {"11111", "00100", "00100", "00100", "00100", "00100", "00100"}},
      {'U', {"10001", "10001", "10001", "10001", "10001", "10001", "01110"}},
      {'V', {"10001", "10001", "10001", "10001", "10001", "01010", "00100"}},
      {'W', {"10001", "10001", "10001", "10101", "10101", "10101", "01010"}},
      {'X', {"10001", "10001", "01010", "00100", "01010", "10001", "10001"}},
      {'Y', {"10001", "10001", "01010", "00100", "00100", "00100", "00100"}},
      {'Z', {"11111", "00001", "00010", "00100", "01000", "10000", "11111"}},
      {'0', {"01110", "10001", "10011", "10101", "11001", "10001", "01110"}},
      {'1', {"00100", "01100", "00100", "00100", "00100", "00100", "01110"}},
      {'2', {"01110", "10001", "00001", "00010", "00100", "01000", "11111"}},
      {'3', {"11111", "00010", "00100", "00010", "00001", "10001", "01110"}},
      {'4', {"00010", "00110", "01010", "10010", "11111", "00010", "00010"}},
      {'5', {"11111", "10000", "11110", "00001", "00001", "10001", "01110"}},
      {'6', {"00110", "01000", "10000", "11110", "10001", "10001", "01110"}},
      {'7', {"11111", "00001", "00010", "00100", "01000", "01000", "01000"}},
      {'8', {"01110", "10001", "10001", "01110", "10001", "10001", "01110"}},
      {'9', {"01110", "10001", "10001", "01111", "00001", "00010", "01100"}},
      {' ', {"00000", "00000", "00000", "00000", "00000", "00000", "00000"}},
      {'.', {"00000", "00000", "00000", "00000", "00000", "01100", "01100"}},
      {',', {"00000", "00000", "00000", "00000", "01100", "00100", "01000"}},
      {':', {"00000", "01100", "01100", "00000", "01100", "01100", "00000"}},
      {';', {"00000", "01100", "01100", "00000", "01100", "00100", "01000"}},
      {'-', {"00000", "00000", "00000", "11111", "00000", "00000", "00000"}},
      {'_', {"00000", "00000", "00000", "00000", "00000", "00000", "11111"}},
      {'/', {"00000", "00001", "00010", "00100", "01000", "10000", "00000"}},
      {'=', {"00000", "00000", "11111", "00000", "11111", "00000", "00000"}},
      {'%', {"11000", "11001", "00010", "00100", "01000", "10011", "00011"}},
      {'(', {"00010", "00100", "01000", "01000", "01000", "00100", "00010"}},
      {')', {"01000", "00100", "00010", "00010", "00010", "00100", "01000"}},
      {'+', {"00000", "00100", "00100", "11111", "00100", "00100", "00000"}},
      {'<', {"00010", "00100", "01000", "10000", "01000", "00100", "00010"}},
      {'>', {"01000", "00100", "00010", "00001", "00010", "00100", "01000"}},
      {'?', {"01110", "10001", "00001", "00010", "00100", "00000", "00100"}},
      {'!', {"00100", "00100", "00100", "00100", "00100", "00000", "00100"}},
      {'\'', {"00100", "00100", "01000", "00000", "00000", "00000", "00000"}},
      {'#', {"01010", "01010", "11111", "01010", "11111", "01010", "01010"}},
  };
  return glyphs;
}

const Glyph& glyph_for(char c) {
  const auto& f = font();
  auto it = f.find(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  return it != f.end() ? it->second : f.at('?');
}

}  // namespace

torch::Tensor make_grid(const torch::Tensor& images, int64_t cols, int64_t margin, uint8_t fill) {
  FG_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8,
           "make_grid: expected uint8 [N, H, W, C], got ", images.scalar_type(), " ", images.sizes());
  FG_CHECK(cols > 0 && margin >= 0, "make_grid: cols must be > 0 and margin >= 0");
  const int64_t n = images.size(0), h = images.size(1), w = images.size(2), c = images.size(3);
  const int64_t rows = std::max<int64_t>(1, (n + cols - 1) / cols);
  auto grid =
      torch::full({rows * h + (rows + 1) * margin, cols * w + (cols + 1) * margin, c}, fill, torch::kUInt8);
  auto src = images.to(torch::kCPU);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = i / cols, col = i % cols;
    const int64_t y = margin + r * (h + margin), x = margin + col * (w + margin);
    grid.slice(0, y, y + h).slice(1, x, x + w).copy_(src[i]);
  }
  return grid;
}

int64_t text_width(const std::string& text, int64_t scale) {
  if (text.empty()) return 0;
  return (static_cast<int64_t>(text.size()) * kAdvance - 1) * scale;
}

int64_t text_height(int64_t scale) {
  return kGlyphH * scale;
}

void draw_text(torch::Tensor& canvas, int64_t x, int64_t y, const std::string& text, int64_t scale,
               uint8_t value) {
  FG_CHECK(canvas.dim() == 3 && canvas.scalar_type() == torch::kUInt8 && canvas.is_contiguous(),
           "draw_text: contiguous uint8 canvas [H, W, C] expected, got ", canvas.sizes());
  const int64_t h = canvas.size(0), w = canvas.size(1), c = canvas.size(2);
  uint8_t* data = canvas.data_ptr<uint8_t>();
  for (size_t i = 0; i < text.size(); ++i) {
    const Glyph& g = glyph_for(text[i]);
    const int64_t gx = x + static_cast<int64_t>(i) * kAdvance * scale;
    for (int64_t row = 0; row < kGlyphH; ++row) {
      for (int64_t col = 0; col < kGlyphW; ++col) {
        if (g[row][col] != '1') continue;
        for (int64_t dy = 0; dy < scale; ++dy) {
          for (int64_t dx = 0; dx < scale; ++dx) {
            const int64_t py = y + row * scale + dy, px = gx + col * scale + dx;
            if (py < 0 || py >= h || px < 0 || px >= w) continue;
            for (int64_t ch = 0; ch < c; ++ch) data[(py * w + px) * c + ch] = value;
          }
        }
      }
    }
  }
}

torch::Tensor labeled_grid(const torch::Tensor& images, int64_t cols,
                           const std::vector<std::string>& row_labels, const std::string& title) {
  FG_CHECK(images.dim() == 4 && (images.size(3) == 1 || images.size(3) == 3) &&
               images.scalar_type() == torch::kUInt8,
           "labeled_grid: uint8 images [N, H, W, 1|3] expected, got ", images.scalar_type(), " ",
           images.sizes());
  FG_CHECK(cols > 0 && images.size(0) > 0, "labeled_grid: nothing to tile (", images.size(0), " images, ",
           cols, " columns)");
  const int64_t n = images.size(0), th = images.size(1);
  const int64_t rows = (n + cols - 1) / cols;
  FG_CHECK(static_cast<int64_t>(row_labels.size()) == rows || row_labels.empty(),
           "labeled_grid: ", row_labels.size(), " labels for ", rows, " rows");
  const auto grid = make_grid(images.expand({n, th, images.size(2), 3}), cols, kMargin);
  // Labels readable next to 48-256 px tiles: ~1/8 of the tile height, 1-4 px per font pixel.
  const int64_t scale = std::clamp<int64_t>(th / 24, 1, 4);
  int64_t label_w = 0;
  for (const auto& l : row_labels) label_w = std::max(label_w, text_width(l, scale));
  if (label_w > 0) label_w += 3 * kMargin * scale;
  const int64_t title_h = title.empty() ? 0 : text_height(scale) + 4 * kMargin;
  const int64_t width = std::max(label_w + grid.size(1), text_width(title, scale) + 2 * kMargin);
  auto canvas = torch::full({title_h + grid.size(0), width, 3}, 255, torch::kUInt8);
  canvas.slice(0, title_h, title_h + grid.size(0)).slice(1, label_w, label_w + grid.size(1)).copy_(grid);
  if (!title.empty()) draw_text(canvas, kMargin, 2 * kMargin, title, scale, 0);
  for (int64_t r = 0; r < static_cast<int64_t>(row_labels.size()); ++r) {
    const int64_t y = title_h + kMargin + r * (th + kMargin) + (th - text_height(scale)) / 2;
    draw_text(canvas, kMargin * scale, y, row_labels[static_cast<size_t>(r)], scale, 0);
  }
  return canvas;
}

}  // namespace fergan::data
