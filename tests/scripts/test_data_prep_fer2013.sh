#!/usr/bin/env bash
# The count test on the real FER2013 folder release: per split and class counts must be exactly
# the published ones. Skipped (exit 0, "SKIPPED") when the tarball is not there; FER2013 is never copied
# into the project, only unpacked to a temporary directory.
set -euo pipefail
BIN="${FERGAN_BUILD_DIR:?}/bin"
tarball="${FERGAN_SHARED_DIR:-/nonexistent}/data/fer2013/fer2013_images.tar.gz"
if [ ! -f "$tarball" ]; then
  echo "SKIPPED: $tarball not found"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# jv FILE EXPR: a value of the JSON in FILE (EXPR in Python over d), printed as compact JSON.
jv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2], {"d": d}), separators=(",", ":")))' "$1" "$2"; }
mkdir "$tmp/raw"
tar xzf "$tarball" -C "$tmp/raw"
start=$(date +%s%N)
"$BIN/data_prep" --input "$tmp/raw" --out "$tmp/shards" --random-embeddings --quiet
end=$(date +%s%N)
m="$tmp/shards/manifest.json"
check() {  # check <split> <total> <counts as JSON>
  local n c
  n=$(jv "$m" "d['splits']['$1']['samples']")
  c=$(jv "$m" "d['splits']['$1']['class_counts']")
  [ "$n" = "$2" ] || fail "$1: $n samples, expected $2"
  [ "$c" = "$3" ] || fail "$1: class counts $c, expected $3"
}
# Label order: angry, disgust, fear, happy, sad, surprise, neutral.
check train 28709 "[3995,436,4097,7215,4830,3171,4965]"
check validation 3589 "[467,56,496,895,653,415,607]"
check test 3589 "[491,55,528,879,594,416,626]"
[ "$(jv "$m" 'd["bad_skipped"]')" = 0 ] || fail "bad rows were skipped"
[ "$(jv "$m" '[d["height"], d["width"], d["channels"]]')" = "[48,48,1]" ] || fail "image size"
# CSV rows vs. our decode of the same JPEGs (prints the bound seen).
if [ -x "$FERGAN_BUILD_DIR/bin/test_data" ]; then
  FERGAN_FER2013_DIR="$tmp/raw" "$FERGAN_BUILD_DIR/bin/test_data" --gtest_filter='Fer2013Jpeg.*' \
    || fail "CSV/JPEG agreement"
fi
echo "test_data_prep_fer2013: OK: 35887 images in $(( (end - start) / 1000000 )) ms; shards: $(du -sh "$tmp/shards" | cut -f1)"
