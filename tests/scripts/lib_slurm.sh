# shellcheck shell=bash
# lib_slurm.sh — start and stop a private one-node SLURM cluster for the end-to-end tests (source it).
#
# Why a real cluster: the sbatch scripts in slurm/ depend on behaviour that only SLURM itself has (signal
# delivery with --signal=B:, requeue, srun's PMIx wire-up of Open MPI ranks, output files per job), so they
# are tested against Debian's slurm-wlm + munge rather than a mock. Everything lives in one temporary
# directory: slurm.conf, munge key and socket, state and spool directories, logs. Ports are picked free at
# random, so a test run never collides with another one or with a system SLURM. No systemd is needed.
#
# API (all functions return non-zero on failure, they never exit the caller):
#   slurm_available                 -> 0 when slurmctld, slurmd, munged, sbatch are installed
#   slurm_cluster_start DIR         -> writes DIR/slurm.conf, starts munged, slurmctld, slurmd, waits for the
#                                      node to be idle; exports SLURM_CONF. Records every PID it started.
#   slurm_cluster_stop              -> cancels jobs, stops every daemon it started by PID, then any job process
#                                      left behind (found by a marker variable in its environment). Idempotent;
#                                      call it from `trap ... EXIT`.
#   slurm_job_field JOBID FIELD     -> prints one field of `scontrol show job` (e.g. JobState, ExitCode, Restarts)
#   slurm_wait_job JOBID TIMEOUT_S  -> polls until the job reaches a final state; prints that state
#   slurm_wait_state JOBID REGEX TIMEOUT_S -> polls until JobState matches REGEX; prints the state
#   slurm_dump_logs                 -> prints the tails of the daemon logs (for failures)

SLURM_TEST_DIR=""
SLURM_TEST_PIDS=()   # "name:pid" of every daemon we started, in start order
SLURM_TEST_CPUS=""  # CPUs of the test node (read by the tests)
export SLURM_TEST_CPUS

slurm_available() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null &&
    command -v sbatch >/dev/null && command -v scontrol >/dev/null
}

# A TCP port nobody listens on (ss is in iproute2; fall back to /proc/net/tcp when it is missing).
_slurm_free_port() {
  local port tries=0
  while ((tries++ < 200)); do
    port=$((20000 + RANDOM % 30000))
    if command -v ss >/dev/null; then
      ss -ltnH 2>/dev/null | awk '{print $4}' | grep -q ":${port}\$" && continue
    else
      grep -qi ":$(printf '%04X' "$port") " /proc/net/tcp 2>/dev/null && continue
    fi
    echo "$port"
    return 0
  done
  return 1
}

_slurm_write_conf() {
  local dir=$1 host=$2 ctld_port=$3 slurmd_port=$4
  # The node line is exactly what slurmd detects (slurmd -C), so slurmd never drains itself for a mismatch.
  local node_line
  node_line=$(slurmd -C 2>/dev/null | head -1)
  [[ $node_line == NodeName=* ]] || node_line="NodeName=${host} CPUs=$(nproc)"
  SLURM_TEST_CPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$node_line")
  cat >"$dir/slurm.conf" <<EOF
# Written by tests/scripts/lib_slurm.sh for a throw-away one-node test cluster.
ClusterName=fergantest
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${ctld_port}
SlurmdPort=${slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${dir}/munge/munge.socket
StateSaveLocation=${dir}/state
SlurmdSpoolDir=${dir}/spool
SlurmctldPidFile=${dir}/slurmctld.pid
SlurmdPidFile=${dir}/slurmd.pid
SlurmctldLogFile=${dir}/log/slurmctld.log
SlurmdLogFile=${dir}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=${dir}/plugstack.conf
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=pmix
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
JobRequeue=1
ReturnToService=2
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
MinJobAge=600
KillWait=5
InactiveLimit=0
MessageTimeout=20
${node_line} NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
  : >"$dir/plugstack.conf"   # keep the system's SPANK plugins out of the test cluster
}

slurm_cluster_start() {
  local dir=$1
  SLURM_TEST_DIR=$dir
  SLURM_TEST_PIDS=()
  mkdir -p "$dir"/{munge,state,spool,log} || return 1
  chmod 700 "$dir" "$dir/munge"
  local host ctld_port slurmd_port
  host=$(hostname -s)
  ctld_port=$(_slurm_free_port) || return 1
  slurmd_port=$(_slurm_free_port) || return 1
  while [[ $slurmd_port == "$ctld_port" ]]; do slurmd_port=$(_slurm_free_port) || return 1; done
  _slurm_write_conf "$dir" "$host" "$ctld_port" "$slurmd_port"
  export SLURM_CONF=$dir/slurm.conf
  # Every process of this cluster (daemons, and the jobs through sbatch's exported environment) carries this
  # marker, so slurm_cluster_stop can find leftovers without matching process names.
  export FERGAN_SLURM_TEST_MARKER=$dir

  # munge: a fresh random key and a private socket; -F keeps it in the foreground so $! is its PID.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1 count=1024 status=none || return 1
  chmod 400 "$dir/munge/munge.key"
  setsid munged -F --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    </dev/null >>"$dir/log/munged.out" 2>&1 &
  SLURM_TEST_PIDS+=("munged:$!")
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -S $dir/munge/munge.socket ]] && break
    sleep 0.1
  done
  [[ -S $dir/munge/munge.socket ]] || { echo "lib_slurm: munged did not start" >&2; slurm_dump_logs; return 1; }

  setsid slurmctld -D -i -f "$SLURM_CONF" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
  SLURM_TEST_PIDS+=("slurmctld:$!")
  setsid slurmd -D -f "$SLURM_CONF" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
  SLURM_TEST_PIDS+=("slurmd:$!")

  # Wait for the node to report idle (about a second; allow 30 s on a loaded CI machine).
  local state=""
  for ((i = 0; i < 300; i++)); do
    state=$(sinfo -h -n "$host" -o '%T' 2>/dev/null | head -1)
    [[ $state == idle ]] && return 0
    _slurm_daemons_alive || break
    sleep 0.1
  done
  echo "lib_slurm: node ${host} did not become idle (state '${state}')" >&2
  slurm_dump_logs
  return 1
}

