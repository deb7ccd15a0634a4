// Progress reporting for long loops: a one-line bar with rate and ETA on a terminal, plain periodic log
// lines otherwise (CI logs, files). Private to fg_data.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace fergan::data {

class Progress {
 public:
  Progress(std::string what, int64_t total, bool quiet);
  void update(int64_t done);
  void finish();
  double seconds() const;

 private:
  std::string what_;
  int64_t total_, done_ = 0;
  bool quiet_, tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_print_;
  void print(bool final_line);
};

}  // namespace fergan::data
