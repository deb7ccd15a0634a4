#!/usr/bin/env bash
# run_local.sh — data-parallel fergan_dist on one machine (a multi-GPU box or a laptop) through Open MPI.
#
#   launch/run_local.sh --config config/default.yaml          # one rank per GPU (nvidia-smi -L), else 1 rank
#   launch/run_local.sh -n 2 --config config/demo.yaml        # 2 ranks, e.g. on a CPU-only laptop
#   launch/run_local.sh --dry-run -n 4 --config ...            # print the mpirun command, run nothing
#
# Everything after the launcher's own options (-n N, --dry-run, an optional --) goes to fergan_dist.
# Ranks: -n N, else the number of visible GPUs (CUDA_VISIBLE_DEVICES if set, else `nvidia-smi -L`), else 1.
# CPU binding: each rank gets its own block of cores (--map-by slot:PE=k --bind-to core, k = cores / ranks)
# and OMP_NUM_THREADS=k, so ranks do not fight over cores. When there are more ranks than cores the launcher
# adds --oversubscribe and binds nothing. As root, Open MPI refuses to start without --allow-run-as-root;
# that flag is added only then.
# Environment: FERGAN_BIN (default build/bin/fergan_dist next to this script), FERGAN_MPIRUN_FLAGS (extra
# mpirun flags), OMP_NUM_THREADS (overrides k). The exit code is fergan_dist's (3 = checkpointed on a signal;
# run the same command with --resume auto to continue).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${FERGAN_BIN:-$root/build/bin/fergan_dist}
ranks=""
dry_run=0
while (($#)); do
  case $1 in
    -n | -np) ranks=${2:?"-n needs a number"}; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ -z $ranks || $ranks =~ ^[1-9][0-9]*$ ]] || { echo "run_local.sh: -n must be a positive integer, got '$ranks'" >&2; exit 2; }

visible_gpus() {
  if [[ -n ${CUDA_VISIBLE_DEVICES+x} ]]; then
    # CUDA_VISIBLE_DEVICES="" hides every GPU; "0,2" shows two.
    [[ -z $CUDA_VISIBLE_DEVICES ]] && { echo 0; return; }
    tr ',' '\n' <<<"$CUDA_VISIBLE_DEVICES" | grep -c .
  elif command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true
  else
    echo 0
  fi
}

# Physical cores (hyperthreads share a core's FPU, so they are not worth a rank's thread each).
physical_cores() {
  local n=""
  command -v lscpu >/dev/null && n=$(lscpu -p=CORE,SOCKET 2>/dev/null | grep -v '^#' | sort -u | grep -c . || true)
  [[ $n =~ ^[1-9][0-9]*$ ]] || n=$(nproc)
  echo "$n"
}

if [[ -z $ranks ]]; then
  ranks=$(visible_gpus)
  ((ranks > 0)) || ranks=1
fi
cores=$(physical_cores)

flags=(-np "$ranks")
if ((ranks <= cores)); then
  per_rank=$((cores / ranks))
  flags+=(--map-by "slot:PE=${per_rank}" --bind-to core)
else
  per_rank=1
  flags+=(--oversubscribe --bind-to none)
fi
threads=${OMP_NUM_THREADS:-$per_rank}
[[ $(id -u) == 0 ]] && flags+=(--allow-run-as-root)
# shellcheck disable=SC2206  # extra flags are split on purpose
flags+=(-x "OMP_NUM_THREADS=${threads}" ${FERGAN_MPIRUN_FLAGS:-})

cmd=(mpirun "${flags[@]}" "$bin" "$@")
echo "run_local.sh: ${ranks} rank(s) x ${threads} thread(s): ${cmd[*]}" >&2
((dry_run)) && exit 0
[[ -x $bin ]] || { echo "run_local.sh: trainer binary not found: $bin (build it, or set FERGAN_BIN)" >&2; exit 2; }
exec "${cmd[@]}"
