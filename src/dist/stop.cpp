// Stop signals and the all-rank stop vote (see stop.h).
#include "fergan/dist/stop.h"

#include <csignal>

#include "fergan/core/check.h"

namespace fergan::dist {

namespace {
volatile std::sig_atomic_t g_stop_flag = 0;

extern "C" void on_stop_signal(int) {
  g_stop_flag = 1;
}
}  // namespace

void install_stop_signals() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a signal must not turn a blocking read into an error
  FG_CHECK(sigaction(SIGTERM, &action, nullptr) == 0, "sigaction(SIGTERM) failed");
  FG_CHECK(sigaction(SIGUSR1, &action, nullptr) == 0, "sigaction(SIGUSR1) failed");
}

bool stop_requested_locally() {
  return g_stop_flag != 0;
}
void request_stop_locally() {
  g_stop_flag = 1;
}
void clear_stop_request() {
  g_stop_flag = 0;
}

bool agree_stop(Communicator& comm) {
  std::vector<double> flag = {stop_requested_locally() ? 1.0 : 0.0};
  comm.allreduce_host(flag, ReduceOp::Max);
  return flag[0] > 0;
}

void StopVote::start() {
  FG_CHECK(!work_, "StopVote::start called twice without finish");
  flag_[0] = stop_requested_locally() ? 1.0 : 0.0;
  work_ = comm_.allreduce_host_async(flag_, ReduceOp::Max);
}

bool StopVote::finish() {
  FG_CHECK(work_ != nullptr, "StopVote::finish called without start");
  auto work = std::move(work_);
  work->wait();
  return flag_[0] > 0;
}

}  // namespace fergan::dist
