// The metric tables of a metrics JSON and their text and HTML renderings (see metric_table.h).
#include "fergan/eval/metric_table.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <sstream>

#include "fergan/core/check.h"

namespace fergan::eval {
using nlohmann::json;

namespace {

std::string fixed(double v, int digits) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(digits) << v;
  return os.str();
}

// A JSON cell: numbers with `digits` decimals, flags as YES / no, anything else (null, absent) as "-".
std::string cell(const json& j, int digits = 3) {
  if (j.is_number()) return fixed(j.get<double>(), digits);
  if (j.is_boolean()) return j.get<bool>() ? "YES" : "no";
  return "-";
}

// j[a][b]... without creating keys; null when a key is missing.
json at(const json& j, std::initializer_list<const char*> path) {
  const json* p = &j;
  for (const char* key : path) {
    if (!p->is_object() || !p->contains(key)) return nullptr;
    p = &(*p)[key];
  }
  return *p;
}

std::vector<std::string> emotions_of(const json& metrics) {
  return metrics.value("emotions", std::vector<std::string>{});
}

}  // namespace

MetricTable retrieval_table(const json& metrics) {
  MetricTable t;
  if (!metrics.contains("img2text")) return t;
  const json& j = metrics["img2text"];
  t.title = "Image -> Text (emotion retrieval, nearest caption by cosine)";
  std::vector<const char*> sets = {"model", "random_embeddings"};
  t.header = {"emotion", "model", "random embeddings"};
  if (j.contains("clip_image_embeddings")) {
    sets.push_back("clip_image_embeddings");
    t.header.push_back("CLIP image embeddings");
  }
  auto row = [&](const std::string& label, const std::function<json(const json&)>& get) {
    std::vector<std::string> r = {label};
    for (const char* s : sets) r.push_back(cell(get(j[s])));
    t.rows.push_back(r);
  };
  for (const auto& name : emotions_of(metrics)) {
    row(name, [&](const json& s) { return at(s, {"per_class_accuracy", name.c_str()}); });
  }
  row("overall top-1", [](const json& s) { return at(s, {"accuracy"}); });
  row("mean cosine to true caption", [](const json& s) { return at(s, {"mean_cosine_true_caption"}); });
  t.note =
      str("Per emotion: the share of its ", metrics.value("samples", 0), " ", metrics.value("split", "?"),
          " images whose embedding is nearest to a caption of that emotion (recall); chance is 1/",
          emotions_of(metrics).size(), ".");
  return t;
}

MetricTable confusion_table(const json& metrics) {
  MetricTable t;
  const json confusion = at(metrics, {"img2text", "model", "confusion"});
  if (!confusion.is_array()) return t;
  const auto names = emotions_of(metrics);
  t.title = "Image -> Text confusion matrix (rows: true emotion, columns: predicted)";
  t.header = {"true \\ predicted"};
  for (const auto& n : names) t.header.push_back(n);
  for (size_t i = 0; i < confusion.size(); ++i) {
    std::vector<std::string> row = {i < names.size() ? names[i] : std::to_string(i)};
    std::vector<double> tint = {-1};
    int64_t total = 0;
    for (const auto& v : confusion[i]) total += v.get<int64_t>();
    for (const auto& v : confusion[i]) {
      row.push_back(std::to_string(v.get<int64_t>()));
      tint.push_back(static_cast<double>(v.get<int64_t>()) /
                     static_cast<double>(std::max<int64_t>(1, total)));
    }
    t.rows.push_back(row);
    t.shade.push_back(tint);
  }
  t.note = "Counts of images; the report tints each cell by its share of the row.";
  return t;
}

