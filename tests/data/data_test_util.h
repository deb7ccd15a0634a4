// Shared helpers for the data tests: temporary directories, tiny CSV/folder fixtures, quick prep runs.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "fergan/core/check.h"
#include "fergan/core/config.h"
#include "fergan/core/fsutil.h"
#include "fergan/data/image_io.h"
#include "fergan/data/prep.h"
#include "fergan/data/rng.h"
#include "fergan/data/synth.h"

namespace fergan::data::testing {

// The config values data_prep reads, spelled out so that the tests do not follow the shipped defaults: one
// caption template per emotion, seed 42, 512-d caption embeddings. `overrides` come after these.
inline Config prep_config(const std::vector<std::string>& overrides = {}) {
  std::vector<std::string> all = {"captions.templates=[\"a person with a {} expression\"]", "seed=42",
                                  "img2text.latent_dim=512"};
  all.insert(all.end(), overrides.begin(), overrides.end());
  return parse_config("", "the data tests' config", all);
}

// A fresh directory under $TMPDIR, removed at scope exit.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "fergan_data_test_XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (!made) throw std::runtime_error("mkdtemp failed");
    path = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline std::string shared_dir() {
  const char* env = std::getenv("FERGAN_SHARED_DIR");
  return env ? env : "/work/shared";
}

// A deterministic 48x48 image whose content depends on `seed`.
inline std::vector<uint8_t> test_pixels(uint64_t seed, int side = 48) {
  Rng rng(seed);
  std::vector<uint8_t> p(static_cast<size_t>(side) * side);
  for (auto& v : p) v = static_cast<uint8_t>(rng.below(256));
  return p;
}

inline std::string csv_row(int label, const std::vector<uint8_t>& pixels, const std::string& usage) {
  std::string row = std::to_string(label) + ",";
  for (size_t i = 0; i < pixels.size(); ++i) row += (i ? " " : "") + std::to_string(pixels[i]);
  return row + "," + usage;
}

inline void write_text(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

// Writes a CSV of `rows` (already formatted) with the Kaggle header.
inline void write_csv(const std::string& path, const std::vector<std::string>& rows) {
  std::string text = "emotion,pixels,Usage\n";
  for (const auto& r : rows) text += r + "\n";
  write_text(path, text);
}

// Writes a PNG image into <root>/<split>/<emotion>/<name>.
inline void write_folder_png(const std::string& root, const std::string& split, const std::string& emotion,
                             const std::string& name, const std::vector<uint8_t>& pixels, int side = 48) {
  GrayImage image;
  image.height = image.width = side;
  image.pixels = pixels;
  const auto dir = std::filesystem::path(root) / split / emotion;
  std::filesystem::create_directories(dir);
  write_png_gray((dir / name).string(), image);
}

inline PrepOptions quick_options(const std::string& input, const std::string& out) {
  PrepOptions o;
  o.input = input;
  o.out = out;
  o.random_embeddings = true;
  o.embed_dim = 16;
  o.quiet = true;
  o.threads = 2;
  return o;
}

// Runs `fn` and returns the fergan::Error message (fails the test when nothing is thrown).
template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a fergan::Error";
  return "";
}

}  // namespace fergan::data::testing

#define EXPECT_ERROR_HAS(expr, ...)                                               \
  do {                                                                            \
    const std::string fg_msg_ = ::fergan::data::testing::error_of([&] { expr; }); \
    for (const std::string& fg_part_ : std::vector<std::string>{__VA_ARGS__}) {   \
      EXPECT_NE(fg_msg_.find(fg_part_), std::string::npos)                        \
          << "error message lacks '" << fg_part_ << "': " << fg_msg_;             \
    }                                                                             \
  } while (0)
