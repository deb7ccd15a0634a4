// `data_prep synth`: a synthetic FER-format dataset of drawn 48x48 grayscale faces (see prep.h).
//
// Each face is an ellipse with eyes, brows and a mouth whose shapes depend on the emotion (smile for happy,
// frown for sad, open mouth and raised brows for surprise, lowered inner brows for angry, ...), drawn under
// a random pose (shift, scale, rotation), size, lighting (level, gradient, contrast) and pixel noise. The
// classes are thus learnable but not trivial, which is what the demo and the tests need. Every image is a
// pure function of (seed, split, label, index), so parallel generation is deterministic.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <thread>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/runtime.h"
#include "fergan/data/image_io.h"
#include "fergan/data/prep.h"
#include "fergan/data/rng.h"
#include "fergan/data/synth.h"

namespace fergan::data {
namespace {

struct FaceShape {
  double eye_open;                  // eye half-height
  double brow_inner, brow_outer;    // brow heights (negative = up)
  double mouth_width, mouth_curve;  // curve > 0: corners up (smile)
  double mouth_open;                // > 0: an open (dark) mouth of this half-height
  double mouth_tilt;                // asymmetry (disgust)
};

FaceShape shape_for(int label) {
  switch (label) {
    case 0:
      return {0.055, -0.33, -0.50, 0.22, -0.05, 0.0, 0.0};  // angry: inner brows down, tight mouth
    case 1:
      return {0.05, -0.36, -0.42, 0.26, -0.06, 0.0, 0.12};  // disgust: squint, crooked mouth
    case 2:
      return {0.11, -0.52, -0.44, 0.28, -0.06, 0.07, 0.0};  // fear: wide eyes, stretched open mouth
    case 3:
      return {0.04, -0.45, -0.45, 0.36, 0.18, 0.0, 0.0};  // happy: smile, squinting eyes
    case 4:
      return {0.06, -0.52, -0.36, 0.28, -0.15, 0.0, 0.0};  // sad: inner brows up, frown
    case 5:
      return {0.13, -0.58, -0.54, 0.12, 0.0, 0.17, 0.0};  // surprise: raised brows, round open mouth
    default:
      return {0.08, -0.43, -0.43, 0.28, 0.0, 0.0, 0.0};  // neutral
  }
}

// Darkness in [0, 1] of the face features at face coordinates (u, v); u right, v down, face radius ~0.8.
double feature_ink(const FaceShape& f, double u, double v) {
  double ink = 0;
  for (int side : {-1, 1}) {
    const double ex = side * 0.32, ey = -0.2;
    const double du = (u - ex) / 0.13, dv = (v - ey) / f.eye_open;
    if (du * du + dv * dv <= 1) ink = 1;
    // Brow: a thick segment from the inner to the outer end.
    const double x0 = side * 0.12, y0 = f.brow_inner, x1 = side * 0.5, y1 = f.brow_outer;
    const double t = std::clamp(
        ((u - x0) * (x1 - x0) + (v - y0) * (y1 - y0)) / ((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)), 0.0,
        1.0);
    const double bx = x0 + t * (x1 - x0) - u, by = y0 + t * (y1 - y0) - v;
    if (bx * bx + by * by <= 0.045 * 0.045) ink = 1;
  }
  const double my = 0.45;
  if (f.mouth_open > 0) {
    const double du = u / f.mouth_width, dv = (v - my) / f.mouth_open;
    if (du * du + dv * dv <= 1) ink = 1;
  }
  if (std::fabs(u) <= f.mouth_width) {
    const double x = u / f.mouth_width;
    const double curve = my - f.mouth_curve * (x * x - 0.3) + f.mouth_tilt * x;
    if (std::fabs(v - curve) <= 0.045) ink = 1;
  }
  return ink;
}

}  // namespace

std::vector<uint8_t> draw_face(int label, uint64_t seed, int size) {
  FG_CHECK(label >= 0 && label < kNumEmotions, "draw_face: label ", label, " outside 0..6");
  Rng rng(seed);
  FaceShape f = shape_for(label);
  // Per-face variation of the features (a little, so classes stay separable).
  f.eye_open *= rng.uniform(0.85, 1.15);
  f.brow_inner += rng.uniform(-0.03, 0.03);
  f.brow_outer += rng.uniform(-0.03, 0.03);
  f.mouth_width *= rng.uniform(0.85, 1.15);
  f.mouth_curve *= rng.uniform(0.8, 1.2);
  if (rng.uniform() < 0.5) f.mouth_tilt = -f.mouth_tilt;
  // Pose and lighting.
  const double scale = rng.uniform(0.75, 1.0) * size / 2.0;  // pixels per face unit
  const double angle = rng.uniform(-0.2, 0.2);
  const double cx = size / 2.0 + rng.uniform(-3, 3), cy = size / 2.0 + rng.uniform(-3, 3);
  const double background = rng.uniform(20, 200);
  const double skin = rng.uniform(110, 230);
  const double ink_level = rng.uniform(0.15, 0.45);
  const double grad = rng.uniform(-0.35, 0.35), grad_angle = rng.uniform(0, 6.283185307179586);
  const double noise = rng.uniform(2, 9);
  const double ca = std::cos(angle), sa = std::sin(angle);
  std::vector<uint8_t> pixels(static_cast<size_t>(size) * size);
  constexpr int kSuper = 3;
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      double acc = 0;
      for (int sy = 0; sy < kSuper; ++sy) {
        for (int sx = 0; sx < kSuper; ++sx) {
          const double px = x + (sx + 0.5) / kSuper - cx, py = y + (sy + 0.5) / kSuper - cy;
          const double u = (ca * px + sa * py) / scale, v = (-sa * px + ca * py) / scale;
          double value = background;
          if ((u * u) / (0.72 * 0.72) + (v * v) / (0.92 * 0.92) <= 1) {
            value = skin * (1 - (1 - ink_level) * feature_ink(f, u, v));
          }
          acc += value;
        }
      }
      double value = acc / (kSuper * kSuper);
      const double gx = (x - size / 2.0) / size, gy = (y - size / 2.0) / size;
      value *= 1 + grad * (gx * std::cos(grad_angle) + gy * std::sin(grad_angle));
      value += noise * rng.normal();
      pixels[static_cast<size_t>(y) * size + x] =
          static_cast<uint8_t>(std::clamp(std::lround(value), 0l, 255l));
    }
  }
  return pixels;
}

