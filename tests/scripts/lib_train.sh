# shellcheck shell=bash
# lib_train.sh — shared set-up for the trainer's end-to-end tests (source it).
# Makes a tiny synthetic shard set and a tiny config in a temp dir; gives check helpers that fail loudly.
set -euo pipefail
SRC=${FERGAN_SOURCE_DIR:?}
BIN=${FERGAN_BUILD_DIR:?}/bin
TMP=$(mktemp -d /tmp/fergan_train_test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
export OMP_NUM_THREADS=1
MPIRUN=(mpirun --oversubscribe -np 2)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)

fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok: $*"; }
# wait_for_second_step LOG PID WHAT: waits (up to 120 s) until the run logging to LOG has done a real step (its
# second progress line), however long a loaded machine takes; else kills PID and fails naming WHAT.
wait_for_second_step() {
  for _ in $(seq 600); do grep -q 'Batch 2/' "$1" && return 0; sleep 0.2; done
  kill -KILL "$2"
  cat "$1"
  fail "$3: no step within 120 s"
}

# make_shards PER_CLASS -> $TMP/shards (random 32-d caption embeddings, two caption templates)
make_shards() {
  "$BIN/data_prep" synth --out "$TMP/raw" --per-class "$1" --seed 3 --splits train:"$1" >/dev/null
  "$BIN/data_prep" --input "$TMP/raw" --out "$TMP/shards" --random-embeddings --embed-dim 32 --quiet \
    --samples-per-shard 16 --set 'captions.templates=["a person with a {} expression", "a {} face"]' >/dev/null
}

# A tiny model config; $1 = run dir. Extra --set arguments go after it on the command line.
tiny_args() {
  echo --set "run_dir=$1" --set "checkpoint_dir=$1/ckpt" --set "data.shards=$TMP/shards" --set device=cpu \
    --set threads=1 --set img2text.latent_dim=32 --set text2img.latent_dim=32 --set text2img.image_size=64 \
    --set text2img.ngf=8 --set text2img.ndf=8 --set text2img.noise_dim=8 --set train.log_interval=2 \
    --set text2img.sample_grid_per_emotion=2
}
