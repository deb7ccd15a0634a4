// The records of a CSV file as RFC 4180 defines them, one at a time, each with the physical line it starts
// on. Private to fg_data (data_prep's fer2013.csv input; tested through run_prep).
//
// Spreadsheet tools write fer2013.csv with quoted fields (`0,"70 80 82 ...",Training`), CRLF line ends, and
// sometimes a line break inside a quoted field, so a line is not a record. Parsing is Debian's libcsv in
// strict mode: a quoted field may hold commas, doubled quotes ("" = one ") and line breaks; a quote inside an
// unquoted field, text after a closing quote, or a quote never closed is an error record naming the line
// where the record began, and reading goes on at the next line. Blank lines are skipped; spaces around fields
// trimmed.
#pragma once

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

namespace fergan::data {

struct CsvRecord {
  int64_t line = 0;  // 1-based physical line where the record begins
  std::vector<std::string> fields;
  std::string error;  // non-empty: the record is malformed ("<path>:<line>: ...")
};

class CsvRecordReader {
 public:
  explicit CsvRecordReader(const std::string& path);  // the error names the path
  ~CsvRecordReader();
  CsvRecordReader(const CsvRecordReader&) = delete;
  CsvRecordReader& operator=(const CsvRecordReader&) = delete;

  // The next record; false at the end of the file.
  bool next(CsvRecord* record);

 private:
  struct Parser;
  void feed(std::string line);
  void finish();
  void bad_record(const std::string& why);

  std::string path_;
  std::ifstream in_;
  std::unique_ptr<Parser> parser_;
  int64_t line_ = 0;  // physical lines read so far
  bool at_end_ = false;
};

}  // namespace fergan::data