MetricTable text2img_table(const json& metrics) {
  MetricTable t;
  if (!metrics.contains("text2img")) return t;
  const json& j = metrics["text2img"];
  t.title = str("Text -> Image (", j.value("samples_per_emotion", 0),
                " samples per emotion; classifier trained on ", at(j, {"classifier", "train_images"}).dump(),
                " real images, accuracy on real ", metrics.value("split", "?"), " images ",
                cell(at(j, {"classifier", "real_accuracy"})), ")");
  t.header = {"metric", "generated", "random embeddings", "real images"};
  auto row = [&](const std::string& label, std::initializer_list<const char*> path, int digits = 3) {
    t.rows.push_back({label, cell(at(j["generated"], path), digits),
                      cell(at(j["random_embeddings"], path), digits),
                      cell(at(j["real_images"], path), digits)});
  };
  row("diversity ratio (vs real, mean over emotions)", {"diversity", "mean_ratio"});
  row("MODE COLLAPSE flagged", {"diversity", "mode_collapse"});
  row("between / within emotion distance", {"diversity", "between_over_within"});
  row("CAS: train real, test this", {"cas_train_real_test_this"});
  row("CAS: train this, test real", {"cas_train_this_test_real"});
  row("Frechet distance, classifier features", {"frechet_classifier_features"}, 2);
  if (at(j, {"generated", "clip_score"}).is_object()) {
    row("CLIP score (100 max(cos, 0))", {"clip_score", "score"}, 2);
    row("CLIP mean cosine", {"clip_score", "mean_cosine"});
    row("Frechet distance, CLIP features", {"frechet_clip"}, 2);
  }
  const size_t classes = std::max<size_t>(1, emotions_of(metrics).size());
  t.note = str("Classifier chance level 1/", classes, " = ", fixed(1.0 / static_cast<double>(classes), 3),
               ". Mode collapse is flagged when an emotion's samples are less than ",
               at(j, {"collapse_threshold"}).dump(), " times as far apart as real images of that emotion.");
  return t;
}

MetricTable adjustments_table(const json& metrics) {
  MetricTable t;
  const json notes = at(metrics, {"adjustments"});
  if (!notes.is_array() || notes.empty()) return t;
  t.title = "Sizes fitted to the data (asked for more than it holds)";
  t.header = {"setting", "asked", "used", "why"};
  for (const auto& n : notes) {
    t.rows.push_back({n.value("setting", "?"), at(n, {"requested"}).dump(), at(n, {"used"}).dump(),
                      n.value("reason", "")});
  }
  return t;
}

std::string render_text(const MetricTable& table) {
  const size_t columns = table.header.size();
  std::vector<size_t> width(columns, 0);
  std::vector<bool> numeric(columns, true);  // right-aligned: every body cell a number, "-", "YES" or "no"
  numeric[0] = false;
  for (size_t c = 0; c < columns; ++c) width[c] = table.header[c].size();
  for (const auto& r : table.rows) {
    for (size_t c = 0; c < r.size() && c < columns; ++c) {
      width[c] = std::max(width[c], r[c].size());
      const bool is_number = r[c].find_first_not_of("0123456789.-+e") == std::string::npos;
      if (!(is_number || r[c] == "YES" || r[c] == "no")) numeric[c] = false;
    }
  }
  std::ostringstream os;
  os << table.title << "\n";
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < cells.size() && c < columns; ++c) {
      if (c > 0) os << "  ";
      const bool pad = numeric[c] || c + 1 < columns;  // no trailing spaces after a text column
      os << (numeric[c] ? std::right : std::left) << std::setw(pad ? static_cast<int>(width[c]) : 0)
         << cells[c];
    }
    os << "\n";
  };
  line(table.header);
  for (const auto& r : table.rows) line(r);
  if (!table.note.empty()) os << table.note << "\n";
  return os.str();
}

void add_to_report(HtmlReport& report, const MetricTable& table) {
  if (table.rows.empty()) return;
  report.heading(table.title, 3);
  std::vector<std::vector<std::string>> rows = {table.header};
  rows.insert(rows.end(), table.rows.begin(), table.rows.end());
  report.table(rows, table.shade);
  if (!table.note.empty()) report.paragraph(table.note);
}

std::string metrics_table(const json& metrics) {
  std::ostringstream os;
  os << "split: " << metrics.value("split", "?") << " (" << metrics.value("samples", 0) << " images)\n";
  for (const auto& table : {retrieval_table(metrics), confusion_table(metrics), text2img_table(metrics),
                            adjustments_table(metrics)}) {
    if (!table.rows.empty()) os << "\n" << render_text(table);
  }
  return os.str();
}

}  // namespace fergan::eval
