// The report's pieces: training-log parsing (including a crash-truncated last line), base64, SVG charts.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "fergan/core/check.h"
#include "fergan/eval/report.h"

namespace fergan::eval {
namespace {

std::string temp_file(const std::string& name, const std::string& content) {
  const auto path = std::filesystem::temp_directory_path() / ("fergan_test_report_" + name);
  std::ofstream(path) << content;
  return path.string();
}

TEST(Report, ReadsTrainingLogAndSkipsATruncatedLastLine) {
  const auto path =
      temp_file("log.jsonl",
                "{\"event\":\"interval\",\"phase\":\"img2text\",\"epoch\":1,\"step\":20,\"d_loss\":0.7,"
                "\"g_loss\":0.8,\"d_real\":0.5,\"d_fake\":0.4,\"images_per_s\":100,\"lr_g\":2e-4,"
                "\"lr_d\":2e-4}\n\n"
                "{\"phase\":\"text2img\",\"step\":5,\"d_loss\":1.5}\n"
                "{\"phase\":\"text2img\",\"step\":6,\"d_lo");
  auto log = read_training_log(path);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].phase, "img2text");
  EXPECT_DOUBLE_EQ(log[0].step, 20);
  EXPECT_DOUBLE_EQ(log[0].g_loss, 0.8);
  EXPECT_DOUBLE_EQ(log[0].lr_d, 2e-4);
  EXPECT_EQ(log[1].event, "interval");
  EXPECT_TRUE(std::isnan(log[1].g_loss));
  std::remove(path.c_str());
}

TEST(Report, MalformedLineInTheMiddleNamesFileAndLine) {
  const auto path = temp_file("bad.jsonl", "{\"step\":1}\nnot json\n{\"step\":2}\n");
  try {
    read_training_log(path);
    FAIL() << "no error";
  } catch (const fergan::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ":2"), std::string::npos) << e.what();
  }
  std::remove(path.c_str());
}

TEST(Report, Base64KnownAnswers) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("M"), "TQ==");
  EXPECT_EQ(base64_encode("Ma"), "TWE=");
  EXPECT_EQ(base64_encode("Man"), "TWFu");
  EXPECT_EQ(base64_encode(std::string("\xff\x00\x10", 3)), "/wAQ");
}

TEST(Report, ChartHasOnePolylinePerSeriesWithAllFinitePoints) {
  Series a{"d_loss", {0, 1, 2, 3}, {1.0, 0.5, NAN, 0.25}};
  Series b{"g<loss>", {0, 3}, {2.0, 1.0}};
  const auto svg = line_chart_svg({a, b}, "losses", "step");
  size_t count = 0;
  for (size_t at = svg.find("<polyline"); at != std::string::npos; at = svg.find("<polyline", at + 1))
    ++count;
  EXPECT_EQ(count, 2u);
  const auto first = svg.find("points='");
  const auto points = svg.substr(first + 8, svg.find('\'', first + 8) - first - 8);
  EXPECT_EQ(std::count(points.begin(), points.end(), ','), 3);  // the NaN point is dropped
  EXPECT_NE(svg.find("g&lt;loss&gt;"), std::string::npos);      // legend text escaped
  EXPECT_NE(line_chart_svg({}, "empty", "x").find("no data"), std::string::npos);
}

}  // namespace
}  // namespace fergan::eval
