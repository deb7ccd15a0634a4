// DiffAugment for grayscale and colour faces (see augment.h). The transformations follow the reference
// implementation's ranges: translation ratio 1/8 with zero fill, cutout ratio 1/2, brightness +-0.5,
// contrast x[0.5, 1.5), saturation x[0, 2) (colour images only).
#include "fergan/gan/augment.h"

#include "fergan/core/check.h"

namespace fergan::gan {

AugmentPolicy AugmentPolicy::parse(const std::vector<std::string>& names, const std::string& key) {
  AugmentPolicy p;
  for (const auto& n : names) {
    if (n == "translation") {
      p.translation = true;
    } else if (n == "cutout") {
      p.cutout = true;
    } else if (n == "color") {
      p.color = true;
    } else {
      fail(str(key, ": unknown augmentation '", n, "' (expected translation, cutout, color)"));
    }
  }
  return p;
}

namespace {

// Column of parameter k as [B, 1, 1, 1].
torch::Tensor param(const torch::Tensor& params, int64_t k) {
  return params.select(1, k).view({-1, 1, 1, 1});
}

torch::Tensor color(torch::Tensor x, const torch::Tensor& params) {
  x = x + (param(params, 4) - 0.5);  // brightness
  if (x.size(1) > 1) {               // saturation: away from / towards the per-pixel channel mean
    const auto gray = x.mean(1, /*keepdim=*/true);
    x = (x - gray) * (param(params, 6) * 2) + gray;
  }
  const auto mean = x.mean({1, 2, 3}, /*keepdim=*/true);
  return (x - mean) * (param(params, 5) + 0.5) + mean;  // contrast
}

// Integer shifts in [-S/8, S/8]; pixels shifted in from outside are zero.
torch::Tensor translation(const torch::Tensor& x, const torch::Tensor& params) {
  const int64_t b = x.size(0), h = x.size(2), w = x.size(3);
  const int64_t sh = h / 8, sw = w / 8;
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  const auto ty = (params.select(1, 1) * (2 * sh + 1)).floor().to(torch::kLong) - sh;  // [B]
  const auto tx = (params.select(1, 0) * (2 * sw + 1)).floor().to(torch::kLong) - sw;
  // Rows/columns of the zero-padded (by 1) image to read; clamping onto the padding gives the zero fill.
  const auto rows = (torch::arange(h, opts).view({1, h}) + ty.view({b, 1}) + 1).clamp(0, h + 1);  // [B, H]
  const auto cols = (torch::arange(w, opts).view({1, w}) + tx.view({b, 1}) + 1).clamp(0, w + 1);  // [B, W]
  const auto padded = torch::constant_pad_nd(x, {1, 1, 1, 1});  // [B,C,H+2,W+2]
  const auto batch = torch::arange(b, opts).view({b, 1, 1});
  // Advanced indexing over (batch, row, col) of NHWC: [B, H, W, C].
  const auto nhwc = padded.permute({0, 2, 3, 1});
  const auto picked = nhwc.index({batch, rows.view({b, h, 1}), cols.view({b, 1, w})});
  return picked.permute({0, 3, 1, 2}).contiguous();
}

// A square of half the image size, zeroed; its centre anywhere such that it overlaps the image.
torch::Tensor cutout(const torch::Tensor& x, const torch::Tensor& params) {
  const int64_t h = x.size(2), w = x.size(3), ch = h / 2, cw = w / 2;
  auto opts = torch::TensorOptions().dtype(torch::kLong).device(x.device());
  const auto cy = (param(params, 3).squeeze(-1) * (h + 1 - ch % 2)).floor().to(torch::kLong);  // [B,1,1]
  const auto cx = (param(params, 2).squeeze(-1) * (w + 1 - cw % 2)).floor().to(torch::kLong);
  const auto rows = torch::arange(h, opts).view({1, h, 1});
  const auto cols = torch::arange(w, opts).view({1, 1, w});
  const auto top = cy - ch / 2, left = cx - cw / 2;
  const auto inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw);
  const auto mask = inside.logical_not().to(x.dtype()).unsqueeze(1);  // [B,1,H,W]
  return x * mask;
}

}  // namespace

torch::Tensor augment(const torch::Tensor& images, const torch::Tensor& params, const AugmentPolicy& policy) {
  FG_CHECK(images.dim() == 4 && params.dim() == 2 && params.size(0) == images.size(0) &&
               params.size(1) == kAugmentParams,
           "augment: expected images [B,C,H,W] and params [B,", kAugmentParams, "], got ", images.sizes(),
           " and ", params.sizes());
  torch::Tensor x = images;
  const torch::Tensor p = params.to(images.device(), images.scalar_type());
  if (policy.color) x = color(x, p);
  if (policy.translation) x = translation(x, p);
  if (policy.cutout) x = cutout(x, p);
  return x;
}

}  // namespace fergan::gan
