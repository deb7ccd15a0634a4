// The evaluation report: one self-contained HTML file (inline SVG charts, inline base64 PNG grids, tables).
//
// A person should be able to open report.html from a cluster scratch directory on a laptop and see the loss
// curves, the samples at every checkpoint and the metrics without any other file, so nothing is linked.
// The loss curves come from the trainer's metrics.jsonl (one JSON object per line with phase, epoch, step,
// d_loss, g_loss, d_real, d_fake, images_per_s, lr_g, lr_d).
#pragma once

#include <string>
#include <vector>

namespace fergan::eval {

struct TrainingRecord {
  std::string phase;  // img2text | text2img
  std::string event;  // "interval" or "epoch" (absent -> "interval")
  double epoch = 0, step = 0;
  double d_loss = 0, g_loss = 0, d_real = 0, d_fake = 0, images_per_s = 0, lr_g = 0, lr_d = 0;
};

// Reads metrics.jsonl. A malformed line is an error naming file and line, except an unterminated last line
// (a run killed mid-write), which is skipped. Missing numeric keys read as NaN.
std::vector<TrainingRecord> read_training_log(const std::string& path);

struct Series {
  std::string name;
  std::vector<double> x, y;
};

// A line chart as a standalone <svg> element: axes with tick labels, one coloured polyline per series,
// a legend. Non-finite points are dropped.
std::string line_chart_svg(const std::vector<Series>& series, const std::string& title,
                           const std::string& x_label, int width = 640, int height = 300);

std::string base64_encode(const std::string& bytes);
std::string html_escape(const std::string& text);

class HtmlReport {
 public:
  explicit HtmlReport(std::string title);
  void heading(const std::string& text, int level = 2);
  void paragraph(const std::string& text);  // escaped
  void raw(const std::string& html);        // trusted markup (SVG, tables built here)
  // First row = header. Cells are escaped. `shade` (same shape as the body, values in [0,1], may be empty)
  // tints cells, e.g. a confusion matrix.
  void table(const std::vector<std::vector<std::string>>& rows,
             const std::vector<std::vector<double>>& shade = {});
  void png_file(const std::string& path, const std::string& caption);  // inlined as base64
  std::string html() const;
  void write(const std::string& path) const;  // atomically

 private:
  std::string title_;
  std::string body_;
};

}  // namespace fergan::eval
