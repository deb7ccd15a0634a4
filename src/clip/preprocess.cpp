// CLIP image preprocessing (see preprocess.h). The resampler follows Pillow's src/libImaging/Resample.c
// (ImagingResampleHorizontal_8bpc / Vertical_8bpc with precompute_coeffs and normalize_coeffs_8bpc).
#include "fergan/clip/preprocess.h"

#include <cmath>
#include <vector>

#include "fergan/core/check.h"

namespace fergan::clip {
namespace {

constexpr int kPrecisionBits = 32 - 8 - 2;

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Coefficients {
  int ksize = 0;
  std::vector<int> bounds;  // per output pixel: xmin, count
  std::vector<int> kernel;  // fixed point, ksize per output pixel
};

Coefficients precompute(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filterscale = std::max(scale, 1.0);
  const double support = 2.0 * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.bounds.resize(2 * out_size);
  c.kernel.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> k(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      k[x] = bicubic((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (int x = 0; x < xmax; ++x) {
      const double w = ww != 0.0 ? k[x] / ww : k[x];
      c.kernel[static_cast<size_t>(xx) * c.ksize + x] =
          static_cast<int>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.bounds[2 * xx] = xmin;
    c.bounds[2 * xx + 1] = xmax;
  }
  return c;
}

uint8_t clip8(int v) {
  if (v >= (1 << kPrecisionBits << 8)) return 255;
  if (v <= 0) return 0;
  return static_cast<uint8_t>(v >> kPrecisionBits);
}

// Resamples along one axis of a [H, W, C] uint8 buffer: horizontal when `horizontal`, else vertical.
std::vector<uint8_t> resample(const std::vector<uint8_t>& in, int h, int w, int ch, int out_len,
                              bool horizontal) {
  const int in_len = horizontal ? w : h;
  const Coefficients c = precompute(in_len, out_len);
  const int oh = horizontal ? h : out_len, ow = horizontal ? out_len : w;
  std::vector<uint8_t> out(static_cast<size_t>(oh) * ow * ch);
  for (int y = 0; y < oh; ++y)
    for (int x = 0; x < ow; ++x) {
      const int o = horizontal ? x : y;
      const int xmin = c.bounds[2 * o], count = c.bounds[2 * o + 1];
      const int* k = &c.kernel[static_cast<size_t>(o) * c.ksize];
      for (int z = 0; z < ch; ++z) {
        int ss = 1 << (kPrecisionBits - 1);
        for (int i = 0; i < count; ++i) {
          const int sy = horizontal ? y : xmin + i, sx = horizontal ? xmin + i : x;
          ss += in[(static_cast<size_t>(sy) * w + sx) * ch + z] * k[i];
        }
        out[(static_cast<size_t>(y) * ow + x) * ch + z] = clip8(ss);
      }
    }
  return out;
}

}  // namespace

torch::Tensor pil_bicubic_resize(const torch::Tensor& image_hwc, int64_t out_h, int64_t out_w) {
  FG_CHECK(image_hwc.dim() == 3 && image_hwc.scalar_type() == torch::kUInt8,
           "pil_bicubic_resize: expected uint8 [H, W, C], got ", image_hwc.sizes(), " ",
           image_hwc.scalar_type());
  const int h = static_cast<int>(image_hwc.size(0)), w = static_cast<int>(image_hwc.size(1)),
            ch = static_cast<int>(image_hwc.size(2));
  FG_CHECK(h > 0 && w > 0 && out_h > 0 && out_w > 0, "pil_bicubic_resize: empty image or target size");
  auto src = image_hwc.contiguous();
  std::vector<uint8_t> buf(src.data_ptr<uint8_t>(), src.data_ptr<uint8_t>() + src.numel());
  int cur_w = w;
  // Pillow: horizontal pass first (only if the width changes), then vertical.
  if (out_w != w) {
    buf = resample(buf, h, w, ch, static_cast<int>(out_w), true);
    cur_w = static_cast<int>(out_w);
  }
  if (out_h != h) buf = resample(buf, h, cur_w, ch, static_cast<int>(out_h), false);
  return torch::from_blob(buf.data(), {out_h, out_w, ch}, torch::kUInt8).clone();
}

torch::Tensor preprocess_images(const torch::Tensor& images_in, int64_t resolution) {
  auto images = images_in.dim() == 3 ? images_in.unsqueeze(-1) : images_in;
  FG_CHECK(images.dim() == 4 && (images.size(3) == 1 || images.size(3) == 3) &&
               images.scalar_type() == torch::kUInt8,
           "CLIP preprocessing: expected uint8 images [B, H, W, 1|3], got ", images_in.sizes(), " ",
           images_in.scalar_type());
  FG_CHECK(resolution > 0, "CLIP preprocessing: resolution must be positive");
  images = images.to(torch::kCPU).contiguous();
  const int64_t B = images.size(0), H = images.size(1), W = images.size(2);
  // torchvision Resize(int): the shorter side becomes `resolution`, the longer int(resolution * long /
  // short).
  int64_t new_h, new_w;
  if (H <= W) {
    new_h = resolution;
    new_w = static_cast<int64_t>(static_cast<double>(resolution) * W / H);
  } else {
    new_w = resolution;
    new_h = static_cast<int64_t>(static_cast<double>(resolution) * H / W);
  }
  // CenterCrop: int(round((size - crop) / 2.0)), Python's round-half-to-even.
  const auto top = static_cast<int64_t>(std::nearbyint((new_h - resolution) / 2.0));
  const auto left = static_cast<int64_t>(std::nearbyint((new_w - resolution) / 2.0));
  auto out = torch::empty({B, 3, resolution, resolution}, torch::kFloat32);
  auto mean = torch::tensor({kClipMean[0], kClipMean[1], kClipMean[2]}, torch::kFloat32).view({3, 1, 1});
  auto stdev = torch::tensor({kClipStd[0], kClipStd[1], kClipStd[2]}, torch::kFloat32).view({3, 1, 1});
  for (int64_t b = 0; b < B; ++b) {
    auto resized = pil_bicubic_resize(images[b], new_h, new_w)
                       .narrow(0, top, resolution)
                       .narrow(1, left, resolution)
                       .permute({2, 0, 1})
                       .to(torch::kFloat32)
                       .div(255.0);
    if (resized.size(0) == 1) resized = resized.expand({3, resolution, resolution});
    out[b] = (resized - mean) / stdev;
  }
  return out;
}

}  // namespace fergan::clip
