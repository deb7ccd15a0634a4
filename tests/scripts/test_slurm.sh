#!/usr/bin/env bash
# test_slurm.sh — the project's own sbatch scripts (slurm/*.sbatch) on a real one-node SLURM cluster.
#
# lib_slurm.sh starts slurmctld + slurmd + munged in a temporary directory; every part below submits with
# sbatch and polls `scontrol show job` (sbatch --wait polls too coarsely). The job scripts are the files in
# slurm/, unmodified: the test only overrides resource counts on the sbatch command line (this node has two
# CPUs and no GPU) and points the scripts at a tiny config through their FERGAN_* environment variables.
#
#   1. cluster smoke test: a batch job runs hostname, `srun --mpi=pmix -n 2` of a C MPI program (an
#      all-reduce whose sum proves the two ranks are wired together), and `mpirun -np 2` inside the allocation
#   2. launcher mechanics with a stub trainer (a bash script, so this part does not need fergan_dist):
#      argument passing, USR1 to the batch shell (`scancel --signal=USR1 --batch`) forwarded to both ranks,
#      exit 3 -> self-requeue -> restart with --resume auto -> COMPLETED, for srun; for mpirun the same with
#      TERM (which mpirun must not turn into a kill) and an explicit FERGAN_RESUME checkpoint that the
#      requeued start must replace by --resume auto; a plain `scancel` (TERM to every process of the job)
#      under mpirun still lets the ranks checkpoint; a trainer error -> FAILED with its exit code, not
#      requeued; one rank failing under srun ends the others at once (--kill-on-bad-exit), not after their
#      collective's timeout; exit 5 (communication failure) is requeued up to FERGAN_MAX_COMM_REQUEUES
#      times; train_multi_node.sbatch on one node
#   3. data_prep.sbatch packs a synthetic dataset; train_single_node.sbatch trains a tiny config with 2 ranks
#      (submitted with --dependency=afterok on the data job): exit code, log lines, checkpoint files, and the
#      checkpoints load (resuming from one trains an extra epoch)
#   4. preemption: a longer run is signalled mid-training, checkpoints, requeues itself, resumes, finishes;
#      its final weights equal those of an uninterrupted run of the same config (launch/run_local.sh -n 2)
#   5. a rank that hangs (SIGSTOP) makes the other's collective time out: fergan_dist exits 5 through srun,
#      and the launcher requeues it no more than FERGAN_MAX_COMM_REQUEUES allows
# The test prints SKIPPED and passes only when SLURM is not installed. Daemons are always stopped (trap).
set -uo pipefail

