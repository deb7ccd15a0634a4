// Resize and the stored / model / display image conversions (see image_tensor.h).
#include "fergan/data/image_tensor.h"

#include "fergan/core/check.h"

namespace fergan::data {

namespace {
void check_model_images(const torch::Tensor& images, const char* what) {
  FG_CHECK(images.dim() == 4 && (images.size(1) == 1 || images.size(1) == 3), what,
           ": images [B, 1|3, H, W] expected, got ", images.sizes());
}
}  // namespace

torch::Tensor resize_bilinear(const torch::Tensor& images, int64_t size) {
  FG_CHECK(images.dim() == 4, "resize_bilinear: images [B, C, H, W] expected, got ", images.sizes());
  FG_CHECK(size > 0, "resize_bilinear: size must be > 0, got ", size);
  if (images.size(2) == size && images.size(3) == size) return images;
  return torch::nn::functional::interpolate(images, torch::nn::functional::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{size, size})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false));
}

torch::Tensor with_channels(const torch::Tensor& images, int64_t channels) {
  check_model_images(images, "with_channels");
  FG_CHECK(channels == 1 || channels == 3, "with_channels: 1 or 3 channels, not ", channels);
  if (images.size(1) == channels) return images;
  if (channels == 3) return images.expand({images.size(0), 3, images.size(2), images.size(3)});
  return images.mean(1, /*keepdim=*/true);
}

torch::Tensor to_model_input(const torch::Tensor& images_u8, int64_t size, int64_t channels) {
  FG_CHECK(images_u8.dim() == 4 && images_u8.scalar_type() == torch::kUInt8,
           "to_model_input: expected uint8 [B, H, W, C], got ", images_u8.scalar_type(), " ",
           images_u8.sizes());
  FG_CHECK(images_u8.size(3) == 1 || images_u8.size(3) == 3, "to_model_input: expected 1 or 3 channels, got ",
           images_u8.size(3));
  FG_CHECK(size > 0, "to_model_input: size must be > 0");
  auto x = resize_bilinear(images_u8.permute({0, 3, 1, 2}).to(torch::kFloat32), size);
  return (with_channels(x, channels) / 127.5 - 1.0).contiguous();
}

torch::Tensor to_uint8_nhwc(const torch::Tensor& images) {
  check_model_images(images, "to_uint8_nhwc");
  auto x = with_channels(images.detach().to(torch::kCPU, torch::kFloat), 3);
  return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch::kUInt8).permute({0, 2, 3, 1}).contiguous();
}

}  // namespace fergan::data
