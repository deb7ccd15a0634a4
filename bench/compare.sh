#!/usr/bin/env bash
# bench/compare.sh: fergan against the original train.py (bench/reference/original_train.py) on the same
# FER2013 subset and config (config/original.yaml: 64x64, batch 32), one phase per process, at equal thread
# counts and at each program's defaults. Prints one markdown table (images/s, peak RSS, ratios, fergan's
# FLOPs and GFLOP/s next to the sgemm rate measured in the same run) and fergan's step-time breakdown.
#
#   nice -n 15 bench/compare.sh            # from the repository root, after building (see docs/performance.md)
#
# Environment (defaults in brackets):
#   BENCH_IMAGES [2048]     images in the subset, evenly spaced over FER2013's train split (by sorted path)
#   BENCH_EPOCHS [1]        epochs per GAN
#   BENCH_THREADS ["1 2"]   equal-thread settings (both programs get the same intra-op thread count)
#   BENCH_DEFAULTS [1]      also run each program at its own default threads (skipped where the default equals
#                           a setting already run)
#   BENCH_PHASES ["img2text text2img"]
#   BENCH_REF_WORKERS [2]   the reference's DataLoader worker processes
#   BENCH_VARIANTS [""]     extra fergan runs at the last of BENCH_THREADS, each NAME:KEY=VALUE[,KEY=VALUE...],
#                           space-separated, e.g. "subpixel:text2img.upsample=subpixel bf16:train.amp=bf16";
#                           each gets its own rows against the same reference run
#   BENCH_WORK [build/bench_compare]  scratch: the unpacked images, the subset, shards, runs, results.jsonl
#   BUILD [build]           fergan's build directory (needs fergan_dist, data_prep, bench_sgemm, fergan_flops)
#   FERGAN_SHARED_DIR [../shared]     holds data/fer2013/fer2013_images.tar.gz
# Each run's wall time and peak RSS come from /usr/bin/time -v around the whole process: startup, data
# loading, the epoch(s) and the checkpoint write all count.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
IMAGES=${BENCH_IMAGES:-2048}
EPOCHS=${BENCH_EPOCHS:-1}
THREADS=${BENCH_THREADS:-"1 2"}
DEFAULTS=${BENCH_DEFAULTS:-1}
PHASES=${BENCH_PHASES:-"img2text text2img"}
WORKERS=${BENCH_REF_WORKERS:-2}
VARIANTS=${BENCH_VARIANTS:-}
WORK=${BENCH_WORK:-build/bench_compare}
BUILD=${BUILD:-build}
SHARED=${FERGAN_SHARED_DIR:-../shared}
BIN=$BUILD/bin
PY=/usr/bin/python3
TARBALL=$SHARED/data/fer2013/fer2013_images.tar.gz

for tool in "$BIN/fergan_dist" "$BIN/data_prep" "$BIN/bench_sgemm" "$BIN/fergan_flops" /usr/bin/time; do
  [ -x "$tool" ] || { echo "compare.sh: $tool not found (build fergan_dist data_prep bench_sgemm fergan_flops; apt install time)" >&2; exit 1; }
done
$PY -c 'import torch, torchvision, PIL' 2>/dev/null ||
  { echo "compare.sh: $PY needs python3-torch, python3-torchvision, python3-pil (launch/install_deps.sh)" >&2; exit 1; }
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)

# 1. FER2013's train split, unpacked once.
if [ ! -f "$WORK/fer2013/.complete" ]; then
  [ -f "$TARBALL" ] || { echo "compare.sh: $TARBALL not found (set FERGAN_SHARED_DIR)" >&2; exit 1; }
  rm -rf "$WORK/fer2013" && mkdir -p "$WORK/fer2013"
  tar xzf "$TARBALL" -C "$WORK/fer2013" train
  touch "$WORK/fer2013/.complete"
fi

# 2. The subset: every (total/N)-th image by sorted path, as links in the same folder layout, and its shards
#    (random caption embeddings: the reference's CLIP has random weights too, and neither run measures quality).
SUB=$WORK/subset_$IMAGES
if [ ! -f "$SUB/.complete" ]; then
  rm -rf "$SUB"
  $PY - "$WORK/fer2013/train" "$SUB/train" "$IMAGES" <<'EOF'
import os, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
files = sorted(os.path.join(e, f) for e in os.listdir(src) for f in os.listdir(os.path.join(src, e)))
if n > len(files):
    sys.exit(f"compare.sh: {n} images asked for, the train split has {len(files)}")
