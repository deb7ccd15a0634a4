// Console logging and the top-level error boundary of every program.
//
// Rank 0 prints the original train.py's console format verbatim (plain "%v" lines, docs/original.md); other
// ranks print only errors, prefixed with "[rank N]" so a failing rank's message is recognisable in mpirun's
// output.
#pragma once

#include <spdlog/spdlog.h>

#include <functional>
#include <string>

namespace fergan::logging {

// Configures the default spdlog logger for this process. `rank` < 0 means "not distributed".
void init(int rank = -1, bool verbose = false);

// Runs `body`, turning any exception into an "error: ..." line and exit code 1.
int run_main(const std::function<int()>& body);

// True when stdout is an interactive terminal (progress bars vs. periodic lines).
bool stdout_is_tty();

}  // namespace fergan::logging
