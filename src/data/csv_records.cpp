// RFC 4180 CSV records on top of libcsv (see csv_records.h).
#include "csv_records.h"

#include <csv.h>

#include <cerrno>
#include <cstring>
#include <deque>

#include "fergan/core/check.h"

namespace fergan::data {

// libcsv reports fields and record ends through callbacks while it consumes bytes; they land here.
struct CsvRecordReader::Parser {
  csv_parser csv{};
  bool between_records = true;  // no byte of the next record consumed yet
  CsvRecord current;
  std::deque<CsvRecord> ready;
  int64_t* line = nullptr;

  Parser() { init(); }
  ~Parser() { csv_free(&csv); }
  void init() {
    FG_CHECK(csv_init(&csv, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) == 0, "libcsv: out of memory");
  }
  void restart() {
    csv_free(&csv);
    init();
    between_records = true;
    current = CsvRecord();
  }
  void begin_record() {
    if (!between_records) return;
    between_records = false;
    current = CsvRecord();
    current.line = *line;
  }

  static void on_field(void* data, size_t size, void* self) {
    auto* p = static_cast<Parser*>(self);
    p->begin_record();  // a record after a lone CR on the same line begins with its first field
    p->current.fields.emplace_back(static_cast<const char*>(data), size);
  }
  static void on_record(int /*terminator*/, void* self) {
    auto* p = static_cast<Parser*>(self);
    p->begin_record();
    p->ready.push_back(std::move(p->current));
    p->current = CsvRecord();
    p->between_records = true;
  }
};

namespace {
bool blank(const std::string& line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}
}  // namespace

CsvRecordReader::CsvRecordReader(const std::string& path) : path_(path), parser_(std::make_unique<Parser>()) {
  in_.open(path, std::ios::binary);
  if (!in_) fail(str("cannot open '", path, "': ", std::strerror(errno)));
  parser_->line = &line_;
}

CsvRecordReader::~CsvRecordReader() = default;

void CsvRecordReader::bad_record(const std::string& why) {
  CsvRecord bad;
  bad.line = parser_->current.line;
  bad.error = str(path_, ":", bad.line, ": ", why);
  parser_->ready.push_back(std::move(bad));
  parser_->restart();
}

void CsvRecordReader::feed(std::string line) {
  if (parser_->between_records) {
    if (blank(line)) return;
    parser_->begin_record();
  }
  line += '\n';
  const size_t used =
      csv_parse(&parser_->csv, line.data(), line.size(), Parser::on_field, Parser::on_record, parser_.get());
  if (used == line.size()) return;
  const int64_t first = parser_->current.line;
  // The rest of this line is dropped with the broken record; reading goes on at the next line.
  bad_record(
      line_ == first
          ? std::string("bad quoting (RFC 4180: a quoted field is enclosed in quotes whole, with each quote "
                        "inside it doubled, and no quote may appear in an unquoted field)")
          : str("bad quoting in the record that begins on this line, found on line ", line_,
                " (a quoted field that runs over several lines is usually an unpaired '\"')"));
}

void CsvRecordReader::finish() {
  if (csv_fini(&parser_->csv, Parser::on_field, Parser::on_record, parser_.get()) != 0) {
    bad_record("bad quoting: a quote opened in this record is never closed (an unpaired '\"'?)");
  }
}

bool CsvRecordReader::next(CsvRecord* record) {
  std::string line;
  while (parser_->ready.empty() && !at_end_) {
    if (std::getline(in_, line)) {
      ++line_;
      feed(std::move(line));
    } else {
      FG_CHECK(in_.eof(), "reading '", path_, "' failed after line ", line_, ": ", std::strerror(errno));
      at_end_ = true;
      finish();
    }
  }
  if (parser_->ready.empty()) return false;
  *record = std::move(parser_->ready.front());
  parser_->ready.pop_front();
  return true;
}

}  // namespace fergan::data
