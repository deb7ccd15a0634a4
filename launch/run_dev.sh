#!/usr/bin/env bash
# run_dev.sh — fergan_dist as one plain process (no mpirun: MPI starts as a singleton of world size 1).
# For development and debugging: one GPU or the CPU, gdb-friendly, same binary and config as the real runs.
#
#   launch/run_dev.sh                                       # config/demo.yaml, the README demo
#   launch/run_dev.sh --config config/default.yaml --set device=cpu --set train.batch_size=4
#   launch/run_dev.sh --dry-run --config ...                 # print the command, run nothing
#   FERGAN_WRAP="gdb --args" launch/run_dev.sh --config ...   # under a debugger
#
# Environment: FERGAN_BIN (default build/bin/fergan_dist next to this script), OMP_NUM_THREADS (default: all
# cores), FERGAN_WRAP (a command to put in front, e.g. "gdb --args" or "valgrind"). The exit code is the
# trainer's (3 = checkpointed on SIGTERM/SIGUSR1; rerun with --resume auto to continue).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${FERGAN_BIN:-$root/build/bin/fergan_dist}
dry_run=0
if [[ ${1:-} == --dry-run ]]; then dry_run=1; shift; fi
(($#)) || set -- --config "$root/config/demo.yaml"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}

# shellcheck disable=SC2206  # the wrapper is split into words on purpose
cmd=(${FERGAN_WRAP:-} "$bin" "$@")
echo "run_dev.sh: 1 process x ${OMP_NUM_THREADS} thread(s): ${cmd[*]}" >&2
((dry_run)) && exit 0
[[ -x $bin ]] || { echo "run_dev.sh: trainer binary not found: $bin (build it, or set FERGAN_BIN)" >&2; exit 2; }
exec "${cmd[@]}"
