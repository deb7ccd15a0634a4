// Image files in and out: JPEG/PNG decode to uint8 grayscale at native size, PNG/JPEG encode.
//
// data_prep decodes every FER2013 image through decode_image(); the trainer and eval write their sample grids
// (image_grid.h) with write_png(). Errors name the file. Decoding is thread-safe (libjpeg/libpng state is
// local).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fergan::data {

struct GrayImage {
  int height = 0, width = 0;
  std::vector<uint8_t> pixels;  // row-major [height, width]
};

// Decodes a .jpg/.jpeg/.png file (chosen by content, not extension) to 8-bit grayscale at its native size.
// Colour images are converted to luma (libjpeg's YCbCr Y, libpng's rgb_to_gray). Errors name the path.
GrayImage decode_image(const std::string& path);
GrayImage decode_image_bytes(const std::string& bytes, const std::string& name_for_errors);

// Writes a uint8 tensor [H, W, C] (C = 1, 3 or 4) or [H, W] as PNG, atomically (fs::write_atomically).
void write_png(const std::string& path, const torch::Tensor& image_hwc_u8);
// Writes a grayscale image as baseline JPEG (quality 1..100), atomically. Used by `data_prep synth`.
void write_jpeg_gray(const std::string& path, const GrayImage& image, int quality = 90);
// Grayscale PNG from a GrayImage (no tensor), atomically.
void write_png_gray(const std::string& path, const GrayImage& image);

}  // namespace fergan::data
