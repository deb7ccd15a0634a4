// fergan_eval's metric tables, built once from the metrics JSON and rendered twice: as aligned text
// (metrics.txt and fergan_eval's console output) and as HTML tables in report.html. Building from the JSON
// rather than from the computation keeps the three views of one evaluation (json, txt, html) showing the same
// numbers.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "fergan/eval/report.h"

namespace fergan::eval {

struct MetricTable {
  std::string title;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  // Per body cell, a tint in [0, 1] (negative: none); may be empty. Only the HTML shows it.
  std::vector<std::vector<double>> shade;
  std::string note;  // a sentence printed under the table
};

// The tables of one part of a metrics JSON (run_evaluation's); each is empty (no rows) when that part is
// absent.
//   retrieval: per-emotion recall, top-1 and mean cosine to the true caption of the Img2Text generator's
//              embeddings, next to random embeddings (and the shards' CLIP image embeddings when present);
//   confusion: the generator's confusion matrix (rows: true emotion), tinted by row fraction;
//   text2img:  diversity, mode collapse, between/within distance, CAS both ways, Fréchet distances and CLIP
//              score of the generated images next to random-embedding images and real images;
//   adjustments: the sizes fitted to the data (sample_plan.h).
MetricTable retrieval_table(const nlohmann::json& metrics);
MetricTable confusion_table(const nlohmann::json& metrics);
MetricTable text2img_table(const nlohmann::json& metrics);
MetricTable adjustments_table(const nlohmann::json& metrics);

// Aligned columns (the first left-aligned, the others right-aligned) under the title, the note below.
std::string render_text(const MetricTable& table);
// A level-3 heading, the table (escaped, tinted) and the note; nothing for a table without rows.
void add_to_report(HtmlReport& report, const MetricTable& table);

// metrics.txt: the split line, then every non-empty table above as text, in that order.
std::string metrics_table(const nlohmann::json& metrics);

}  // namespace fergan::eval
