// The machine-readable training log: one JSON object per line (metrics.jsonl in the run directory).
//
// Rank 0 appends a record at every log interval ("event": "interval") and at every epoch end
// ("event": "epoch"); fergan_eval draws its loss curves from it. Lines are flushed as written, so the file
// is readable while training runs and survives a crash up to the last complete line.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdio>
#include <string>

namespace fergan::train {

class MetricsLog {
 public:
  MetricsLog() = default;
  explicit MetricsLog(const std::string& path);  // appends (a resumed run continues the same file)
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);

 private:
  std::FILE* file_ = nullptr;
};

}  // namespace fergan::train
