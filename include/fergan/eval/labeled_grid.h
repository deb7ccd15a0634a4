// Sample grids a person can read: rows of images with a text label drawn to their left.
//
// The original wrote loose per-image PNGs with nothing saying which caption produced which face. Here every
// row of a grid carries its caption's emotion (or any short text) in a tiny built-in 5x7 bitmap font, so the
// PNG stands on its own (no font library, no external files). Text is upper-cased; characters outside the
// font's set (A-Z 0-9 space . , : ; - _ / = % ( ) + < > ? ! ' #) draw as '?'.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::eval {

// float [N, C, H, W] in [-1, 1] (C = 1 or 3) -> uint8 [N, H, W, 3].
torch::Tensor to_uint8_nhwc(const torch::Tensor& images);

// Width and height in pixels of `text` drawn at `scale` (each glyph is 5x7 with 1 pixel of spacing).
int64_t text_width(const std::string& text, int64_t scale);
int64_t text_height(int64_t scale);

// Draws `text` into canvas uint8 [H, W, C] with its top-left corner at (x, y); clipped at the edges.
void draw_text(torch::Tensor& canvas, int64_t x, int64_t y, const std::string& text, int64_t scale,
               uint8_t value = 0);

// Tiles images uint8 [rows*cols, H, W, 3] into rows of `cols` (row-major, 2 px white margins) and draws
// row_labels[r] to the left of row r, vertically centred. Returns uint8 [H', W', 3] ready for write_png.
// A non-empty `title` is drawn above the grid.
torch::Tensor labeled_grid(const torch::Tensor& images_nhwc_u8, int64_t cols,
                           const std::vector<std::string>& row_labels, const std::string& title = "");

}  // namespace fergan::eval