for i in range(n):
    rel = files[i * len(files) // n]
    os.makedirs(os.path.join(dst, os.path.dirname(rel)), exist_ok=True)
    os.symlink(os.path.join(src, rel), os.path.join(dst, rel))
EOF
  touch "$SUB/.complete"
fi
SHARDS=$WORK/shards_$IMAGES
if [ ! -f "$SHARDS/train/manifest.json" ] && [ ! -f "$SHARDS/manifest.json" ]; then
  "$BIN/data_prep" --input "$SUB" --out "$SHARDS" --config config/original.yaml --random-embeddings --overwrite --quiet
fi

# 3. The runs. Each appends one JSON line to results.jsonl.
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
ref_default=$($PY -c 'import torch; print(torch.get_num_threads())')
fergan_default=$(nproc)
declare -A done_ref=() done_fergan=() done_sgemm=()

measure() {  # measure NAME OUTFILE CMD... : runs CMD under /usr/bin/time -v, output to OUTFILE
  local name=$1 out=$2
  shift 2
  echo "compare.sh: $name" >&2
  /usr/bin/time -v -o "$out.time" "$@" > "$out" 2>&1 || { echo "compare.sh: $name failed, see $out" >&2; tail -20 "$out" >&2; exit 1; }
}

run_reference() {  # threads-flag resolved-threads phase setting
  local flag=$1 resolved=$2 phase=$3 setting=$4 key="$2:$3"
  local out=$WORK/runs/reference_t${resolved}_$phase.log
  if [ -z "${done_ref[$key]:-}" ]; then
    measure "reference, $phase, $resolved thread(s)" "$out" \
      $PY bench/reference/original_train.py --data "$SUB" --phase "$phase" --epochs "$EPOCHS" --threads "$flag" \
      --workers "$WORKERS" --checkpoint-dir "$WORK/runs/reference_checkpoints"
    done_ref[$key]=1
  fi
  $PY bench/compare_report.py record reference "$setting" "$phase" "$resolved" "$out" >> "$RESULTS"
}

run_fergan() {  # threads-flag resolved-threads phase setting [variant-name KEY=VALUE...]
  local flag=$1 resolved=$2 phase=$3 setting=$4 variant=${5:-}
  shift 4 && [ -n "$variant" ] && shift
  local key="$resolved:$phase:$variant" run=$WORK/runs/fergan_t${resolved}_$phase${variant:+_$variant}
  local extra=()
  for kv in "$@"; do extra+=(--set "$kv"); done
  if [ -z "${done_fergan[$key]:-}" ]; then
    rm -rf "$run" && mkdir -p "$run"
    measure "fergan, $phase, $resolved thread(s)${variant:+, $variant}" "$run/console.log" \
      "$BIN/fergan_dist" --config config/original.yaml --phase "$phase" \
      --set "data.shards=$SHARDS" --set "img2text.epochs=$EPOCHS" --set "text2img.epochs=$EPOCHS" \
      --set "threads=$flag" --set train.step_timing=true --set "run_dir=$run" --set "checkpoint_dir=$run/checkpoints" \
      "${extra[@]}"
    done_fergan[$key]=1
  fi
  $PY bench/compare_report.py record fergan "$setting" "$phase" "$resolved" "$run/console.log" >> "$RESULTS"
}

run_sgemm() {
  local threads=$1
  if [ -z "${done_sgemm[$threads]:-}" ]; then
    echo "compare.sh: sgemm, $threads thread(s)" >&2
    echo "{\"program\": \"sgemm\", \"result\": $("$BIN/bench_sgemm" --threads "$threads")}" >> "$RESULTS"
    done_sgemm[$threads]=1
  fi
}

mkdir -p "$WORK/runs"
echo "{\"program\": \"flops\", \"result\": $("$BIN/fergan_flops" --config config/original.yaml)}" >> "$RESULTS"
for t in $THREADS; do
  run_sgemm "$t"
  for phase in $PHASES; do
    run_reference "$t" "$t" "$phase" "equal threads"
    run_fergan "$t" "$t" "$phase" "equal threads"
  done
done
last_threads=${THREADS##* }
for v in $VARIANTS; do
  name=${v%%:*}
  IFS=, read -r -a sets <<< "${v#*:}"
  for phase in $PHASES; do
    run_reference "$last_threads" "$last_threads" "$phase" "equal threads, fergan $name"
    run_fergan "$last_threads" "$last_threads" "$phase" "equal threads, fergan $name" "$name" "${sets[@]}"
  done
done
if [ "$DEFAULTS" = 1 ]; then
  run_sgemm "$fergan_default"
  for phase in $PHASES; do
    run_reference 0 "$ref_default" "$phase" "defaults"
    run_fergan 0 "$fergan_default" "$phase" "defaults"
  done
fi

# 4. The table.
$PY bench/compare_report.py table "$RESULTS" --images "$IMAGES" --epochs "$EPOCHS" --workers "$WORKERS"