SRC=${FERGAN_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BIN=${FERGAN_BUILD_DIR:-$SRC/build}/bin
# shellcheck source=lib_slurm.sh
source "$SRC/tests/scripts/lib_slurm.sh"

if ! slurm_available; then
  echo "SKIPPED: SLURM (slurmctld, slurmd, munged, sbatch) is not installed"
  exit 0
fi

tmp=$(mktemp -d /tmp/fergan-test-slurm.XXXXXX)
cleanup() {
  local rc=$?
  slurm_cluster_stop
  if ((rc == 0)); then rm -rf "$tmp"; else echo "test_slurm: files kept in $tmp" >&2; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t_start=$SECONDS

fail() {
  echo "FAIL: $*" >&2
  slurm_dump_logs
  exit 1
}
step() { echo "== [$((SECONDS - t_start))s] $*"; }

# wait_for_log FILE REGEX JOB TIMEOUT: until FILE has a line matching REGEX (fails early if JOB ends).
wait_for_log() {
  local file=$1 regex=$2 job=$3 timeout=$4 start=$SECONDS state
  while ((SECONDS - start < timeout)); do
    grep -Eq -- "$regex" "$file" 2>/dev/null && return 0
    state=$(slurm_job_field "$job" JobState)
    [[ $state =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL)$ ]] && break
    sleep 0.2
  done
  echo "--- $file" >&2
  cat "$file" >&2 2>/dev/null
  fail "no line matching '$regex' in $file (job $job: $(slurm_job_field "$job" JobState))"
}

# expect_job JOB STATE EXITCODE RESTARTS LOG: final state, exit code ("0:0"), restart count of a finished job.
expect_job() {
  local job=$1 want_state=$2 want_exit=$3 want_restarts=$4 log=$5 state
  state=$(slurm_wait_job "$job" 240) || { cat "$log" >&2; fail "job $job did not finish (state $state)"; }
  local exit_code restarts
  exit_code=$(slurm_job_field "$job" ExitCode)
  restarts=$(slurm_job_field "$job" Restarts)
  if [[ $state != "$want_state" || $exit_code != "$want_exit" || $restarts != "$want_restarts" ]]; then
    echo "--- $log" >&2
    cat "$log" "${log%.out}.err" >&2 2>/dev/null
    fail "job $job: state $state exit $exit_code restarts $restarts; expected $want_state $want_exit $want_restarts"
  fi
}

# requeue_and_release JOB [RESTARTS]: waits for the self-requeued job to be PENDING again (with RESTARTS
# restarts, default 1) and lets it start now.
# (SLURM holds a requeued batch job back for about two minutes; a real cluster just waits.)
requeue_and_release() {
  local job=$1 want=${2:-1} state="" restarts="" i
  # A job still waiting for its first start is PENDING too: wait for the restart count as well.
  for ((i = 0; i < 300; i++)); do
    state=$(slurm_job_field "$job" JobState)
    restarts=$(slurm_job_field "$job" Restarts)
    [[ $state == PENDING && $restarts == "$want" ]] && break
    [[ $state =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL)$ ]] && break
    sleep 0.2
  done
  [[ $state == PENDING && $restarts == "$want" ]] ||
    fail "job $job did not requeue itself (state $state, Restarts $restarts, expected PENDING with Restarts $want)"
  # Starting it again before slurmd has cleaned up the old run fails with "Job credential revoked" (the very
  # reason for SLURM's delay): wait for the node to be idle, then a little longer.
  for ((i = 0; i < 100; i++)); do
    [[ $(sinfo -h -o %T | head -1) == idle ]] && break
    sleep 0.2
  done
  sleep 3
  scontrol update JobId="$job" StartTime=now || fail "cannot release requeued job $job"
}

