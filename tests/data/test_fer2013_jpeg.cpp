// CSV rows vs. the real FER2013 JPEGs: how far apart are the pixels of fer2013_subset.csv (rebuilt from the
// JPEGs by another decoder) and our libjpeg decode of the same files? Runs only when FERGAN_FER2013_DIR
// points at the unpacked folder release (tests/scripts/test_data_prep_fer2013.sh sets it); skipped otherwise.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "data_test_util.h"

using namespace fergan;
using namespace fergan::data;
using namespace fergan::data::testing;
namespace stdfs = std::filesystem;

TEST(Fer2013Jpeg, SubsetCsvRowsMatchOurDecodeOfTheJpegs) {
  const char* dir_env = std::getenv("FERGAN_FER2013_DIR");
  const std::string csv = shared_dir() + "/data/fer2013/fer2013_subset.csv";
  if (!dir_env || !stdfs::is_directory(dir_env) || !stdfs::exists(csv)) {
    GTEST_SKIP() << "set FERGAN_FER2013_DIR to the unpacked fer2013_images.tar.gz";
  }
  const std::map<std::string, std::string> split_of = {
      {"Training", "train"}, {"PublicTest", "validation"}, {"PrivateTest", "test"}};
  // CSV rows grouped by (split, label).
  std::map<std::pair<std::string, int>, std::vector<std::vector<uint8_t>>> rows;
  std::ifstream in(csv);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string label, pixels, usage;
    std::getline(ss, label, ',');
    std::getline(ss, pixels, ',');
    std::getline(ss, usage, ',');
    if (!usage.empty() && usage.back() == '\r') usage.pop_back();
    std::vector<uint8_t> p;
    std::stringstream ps(pixels);
    for (int v; ps >> v;) p.push_back(static_cast<uint8_t>(v));
    rows[{split_of.at(usage), std::stoi(label)}].push_back(p);
  }
  int exact = 0, total = 0, worst = 0;
  double mean_abs = 0;
  for (const auto& [key, group] : rows) {
    // Decode every JPEG of this split/class; index by pixel sum to find candidates quickly.
    std::vector<std::pair<int64_t, std::vector<uint8_t>>> decoded;
    for (const auto& e :
         stdfs::directory_iterator(stdfs::path(dir_env) / key.first / kEmotionNames[key.second])) {
      auto img = decode_image(e.path().string());
      int64_t sum = 0;
      for (auto v : img.pixels) sum += v;
      decoded.emplace_back(sum, std::move(img.pixels));
    }
    std::sort(decoded.begin(), decoded.end());
    for (const auto& row : group) {
      int64_t sum = 0;
      for (auto v : row) sum += v;
      constexpr int64_t kWindow = 2304 * 4;  // mean difference of up to 4 grey levels
      auto lo = std::lower_bound(decoded.begin(), decoded.end(),
                                 std::make_pair(sum - kWindow, std::vector<uint8_t>{}));
      int best = 256;
      double best_mean = 0;
      for (auto it = lo; it != decoded.end() && it->first <= sum + kWindow; ++it) {
        int mx = 0;
        int64_t abs_sum = 0;
        for (size_t i = 0; i < row.size(); ++i) {
          const int d = std::abs(int(row[i]) - int(it->second[i]));
          mx = std::max(mx, d);
          abs_sum += d;
        }
        if (mx < best) {
          best = mx;
          best_mean = abs_sum / 2304.0;
        }
      }
      ++total;
      exact += best == 0;
      worst = std::max(worst, best);
      mean_abs += best_mean;
      EXPECT_LE(best, 8) << key.first << "/" << kEmotionNames[key.second] << ": no JPEG within 8 grey levels";
    }
  }
  std::printf(
      "CSV vs JPEG (our libjpeg decode): %d/%d rows bit-exact, worst max|diff| %d, mean |diff| %.4f\n", exact,
      total, worst, mean_abs / std::max(1, total));
  EXPECT_EQ(total, 980);
}
