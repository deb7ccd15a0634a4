#!/usr/bin/env bash
# fergan_dist as one process: the original's console format (docs/original.md), checkpoint names,
# metrics.jsonl, sample grids, exact resume after a mid-epoch stop, and the trainer's bad-input errors.
source "$(dirname "$0")/lib_train.sh"
make_shards 6   # 42 training images: 6 batches of 8 per epoch, the last one short (drop_last off)

# 1. A full run (both phases, 2 epochs each, checkpoint every epoch).
run=$TMP/full
# shellcheck disable=SC2046
"$BIN/fergan_dist" --config "$SRC/config/default.yaml" $(tiny_args "$run") --set train.batch_size=8 \
  --set img2text.epochs=2 --set text2img.epochs=2 --set train.save_interval=1 >"$TMP/full.log" 2>"$TMP/full.err" ||
  { cat "$TMP/full.log" "$TMP/full.err"; fail "full run"; }
log=$TMP/full.log
grep -qx 'Training Image -> Text GAN on cpu' "$log" || fail "missing 'Training Image -> Text GAN on cpu'"
grep -qx 'Training Text -> Image GAN on cpu' "$log" || fail "missing 'Training Text -> Image GAN on cpu'"
grep -qE '^  Batch 2/6: D_loss=[0-9]+\.[0-9]{4}, G_loss=[0-9]+\.[0-9]{4}$' "$log" || fail "Batch line format"
grep -qE '^\[Img2Text\] Epoch 1/2 done - Avg D_loss: [0-9]+\.[0-9]{4}, Avg G_loss: [0-9]+\.[0-9]{4}$' "$log" ||
  fail "Img2Text epoch line format"
grep -qE '^\[Text2Img\] Epoch 2/2 done - Avg D_loss: [0-9.]+, Avg G_loss: [0-9.]+$' "$log" || fail "Text2Img epoch line"
[ "$(grep -cx "  Saved checkpoints to $run/ckpt" "$log")" = 4 ] || fail "expected 4 'Saved checkpoints' lines"
grep -q 'img/s' "$log" || fail "no progress line with img/s"
grep -q 'RANDOM caption embeddings' "$TMP/full.err" || fail "no warning about random embeddings"
for p in img2text text2img; do
  for n in generator discriminator; do
    for e in 1 2; do [ -s "$run/ckpt/${p}_${n}_epoch_${e}.pth" ] || fail "missing ${p}_${n}_epoch_${e}.pth"; done
  done
  [ -s "$run/ckpt/${p}_generator_epoch_2.safetensors" ] || fail "missing ${p} generator export"
done
[ -s "$run/ckpt/text2img_generator_epoch_2.png" ] || fail "missing sample grid"
head -c 8 "$run/ckpt/text2img_generator_epoch_2.png" | od -An -c | grep -q 'P   N   G' || fail "grid is not a PNG"
[ -s "$run/config.yaml" ] || fail "resolved config not written"
python3 - "$run/metrics.jsonl" <<'PY' || fail "metrics.jsonl"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r for r in rows if r["event"] == "epoch"]
assert [(r["phase"], r["epoch"]) for r in epochs] == [("img2text", 1), ("img2text", 2), ("text2img", 1), ("text2img", 2)], epochs
inter = [r for r in rows if r["event"] == "interval"]
assert inter and all(k in inter[0] for k in ("d_loss", "g_loss", "d_real", "d_fake", "images_per_s", "lr_g", "step"))
assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in inter)
PY
pass "console format, files, metrics"

# 2. Interrupted twice (mid-epoch, then again in phase 1) and resumed: bitwise the same weights (1 thread, CPU).
run2=$TMP/resumed
args=$(tiny_args "$run2")
set +e
# shellcheck disable=SC2086
FERGAN_FAULT_STOP_AT_STEP=3 "$BIN/fergan_dist" --config "$SRC/config/default.yaml" $args --set train.batch_size=8 \
  --set img2text.epochs=2 --set text2img.epochs=2 --set train.save_interval=1 >"$TMP/r1.log" 2>&1
rc=$?
set -e
[ $rc = 3 ] || { cat "$TMP/r1.log"; fail "stop request should exit 3, got $rc"; }
grep -q 'Saved checkpoints' "$TMP/r1.log" || fail "no checkpoint on stop"
ls "$run2/ckpt" | grep -q 'img2text_generator_epoch_0_step_4.pth' || { ls "$run2/ckpt"; fail "mid-epoch checkpoint name"; }
set +e
# shellcheck disable=SC2086
FERGAN_FAULT_STOP_AT_STEP=8 "$BIN/fergan_dist" --config "$SRC/config/default.yaml" $args --set train.batch_size=8 \
  --set img2text.epochs=2 --set text2img.epochs=2 --set train.save_interval=1 --resume auto >"$TMP/r2.log" 2>&1
