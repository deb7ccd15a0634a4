// Sample grids a person can read: tiles in rows, optionally with a text label left of each row and a title.
//
// The original wrote loose per-image PNGs with nothing saying which caption produced which face. Here every
// row of a grid can carry its caption's emotion (or any short text) in a tiny built-in 5x7 bitmap font, so
// the PNG stands on its own (no font library, no external files). Text is upper-cased; characters outside the
// font's set (A-Z 0-9 space . , : ; - _ / = % ( ) + < > ? ! ' #) draw as '?'. The trainer's checkpoint grids,
// fergan_infer's and fergan_eval's figures are all made here.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::data {

// Tiles uint8 images [N, H, W, C] into one [rows*H + (rows+1)*margin, cols*W + (cols+1)*margin, C] image,
// row-major, `cols` per row, with `margin` pixels of `fill` between and around tiles.
torch::Tensor make_grid(const torch::Tensor& images_nhwc_u8, int64_t cols, int64_t margin = 2,
                        uint8_t fill = 255);

// Width and height in pixels of `text` drawn at `scale` (each glyph is 5x7 with 1 pixel of spacing).
int64_t text_width(const std::string& text, int64_t scale);
int64_t text_height(int64_t scale);

// Draws `text` into canvas uint8 [H, W, C] with its top-left corner at (x, y); clipped at the edges.
void draw_text(torch::Tensor& canvas, int64_t x, int64_t y, const std::string& text, int64_t scale,
               uint8_t value = 0);

// make_grid(images, cols) (2 px white margins) with row_labels[r] drawn left of row r, vertically centred,
// and a non-empty `title` above. images uint8 [rows*cols, H, W, 1|3] (grayscale is repeated to 3 channels;
// a short last row stays white); row_labels empty or one per row. Returns uint8 [H', W', 3] for write_png.
// Labels are scaled with the tiles: 1 font pixel per 24 px of tile height, 1 to 4.
torch::Tensor labeled_grid(const torch::Tensor& images_nhwc_u8, int64_t cols,
                           const std::vector<std::string>& row_labels, const std::string& title = "");

}  // namespace fergan::data
