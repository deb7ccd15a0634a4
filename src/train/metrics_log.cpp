// JSONL metrics writer (see metrics_log.h).
#include "fergan/train/metrics_log.h"

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "fergan/core/check.h"

namespace fergan::train {

MetricsLog::MetricsLog(const std::string& path) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  file_ = std::fopen(path.c_str(), "a");
  FG_CHECK(file_, "cannot open metrics file '", path, "' for appending: ", std::strerror(errno));
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!file_) return;
  const std::string line = record.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
}

}  // namespace fergan::train
