# shellcheck shell=bash
# launch_trainer.sh — the body of every fergan training job; sourced by train_single_node.sbatch and
# train_multi_node.sbatch inside the allocation.
#
# What it does, and why it is not a one-line `srun fergan_dist`:
#  1. Starts one MPI rank per task, with `srun --mpi=pmix --kill-on-bad-exit=1` (default) or with Open MPI's
#     `mpirun` inside the allocation (FERGAN_LAUNCHER=mpirun, for sites whose srun lacks PMIx). Ranks pick
#     their GPU from the node-local rank (or the only GPU a task sees), so no GPU binding is done here.
#     --kill-on-bad-exit ends the other ranks as soon as one exits non-zero; without it they would sit in
#     their next collective until dist.timeout_s runs out.
#  2. Forwards the warning signal to the ranks. `#SBATCH --signal=B:USR1@120` signals only this batch shell
#     (a bash that is waiting on a foreground command would run no trap until the command ends), so the
#     launcher runs in the background and the trap passes USR1/TERM on to it; srun forwards both to every
#     rank. mpirun forwards USR1 but answers TERM by killing the ranks a second later, before they can
#     write a checkpoint: so the trap passes TERM on to mpirun as USR1, and mpirun itself runs with TERM
#     blocked, because SLURM also sends TERM straight to every process of the job on `scancel` and at the
#     time limit. The trainer then checkpoints at the next step boundary on all ranks.
#  3. Requeues. fergan_dist exits with 3 ("checkpointed, please requeue"); the job then calls
#     `scontrol requeue` on itself, and the next start passes `--resume auto`, which continues from the newest
#     checkpoint in checkpoint_dir (and starts fresh when there is none). Every restart resumes with
#     `--resume auto`, whatever FERGAN_RESUME says: an explicit checkpoint there is where the first start
#     begins, not where a requeued one continues. Exit code 5 (a collective timed out or a peer was lost:
#     a node or network fault, which another start may not meet) is requeued too, at most
#     FERGAN_MAX_COMM_REQUEUES times per job; every other exit code ends the job.
#
# Everything a test or a user may want to change comes from the environment (sbatch exports it by default):
#   FERGAN_ROOT          project checkout (default: the directory sbatch was called from)
#   FERGAN_BIN           trainer binary                 (default: $FERGAN_ROOT/build/bin/fergan_dist)
#   FERGAN_CONFIG        YAML config                    (default: $FERGAN_ROOT/config/default.yaml)
#   FERGAN_SET           whitespace-separated key=value overrides, each passed as --set key=value
#   FERGAN_PHASE         img2text | text2img | both     (default: both)
#   FERGAN_RESUME        value for --resume on the first start; empty disables it (default: auto).
#                        A requeued start (SLURM_RESTART_COUNT > 0) always uses --resume auto.
#   FERGAN_EXTRA_ARGS    more trainer arguments, appended verbatim
#   FERGAN_LAUNCHER      srun | mpirun                  (default: srun)
#   FERGAN_SRUN_FLAGS    extra srun flags, e.g. "--cpu-bind=cores" where the site uses task/affinity
#   FERGAN_MPIRUN_FLAGS  extra mpirun flags; --allow-run-as-root is added automatically when running as root
#   FERGAN_MAX_REQUEUES  stop requeueing after this many restarts (default: 50), so a job that cannot make
#                        progress does not cycle forever
#   FERGAN_MAX_COMM_REQUEUES  requeue after a communication failure (exit 5) at most this many times per job,
#                        counted across its restarts (default: 3); 0 never requeues on 5
#   FERGAN_STATE_DIR     where that count is kept between restarts, as fergan-<jobid>.comm-requeues
#                        (default: the job's working directory); removed when the job ends
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
FERGAN_COMM_EXIT_CODE=5

fergan_log() { echo "fergan-job[$(date +%H:%M:%S)]: $*"; }

