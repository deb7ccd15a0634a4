#!/usr/bin/env bash
# Data-parallel scaling on this machine: images/s of fergan_dist for 1 rank x 2 threads, 1 rank x 1 thread and
# 2 ranks x 1 thread (global batch fixed), scaling efficiency, and the share of step time rank 0 spends waiting
# on gradient all-reduces. Reads the figures from each run's metrics.jsonl (steady-state intervals only).
#   bench/bench_scaling.sh [BUILD_DIR] [PHASE=img2text|text2img]
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$src/build}"
phase="${2:-text2img}"
bin="$build/bin"
tmp=$(mktemp -d /tmp/fergan_bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mpirun=(mpirun --oversubscribe --bind-to none)
[ "$(id -u)" = 0 ] && mpirun+=(--allow-run-as-root)

"$bin/data_prep" synth --out "$tmp/raw" --per-class 40 --seed 1 --splits train:40 >/dev/null
"$bin/data_prep" --input "$tmp/raw" --out "$tmp/shards" --random-embeddings --quiet >/dev/null 2>&1
common=(--config "$src/config/default.yaml" --set data.shards="$tmp/shards" --set device=cpu
  --set text2img.image_size=64 --set img2text.epochs=1 --set text2img.epochs=1 --set train.log_interval=5
  --set train.save_interval=1000 --phase "$phase")

run() {  # run NAME RANKS THREADS BATCH_PER_RANK
  local name=$1 ranks=$2 threads=$3 batch=$4
  local args=("${common[@]}" --set run_dir="$tmp/$name" --set checkpoint_dir="$tmp/$name/ckpt" --set threads="$threads"
    --set train.batch_size="$batch")
  if [ "$ranks" = 1 ]; then
    "$bin/fergan_dist" "${args[@]}" >"$tmp/$name.log" 2>&1
  else
    "${mpirun[@]}" -np "$ranks" "$bin/fergan_dist" "${args[@]}" >"$tmp/$name.log" 2>&1
  fi
}
run r1t2 1 2 32
run r1t1 1 1 32
run r2t1 2 1 16

python3 - "$tmp" <<'PY'
import json, sys, os
tmp = sys.argv[1]
def stats(name):
    rows = [json.loads(l) for l in open(os.path.join(tmp, name, "metrics.jsonl"))]
    rows = [r for r in rows if r["event"] == "interval"][1:]  # drop the first interval (warm-up)
    ips = sum(r["images_per_s"] for r in rows) / len(rows)
    wait = sum(r.get("comm_wait_share", 0) for r in rows) / len(rows)
    return ips, wait
r = {n: stats(n) for n in ("r1t2", "r1t1", "r2t1")}
base = r["r1t1"][0]
print("| configuration | images/s | speed-up vs 1x1 | scaling efficiency | comm wait share |")
print("|---|---|---|---|---|")
for name, label, cores in (("r1t1", "1 rank x 1 thread", 1), ("r1t2", "1 rank x 2 threads", 2), ("r2t1", "2 ranks x 1 thread", 2)):
    ips, wait = r[name]
    print(f"| {label} | {ips:.1f} | {ips / base:.2f} | {ips / base / cores:.0%} | {wait:.1%} |")
PY
