// Progress bar / periodic progress lines (see progress.h).
#include "progress.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "fergan/core/logging.h"

namespace fergan::data {

Progress::Progress(std::string what, int64_t total, bool quiet)
    : what_(std::move(what)), total_(total), quiet_(quiet), tty_(logging::stdout_is_tty()) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done) {
  done_ = done;
  if (quiet_) return;
  const auto now = std::chrono::steady_clock::now();
  const double since = std::chrono::duration<double>(now - last_print_).count();
  if (since >= (tty_ ? 0.2 : 5.0)) {
    last_print_ = now;
    print(false);
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!quiet_) print(true);
}

void Progress::print(bool final_line) {
  const double elapsed = seconds();
  const double rate = elapsed > 0 ? done_ / elapsed : 0;
  const double eta = rate > 0 && total_ > done_ ? (total_ - done_) / rate : 0;
  const double frac = total_ > 0 ? static_cast<double>(done_) / total_ : 1.0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    std::string bar(filled, '#');
    bar += std::string(kWidth - filled, ' ');
    std::printf("\r%s [%s] %lld/%lld %3.0f%% %.0f img/s ETA %.0fs ", what_.c_str(), bar.c_str(),
                static_cast<long long>(done_), static_cast<long long>(total_), frac * 100, rate, eta);
    if (final_line) std::printf("\n");
    std::fflush(stdout);
  } else {
    spdlog::info("{}: {}/{} ({:.0f}%) {:.0f} img/s ETA {:.0f}s", what_, done_, total_, frac * 100, rate, eta);
  }
}

}  // namespace fergan::data
