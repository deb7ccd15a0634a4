#!/usr/bin/env bash
# data_prep end to end through the command line: synth -> prep -> manifest; exit codes and messages of the
# bad-input paths; --overwrite; and a run killed with SIGKILL mid-write leaves no manifest and an earlier
# complete output untouched.
set -euo pipefail
BIN="${FERGAN_BUILD_DIR:?}/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
# jv FILE EXPR: a value of the JSON in FILE (EXPR in Python over d), printed as compact JSON.
jv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2], {"d": d}), separators=(",", ":")))' "$1" "$2"; }

# 1. synth: 4 per class in train, 2 in test = 42 PNGs.
"$BIN/data_prep" synth --out "$tmp/raw" --per-class 4 --splits train:4,test:2 --seed 3 >/dev/null
n=$(find "$tmp/raw" -name '*.png' | wc -l)
[ "$n" = 42 ] || fail "synth wrote $n images, expected 42"
[ -d "$tmp/raw/test/surprise" ] || fail "synth: no test/surprise folder"

# 2. prep with random embeddings: manifest with both splits, sample counts, flags.
"$BIN/data_prep" --input "$tmp/raw" --out "$tmp/shards" --random-embeddings --embed-dim 32 \
  --samples-per-shard 10 > "$tmp/log" 2>&1 || { cat "$tmp/log"; fail "data_prep failed"; }
m="$tmp/shards/manifest.json"
[ -f "$m" ] || fail "no manifest"
[ "$(jv "$m" 'd["splits"]["train"]["samples"]')" = 28 ] || fail "train samples"
[ "$(jv "$m" 'd["splits"]["test"]["samples"]')" = 14 ] || fail "test samples"
[ "$(jv "$m" 'len(d["splits"]["train"]["shards"])')" = 3 ] || fail "train shards"
[ "$(jv "$m" 'd["splits"]["train"]["class_counts"]')" = "[4,4,4,4,4,4,4]" ] || fail "class counts"
[ "$(jv "$m" 'd["random_embeddings"]')" = true ] || fail "random_embeddings flag"
[ "$(jv "$m" 'd["embed_dim"]')" = 32 ] || fail "embed_dim"
for f in $(jv "$m" '" ".join(e["file"] + ":" + e["sha256"] for s in d["splits"].values() for e in s["shards"])' | tr -d '"'); do
  [ "$(sha256sum "$tmp/shards/${f%%:*}" | cut -d' ' -f1)" = "${f#*:}" ] || fail "sha256 of ${f%%:*}"
done
grep -q "RANDOM" "$tmp/log" || fail "no loud warning about random embeddings"
grep -q "images/s" "$tmp/log" || fail "no summary line"

# 3. bad input: non-zero exit and a message naming the culprit.
expect_fail() {  # expect_fail <text that stderr must contain> <args...>
  local want="$1"; shift
  if "$BIN/data_prep" "$@" > "$tmp/out" 2> "$tmp/err"; then fail "data_prep $* succeeded"; fi
  grep -q -- "$want" "$tmp/err" || { cat "$tmp/err"; fail "stderr lacks '$want'"; }
}
expect_fail "does not exist" --input "$tmp/nope" --out "$tmp/x" --random-embeddings
expect_fail "--random-embeddings" --input "$tmp/raw" --out "$tmp/x"
expect_fail "already holds shards" --input "$tmp/raw" --out "$tmp/shards" --random-embeddings
expect_fail "unknown option" --input "$tmp/raw" --out "$tmp/x" --bogus
expect_fail "unknown config key" --input "$tmp/raw" --out "$tmp/x" --random-embeddings --set data.nope=1
printf 'emotion,pixels,Usage\n0,1 2 3,Training\n' > "$tmp/bad.csv"
expect_fail "bad.csv:2:" --input "$tmp/bad.csv" --out "$tmp/x" --random-embeddings
[ ! -e "$tmp/x" ] || fail "a failed run left $tmp/x behind"
# A file whose only rows are bad names the first of them and what is wrong, not "holds no samples".
printf 'emotion,pixels,Usage\n0,1 2 3,Holdout\n1,4 5 6,Holdout\n' > "$tmp/only_bad.csv"
expect_fail "only_bad.csv:2: unknown Usage 'Holdout'" --input "$tmp/only_bad.csv" --out "$tmp/x" --random-embeddings --skip-bad

# 3b. RFC 4180 quoting as spreadsheet tools write fer2013.csv: a quoted header, quoted fields, CRLF line ends.
python3 - "$tmp/quoted.csv" <<'PY'
import sys
rows = ['"emotion","pixels","Usage"']
for i, usage in enumerate(["Training", "Training", "PublicTest"]):
    pixels = " ".join(str((i * 37 + k) % 256) for k in range(48 * 48))
    rows.append(f'{i},"{pixels}",{usage}' if i % 2 else f'"{i}","{pixels}","{usage}"')
open(sys.argv[1], "w", newline="").write("\r\n".join(rows) + "\r\n")
PY
"$BIN/data_prep" --input "$tmp/quoted.csv" --out "$tmp/quoted" --random-embeddings --embed-dim 8 --quiet \
  >"$tmp/log" 2>&1 || { cat "$tmp/log"; fail "data_prep rejected an RFC 4180 quoted CSV"; }
[ "$(jv "$tmp/quoted/manifest.json" 'd["splits"]["train"]["samples"]')" = 2 ] || fail "quoted CSV: train samples"
[ "$(jv "$tmp/quoted/manifest.json" 'd["splits"]["validation"]["samples"]')" = 1 ] || fail "quoted CSV: validation samples"

# 4. SIGKILL during an --overwrite run: the old dataset stays complete and intact.
"$BIN/data_prep" synth --out "$tmp/big" --per-class 700 --splits train:700 --format jpg >/dev/null
cp "$m" "$tmp/manifest.before"
"$BIN/data_prep" --input "$tmp/big" --out "$tmp/shards" --random-embeddings --overwrite --threads 1 \
  --samples-per-shard 200 --quiet > /dev/null 2>&1 &
pid=$!
# Kill it once its second shard exists (of 25), however long a loaded machine takes to get there.
for _ in $(seq 1 6000); do
  [ -e "$tmp/shards.tmp-dir/train-00001.h5" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.01
done
[ -e "$tmp/shards.tmp-dir/train-00001.h5" ] || { kill -9 "$pid" 2>/dev/null; fail "the --overwrite run wrote no second shard within 60 s"; }
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ -e "$tmp/shards.tmp-dir" ] || fail "the --overwrite run finished before it was killed: nothing was tested"
cmp -s "$m" "$tmp/manifest.before" || fail "the earlier manifest changed"
[ ! -f "$tmp/shards.tmp-dir/manifest.json" ] || fail "the killed run wrote a manifest"
for f in $(jv "$m" '" ".join(e["file"] + ":" + e["sha256"] for s in d["splits"].values() for e in s["shards"])' | tr -d '"'); do
  [ "$(sha256sum "$tmp/shards/${f%%:*}" | cut -d' ' -f1)" = "${f#*:}" ] || fail "old shard ${f%%:*} damaged"
done
# ... and the next --overwrite run completes over the leftovers.
"$BIN/data_prep" --input "$tmp/big" --out "$tmp/shards" --random-embeddings --overwrite --quiet >/dev/null 2>&1 \
  || fail "rerun after kill failed"
[ "$(jv "$m" 'd["splits"]["train"]["samples"]')" = 4900 ] || fail "rerun sample count"
[ ! -e "$tmp/shards.tmp-dir" ] || fail "staging dir left behind"
echo "test_data_prep: OK"