# job_ranks RUN_DIR: the PIDs of this test's fergan_dist ranks whose --set run_dir is RUN_DIR, into RANKS
# (exactly 2, or the test fails).
job_ranks() {
  mapfile -t RANKS < <(pgrep -f "^$BIN/fergan_dist .*run_dir=$1 ")
  ((${#RANKS[@]} == 2)) || fail "expected 2 fergan_dist ranks with run_dir=$1, found ${#RANKS[@]}"
}

# wait_signal_pending SIGNUM PID...: polls (60 s at most) until SIGNUM is pending in every (stopped) PID; sets
# PENDING to the number of PIDs where it is.
wait_signal_pending() {
  local signum=$1 i p mask
  shift
  for ((i = 0; i < 300; i++)); do
    PENDING=0
    for p in "$@"; do
      mask=$(awk '/^ShdPnd:/ {print $2}' "/proc/$p/status" 2>/dev/null)
      [[ -n $mask ]] && (((0x$mask >> (signum - 1)) & 1)) && PENDING=$((PENDING + 1))
    done
    ((PENDING == $#)) && return 0
    sleep 0.2
  done
}

step "starting a one-node SLURM cluster in $tmp/cluster"
slurm_cluster_start "$tmp/cluster" || fail "the test cluster did not start"
cpus=$SLURM_TEST_CPUS
((cpus >= 2)) || echo "note: this node has ${cpus} CPU(s); the 2-task jobs below need 2" >&2

# ---------------------------------------------------------------------------------------------------------
step "1. smoke test: hostname, srun --mpi=pmix -n 2, mpirun -np 2 inside an allocation"
mkdir -p "$tmp/smoke"
cat >"$tmp/smoke/allreduce.c" <<'EOF'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char** argv) {
  int rank, size, sum = 0;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int mine = rank + 1;
  MPI_Allreduce(&mine, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  printf("rank %d of %d: sum %d\n", rank, size, sum);
  MPI_Finalize();
  return 0;
}
EOF
mpicc -O1 -o "$tmp/smoke/allreduce" "$tmp/smoke/allreduce.c" || fail "mpicc failed"
cat >"$tmp/smoke/job.sh" <<EOF
#!/bin/bash
echo "batch host \$(hostname -s) tasks \$SLURM_NTASKS"
echo "--- srun"
srun --mpi=pmix -n 2 $tmp/smoke/allreduce | sort
echo "--- mpirun"
mpirun --allow-run-as-root -np 2 $tmp/smoke/allreduce | sort
EOF
job=$(sbatch --parsable -n 2 --job-name=smoke --chdir="$tmp/smoke" --output="$tmp/smoke/%x-%j.out" \
  --error="$tmp/smoke/%x-%j.err" "$tmp/smoke/job.sh") || fail "sbatch of the smoke job failed"
expect_job "$job" COMPLETED 0:0 0 "$tmp/smoke/smoke-$job.out"
cat >"$tmp/smoke/expected" <<EOF
batch host $(hostname -s) tasks 2
--- srun
rank 0 of 2: sum 3
rank 1 of 2: sum 3
--- mpirun
rank 0 of 2: sum 3
rank 1 of 2: sum 3
EOF
diff "$tmp/smoke/expected" "$tmp/smoke/smoke-$job.out" >&2 || fail "smoke job output differs (see diff above)"

# ---------------------------------------------------------------------------------------------------------
# Submits slurm/train_single_node.sbatch for this node: 2 tasks, 1 CPU each, no GPU. The remaining FERGAN_*
# variables come from the caller's environment (sbatch exports it). Prints the job id.
submit_train() {
  local dir=$1
  shift
  mkdir -p "$dir"
  FERGAN_ROOT=$SRC sbatch --parsable --gpus-per-node=0 --ntasks-per-node=2 --cpus-per-task=1 \
    --chdir="$dir" --output="$dir/%x-%j.out" --error="$dir/%x-%j.err" "$@" "$SRC/slurm/train_single_node.sbatch"
}

step "2. launcher mechanics with a stub trainer: signal forwarding, requeue, resume (srun and mpirun)"
stub=$tmp/stub/stub_trainer.sh
mkdir -p "$tmp/stub"
cat >"$stub" <<'EOF'
#!/bin/bash
# Stands in for fergan_dist: counts 25 steps of 0.2 s; on USR1/TERM rank 0 saves its step (taking
# STUB_SAVE_S seconds, like writing a checkpoint) and every rank exits 3 after that; with --resume auto it
# starts from the saved step.
# STUB_HOLD=1: a first start stops counting at step 5 and waits there for the signal (at most 120 s), so on a
#   slow machine the signal cannot arrive after the last step.
# STUB_EXIT=N: fail at once with code N; with STUB_EXIT_RANK=r only rank r fails, and the others wait as in a
#   collective that never completes (at most 120 s; TERM does not end it, as it does not end an MPI wait).
rank=${PMIX_RANK:-${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-0}}}
echo "stub rank $rank args: $*"
if [[ -n ${STUB_EXIT:-} ]]; then
  if [[ -z ${STUB_EXIT_RANK:-} || $STUB_EXIT_RANK == "$rank" ]]; then
    echo "stub rank $rank failing with $STUB_EXIT"
    exit "$STUB_EXIT"
  fi
  trap : TERM  # an MPI wait goes on after a TERM; only the KILL that follows it ends the process
  echo "stub rank $rank waiting in a collective"
  for _ in $(seq 600); do sleep 0.2; done
  echo "stub rank $rank left the collective after 120 s"
  exit 0
fi
step=0
resumed=0
[[ " $* " == *" --resume auto "* && -f $STUB_STATE ]] && { step=$(cat "$STUB_STATE"); resumed=1; echo "stub rank $rank resumed at $step"; }
stop=0
trap 'stop=1' USR1 TERM
echo "stub rank $rank running"
held=0
while ((step < 25)); do
  if ((stop)); then
    # Like the trainer: rank 0 saves, the others wait for the save (a barrier) before everyone exits 3.
    marker=$STUB_STATE.saved-${SLURM_RESTART_COUNT:-0}
    if [[ $rank == 0 ]]; then
      sleep "${STUB_SAVE_S:-0}"
      echo "stub rank $rank checkpointed at $step"
      echo "$step" >"$STUB_STATE" && touch "$marker"
    else
      for _ in $(seq 100); do [[ -e $marker ]] && break; sleep 0.1; done
      echo "stub rank $rank checkpointed at $step"
    fi
    exit 3
  fi
  sleep 0.2
  if [[ ${STUB_HOLD:-} == 1 ]] && ((!resumed && step == 5 && held < 600)); then
    held=$((held + 1))
    continue
  fi
  step=$((step + 1))
done
((held >= 600)) && echo "stub rank $rank: no signal within 120 s"
echo "stub rank $rank done at $step"
EOF
chmod +x "$stub"
touch "$tmp/stub/config.yaml"
# srun: USR1 and the default FERGAN_RESUME (auto). mpirun: TERM, which mpirun turns into a kill of the ranks
# unless the launcher passes it on as USR1, and an explicit FERGAN_RESUME checkpoint for the first start, which
# the requeued start must replace by --resume auto (the stub resumes only from `--resume auto`).
for launcher in srun mpirun; do
  dir=$tmp/stub/$launcher
  signal=USR1 resume=auto
  [[ $launcher == mpirun ]] && signal=TERM resume=$dir/img2text_generator_epoch_1.pth
  job=$(FERGAN_LAUNCHER=$launcher FERGAN_BIN=$stub FERGAN_CONFIG=$tmp/stub/config.yaml FERGAN_PHASE=img2text \
    FERGAN_SET="train.batch_size=4 seed=5" FERGAN_RESUME=$resume STUB_STATE=$dir/state STUB_HOLD=1 STUB_SAVE_S=2 \
    submit_train "$dir") || fail "sbatch failed"
  log=$dir/fergan-$job.out
  wait_for_log "$log" "stub rank 0 running" "$job" 60
  wait_for_log "$log" "stub rank 1 running" "$job" 30
  scancel --signal="$signal" --batch "$job" || fail "scancel --signal=$signal --batch $job failed"
  requeue_and_release "$job"
  expect_job "$job" COMPLETED 0:0 1 "$log"
  saved=$(cat "$dir/state")
  args="args: --config $tmp/stub/config.yaml --phase img2text --set train.batch_size=4 --set seed=5 --resume"
  for want in "received SIG$signal; forwarding" "stub rank 0 checkpointed at $saved" \
    "exit 3\); requeueing job $job" "job $job start \(restart 1\)" "launcher $launcher" \
    "stub rank 0 resumed at $saved" "stub rank 1 resumed at $saved" "stub rank 0 done at 25" \
    "stub rank 1 done at 25" "$args $resume\$" "$args auto\$"; do
    grep -Eq -- "$want" "$log" || { cat "$log" >&2; fail "$launcher: no line matching '$want' in the job log"; }
  done
  [[ $(grep -c "args:" "$log") == 4 ]] || fail "$launcher: expected 2 ranks x 2 starts in the log"
  (($(grep -c "args: .*--resume auto\$" "$log") >= 2)) || fail "$launcher: the requeued start did not use --resume auto"
  ! grep -q "no signal within" "$log" || fail "$launcher: the signal did not reach a rank"
  # srun lets every rank finish on its own; mpirun kills the others as soon as one exits non-zero (the real
  # trainer holds all ranks in a barrier until the checkpoint is on disk), so rank 1's line is srun-only.
  if [[ $launcher == srun ]]; then
    grep -q "stub rank 1 checkpointed at" "$log" || fail "srun: the signal did not reach rank 1"
  else
    grep -q "restart 1: --resume auto instead of FERGAN_RESUME='$resume'" "$log" ||
      fail "mpirun: the requeued start does not say that it replaced FERGAN_RESUME"
  fi
done
# A plain `scancel` (and the time limit) sends TERM to every process of the job, mpirun included: mpirun must
# not kill the ranks before they have written their checkpoint (STUB_SAVE_S=2 is longer than the one second
# mpirun gives them after a TERM). The job itself ends CANCELLED; the checkpoint is what must survive.
dir=$tmp/stub/mpirun-cancel
job=$(FERGAN_LAUNCHER=mpirun FERGAN_BIN=$stub FERGAN_CONFIG=$tmp/stub/config.yaml STUB_STATE=$dir/state STUB_HOLD=1 \
  STUB_SAVE_S=2 submit_train "$dir") || fail "sbatch failed"
log=$dir/fergan-$job.out
wait_for_log "$log" "stub rank 0 running" "$job" 60
wait_for_log "$log" "stub rank 1 running" "$job" 30
scancel "$job" || fail "scancel $job failed"
state=$(slurm_wait_job "$job" 60) || fail "cancelled mpirun job $job did not end (state $state)"
[[ $state == CANCELLED ]] || { cat "$log" >&2; fail "cancelled mpirun job $job: state $state"; }
[[ -s $dir/state ]] || { cat "$log" >&2; fail "plain scancel under mpirun: the ranks were killed before their checkpoint"; }
grep -q "stub rank 0 checkpointed at" "$log" || { cat "$log" >&2; fail "plain scancel under mpirun: no checkpoint line"; }
grep -q "is ending (JobState=COMPLETING, Reason=None: cancelled?); not requeueing" "$log" ||
  { cat "$log" >&2; fail "plain scancel: the job did not say why it stays cancelled"; }

# train_multi_node.sbatch runs the same launcher; on this one node it is submitted with --nodes=1.
dir=$tmp/stub/multi
mkdir -p "$dir"
job=$(FERGAN_ROOT=$SRC FERGAN_BIN=$stub FERGAN_CONFIG=$tmp/stub/config.yaml STUB_STATE=$dir/state sbatch --parsable \
  --nodes=1 --gpus-per-node=0 --ntasks-per-node=2 --cpus-per-task=1 --chdir="$dir" --output="$dir/%x-%j.out" \
  --error="$dir/%x-%j.err" "$SRC/slurm/train_multi_node.sbatch") || fail "sbatch train_multi_node.sbatch failed"
expect_job "$job" COMPLETED 0:0 0 "$dir/fergan-multi-$job.out"
[[ $(grep -c "done at 25" "$dir/fergan-multi-$job.out") == 2 ]] || fail "multi-node script: 2 ranks did not finish"
# A trainer error is the job's failure, with the trainer's exit code, and no requeue. The stub's exit codes go
# through mpirun, which reports the first non-zero one: under srun, whose --kill-on-bad-exit sends TERM to the
# ranks still running, a stub rank that had not yet exited would turn it into 143. (The real trainer ends all
# ranks through MPI_Abort, whose code srun passes on; part 5 checks that.)
dir=$tmp/stub/error
job=$(FERGAN_LAUNCHER=mpirun STUB_EXIT=1 FERGAN_BIN=$stub FERGAN_CONFIG=$tmp/stub/config.yaml STUB_STATE=$dir/state \
  submit_train "$dir") || fail "sbatch failed"
expect_job "$job" FAILED 1:0 0 "$dir/fergan-$job.out"
grep -q "trainer exited with code 1" "$dir/fergan-$job.out" || fail "error job: no exit code line in the log"
# One rank dies on its own (no MPI_Abort: a segfault, an OOM kill): srun --kill-on-bad-exit must end the other
# rank at once; without it the other waits in its collective until dist.timeout_s (the stub: 120 s).
dir=$tmp/stub/bad-exit
job=$(STUB_EXIT=1 STUB_EXIT_RANK=1 FERGAN_BIN=$stub FERGAN_CONFIG=$tmp/stub/config.yaml STUB_STATE=$dir/state \
  submit_train "$dir") || fail "sbatch failed"
log=$dir/fergan-$job.out
wait_for_log "$log" "stub rank 1 failing with 1" "$job" 60
state=$(slurm_wait_job "$job" 45) || { cat "$log" >&2; fail "rank 1 failed, but rank 0 was still running 45 s later (state $state)"; }
[[ $state == FAILED ]] || { cat "$log" >&2; fail "one rank failing: job state $state, expected FAILED"; }
[[ $(slurm_job_field "$job" Restarts) == 0 ]] || fail "one rank failing: the job was requeued"
! grep -q "left the collective" "$log" || fail "one rank failing: rank 0 ran on until its own timeout"
grep -q "kill-on-bad-exit" "$log" || fail "the srun command lacks --kill-on-bad-exit"
# Exit 5 (communication failure) is requeued, at most FERGAN_MAX_COMM_REQUEUES times in all: here 2, so the job
# starts 3 times and then fails with 5; the count survives the requeues, and its file is gone at the end.
dir=$tmp/stub/comm
job=$(FERGAN_LAUNCHER=mpirun STUB_EXIT=5 FERGAN_MAX_COMM_REQUEUES=2 FERGAN_BIN=$stub \
  FERGAN_CONFIG=$tmp/stub/config.yaml STUB_STATE=$dir/state submit_train "$dir") || fail "sbatch failed"
log=$dir/fergan-$job.out
requeue_and_release "$job" 1
requeue_and_release "$job" 2
expect_job "$job" FAILED 5:0 2 "$log"
for want in "communication failure \(exit 5\).*requeue 1 of 2" "communication failure \(exit 5\).*requeue 2 of 2" \
  "after 2 requeue\(s\) for the same reason \(FERGAN_MAX_COMM_REQUEUES=2\); not requeueing" \
  "trainer exited with code 5"; do
  grep -Eq -- "$want" "$log" || { cat "$log" >&2; fail "exit 5: no line matching '$want' in the job log"; }
done
[[ ! -e $dir/fergan-$job.comm-requeues ]] || fail "exit 5: the requeue count file outlived the job"

# ---------------------------------------------------------------------------------------------------------
step "3. data_prep.sbatch, then train_single_node.sbatch with fergan_dist on 2 CPU ranks"
for tool in fergan_dist data_prep; do
  [[ -x $BIN/$tool ]] || fail "$BIN/$tool is missing: build it first (FERGAN_BUILD_DIR=$BIN/..)"
done
"$BIN/data_prep" synth --out "$tmp/data/raw" --per-class 20 --splits train:20 --seed 3 >/dev/null 2>&1 ||
  fail "data_prep synth failed"
mkdir -p "$tmp/data/job"
prep_job=$(FERGAN_ROOT=$SRC FERGAN_DATA_PREP_BIN=$BIN/data_prep FERGAN_DATA_INPUT=$tmp/data/raw \
  FERGAN_DATA_OUT=$tmp/data/shards FERGAN_DATA_PREP_ARGS="--random-embeddings --embed-dim 32 --samples-per-shard 20 --quiet" \
  sbatch --parsable --cpus-per-task=1 --chdir="$tmp/data/job" --output="$tmp/data/job/%x-%j.out" \
  --error="$tmp/data/job/%x-%j.err" "$SRC/slurm/data_prep.sbatch") || fail "sbatch data_prep.sbatch failed"

# The tiny config: 140 synthetic faces (24 batches of 3 per rank and epoch), 32-d embeddings, 64x64 images from an 8-channel generator.
# threads: 1 keeps every rank's arithmetic identical between the SLURM run and the reference run below.
cat >"$tmp/tiny.yaml" <<EOF
run_dir: $tmp/runs/tiny
checkpoint_dir: $tmp/runs/tiny/checkpoints
device: cpu
threads: 1
seed: 11
data:
  shards: $tmp/data/shards
  split: train
train:
  batch_size: 3
  log_interval: 1
  save_interval: 1
img2text:
  epochs: 1
  latent_dim: 32
text2img:
  epochs: 1
  latent_dim: 32
  image_size: 64
  ngf: 8
  ndf: 8
  noise_dim: 8
  sample_grid_per_emotion: 1
EOF
dir=$tmp/runs/tiny-job
job=$(FERGAN_BIN=$BIN/fergan_dist FERGAN_CONFIG=$tmp/tiny.yaml submit_train "$dir" --dependency=afterok:"$prep_job") ||
  fail "sbatch train_single_node.sbatch failed"
expect_job "$prep_job" COMPLETED 0:0 0 "$tmp/data/job/fergan-data-prep-$prep_job.out"
[[ -s $tmp/data/shards/manifest.json ]] || fail "data_prep.sbatch wrote no manifest.json"
log=$dir/fergan-$job.out
expect_job "$job" COMPLETED 0:0 0 "$log"
for want in "job $job start \(restart 0\).*2 ranks" "Training Image -> Text GAN" "\[Img2Text\] Epoch 1/1 done" \
  "Training Text -> Image GAN" "\[Text2Img\] Epoch 1/1 done" "trainer exited with code 0"; do
  grep -Eq -- "$want" "$log" || { cat "$log" >&2; fail "tiny job: no line matching '$want' in its log"; }
done
ck=$tmp/runs/tiny/checkpoints
for phase in img2text text2img; do
  for net in generator discriminator; do
    [[ -s $ck/${phase}_${net}_epoch_1.pth ]] || fail "tiny job: checkpoint ${phase}_${net}_epoch_1.pth missing"
  done
done
# The checkpoints load: resuming from each phase's epoch-1 set with one more epoch restores both networks
# (shapes are checked on load) and trains on, in a single process (launch/run_dev.sh, the laptop path).
for phase in img2text text2img; do
  FERGAN_BIN=$BIN/fergan_dist OMP_NUM_THREADS=1 "$SRC/launch/run_dev.sh" --config "$tmp/tiny.yaml" \
    --phase "$phase" --set "$phase.epochs=2" \
    --set "checkpoint_dir=$tmp/runs/tiny-load/$phase" --set "run_dir=$tmp/runs/tiny-load/$phase" \
    --resume "$ck/${phase}_generator_epoch_1.pth" >"$tmp/runs/load-$phase.log" 2>&1 ||
    { cat "$tmp/runs/load-$phase.log" >&2; fail "resuming from the $phase checkpoint failed"; }
  grep -q "Resuming .* from $ck/${phase}_generator_epoch_1.pth" "$tmp/runs/load-$phase.log" ||
    { cat "$tmp/runs/load-$phase.log" >&2; fail "resume from the $phase checkpoint did not say so"; }
  [[ -s $tmp/runs/tiny-load/$phase/${phase}_generator_epoch_2.pth ]] || fail "no epoch-2 $phase checkpoint after resume"
done

# ---------------------------------------------------------------------------------------------------------
step "4. preemption: USR1 mid-training -> checkpoint, requeue, resume; weights equal an uninterrupted run"
# Both runs use the same run_dir/checkpoint_dir (the reference is moved aside before the SLURM run), so the
# resolved config stored in the checkpoints is the same too.
# Wider text2img networks make each step slow enough (~0.1 s) that the signal lands well inside an epoch.
long_set="text2img.epochs=3 text2img.ngf=32 text2img.ndf=32 run_dir=$tmp/runs/long checkpoint_dir=$tmp/runs/long/checkpoints"
# shellcheck disable=SC2046
FERGAN_BIN=$BIN/fergan_dist OMP_NUM_THREADS=1 "$SRC/launch/run_local.sh" -n 2 --config "$tmp/tiny.yaml" \
  $(printf -- '--set %s ' $long_set) >"$tmp/runs/reference.log" 2>&1 ||
  { cat "$tmp/runs/reference.log" >&2; fail "the uninterrupted reference run failed"; }
mv "$tmp/runs/long" "$tmp/runs/reference"

dir=$tmp/runs/long-job
job=$(FERGAN_BIN=$BIN/fergan_dist FERGAN_CONFIG=$tmp/tiny.yaml FERGAN_SET="$long_set" submit_train "$dir") ||
  fail "sbatch failed"
log=$dir/fergan-$job.out
# Signal in the middle of the second Text->Image epoch: by then both phases have checkpoints on disk. The ranks
# are stopped (SIGSTOP) before the signal goes out and continued once USR1 is pending in both, so it lands where
# they stood, however long its way through slurmctld, the batch shell and srun takes on a loaded machine
# (otherwise it could arrive in the third epoch, or after the last step).
wait_for_log "$log" "\[Text2Img\] Epoch 1/3 done" "$job" 180
wait_for_log "$log" "\[Text2Img\] epoch 2/3" "$job" 60
job_ranks "$tmp/runs/long"
kill -STOP "${RANKS[@]}"
scancel --signal=USR1 --batch "$job" || { kill -CONT "${RANKS[@]}"; fail "scancel --signal=USR1 --batch $job failed"; }
wait_signal_pending 10 "${RANKS[@]}"
kill -CONT "${RANKS[@]}"
((PENDING == 2)) || { cat "$log" >&2; fail "USR1 did not reach both ranks within 60 s"; }
requeue_and_release "$job"
expect_job "$job" COMPLETED 0:0 1 "$log"
for want in "received SIGUSR1; forwarding" "Stopped on signal after a checkpoint" "exit 3\); requeueing job $job" \
  "job $job start \(restart 1\)" "Resuming Text -> Image" "\[Text2Img\] Epoch 3/3 done" "trainer exited with code 0"; do
  grep -Eq -- "$want" "$log" || { cat "$log" >&2; fail "preempted job: no line matching '$want' in its log"; }
done
# Mid-epoch 2 (epoch_1_step_S), or epoch 2's own set when the stop fell on its last batch.
grep -Eq "Resuming Text -> Image from .*/text2img_generator_epoch_(1_step_[0-9]+|2)\.pth" "$log" ||
  { cat "$log" >&2; fail "preempted job: it did not resume from a checkpoint of the second Text->Image epoch"; }
for phase_epoch in img2text:1 text2img:3; do
  phase=${phase_epoch%%:*}
  epoch=${phase_epoch#*:}
  for net in generator discriminator; do
    [[ -s $tmp/runs/long/checkpoints/${phase}_${net}_epoch_${epoch}.pth ]] ||
      fail "final checkpoint ${phase}_${net}_epoch_${epoch}.pth missing"
  done
  # The .pth archives are not byte-reproducible (zip container), so the weights of both networks are compared
  # tensor by tensor with fergan_dist --compare-checkpoints (exact), and the generator's .safetensors export
  # (tensors + the resolved config) must be byte-identical.
  for net in generator discriminator; do
    "$BIN/fergan_dist" --compare-checkpoints "$tmp/runs/reference/checkpoints/${phase}_${net}_epoch_${epoch}.pth" \
      "$tmp/runs/long/checkpoints/${phase}_${net}_epoch_${epoch}.pth" ||
      fail "${phase} ${net} weights of the preempted run differ from the uninterrupted run"
  done
  a=$tmp/runs/reference/checkpoints/${phase}_generator_epoch_${epoch}.safetensors
  b=$tmp/runs/long/checkpoints/${phase}_generator_epoch_${epoch}.safetensors
  [[ -s $a && -s $b ]] || fail "final export ${phase}_generator_epoch_${epoch}.safetensors missing"
  cmp -s "$a" "$b" || fail "${phase} generator weights of the preempted run differ from the uninterrupted run"
done

# ---------------------------------------------------------------------------------------------------------
step "5. a hung rank: collective timeout -> fergan_dist exits 5 through srun -> the launcher's requeue cap"
# One rank is stopped (a hung node or GPU); the other's next collective times out after dist.timeout_s and it
# ends the job through MPI_Abort with code 5, which srun passes on. FERGAN_MAX_COMM_REQUEUES=0: the requeue
# itself was tested with the stub in part 2; here the code must arrive and the cap must be applied.
hang_set="text2img.epochs=50 text2img.ngf=32 text2img.ndf=32 dist.timeout_s=8 run_dir=$tmp/runs/hang checkpoint_dir=$tmp/runs/hang/checkpoints"
dir=$tmp/runs/hang-job
job=$(FERGAN_BIN=$BIN/fergan_dist FERGAN_CONFIG=$tmp/tiny.yaml FERGAN_SET="$hang_set" FERGAN_PHASE=text2img \
  FERGAN_MAX_COMM_REQUEUES=0 submit_train "$dir") || fail "sbatch failed"
log=$dir/fergan-$job.out
wait_for_log "$log" "\[Text2Img\] epoch 1/50" "$job" 180
job_ranks "$tmp/runs/hang"
kill -STOP "${RANKS[1]}"
expect_job "$job" FAILED 5:0 0 "$log"
kill -KILL "${RANKS[1]}" 2>/dev/null || true  # normally gone with the job step
grep -q "did not complete within dist.timeout_s" "${log%.out}.err" ||
  { cat "$log" "${log%.out}.err" >&2; fail "hung rank: no timeout message"; }
grep -q "communication failure (exit 5) after 0 requeue(s) for the same reason (FERGAN_MAX_COMM_REQUEUES=0)" "$log" ||
  { cat "$log" >&2; fail "hung rank: the launcher did not apply FERGAN_MAX_COMM_REQUEUES=0"; }

step "all SLURM tests passed in $((SECONDS - t_start)) s"