int64_t synthesize_faces(const SynthOptions& o) {
  FG_CHECK(!o.out.empty(), "data_prep synth: --out is required");
  FG_CHECK(o.per_class > 0, "data_prep synth: --per-class must be > 0");
  FG_CHECK(o.format == "png" || o.format == "jpg", "data_prep synth: --format must be png or jpg, got '",
           o.format, "'");
  std::map<std::string, int64_t> splits = o.splits;
  if (splits.empty()) {
    const int64_t small = std::max<int64_t>(1, (o.per_class + 4) / 5);
    splits = {{"train", o.per_class}, {"validation", small}, {"test", small}};
  }
  struct Job {
    std::string path;
    int label;
    uint64_t seed;
  };
  std::vector<Job> jobs;
  for (const auto& [split, n] : splits) {
    FG_CHECK(n > 0, "data_prep synth: split '", split, "' needs at least 1 image per class");
    for (int label = 0; label < kNumEmotions; ++label) {
      const auto dir = std::filesystem::path(o.out) / split / kEmotionNames[label];
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      FG_CHECK(!ec, "cannot create '", dir.string(), "': ", ec.message());
      for (int64_t i = 0; i < n; ++i) {
        char name[64];
        std::snprintf(name, sizeof(name), "%s_%05lld.%s", kEmotionNames[label], static_cast<long long>(i),
                      o.format.c_str());
        const uint64_t seed =
            splitmix64(o.seed ^ hash_string(split)) ^ splitmix64((uint64_t(label) << 40) ^ uint64_t(i));
        jobs.push_back({(dir / name).string(), label, seed});
      }
    }
  }
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i; (i = next.fetch_add(1)) < jobs.size();) {
      try {
        GrayImage image;
        image.height = image.width = 48;
        image.pixels = draw_face(jobs[i].label, jobs[i].seed, 48);
        if (o.format == "png") {
          write_png_gray(jobs[i].path, image);
        } else {
          write_jpeg_gray(jobs[i].path, image, 92);
        }
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  const int threads = o.threads > 0 ? o.threads : runtime::available_cores();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  return static_cast<int64_t>(jobs.size());
}

}  // namespace fergan::data
