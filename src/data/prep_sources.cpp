// The CSV and image-folder inputs of data_prep (see prep_sources.h).
#include "prep_sources.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fergan/core/check.h"
#include "fergan/core/config.h"

namespace fergan::data {
namespace stdfs = std::filesystem;

namespace {

constexpr int kCsvSide = 48;  // fer2013.csv rows are 48x48 = 2304 pixels

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool wanted(const std::vector<std::string>& splits, const std::string& split) {
  return splits.empty() || std::find(splits.begin(), splits.end(), split) != splits.end();
}

bool is_image_file(const stdfs::path& p) {
  const std::string ext = lower(p.extension().string());
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

}  // namespace

std::string split_from_usage(const std::string& usage) {
  if (usage == "Training") return "train";
  if (usage == "PublicTest") return "validation";
  if (usage == "PrivateTest") return "test";
  return "";
}

int label_from_folder(const std::string& name) {
  const std::string n = lower(name);
  for (int l = 0; l < kNumEmotions; ++l) {
    if (n == kEmotionNames[l]) return l;
  }
  if (n.size() == 1 && n[0] >= '0' && n[0] < '0' + kNumEmotions) return n[0] - '0';
  return -1;
}

// ---- CSV ----

CsvSource::CsvSource(const std::string& path, const std::vector<std::string>& wanted_splits) : path_(path) {
  FG_CHECK(stdfs::exists(path), "input '", path, "' does not exist");
  in_.open(path, std::ios::binary);
  if (!in_) fail(str("cannot open '", path, "': ", std::strerror(errno)));
  std::string header;
  std::getline(in_, header);
  if (!header.empty() && header.back() == '\r') header.pop_back();
  if (header.size() >= 3 && header.compare(0, 3, "\xEF\xBB\xBF") == 0) header = header.substr(3);
  FG_CHECK(lower(trim(header)) == "emotion,pixels,usage", path,
           ":1: expected the Kaggle header 'emotion,pixels,Usage', got '", header.substr(0, 80), "'");
  // A quick pass over the Usage column, so shard counts (--shards N) and empty splits are known up front.
  std::ifstream scan(path, std::ios::binary);
  std::string line;
  std::getline(scan, line);
  while (std::getline(scan, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    const auto comma = line.rfind(',');
    const std::string split =
        split_from_usage(trim(comma == std::string::npos ? "" : line.substr(comma + 1)));
    if (!split.empty() && wanted(wanted_splits, split)) ++rows_[split];
  }
}

int64_t CsvSource::total_rows() const {
  int64_t n = 0;
  for (const auto& [_, c] : rows_) n += c;
  return n;
}

bool CsvSource::next_block(std::vector<PrepItem>* block, size_t max) {
  block->clear();
  std::string line;
  while (block->size() < max && std::getline(in_, line)) {
    ++line_;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    PrepItem item;
    item.line = line_;
    item.text = std::move(line);
    block->push_back(std::move(item));
  }
  return !block->empty();
}

namespace {

DecodedItem parse_csv_line(const PrepItem& item, const std::string& csv_path) {
  DecodedItem out;
  const std::string where = str(csv_path, ":", item.line, ": ");
  const std::string& t = item.text;
  const auto c1 = t.find(',');
  const auto c2 = c1 == std::string::npos ? std::string::npos : t.find(',', c1 + 1);
  if (c2 == std::string::npos || t.find(',', c2 + 1) != std::string::npos) {
    out.error = where + "expected 3 fields 'emotion,pixels,Usage'";
    return out;
  }
  const std::string label_text = trim(t.substr(0, c1));
  const std::string usage = trim(t.substr(c2 + 1));
  out.split = split_from_usage(usage);
  if (out.split.empty()) {
    out.error = where + "unknown Usage '" + usage + "' (expected Training, PublicTest or PrivateTest)";
    return out;
  }
  if (label_text.size() != 1 || label_text[0] < '0' || label_text[0] >= '0' + kNumEmotions) {
    out.error = where + "unknown emotion label '" + label_text + "' (expected 0..6)";
    return out;
  }
  out.label = label_text[0] - '0';
  out.image.height = out.image.width = kCsvSide;
  out.image.pixels.reserve(kCsvSide * kCsvSide);
  const char* p = t.data() + c1 + 1;
  const char* end = t.data() + c2;
  int64_t count = 0;
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t')) ++p;
    if (p >= end) break;
    const char* start = p;
    int value = 0;
    bool numeric = true;
    while (p < end && *p != ' ' && *p != '\t') {
      if (*p < '0' || *p > '9' || p - start >= 3) numeric = false;
      if (numeric) value = value * 10 + (*p - '0');
      ++p;
    }
    if (!numeric || value > 255) {
      out.error = where + "pixel " + std::to_string(count) + " is '" +
                  std::string(start, p - start).substr(0, 20) + "', expected an integer 0..255";
      return out;
    }
    ++count;
    if (count <= kCsvSide * kCsvSide) out.image.pixels.push_back(static_cast<uint8_t>(value));
  }
  if (count != kCsvSide * kCsvSide) {
    out.error = where + "has " + std::to_string(count) + " pixel values, expected " +
                std::to_string(kCsvSide * kCsvSide) + " (48x48)";
  }
  return out;
}

}  // namespace

DecodedItem decode_item(const PrepItem& item, const std::string& csv_path) {
  if (!item.text.empty()) return parse_csv_line(item, csv_path);
  DecodedItem out;
  out.split = item.split;
  out.label = item.label;
  try {
    out.image = decode_image(item.path);
  } catch (const std::exception& e) {
    out.error = e.what();
  }
  return out;
}

// ---- folders ----

std::vector<PrepItem> scan_folders(const std::string& root, const std::vector<std::string>& wanted_splits,
                                   bool skip_bad, std::vector<std::string>* skipped) {
  FG_CHECK(stdfs::exists(root), "input '", root, "' does not exist");
  FG_CHECK(stdfs::is_directory(root), "input '", root, "' is neither a folder nor a .csv file");
  auto problem = [&](const std::string& message) {
    if (!skip_bad) fail(message + " (use --skip-bad to skip it)");
    skipped->push_back(message);
  };
  std::vector<std::string> split_dirs;
  for (const auto& e : stdfs::directory_iterator(root)) {
    const std::string name = e.path().filename().string();
    if (e.is_directory() && name[0] != '.' && wanted(wanted_splits, name)) split_dirs.push_back(name);
  }
  std::sort(split_dirs.begin(), split_dirs.end());
  FG_CHECK(!split_dirs.empty(), "input folder '", root,
           "' has no split folders (expected <root>/<split>/<emotion>/*.jpg",
           wanted_splits.empty() ? std::string() : ", for the requested --splits", ")");
  std::vector<PrepItem> items;
  for (const auto& split : split_dirs) {
    const stdfs::path split_dir = stdfs::path(root) / split;
    std::vector<std::pair<int, stdfs::path>> classes;
    for (const auto& e : stdfs::directory_iterator(split_dir)) {
      const std::string name = e.path().filename().string();
      if (name[0] == '.') continue;
      if (!e.is_directory())
        continue;  // stray files beside the emotion folders (README, .csv) are not images
      const int label = label_from_folder(name);
      if (label < 0) {
        problem(str("folder '", e.path().string(),
                    "' is not an emotion (expected one of angry, disgust, fear, happy, ",
                    "sad, surprise, neutral or a label number 0..6)"));
        continue;
      }
      classes.emplace_back(label, e.path());
    }
    std::sort(classes.begin(), classes.end());
    for (size_t i = 1; i < classes.size(); ++i) {
      FG_CHECK(classes[i].first != classes[i - 1].first, "folders '", classes[i - 1].second.string(),
               "' and '", classes[i].second.string(), "' both name emotion ",
               kEmotionNames[classes[i].first]);
    }
    for (const auto& [label, dir] : classes) {
      std::vector<std::string> files;
      for (const auto& e : stdfs::directory_iterator(dir)) {
        if (e.is_regular_file() && e.path().filename().string()[0] != '.' && is_image_file(e.path())) {
          files.push_back(e.path().string());
        }
      }
      if (files.empty()) {
        problem(str("emotion folder '", dir.string(), "' holds no .jpg/.jpeg/.png images (empty class)"));
        continue;
      }
      std::sort(files.begin(), files.end());
      for (auto& f : files) {
        PrepItem item;
        item.split = split;
        item.label = label;
        item.path = std::move(f);
        items.push_back(std::move(item));
      }
    }
  }
  return items;
}

}  // namespace fergan::data