# Builds the trainer's argument list into the array FERGAN_TRAINER_ARGS.
fergan_trainer_args() {
  FERGAN_TRAINER_ARGS=(--config "$FERGAN_CONFIG" --phase "$FERGAN_PHASE")
  local kv
  for kv in $FERGAN_SET; do FERGAN_TRAINER_ARGS+=(--set "$kv"); done
  local resume=$FERGAN_RESUME
  if ((${SLURM_RESTART_COUNT:-0} > 0)) && [[ $resume != auto ]]; then
    # The checkpoint named for the first start is older than what the requeued run wrote since.
    fergan_log "restart ${SLURM_RESTART_COUNT}: --resume auto instead of FERGAN_RESUME='${resume}'"
    resume=auto
  fi
  [[ -n $resume ]] && FERGAN_TRAINER_ARGS+=(--resume "$resume")
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
      FERGAN_LAUNCH_CMD=(srun --mpi=pmix --kill-on-bad-exit=1 --ntasks="$SLURM_NTASKS" --cpus-per-task="$cpus"
        ${FERGAN_SRUN_FLAGS:-})
      ;;
    mpirun)
      # Open MPI reads the allocation from SLURM (nodes, slots) and starts its daemons on the other nodes
      # with srun itself. PE=cpus binds each rank to its own set of cores for its intra-op threads.
      local root_flags=()
      [[ $(id -u) == 0 ]] && root_flags=(--allow-run-as-root)
      # mpirun starts with SIGTERM blocked (perl is part of every Debian/RHEL base system; exec keeps the
      # signal mask), so the TERM that SLURM sends to every process of the job does not make it kill the
      # ranks; the ranks themselves start with an empty mask (Open MPI clears it) and still receive TERM.
      local block_term=()
      if command -v perl >/dev/null; then
        # shellcheck disable=SC2016  # perl code, not shell
        block_term=(perl -MPOSIX -e 'sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGTERM)) or die "sigprocmask: $!";
          exec {$ARGV[0]} @ARGV or die "exec $ARGV[0]: $!"')
      else
        fergan_log "warning: perl not found; a SIGTERM to mpirun (scancel, time limit) kills the ranks unsaved"
      fi
      # shellcheck disable=SC2206
      FERGAN_LAUNCH_CMD=("${block_term[@]}" mpirun -np "$SLURM_NTASKS" --map-by "slot:PE=$cpus" --bind-to core
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
  local sig=$1 send=$1 how=""
  # mpirun forwards USR1 to every rank; TERM would make it kill them.
  [[ $FERGAN_LAUNCHER == mpirun ]] && send=USR1
  [[ $send != "$sig" ]] && how=" (as SIG$send, which mpirun passes on)"
  fergan_log "received SIG$sig; forwarding it to the ranks so they checkpoint$how"
  [[ -n $FERGAN_STEP_PID ]] && kill -s "$send" "$FERGAN_STEP_PID" 2>/dev/null
  return 0
}

# fergan_requeue REASON: requeues this job (it goes back to PENDING with the same id; its log is appended to,
# --open-mode=append, and SLURM_RESTART_COUNT goes up by one), unless FERGAN_MAX_REQUEUES restarts are used up.
# Returns non-zero when the job was not requeued.
fergan_requeue() {
  local reason="$*" restarts=${SLURM_RESTART_COUNT:-0} info state why
  # `scancel <jobid>` sends TERM to every process: the ranks checkpoint and exit 3 as after a warning signal,
  # but the job is ending (JobState=COMPLETING), and a requeue, which SLURM accepts, would undo the cancel.
  # At the time limit (Reason=TimeLimit) the requeue is what lets the run go on.
  info=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null)
  state=$(sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' <<<"$info" | head -1)
  why=$(sed -n 's/.*Reason=\([^ ]*\).*/\1/p' <<<"$info" | head -1)
  if [[ -n $state && $state != RUNNING && $why != TimeLimit ]]; then
    fergan_log "${reason}, but job ${SLURM_JOB_ID} is ending (JobState=${state}, Reason=${why}: cancelled?);" \
      "not requeueing (resubmit it to resume)"
    return 1
  fi
  if ((restarts >= FERGAN_MAX_REQUEUES)); then
    fergan_log "${reason}, but the job has been restarted ${restarts} times" \
      "(FERGAN_MAX_REQUEUES=${FERGAN_MAX_REQUEUES}); not requeueing"
    return 1
  fi
  fergan_log "${reason}; requeueing job ${SLURM_JOB_ID}; the next start resumes"
  # Requeueing a running job ends this batch script.
  scontrol requeue "$SLURM_JOB_ID" || { fergan_log "scontrol requeue ${SLURM_JOB_ID} failed"; return 1; }
}

# Runs the trainer on all tasks of the allocation; requeues on exit code 3, and on 5 up to a cap. Returns the
# job's exit code.
fergan_run_trainer() {
  FERGAN_ROOT=${FERGAN_ROOT:-${SLURM_SUBMIT_DIR:-$PWD}}
  FERGAN_BIN=${FERGAN_BIN:-$FERGAN_ROOT/build/bin/fergan_dist}
  FERGAN_CONFIG=${FERGAN_CONFIG:-$FERGAN_ROOT/config/default.yaml}
  FERGAN_SET=${FERGAN_SET:-}
  FERGAN_PHASE=${FERGAN_PHASE:-both}
  FERGAN_RESUME=${FERGAN_RESUME-auto}
  FERGAN_LAUNCHER=${FERGAN_LAUNCHER:-srun}
  FERGAN_MAX_REQUEUES=${FERGAN_MAX_REQUEUES:-50}
  FERGAN_MAX_COMM_REQUEUES=${FERGAN_MAX_COMM_REQUEUES:-3}
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

  # Communication failures so far, kept in a file because every restart is a new batch shell.
  local comm_file=${FERGAN_STATE_DIR:-$PWD}/fergan-${SLURM_JOB_ID:-0}.comm-requeues comm_failures=0
  [[ -r $comm_file ]] && comm_failures=$(<"$comm_file")
  [[ $comm_failures =~ ^[0-9]+$ ]] || comm_failures=0
  case $rc in
    "$FERGAN_REQUEUE_EXIT_CODE")
      fergan_requeue "trainer checkpointed (exit 3)" && return 0
      ;;
    "$FERGAN_COMM_EXIT_CODE")
      if ((comm_failures >= FERGAN_MAX_COMM_REQUEUES)); then
        fergan_log "communication failure (exit 5) after ${comm_failures} requeue(s) for the same reason" \
          "(FERGAN_MAX_COMM_REQUEUES=${FERGAN_MAX_COMM_REQUEUES}); not requeueing"
      else
        echo $((comm_failures + 1)) >"$comm_file"
        fergan_requeue "communication failure (exit 5): a collective timed out or a peer was lost;" \
          "requeue $((comm_failures + 1)) of ${FERGAN_MAX_COMM_REQUEUES} for this reason" && return 0
      fi
      ;;
  esac
  rm -f "$comm_file"
  fergan_log "trainer exited with code ${rc}"
  return "$rc"
}
