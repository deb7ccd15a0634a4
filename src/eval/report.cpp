// Training-log reading, SVG line charts and the self-contained HTML report (see report.h).
#include "fergan/eval/report.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "fergan/core/check.h"
#include "fergan/core/fsutil.h"

namespace fergan::eval {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double number_or_nan(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_number()) ? it->get<double>() : kNaN;
}

std::string fmt_tick(double v) {
  std::ostringstream os;
  const double a = std::fabs(v);
  if (a != 0 && (a >= 1e5 || a < 1e-3)) {
    os.precision(2);
    os << std::scientific << v;
  } else {
    os.precision(a >= 100 ? 0 : (a >= 1 ? 2 : 3));
    os << std::fixed << v;
  }
  return os.str();
}
}  // namespace

std::vector<TrainingRecord> read_training_log(const std::string& path) {
  const std::string text = fs::read_file(path);
  std::vector<TrainingRecord> out;
  size_t pos = 0;
  int64_t line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const std::exception& e) {
      if (!terminated) break;  // the last line of a run killed mid-write
      fail(str(path, ":", line_no, ": not a JSON object (", std::string(e.what()).substr(0, 120), ")"));
    }
    FG_CHECK(j.is_object(), path, ":", line_no, ": expected a JSON object per line");
    TrainingRecord r;
    if (j.contains("phase") && j["phase"].is_string()) r.phase = j["phase"].get<std::string>();
    r.event = (j.contains("event") && j["event"].is_string()) ? j["event"].get<std::string>() : "interval";
    r.epoch = number_or_nan(j, "epoch");
    r.step = number_or_nan(j, "step");
    r.d_loss = number_or_nan(j, "d_loss");
    r.g_loss = number_or_nan(j, "g_loss");
    r.d_real = number_or_nan(j, "d_real");
    r.d_fake = number_or_nan(j, "d_fake");
    r.images_per_s = number_or_nan(j, "images_per_s");
    r.lr_g = number_or_nan(j, "lr_g");
    r.lr_d = number_or_nan(j, "lr_d");
    out.push_back(r);
  }
  return out;
}

std::string line_chart_svg(const std::vector<Series>& series, const std::string& title,
                           const std::string& x_label, int width, int height) {
  static const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"};
  const double left = 60, right = 130, top = 28, bottom = 40;
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series) {
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      x0 = std::min(x0, s.x[i]), x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]), y1 = std::max(y1, s.y[i]);
    }
  }
  std::ostringstream svg;
  svg << "<svg xmlns='http://www.w3.org/2000/svg' width='" << width << "' height='" << height
      << "' font-family='sans-serif' font-size='11'>\n<rect width='100%' height='100%' fill='white'/>\n"
      << "<text x='" << width / 2 << "' y='16' text-anchor='middle' font-size='13'>" << html_escape(title)
      << "</text>\n";
  if (!std::isfinite(x0)) {
    svg << "<text x='" << width / 2 << "' y='" << height / 2
        << "' text-anchor='middle'>no data</text></svg>\n";
    return svg.str();
  }
  if (x1 == x0) x1 = x0 + 1;
  if (y1 == y0) y1 = y0 + 1, y0 = y0 - 1;
  const double pad = 0.05 * (y1 - y0);
  y0 -= pad, y1 += pad;
  const double pw = width - left - right, ph = height - top - bottom;
  auto px = [&](double x) { return left + (x - x0) / (x1 - x0) * pw; };
  auto py = [&](double y) { return top + (1 - (y - y0) / (y1 - y0)) * ph; };
  svg << "<rect x='" << left << "' y='" << top << "' width='" << pw << "' height='" << ph
      << "' fill='none' stroke='#444'/>\n";
  for (int t = 0; t <= 4; ++t) {
    const double yv = y0 + (y1 - y0) * t / 4.0, xv = x0 + (x1 - x0) * t / 4.0;
    svg << "<line x1='" << left << "' x2='" << left + pw << "' y1='" << py(yv) << "' y2='" << py(yv)
        << "' stroke='#ddd'/>\n<text x='" << left - 4 << "' y='" << py(yv) + 4 << "' text-anchor='end'>"
        << fmt_tick(yv) << "</text>\n<text x='" << px(xv) << "' y='" << top + ph + 14
        << "' text-anchor='middle'>" << fmt_tick(xv) << "</text>\n";
  }
  svg << "<text x='" << left + pw / 2 << "' y='" << height - 6 << "' text-anchor='middle'>"
      << html_escape(x_label) << "</text>\n";
  for (size_t k = 0; k < series.size(); ++k) {
    const auto& s = series[k];
    const char* colour = kColours[k % (sizeof(kColours) / sizeof(kColours[0]))];
    svg << "<polyline fill='none' stroke='" << colour << "' stroke-width='1.5' points='";
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (std::isfinite(s.x[i]) && std::isfinite(s.y[i])) svg << px(s.x[i]) << "," << py(s.y[i]) << " ";
    }
    svg << "'/>\n<line x1='" << left + pw + 10 << "' x2='" << left + pw + 28 << "' y1='" << top + 10 + 16 * k
        << "' y2='" << top + 10 + 16 * k << "' stroke='" << colour << "' stroke-width='2'/>\n<text x='"
        << left + pw + 32 << "' y='" << top + 14 + 16 * k << "'>" << html_escape(s.name) << "</text>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

