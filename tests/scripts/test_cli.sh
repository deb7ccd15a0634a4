#!/usr/bin/env bash
# The command lines of data_prep, fergan_dist, fergan_infer and fergan_eval: --help of every program and
# subcommand exits 0 and lists the exit codes; unknown flags, bad numbers ("12x", "abc", octal/hex forms),
# out-of-range and missing values exit 2 with one message naming the flag; numbers are read in base 10; and
# fergan_dist under `mpirun -np 2` with a bad flag exits 2 promptly, printing the message once, without
# MPI_Abort.
set -euo pipefail
BIN="${FERGAN_BUILD_DIR:?}/bin"
tmp=$(mktemp -d /tmp/fergan_cli_test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export OMP_NUM_THREADS=1
MPIRUN=(mpirun --oversubscribe -np 2)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
for p in data_prep fergan_dist fergan_infer fergan_eval; do
  [ -x "$BIN/$p" ] || { echo "FAIL: $BIN/$p is missing (build it)" >&2; exit 1; }
done

fail() { echo "FAIL: $*" >&2; exit 1; }
checks=0

# run CMD...: runs it with stdout in $tmp/out, stderr in $tmp/err; the exit code in $rc.
run() {
  set +e
  "$@" >"$tmp/out" 2>"$tmp/err"
  rc=$?
  set -e
}

# usage_error WANT -- CMD...: exit code 2, exactly one "error:" line, and it contains WANT.
usage_error() {
  local want=$1
  shift 2
  run "$@"
  [ $rc = 2 ] || { cat "$tmp/out" "$tmp/err"; fail "$*: exit $rc, expected 2"; }
  [ "$(grep -c '^error: ' "$tmp/err")" = 1 ] || { cat "$tmp/err"; fail "$*: expected one error line"; }
  grep -q -- "^error: .*$want" "$tmp/err" || { cat "$tmp/err"; fail "$*: the message does not name '$want'"; }
  grep -q -- "--help' for the options" "$tmp/err" || { cat "$tmp/err"; fail "$*: no hint at --help"; }
  [ ! -s "$tmp/out" ] || { cat "$tmp/out"; fail "$*: printed to stdout"; }
  checks=$((checks + 1))
}

# help_lists CODES OPTION -- CMD...: --help exits 0 on stdout, with the exit-code footer rows CODES and OPTION.
help_lists() {
  local codes=$1 option=$2
  shift 3
  run "$@" --help
  [ $rc = 0 ] || { cat "$tmp/out" "$tmp/err"; fail "$* --help: exit $rc"; }
  grep -q '^Exit codes:$' "$tmp/out" || { cat "$tmp/out"; fail "$* --help: no exit-code footer"; }
  for code in $codes; do
    grep -qE "^  $code  [a-z-]" "$tmp/out" || { cat "$tmp/out"; fail "$* --help: exit code $code not listed"; }
  done
  local listed
  listed=$(grep -cE '^  [0-9]  ' "$tmp/out")
  [ "$listed" = "$(wc -w <<<"$codes")" ] || { cat "$tmp/out"; fail "$* --help: $listed exit codes, expected $codes"; }
  grep -q -- "$option" "$tmp/out" || { cat "$tmp/out"; fail "$* --help: $option not listed"; }
  checks=$((checks + 1))
}

# 1. --help: every program and subcommand.
help_lists "0 1 2" "--samples-per-shard" -- "$BIN/data_prep"
help_lists "0 1 2" "--per-class" -- "$BIN/data_prep" synth
help_lists "0 1 2 3 4 5" "--compare-checkpoints" -- "$BIN/fergan_dist"
grep -q "^  4  --compare-checkpoints: the checkpoints differ" "$tmp/out" || fail "fergan_dist --help: code 4 meaning"
help_lists "0 1 2" "roundtrip" -- "$BIN/fergan_infer"
help_lists "0 1 2" "--emotion" -- "$BIN/fergan_infer" text2img
help_lists "0 1 2" "--max-samples" -- "$BIN/fergan_infer" img2text
help_lists "0 1 2" "--images" -- "$BIN/fergan_infer" roundtrip
help_lists "0 1 2" "--collapse-threshold" -- "$BIN/fergan_eval"
if grep -q -- "--emotion" "$tmp/out"; then fail "fergan_eval --help lists fergan_infer's --emotion"; fi
echo "ok: --help of every program and subcommand lists its exit codes"

# 2. Unknown flags and arguments.
usage_error "unknown option '--bogus'" -- "$BIN/data_prep" --input "$tmp/raw" --out "$tmp/x" --bogus
usage_error "unknown option '--bogus'" -- "$BIN/data_prep" synth --out "$tmp/raw" --bogus
usage_error "--input: not an option of 'data_prep synth'" -- "$BIN/data_prep" --input x synth --out "$tmp/raw"
usage_error "unknown option '--bogus'" -- "$BIN/fergan_dist" --bogus
usage_error "unexpected argument 'stray'" -- "$BIN/fergan_dist" --config x.yaml stray
usage_error "unknown option '--bogus'" -- "$BIN/fergan_infer" text2img --bogus
usage_error "unknown option '--emotion'" -- "$BIN/fergan_infer" img2text --emotion sad
usage_error "unexpected argument 'text2imgs'" -- "$BIN/fergan_infer" text2imgs
usage_error "A subcommand is required" -- "$BIN/fergan_infer"
usage_error "unknown option '--bogus'" -- "$BIN/fergan_eval" --bogus
echo "ok: unknown flags exit 2 and are named"

# 3. Bad numbers (strict, base 10), out-of-range values, values not among the choices.
usage_error "--samples-per-shard: expected an integer, got 'x'" -- \
  "$BIN/data_prep" --input "$tmp/raw" --out "$tmp/x" --samples-per-shard x
usage_error "--samples-per-shard: expected an integer, got '12x'" -- \
  "$BIN/data_prep" --input "$tmp/raw" --out "$tmp/x" --samples-per-shard 12x
usage_error "--shards: expected an integer >= 1, got '0'" -- "$BIN/data_prep" --input "$tmp/raw" --out "$tmp/x" --shards 0
usage_error "--threads: expected an integer >= 0, got '-1'" -- "$BIN/data_prep" --input "$tmp/raw" --out "$tmp/x" --threads -1
usage_error "--per-class: expected an integer, got '0x10'" -- "$BIN/data_prep" synth --out "$tmp/raw" --per-class 0x10
usage_error "--splits: expected name:count with a count >= 1, got 'test:2x'" -- \
  "$BIN/data_prep" synth --out "$tmp/raw" --splits train:4,test:2x
usage_error "--format: " -- "$BIN/data_prep" synth --out "$tmp/raw" --format gif
usage_error "--tolerance: expected a number, got 'abc'" -- "$BIN/fergan_dist" --compare-checkpoints A B --tolerance abc
usage_error "--tolerance: expected a number, got 'nan'" -- "$BIN/fergan_dist" --compare-checkpoints A B --tolerance nan
usage_error "--tolerance: expected a number >= 0, got '-1'" -- "$BIN/fergan_dist" --compare-checkpoints A B --tolerance -1
usage_error "--tolerance requires --compare-checkpoints" -- "$BIN/fergan_dist" --tolerance 1
usage_error "--ignore: not a valid regular expression" -- "$BIN/fergan_dist" --compare-checkpoints A B --ignore '('
usage_error "--phase: " -- "$BIN/fergan_dist" --phase img2txt
usage_error "--set: expected key=value, got 'train.batch_size'" -- "$BIN/fergan_dist" --set train.batch_size
usage_error "--batch-size: expected an integer, got '12x'" -- "$BIN/fergan_infer" text2img --batch-size 12x
usage_error "--batch-size: expected an integer >= 1, got '0'" -- "$BIN/fergan_infer" roundtrip --batch-size 0
usage_error "--seed: expected an integer, got '-1'" -- "$BIN/fergan_infer" text2img --seed -1
usage_error "--device: " -- "$BIN/fergan_infer" img2text --device gpu
usage_error "--batch-size: expected an integer, got '12x'" -- "$BIN/fergan_eval" --batch-size 12x
usage_error "--samples-per-emotion: expected an integer >= 2, got '1'" -- "$BIN/fergan_eval" --samples-per-emotion 1
usage_error "--collapse-threshold: expected a number > 0, got '0'" -- "$BIN/fergan_eval" --collapse-threshold 0
usage_error "--classifier-epochs: expected an integer, got '99999999999'" -- "$BIN/fergan_eval" --classifier-epochs 99999999999
echo "ok: bad numbers and out-of-range values exit 2 and are named"

# 4. Missing values and options.
usage_error "--out: 1 required" -- "$BIN/data_prep" --input "$tmp/raw" --out
usage_error "--input is required" -- "$BIN/data_prep"
usage_error "--out is required" -- "$BIN/data_prep" --input "$tmp/raw"
usage_error "--out is required" -- "$BIN/data_prep" synth --per-class 2
usage_error "--clip-weights requires --clip-vocab" -- "$BIN/data_prep" --input "$tmp/raw" --out "$tmp/x" --clip-weights w
usage_error "--config: 1 required" -- "$BIN/fergan_dist" --config
usage_error "--compare-checkpoints: At least 2 required" -- "$BIN/fergan_dist" --compare-checkpoints A
usage_error "--checkpoint: 1 required" -- "$BIN/fergan_eval" --checkpoint
usage_error "--samples: 1 required" -- "$BIN/fergan_infer" roundtrip --samples
echo "ok: missing values exit 2 and are named"
[ ! -e "$tmp/x" ] || fail "a usage error created an output directory"

# 5. Numbers are base 10: "010" is ten (CLI11 alone would read octal 8), and a repeated option takes its last
# value, as the hand-written parsers did.
"$BIN/data_prep" synth --out "$tmp/raw" --per-class 3 --per-class 010 --splits train:010 --seed 007 >/dev/null
n=$(find "$tmp/raw/train/happy" -name '*.png' | wc -l)
[ "$n" = 10 ] || fail "--splits train:010 drew $n images per class, expected 10"
checks=$((checks + 1))
echo "ok: numbers are read in base 10"

# 6. fergan_dist under mpirun -np 2: a usage error ends both ranks with 2, promptly, printed by rank 0 only,
# without MPI_Abort; --help is printed once.
start=$SECONDS
run timeout 60 "${MPIRUN[@]}" "$BIN/fergan_dist" --config x.yaml --bogus
secs=$((SECONDS - start))
cat "$tmp/err" >>"$tmp/out"
[ $rc = 2 ] || { cat "$tmp/out"; fail "mpirun -np 2 fergan_dist --bogus: exit $rc, expected 2"; }
[ $secs -le 30 ] || fail "mpirun -np 2 fergan_dist --bogus took ${secs}s"
[ "$(grep -c "^error: unknown option '--bogus'" "$tmp/out")" = 1 ] || { cat "$tmp/out"; fail "np2: message not printed once"; }
if grep -qi "MPI_ABORT\|\[rank 1\]" "$tmp/out"; then cat "$tmp/out"; fail "np2: a usage error went through MPI_Abort or rank 1 printed"; fi
run timeout 60 "${MPIRUN[@]}" "$BIN/fergan_dist" --compare-checkpoints A B --tolerance 12x
[ $rc = 2 ] || { cat "$tmp/out" "$tmp/err"; fail "mpirun -np 2 fergan_dist --tolerance 12x: exit $rc, expected 2"; }
[ "$(grep -c "^error: --tolerance: expected a number, got '12x'" "$tmp/err")" = 1 ] || { cat "$tmp/err"; fail "np2: not once"; }
run timeout 60 "${MPIRUN[@]}" "$BIN/fergan_dist" --help
[ $rc = 0 ] || { cat "$tmp/out" "$tmp/err"; fail "mpirun -np 2 fergan_dist --help: exit $rc"; }
[ "$(grep -c '^Exit codes:$' "$tmp/out")" = 1 ] || { cat "$tmp/out"; fail "np2: --help not printed once"; }
checks=$((checks + 3))
echo "ok: fergan_dist under mpirun -np 2: exit 2 in ${secs}s, message printed once, no MPI_Abort"

echo "test_cli: OK ($checks checks)"