rc=$?
set -e
[ $rc = 3 ] || { cat "$TMP/r2.log"; fail "second stop should exit 3, got $rc"; }
grep -q 'Resuming Image -> Text' "$TMP/r2.log" || fail "did not resume"
# shellcheck disable=SC2086
"$BIN/fergan_dist" --config "$SRC/config/default.yaml" $args --set train.batch_size=8 \
  --set img2text.epochs=2 --set text2img.epochs=2 --set train.save_interval=1 --resume auto >"$TMP/r3.log" 2>&1 ||
  { cat "$TMP/r3.log"; fail "final resume"; }
for p in img2text text2img; do
  for n in generator discriminator; do
    "$BIN/fergan_dist" --compare-checkpoints "$run/ckpt/${p}_${n}_epoch_2.pth" "$run2/ckpt/${p}_${n}_epoch_2.pth" \
      >"$TMP/cmp.txt" || { cat "$TMP/cmp.txt"; fail "$p $n differs after resume"; }
  done
done
# The epoch averages printed by the resumed run match the uninterrupted run's.
grep -h '^\[Img2Text\] Epoch 2/2' "$log" >"$TMP/a.txt"
grep -h '^\[Img2Text\] Epoch 2/2' "$TMP/r3.log" >"$TMP/b.txt"
cmp -s "$TMP/a.txt" "$TMP/b.txt" || { cat "$TMP/a.txt" "$TMP/b.txt"; fail "epoch averages differ after resume"; }
pass "resume after two interruptions is bitwise exact"

# --compare-checkpoints: two epochs of one run differ (exit 4, naming the worst tensor); within a loose enough
# --tolerance they count as equal (exit 0).
a="$run/ckpt/img2text_generator_epoch_1.pth" b="$run/ckpt/img2text_generator_epoch_2.pth"
set +e
"$BIN/fergan_dist" --compare-checkpoints "$a" "$b" >"$TMP/cmp.txt" 2>&1
rc=$?
set -e
[ $rc = 4 ] || { cat "$TMP/cmp.txt"; fail "different epochs: --compare-checkpoints exited $rc, expected 4"; }
grep -qE '^max_abs_difference [0-9.e+-]+ \(.+\)$' "$TMP/cmp.txt" || { cat "$TMP/cmp.txt"; fail "compare output"; }
"$BIN/fergan_dist" --compare-checkpoints "$a" "$b" --tolerance 1e9 >"$TMP/cmp.txt" 2>&1 ||
  { cat "$TMP/cmp.txt"; fail "--tolerance 1e9 should count epochs 1 and 2 as equal"; }
pass "--compare-checkpoints exits 4 on a difference beyond --tolerance, 0 within it"

# 3. Bad input.
expect_error() {  # expect_error NAME PATTERN -- command...
  local name=$1 pattern=$2
  shift 3
  set +e
  "$@" >"$TMP/bad.log" 2>&1
  local rc=$?
  set -e
  [ $rc -ne 0 ] || fail "$name: exit code 0"
  grep -q -- "$pattern" "$TMP/bad.log" || { cat "$TMP/bad.log"; fail "$name: message lacks '$pattern'"; }
  pass "$name"
}
# shellcheck disable=SC2046
expect_error "unwritable checkpoint dir" "/proc/fergan" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") \
  --set checkpoint_dir=/proc/fergan/ckpt
# shellcheck disable=SC2046
expect_error "embedding dim != latent_dim" "latent_dim" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") \
  --set img2text.latent_dim=64
# shellcheck disable=SC2046
expect_error "missing shards" "run data_prep" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") --set data.shards="$TMP/nope"
mkdir -p "$TMP/half" && cp "$(find "$TMP/shards" -name '*.h5' | head -1)" "$TMP/half/"
# shellcheck disable=SC2046
expect_error "shards without manifest" "manifest" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") --set data.shards="$TMP/half"
# shellcheck disable=SC2046
expect_error "image size" "64, 128 or 256" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") --set text2img.image_size=96
# shellcheck disable=SC2046
expect_error "unknown key" "train.batch_size" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") --set train.batchsize=3
# shellcheck disable=SC2046
expect_error "checkpoint shapes" "does not match the configured model" -- "$BIN/fergan_dist" $(tiny_args "$TMP/x") \
  --set text2img.ngf=16 --phase text2img --resume "$run/ckpt/text2img_generator_epoch_2.pth"
