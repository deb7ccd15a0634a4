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

namespace {

// The header check: the three Kaggle column names, in any case, with or without quotes or a UTF-8 BOM.
void check_header(const CsvRecord& header, const std::string& path) {
  if (!header.error.empty()) fail(header.error);
  std::vector<std::string> names;
  for (auto name : header.fields) {
    if (names.empty() && name.compare(0, 3, "\xEF\xBB\xBF") == 0) name = name.substr(3);
    names.push_back(lower(trim(name)));
  }
  if (names == std::vector<std::string>{"emotion", "pixels", "usage"}) return;
  std::string got;
  for (const auto& f : header.fields) got += (got.empty() ? "" : ",") + f;
  fail(str(path, ":", header.line, ": expected the Kaggle header 'emotion,pixels,Usage', got '",
           got.substr(0, 80), "'"));
}

// A record's pixel field: whitespace-separated integers 0..255 (spaces, tabs, and the line breaks a quoted
// field may hold). `pixels` may be null (only checking). Returns the count, or -1 with `error` set.
int64_t parse_pixels(const std::string& text, std::vector<uint8_t>* pixels, std::string* error) {
  const char* p = text.data();
  const char* end = p + text.size();
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  int64_t count = 0;
  while (p < end) {
    while (p < end && space(*p)) ++p;
    if (p >= end) break;
    const char* start = p;
    int value = 0;
    bool numeric = true;
    while (p < end && !space(*p)) {
      if (*p < '0' || *p > '9' || p - start >= 3) numeric = false;
      if (numeric) value = value * 10 + (*p - '0');
      ++p;
    }
    if (!numeric || value > 255) {
      *error = "pixel " + std::to_string(count) + " is '" + std::string(start, p - start).substr(0, 20) +
               "', expected an integer 0..255";
      return -1;
    }
    ++count;
    if (pixels && count <= kCsvSide * kCsvSide) pixels->push_back(static_cast<uint8_t>(value));
  }
  return count;
}

// Parses one CSV record into a decoded item; keep_pixels = false only checks it (the first pass).
DecodedItem parse_csv_record(const CsvRecord& record, const std::string& csv_path, bool keep_pixels) {
  DecodedItem out;
  if (!record.error.empty()) {
    out.error = record.error;
    return out;
  }
  const std::string where = str(csv_path, ":", record.line, ": ");
  if (record.fields.size() != 3) {
    out.error =
        where + "expected 3 fields 'emotion,pixels,Usage', got " + std::to_string(record.fields.size());
    return out;
  }
  const std::string label_text = trim(record.fields[0]);
  const std::string usage = trim(record.fields[2]);
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
  if (keep_pixels) out.image.pixels.reserve(kCsvSide * kCsvSide);
  std::string problem;
  const int64_t count = parse_pixels(record.fields[1], keep_pixels ? &out.image.pixels : nullptr, &problem);
  if (count < 0) {
    out.error = where + problem;
  } else if (count != kCsvSide * kCsvSide) {
    out.error = where + "has " + std::to_string(count) + " pixel values, expected " +
                std::to_string(kCsvSide * kCsvSide) + " (48x48)";
  }
  return out;
}

}  // namespace

CsvSource::CsvSource(const std::string& path, const std::vector<std::string>& wanted_splits) : path_(path) {
  FG_CHECK(stdfs::exists(path), "input '", path, "' does not exist");
  reader_ = std::make_unique<CsvRecordReader>(path);
  CsvRecord record;
  if (!reader_->next(&record))
    fail(str(path, ":1: empty file, expected the Kaggle header 'emotion,pixels,Usage'"));
  check_header(record, path);
  // A first pass over every row: rows per split (so shard counts, --shards N, and empty splits are known up
  // front), and, until a usable row turns up, the first bad row: the error when no row at all is usable.
  CsvRecordReader scan(path);
  scan.next(&record);
  int64_t data_rows = 0, usable = 0;
  std::string first_bad;
  while (scan.next(&record)) {
    ++data_rows;
    if (usable > 0) {  // from here on only the Usage column counts; decoding checks the rest
      const std::string split =
          record.fields.size() == 3 ? split_from_usage(trim(record.fields[2])) : std::string();
      if (!split.empty() && wanted(wanted_splits, split)) ++rows_[split];
      continue;
    }
    const DecodedItem row = parse_csv_record(record, path, /*keep_pixels=*/false);
    if (!row.split.empty() && wanted(wanted_splits, row.split)) ++rows_[row.split];
    if (row.error.empty()) {
      ++usable;
    } else if (first_bad.empty()) {
      first_bad = row.error;
    }
  }
  FG_CHECK(usable > 0 || data_rows == 0, first_bad, " (none of the ", data_rows, " rows of '", path,
           "' is usable; this is the first bad one)");
}

int64_t CsvSource::total_rows() const {
  int64_t n = 0;
  for (const auto& [_, c] : rows_) n += c;
  return n;
}

bool CsvSource::next_block(std::vector<PrepItem>* block, size_t max) {
  block->clear();
  PrepItem item;
  while (block->size() < max && reader_->next(&item.record)) {
    item.line = item.record.line;
    block->push_back(std::move(item));
    item = PrepItem();
  }
  return !block->empty();
}

DecodedItem decode_item(const PrepItem& item, const std::string& csv_path) {
  if (item.line > 0) return parse_csv_record(item.record, csv_path, /*keep_pixels=*/true);
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
