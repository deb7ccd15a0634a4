#!/usr/bin/env bash
# The demo of the main job on a fresh machine, on the CPU, in a few minutes:
# install -> build -> synthetic FER-format faces -> data_prep (HDF5 shards) -> fergan_dist (both GANs) -> samples.
# Uses real FER2013 instead when FERGAN_DEMO_FER=1 and ../shared/data/fer2013 is present.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
"$here/launch/install_deps.sh"
build="${FERGAN_BUILD_DIR:-$here/build}"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target data_prep fergan_dist
bin="$build/bin"

raw=data/demo_raw
if [ "${FERGAN_DEMO_FER:-0}" = 1 ] && [ -f ../shared/data/fer2013/fer2013_subset.csv ]; then
  raw=../shared/data/fer2013/fer2013_subset.csv
else
  rm -rf "$raw"
  "$bin/data_prep" synth --out "$raw" --per-class 60 --seed 7
fi
"$bin/data_prep" --input "$raw" --out data/demo_shards --config config/demo.yaml --random-embeddings --overwrite
"$bin/fergan_dist" --config config/demo.yaml "$@"
echo
echo "Demo done. Sample grids (one row per emotion): $(ls experiments/demo/checkpoints/text2img_generator_*.png | tr '\n' ' ')"
echo "Metrics: experiments/demo/metrics.jsonl   Checkpoints: experiments/demo/checkpoints/"
