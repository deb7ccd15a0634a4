// Tiny synthetic "emotion" images for the eval tests: each class is a distinct pattern (a bright bar whose
// orientation and position depend on the label) with per-image jitter, pixel noise and random brightness, so
// images of one class differ from each other the way real faces of one emotion do, and classes are separable.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>

namespace fergan::eval::testing {

struct SyntheticSet {
  torch::Tensor images;  // float32 [N, 3, S, S] in [-1, 1]
  torch::Tensor labels;  // int64 [N]
};

// `per_class` images for each of `classes` labels, size x size, reproducible from `seed`.
inline SyntheticSet synthetic_faces(int64_t per_class, int64_t classes, int64_t size, uint64_t seed,
                                    double noise = 0.35) {
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t n = per_class * classes;
  auto labels = torch::arange(classes, torch::kLong).repeat_interleave(per_class);
  auto ys = torch::arange(size, torch::kFloat).view({size, 1}).expand({size, size}) / float(size);
  auto xs = torch::arange(size, torch::kFloat).view({1, size}).expand({size, size}) / float(size);
  auto images = torch::empty({n, 3, size, size});
  auto jitter = torch::rand({n, 3}, gen);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = labels[i].item<int64_t>();
    const double angle = M_PI * static_cast<double>(k) / static_cast<double>(classes);
    const double offset = 0.5 + 0.25 * (jitter[i][0].item<double>() - 0.5);
    const double width = 0.08 + 0.04 * jitter[i][1].item<double>();
    auto dist = ((xs - 0.5) * std::cos(angle) + (ys - 0.5) * std::sin(angle) + 0.5 - offset).abs();
    auto bar = (dist < width).to(torch::kFloat) * 1.4 - 0.7;
    auto img = bar + (jitter[i][2].item<double>() - 0.5) * 0.4 + torch::randn({size, size}, gen) * noise;
    images[i] = img.clamp(-1, 1).unsqueeze(0).expand({3, size, size});
  }
  return {images, labels};
}

}  // namespace fergan::eval::testing
