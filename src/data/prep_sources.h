// data_prep's two input formats, as lists of work items: the Kaggle fer2013.csv and image folders
// <root>/<split>/<emotion>/*.{jpg,jpeg,png}. Private to fg_data (used by prep.cpp, tested through run_prep).
// The CSV is read as RFC 4180 records (csv_records.h), so quoted fields as spreadsheet tools write them work.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "csv_records.h"
#include "fergan/data/image_io.h"

namespace fergan::data {

// One input image before decoding: a file (folders) or a CSV record.
struct PrepItem {
  std::string split;  // may be empty for CSV before parsing
  int label = -1;
  std::string path;  // folders: the image file
  int64_t line = 0;  // CSV: 1-based line where the record begins
  CsvRecord record;  // CSV: the record, or its quoting error
};

// The result of decoding one item; `error` is set for a bad item (and names the file or CSV line).
struct DecodedItem {
  std::string split;
  int label = -1;
  GrayImage image;
  std::string error;
};

DecodedItem decode_item(const PrepItem& item, const std::string& csv_path);

// Kaggle emotion,pixels,Usage CSV; Usage Training/PublicTest/PrivateTest -> train/validation/test.
// A first pass checks every row; a file with no usable row at all is an error naming its first bad row.
class CsvSource {
 public:
  CsvSource(const std::string& path, const std::vector<std::string>& wanted_splits);
  // Rows per split with a known Usage (wanted splits only), from the first pass.
  const std::map<std::string, int64_t>& rows_per_split() const { return rows_; }
  int64_t total_rows() const;
  // Reads up to `max` more data records (all splits; filtering happens after parsing). False at the end.
  bool next_block(std::vector<PrepItem>* block, size_t max);
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<CsvRecordReader> reader_;
  std::map<std::string, int64_t> rows_;
};

// The file list of an image-folder dataset, sorted by split, label, file name. Empty emotion folders and
// unknown folder names are errors (or, with skip_bad, warnings appended to `skipped`).
std::vector<PrepItem> scan_folders(const std::string& root, const std::vector<std::string>& wanted_splits,
                                   bool skip_bad, std::vector<std::string>* skipped);

// "Training" -> "train" etc.; empty when unknown.
std::string split_from_usage(const std::string& usage);
// Emotion folder name (case-insensitive) or label number "0".."6" -> label; -1 when unknown.
int label_from_folder(const std::string& name);

}  // namespace fergan::data
