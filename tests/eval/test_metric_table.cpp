// The metric tables: cells read the metrics JSON as documented (decimals, YES / no, "-" for missing values),
// optional parts appear only when present, and the text and HTML renderings show the same rows.
#include <gtest/gtest.h>

#include <sstream>

#include "fergan/eval/metric_table.h"

namespace fergan::eval {
namespace {
using nlohmann::json;

json image_set(double ratio, bool collapse, double frechet) {
  return {{"diversity", {{"mean_ratio", ratio}, {"mode_collapse", collapse}, {"between_over_within", 1.0}}},
          {"cas_train_real_test_this", 0.25},
          {"cas_train_this_test_real", 0.5},
          {"frechet_classifier_features", frechet},
          {"clip_score", {{"score", 21.456}, {"mean_cosine", 0.21456}}},
          {"frechet_clip", 3.0}};
}

json sample_metrics() {
  json m = {{"split", "test"}, {"samples", 4}, {"emotions", {"angry", "happy"}}};
  json model = {{"accuracy", 0.75},
                {"per_class_accuracy", {{"angry", 0.5}, {"happy", 1.0}}},
                {"confusion", {{1, 1}, {0, 2}}},
                {"mean_cosine_true_caption", 0.3}};
  json random = {{"accuracy", 0.5},
                 {"per_class_accuracy", {{"angry", nullptr}, {"happy", 0.5}}},
                 {"confusion", {{0, 2}, {0, 2}}},
                 {"mean_cosine_true_caption", 0.01}};
  m["img2text"] = {{"model", model}, {"random_embeddings", random}};
  m["text2img"] = {{"samples_per_emotion", 30},
                   {"collapse_threshold", 0.25},
                   {"classifier", {{"train_images", 210}, {"epochs", 6}, {"real_accuracy", 0.6}}},
                   {"generated", image_set(0.01234, true, 123.456)},
                   {"random_embeddings", image_set(0.9, false, 50.0)},
                   {"real_images", image_set(1.02, false, 0.5)}};
  m["adjustments"] = {
      {{"setting", "samples_per_emotion"}, {"requested", 100}, {"used", 30}, {"reason", "small"}}};
  return m;
}

const std::vector<std::string>* row(const MetricTable& t, const std::string& label) {
  for (const auto& r : t.rows) {
    if (!r.empty() && r[0] == label) return &r;
  }
  return nullptr;
}

TEST(MetricTable, CellsReadTheJsonAsDocumented) {
  const auto m = sample_metrics();
  const auto retrieval = retrieval_table(m);
  ASSERT_EQ(retrieval.header.size(), 3u);  // no CLIP image embeddings in this JSON
  EXPECT_EQ(*row(retrieval, "angry"), (std::vector<std::string>{"angry", "0.500", "-"}));
  EXPECT_EQ(*row(retrieval, "overall top-1"), (std::vector<std::string>{"overall top-1", "0.750", "0.500"}));

  const auto confusion = confusion_table(m);
  EXPECT_EQ(*row(confusion, "angry"), (std::vector<std::string>{"angry", "1", "1"}));
  ASSERT_EQ(confusion.shade.size(), 2u);
  EXPECT_DOUBLE_EQ(confusion.shade[1][2], 1.0);  // happy: 2 of 2 predicted happy
  EXPECT_DOUBLE_EQ(confusion.shade[0][1], 0.5);

  const auto t2i = text2img_table(m);
  EXPECT_EQ(*row(t2i, "MODE COLLAPSE flagged"),
            (std::vector<std::string>{"MODE COLLAPSE flagged", "YES", "no", "no"}));
  EXPECT_EQ((*row(t2i, "diversity ratio (vs real, mean over emotions)"))[1], "0.012");
  EXPECT_EQ((*row(t2i, "Frechet distance, classifier features"))[1], "123.46");
  EXPECT_EQ((*row(t2i, "CLIP score (100 max(cos, 0))"))[3], "21.46");
  EXPECT_NE(t2i.title.find("30 samples per emotion"), std::string::npos) << t2i.title;
  EXPECT_NE(t2i.title.find("210 real images"), std::string::npos) << t2i.title;

  const auto notes = adjustments_table(m);
  EXPECT_EQ(*row(notes, "samples_per_emotion"),
            (std::vector<std::string>{"samples_per_emotion", "100", "30", "small"}));
}

TEST(MetricTable, OptionalPartsOnlyWhenPresent) {
  auto m = sample_metrics();
  m.erase("img2text");
  for (const char* set : {"generated", "random_embeddings", "real_images"}) {
    m["text2img"][set].erase("clip_score");
    m["text2img"][set].erase("frechet_clip");
  }
  m["adjustments"] = json::array();
  EXPECT_TRUE(retrieval_table(m).rows.empty());
  EXPECT_TRUE(confusion_table(m).rows.empty());
  EXPECT_TRUE(adjustments_table(m).rows.empty());
  EXPECT_EQ(row(text2img_table(m), "CLIP mean cosine"), nullptr);
  const auto text = metrics_table(m);
  EXPECT_EQ(text.find("Image -> Text"), std::string::npos);
  EXPECT_EQ(text.find("CLIP"), std::string::npos);
  EXPECT_NE(text.find("MODE COLLAPSE"), std::string::npos);
}

TEST(MetricTable, TextAndHtmlShowTheSameRows) {
  const auto m = sample_metrics();
  const auto text = metrics_table(m);
  HtmlReport report("t");
  for (const auto& table :
       {retrieval_table(m), confusion_table(m), text2img_table(m), adjustments_table(m)}) {
    ASSERT_FALSE(table.rows.empty()) << table.title;
    add_to_report(report, table);
    const auto rendered = render_text(table);
    EXPECT_NE(text.find(rendered), std::string::npos) << table.title;
    // Every row is one text line holding its cells in order, and one HTML table row holding them as cells.
    for (const auto& r : table.rows) {
      std::string line;
      std::istringstream lines(rendered);
      while (std::getline(lines, line) && line.rfind(r[0], 0) != 0) {
      }
      size_t at = 0;
      std::string html_row = "<tr>";
      for (const auto& c : r) {
        at = line.find(c, at);
        EXPECT_NE(at, std::string::npos) << "'" << c << "' missing or out of order in: " << line;
        at += c.size();
        html_row += "<td>" + html_escape(c) + "</td>";
      }
      if (table.shade.empty())
        EXPECT_NE(report.html().find(html_row + "</tr>"), std::string::npos) << html_row;
    }
  }
  // Numeric columns are right-aligned: every line of the Text -> Image table has the same length.
  std::istringstream lines(render_text(text2img_table(m)));
  std::string line;
  std::getline(lines, line);  // title
  std::getline(lines, line);
  const size_t width = line.size();
  for (size_t i = 0; i < text2img_table(m).rows.size(); ++i) {
    std::getline(lines, line);
    EXPECT_EQ(line.size(), width) << line;
  }
}

}  // namespace
}  // namespace fergan::eval
