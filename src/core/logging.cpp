// Console logging setup and the error boundary shared by all programs (see logging.h).
#include "fergan/core/logging.h"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <unistd.h>

#include <exception>
#include <mutex>

#include "fergan/core/check.h"

namespace fergan::logging {
namespace {

// Info and debug lines go to stdout in the original's plain format; warnings and errors go to stderr only.
class SplitSink : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit SplitSink(const std::string& prefix) : prefix_(prefix) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    std::string text(msg.payload.data(), msg.payload.size());
    if (msg.level >= spdlog::level::warn) {
      std::fprintf(stderr, "%s%s: %s\n", prefix_.c_str(), spdlog::level::to_string_view(msg.level).data(),
                   text.c_str());
      std::fflush(stderr);
    } else {
      std::fprintf(stdout, "%s%s\n", prefix_.c_str(), text.c_str());
    }
  }
  void flush_() override {
    std::fflush(stdout);
    std::fflush(stderr);
  }

 private:
  std::string prefix_;
};

}  // namespace

void init(int rank, bool verbose) {
  std::string prefix = rank > 0 ? "[rank " + std::to_string(rank) + "] " : "";
  auto sink = std::make_shared<SplitSink>(prefix);
  auto logger = std::make_shared<spdlog::logger>("fergan", sink);
  if (rank > 0) {
    logger->set_level(spdlog::level::err);  // non-zero ranks print only errors
  } else {
    logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  }
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

int run_main(const std::function<int()>& body) {
  try {
    return body();
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
  }
  spdlog::default_logger()->flush();
  return 1;
}

bool stdout_is_tty() {
  return isatty(STDOUT_FILENO) == 1;
}

}  // namespace fergan::logging
