# shellcheck shell=bash
# launch_trainer.sh — the body of every fergan training job; sourced by train_single_node.sbatch and
# train_multi_node.sbatch inside the allocation.
#
# What it does, and why it is not a one-line `srun fergan_dist`:
#  1. Starts one MPI rank per task, with `srun --mpi=pmix` (default) or with Open MPI's `mpirun` inside the
#     allocation (FERGAN_LAUNCHER=mpirun, for sites whose srun lacks PMIx). Ranks pick their GPU from the
#     node-local rank, so no GPU binding is done here.
#  2. Forwards the warning signal to the ranks. `#SBATCH --signal=B:USR1@120` signals only this batch shell
#     (a bash that is waiting on a foreground command would run no trap until the command ends), so the
#     launcher runs in the background and the trap passes USR1/TERM on to it; srun and mpirun both forward
#     USR1 and TERM to every rank. The trainer then checkpoints at the next step boundary on all ranks.
#  3. Requeues. fergan_dist exits with 3 ("checkpointed, please requeue"); the job then calls
#     `scontrol requeue` on itself, and the next start passes `--resume auto`, which continues from the newest
#     checkpoint in checkpoint_dir (and starts fresh when there is none).
#
# Everything a test or a user may want to change comes from the environment (sbatch exports it by default):
#   FERGAN_ROOT          project checkout (default: the directory sbatch was called from)
#   FERGAN_BIN           trainer binary                 (default: $FERGAN_ROOT/build/bin/fergan_dist)
#   FERGAN_CONFIG        YAML config                    (default: $FERGAN_ROOT/config/default.yaml)
#   FERGAN_SET           whitespace-separated key=value overrides, each passed as --set key=value
#   FERGAN_PHASE         img2text | text2img | both     (default: both)
#   FERGAN_RESUME        value for --resume; empty disables it (default: auto)
#   FERGAN_EXTRA_ARGS    more trainer arguments, appended verbatim
#   FERGAN_LAUNCHER      srun | mpirun                  (default: srun)
#   FERGAN_SRUN_FLAGS    extra srun flags, e.g. "--cpu-bind=cores" where the site uses task/affinity
#   FERGAN_MPIRUN_FLAGS  extra mpirun flags; --allow-run-as-root is added automatically when running as root
#   FERGAN_MAX_REQUEUES  stop requeueing after this many restarts (default: 50), so a job that cannot make
#                        progress does not cycle forever
#
# NCCL knobs (set them in the sbatch script or the submitting shell; they reach every rank):
#   NCCL_DEBUG=WARN|INFO            INFO prints the chosen transport/rings once, the first thing to look at
#   NCCL_SOCKET_IFNAME=ib0|eth0     interface for bootstrap and TCP traffic; exclude with ^docker0,lo
#   NCCL_IB_HCA=mlx5_0,mlx5_1       InfiniBand adapters to use; NCCL_IB_DISABLE=1 forces TCP sockets
#   NCCL_NET_GDR_LEVEL=PHB          how far apart GPU and NIC may be for GPUDirect RDMA
#   NCCL_P2P_DISABLE=1              for nodes whose PCIe/NVLink peer-to-peer is broken
#   NCCL_ASYNC_ERROR_HANDLING=1     (older NCCL/PyTorch name) lets a hung collective abort instead of waiting
# The trainer's own collective timeout is a config key (see config/default.yaml), not an environment variable.

FERGAN_REQUEUE_EXIT_CODE=3

fergan_log() { echo "fergan-job[$(date +%H:%M:%S)]: $*"; }

# Builds the trainer's argument list into the array FERGAN_TRAINER_ARGS.
fergan_trainer_args() {
  FERGAN_TRAINER_ARGS=(--config "$FERGAN_CONFIG" --phase "$FERGAN_PHASE")
  local kv
  for kv in $FERGAN_SET; do FERGAN_TRAINER_ARGS+=(--set "$kv"); done
  [[ -n $FERGAN_RESUME ]] && FERGAN_TRAINER_ARGS+=(--resume "$FERGAN_RESUME")
  # shellcheck disable=SC2206  # word splitting of the extra arguments is intended
  [[ -n ${FERGAN_EXTRA_ARGS:-} ]] && FERGAN_TRAINER_ARGS+=($FERGAN_EXTRA_ARGS)
  return 0
}