std::string base64_encode(const std::string& bytes) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63],
        out += kAlphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    const uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += "==";
  } else if (i + 2 == bytes.size()) {
    const uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63], out += kAlphabet[(v >> 12) & 63], out += kAlphabet[(v >> 6) & 63],
        out += '=';
  }
  return out;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

void HtmlReport::heading(const std::string& text, int level) {
  body_ += str("<h", level, ">", html_escape(text), "</h", level, ">\n");
}

void HtmlReport::paragraph(const std::string& text) {
  body_ += "<p>" + html_escape(text) + "</p>\n";
}

void HtmlReport::raw(const std::string& html) {
  body_ += html;
}

void HtmlReport::table(const std::vector<std::vector<std::string>>& rows,
                       const std::vector<std::vector<double>>& shade) {
  if (rows.empty()) return;
  std::ostringstream t;
  t << "<table>\n<tr>";
  for (const auto& h : rows[0]) t << "<th>" << html_escape(h) << "</th>";
  t << "</tr>\n";
  for (size_t r = 1; r < rows.size(); ++r) {
    t << "<tr>";
    for (size_t c = 0; c < rows[r].size(); ++c) {
      double s = -1;
      if (r - 1 < shade.size() && c < shade[r - 1].size()) s = shade[r - 1][c];
      if (std::isfinite(s) && s >= 0) {
        const int alpha = static_cast<int>(std::clamp(s, 0.0, 1.0) * 100);
        t << "<td style='background:rgba(31,119,180," << alpha / 100.0 << ")'>";
      } else {
        t << "<td>";
      }
      t << html_escape(rows[r][c]) << "</td>";
    }
    t << "</tr>\n";
  }
  t << "</table>\n";
  body_ += t.str();
}

void HtmlReport::png_file(const std::string& path, const std::string& caption) {
  body_ += "<figure><img alt='" + html_escape(caption) + "' src='data:image/png;base64," +
           base64_encode(fs::read_file(path)) + "'/><figcaption>" + html_escape(caption) +
           "</figcaption></figure>\n";
}

std::string HtmlReport::html() const {
  return "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>" + html_escape(title_) +
         "</title>\n<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;color:#222}"
         "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:3px "
         "8px;text-align:right}"
         "th{background:#eee}figure{display:inline-block;margin:0.5em}img{image-rendering:pixelated;max-"
         "width:100%}"
         ".bad{color:#b00;font-weight:bold}.good{color:#070}</style></head><body>\n<h1>" +
         html_escape(title_) + "</h1>\n" + body_ + "</body></html>\n";
}

void HtmlReport::write(const std::string& path) const {
  fs::write_file_atomically(path, html());
}

}  // namespace fergan::eval