_slurm_daemons_alive() {
  local entry
  for entry in "${SLURM_TEST_PIDS[@]}"; do
    kill -0 "${entry#*:}" 2>/dev/null || { echo "lib_slurm: ${entry%%:*} exited" >&2; return 1; }
  done
}

# Stops one PID: TERM, up to 10 s grace, then KILL.
_slurm_stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

# PIDs of processes that carry our marker but are not in our own session (so: slurmstepd and job processes,
# never this test script or its subshells).
_slurm_marked_pids() {
  [[ -n $SLURM_TEST_DIR ]] || return 0
  local own_sid p sid
  own_sid=$(ps -o sid= -p $$ | tr -d ' ')
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p == "$$" ]] && continue
    { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "FERGAN_SLURM_TEST_MARKER=$SLURM_TEST_DIR" || continue
    sid=$(ps -o sid= -p "$p" 2>/dev/null | tr -d ' ')
    [[ -n $sid && $sid != "$own_sid" ]] && echo "$p"
  done
}

slurm_cluster_stop() {
  [[ -n $SLURM_TEST_DIR ]] || return 0
  local i entry
  # Cancel jobs first, while slurmd is still there to clean up their steps.
  if _slurm_daemons_alive 2>/dev/null; then
    scancel --full --quiet -u "$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  # Daemons in reverse start order: slurmd, slurmctld, munged.
  for ((i = ${#SLURM_TEST_PIDS[@]} - 1; i >= 0; i--)); do
    entry=${SLURM_TEST_PIDS[i]}
    _slurm_stop_pid "${entry#*:}"
    wait "${entry#*:}" 2>/dev/null || true
  done
  SLURM_TEST_PIDS=()
  local left
  left=$(_slurm_marked_pids)
  if [[ -n $left ]]; then
    echo "lib_slurm: stopping leftover job processes:" $left >&2
    kill -KILL $left 2>/dev/null || true
  fi
  SLURM_TEST_DIR=""
}

slurm_job_field() {
  scontrol show job -o "$1" 2>/dev/null | tr ' ' '\n' | sed -n "s/^$2=//p" | head -1
}

slurm_wait_state() {
  local job=$1 regex=$2 timeout=$3 state="" start=$SECONDS
  while ((SECONDS - start < timeout)); do
    state=$(slurm_job_field "$job" JobState)
    if [[ $state =~ $regex ]]; then
      echo "$state"
      return 0
    fi
    sleep 0.2
  done
  echo "${state:-UNKNOWN}"
  return 1
}

slurm_wait_job() {
  slurm_wait_state "$1" '^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED)$' "$2"
}

slurm_dump_logs() {
  [[ -n $SLURM_TEST_DIR ]] || return 0
  local f
  for f in "$SLURM_TEST_DIR"/log/*; do
    [[ -s $f ]] || continue
    echo "----- $f (tail) -----" >&2
    tail -n 25 "$f" >&2
  done
}