# Builds the rank launcher command into the array FERGAN_LAUNCH_CMD.
fergan_launch_cmd() {
  local cpus=${SLURM_CPUS_PER_TASK:-1}
  case $FERGAN_LAUNCHER in
    srun)
      # srun 22.05+ no longer inherits --cpus-per-task from the allocation, so it is passed explicitly.
      # shellcheck disable=SC2206
      FERGAN_LAUNCH_CMD=(srun --mpi=pmix --ntasks="$SLURM_NTASKS" --cpus-per-task="$cpus" ${FERGAN_SRUN_FLAGS:-})
      ;;
    mpirun)
      # Open MPI reads the allocation from SLURM (nodes, slots) and starts its daemons on the other nodes
      # with srun itself. PE=cpus binds each rank to its own set of cores for its intra-op threads.
      local root_flags=()
      [[ $(id -u) == 0 ]] && root_flags=(--allow-run-as-root)
      # shellcheck disable=SC2206
      FERGAN_LAUNCH_CMD=(mpirun -np "$SLURM_NTASKS" --map-by "slot:PE=$cpus" --bind-to core
        "${root_flags[@]}" ${FERGAN_MPIRUN_FLAGS:-})
      ;;
    *)
      fergan_log "FERGAN_LAUNCHER must be srun or mpirun, got '$FERGAN_LAUNCHER'"
      return 2
      ;;
  esac
}

# The pid of the running launcher, for the signal trap.
FERGAN_STEP_PID=""

fergan_forward_signal() {
  local sig=$1
  fergan_log "received SIG$sig; forwarding it to the ranks so they checkpoint"
  [[ -n $FERGAN_STEP_PID ]] && kill -s "$sig" "$FERGAN_STEP_PID" 2>/dev/null
  return 0
}

# Runs the trainer on all tasks of the allocation; requeues on exit code 3. Returns the job's exit code.
fergan_run_trainer() {
  FERGAN_ROOT=${FERGAN_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
  FERGAN_BIN=${FERGAN_BIN:-$FERGAN_ROOT/build/bin/fergan_dist}
  FERGAN_CONFIG=${FERGAN_CONFIG:-$FERGAN_ROOT/config/default.yaml}
  FERGAN_SET=${FERGAN_SET:-}
  FERGAN_PHASE=${FERGAN_PHASE:-both}
  FERGAN_RESUME=${FERGAN_RESUME-auto}
  FERGAN_LAUNCHER=${FERGAN_LAUNCHER:-srun}
  FERGAN_MAX_REQUEUES=${FERGAN_MAX_REQUEUES:-50}
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}

  [[ -x $FERGAN_BIN ]] || { fergan_log "trainer binary not found: $FERGAN_BIN (set FERGAN_BIN or FERGAN_ROOT)"; return 2; }
  [[ -r $FERGAN_CONFIG ]] || { fergan_log "config not found: $FERGAN_CONFIG (set FERGAN_CONFIG)"; return 2; }
  fergan_trainer_args
  fergan_launch_cmd || return $?

  local restarts=${SLURM_RESTART_COUNT:-0}
  fergan_log "job ${SLURM_JOB_ID:-?} start (restart ${restarts}) on ${SLURM_JOB_NODELIST:-?}:" \
    "${SLURM_NTASKS:-?} ranks, ${OMP_NUM_THREADS} threads each, launcher ${FERGAN_LAUNCHER}"
  fergan_log "command: ${FERGAN_LAUNCH_CMD[*]} $FERGAN_BIN ${FERGAN_TRAINER_ARGS[*]}"

  trap 'fergan_forward_signal USR1' USR1
  trap 'fergan_forward_signal TERM' TERM
  "${FERGAN_LAUNCH_CMD[@]}" "$FERGAN_BIN" "${FERGAN_TRAINER_ARGS[@]}" &
  FERGAN_STEP_PID=$!
  # `wait` returns early (status > 128) whenever a trapped signal arrives; keep waiting until the launcher is
  # really gone, then collect its own exit status (bash keeps it for a finished background job).
  while kill -0 "$FERGAN_STEP_PID" 2>/dev/null; do
    wait "$FERGAN_STEP_PID" 2>/dev/null
  done
  local rc=0
  wait "$FERGAN_STEP_PID" 2>/dev/null || rc=$?
  FERGAN_STEP_PID=""
  trap - USR1 TERM

  if [[ $rc == "$FERGAN_REQUEUE_EXIT_CODE" ]]; then
    if ((restarts >= FERGAN_MAX_REQUEUES)); then
      fergan_log "trainer checkpointed (exit 3) but the job has been restarted ${restarts} times" \
        "(FERGAN_MAX_REQUEUES=${FERGAN_MAX_REQUEUES}); not requeueing"
      return "$rc"
    fi
    fergan_log "trainer checkpointed (exit 3); requeueing job ${SLURM_JOB_ID}; the next start resumes"
    # Requeueing a running job ends this batch script; the job goes back to PENDING with the same id, its
    # log is appended to (--open-mode=append) and SLURM_RESTART_COUNT goes up by one.
    scontrol requeue "$SLURM_JOB_ID"
    return 0
  fi
  fergan_log "trainer exited with code ${rc}"
  return "$rc"
}
