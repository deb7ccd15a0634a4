#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages), builds fergan, runs every test suite with CTest
# (unit tests, parity with the Python reference, real mpirun with 2 ranks, a real one-node SLURM cluster).
#   ./launch/test.sh            # everything
#   ./launch/test.sh -L data    # one label (core data clip models gan dist train eval mpi e2e)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
"$here/launch/install_deps.sh"
build="${FERGAN_BUILD_DIR:-$here/build}"
jobs="${FERGAN_JOBS:-$(nproc)}"
# Tests and benchmarks named ON: a build directory that another script configured keeps its cached options.
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFERGAN_SHARED_DIR="$here/../shared" -DFERGAN_BUILD_TESTS=ON \
  -DFERGAN_BUILD_BENCH=ON >/dev/null
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs" --timeout 900 "$@"
