#!/usr/bin/env bash
# fergan_infer and fergan_eval end to end on a tiny synthetic run: data_prep synth -> fergan_dist (both GANs,
# a few steps) -> the three inference modes -> the evaluation report; plus their bad-input exits.
set -euo pipefail
BIN="${FERGAN_BUILD_DIR:?}/bin"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
jv() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2], {"d": d}), separators=(",", ":")))' "$1" "$2"; }
# png_size FILE: "W H" from the IHDR chunk.
png_size() { python3 -c 'import struct,sys; b=open(sys.argv[1],"rb").read(32); assert b[:8]==b"\x89PNG\r\n\x1a\n"; print(*struct.unpack(">II", b[16:24]))' "$1"; }

# 1. A tiny dataset and a tiny run of both GANs (checkpoints at every epoch), with one caption per emotion
# (the per-caption checks below count 7).
one_caption='captions.templates=["a person with a {} expression"]'
"$BIN/data_prep" synth --out "$tmp/raw" --per-class 12 --splits train:12,test:6 --seed 3 >/dev/null
"$BIN/data_prep" --input "$tmp/raw" --out "$tmp/shards" --random-embeddings --embed-dim 32 --set "$one_caption" \
  --quiet >/dev/null
"$BIN/fergan_dist" --set device=cpu --set data.shards="$tmp/shards" --set run_dir="$tmp/run" --set "$one_caption" \
  --set checkpoint_dir="$tmp/run/checkpoints" --set img2text.latent_dim=32 --set text2img.latent_dim=32 \
  --set img2text.epochs=2 --set text2img.epochs=2 --set train.save_interval=1 --set train.batch_size=16 \
  --set train.log_interval=2 --set text2img.image_size=64 --set text2img.ngf=8 --set text2img.ndf=8 \
  --set text2img.noise_dim=8 > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; fail "fergan_dist failed"; }

# 2. text2img: the default is every emotion; one labelled grid per caption plus the overview.
"$BIN/fergan_infer" text2img --checkpoint latest --run-dir "$tmp/run" --samples 10 --out "$tmp/t2i" >/dev/null
[ "$(png_size "$tmp/t2i/samples.png" | cut -d' ' -f2)" = $((7 * 64 + 8 * 2)) ] || fail "overview height"
[ "$(ls "$tmp/t2i"/*.png | wc -l)" = 8 ] || fail "expected 7 per-caption grids + samples.png"
[ "$(png_size "$tmp/t2i/a_person_with_a_happy_expression.png" | cut -d' ' -f2)" -gt $((2 * 64 + 3 * 2)) ] ||
  fail "a 10-sample grid has two rows of 8 (and a title)"
[ "$(jv "$tmp/t2i/samples.json" 'len(d["captions"])')" = 7 ] || fail "samples.json"
"$BIN/fergan_infer" text2img --checkpoint latest --run-dir "$tmp/run" --emotion sad --caption \
  "a person with a happy expression" --samples 3 --out "$tmp/t2i_b" >/dev/null
[ "$(jv "$tmp/t2i_b/samples.json" '[c["label"] for c in d["captions"]]')" = '["SAD","HAPPY"]' ] || fail "labels"
[ "$(jv "$tmp/t2i_b/samples.json" 'd["truncation"]')" = 0.0 ] || fail "default truncation"
# The truncation trick: the same seed and captions, noise truncated to [-0.5, 0.5]; recorded, and other images.
"$BIN/fergan_infer" text2img --checkpoint latest --run-dir "$tmp/run" --emotion sad --caption \
  "a person with a happy expression" --samples 3 --truncation 0.5 --out "$tmp/t2i_t" >/dev/null
[ "$(jv "$tmp/t2i_t/samples.json" 'd["truncation"]')" = 0.5 ] || fail "truncation not recorded"
if cmp -s "$tmp/t2i_b/samples.png" "$tmp/t2i_t/samples.png"; then fail "--truncation changed nothing"; fi
if "$BIN/fergan_infer" text2img --checkpoint latest --run-dir "$tmp/run" --truncation 0.01 --out "$tmp/x" \
  2> "$tmp/err"; then fail "--truncation 0.01 succeeded"; fi
grep -q "truncation must be 0 (none) or at least 0.05" "$tmp/err" || { cat "$tmp/err"; fail "truncation message"; }
if "$BIN/fergan_infer" text2img --checkpoint latest --run-dir "$tmp/run" --caption "a cat" --out "$tmp/x" \
  2> "$tmp/err"; then fail "an unknown caption without CLIP succeeded"; fi
grep -q "not in the caption table" "$tmp/err" || { cat "$tmp/err"; fail "unknown caption message"; }

# 3. img2text from a split and from a folder whose subfolders name the emotions.
"$BIN/fergan_infer" img2text --checkpoint latest --run-dir "$tmp/run" --split test --out "$tmp/i2t" >/dev/null
[ "$(wc -l < "$tmp/i2t/predictions.csv")" = 43 ] || fail "predictions.csv rows"
head -1 "$tmp/i2t/predictions.csv" | grep -q "source,true_emotion,predicted_emotion,predicted_caption,cos_angry" ||
  fail "csv header"
"$BIN/fergan_infer" img2text --checkpoint latest --run-dir "$tmp/run" --images "$tmp/raw/test" --out "$tmp/i2t_f" >/dev/null
[ "$(jv "$tmp/i2t_f/predictions.json" 'd["labelled_images"]')" = 42 ] || fail "folder labels"
# The same images through both paths give the same predictions (folder decode == shard decode for PNGs).
python3 - "$tmp/i2t/predictions.json" "$tmp/i2t_f/predictions.json" <<'PY' || fail "split vs folder predictions differ"
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
assert abs(a["accuracy"] - b["accuracy"]) < 1e-9, (a["accuracy"], b["accuracy"])
assert 0.0 <= a["accuracy"] <= 1.0
PY

# 4. Round trip: rows REAL / ROUND TRIP, 8 per row.
"$BIN/fergan_infer" roundtrip --checkpoint latest --run-dir "$tmp/run" --samples 16 --out "$tmp/rt" >/dev/null
[ "$(png_size "$tmp/rt/round_trip.png" | cut -d' ' -f2)" = $((4 * 64 + 5 * 2)) ] || fail "round-trip height"

# The trainer's checkpoint grid: one labelled row per emotion (7 x 64 px tiles under a title; 8 columns right of
# the widest label, SURPRISE at 2 px per font pixel).
[ "$(png_size "$tmp/run/checkpoints/text2img_generator_epoch_2.png")" = "$((106 + 8 * 64 + 9 * 2)) $((22 + 7 * 64 + 8 * 2))" ] ||
  fail "trainer sample grid size: $(png_size "$tmp/run/checkpoints/text2img_generator_epoch_2.png")"

# 5. The evaluation with fergan_eval's defaults (100 samples per emotion, 6000 classifier images) on a split of
# 12 images per emotion: the sizes shrink to what the data holds, each with a note, and every metric is there.
"$BIN/fergan_eval" --run-dir "$tmp/run" --out "$tmp/eval" > "$tmp/eval.log" 2>&1 || { cat "$tmp/eval.log"; fail "fergan_eval"; }
m="$tmp/eval/metrics.json"
for note in "note: samples_per_emotion 100 -> 6: split 'train' has 12 images of" "note: classifier_train_samples 6000 -> 42" \
  "note: grid_columns 8 -> 6"; do
  grep -qF "$note" "$tmp/eval.log" || { cat "$tmp/eval.log"; fail "missing '$note'"; }
done
[ "$(jv "$m" '[(a["setting"], a["requested"], a["used"]) for a in d["adjustments"]]')" = \
  '[["samples_per_emotion",100,6],["classifier_train_samples",6000,42],["grid_columns",8,6]]' ] || fail "adjustments in metrics.json"
grep -q "Sizes fitted to the data" "$tmp/eval/metrics.txt" || fail "adjustments table in metrics.txt"
python3 - "$m" <<'PY' || fail "metrics.json incomplete"
import json, sys
d = json.load(open(sys.argv[1]))
def keys(obj, want, where):
    assert set(obj) == set(want), (where, sorted(set(obj) ^ set(want)))
keys(d, ["checkpoints", "shards", "split", "samples", "emotions", "caption_embeddings", "adjustments", "img2text",
         "text2img", "per_checkpoint", "training_log"], "top level")
keys(d["checkpoints"], ["img2text", "text2img", "img2text_epoch", "text2img_epoch", "img2text_weights", "text2img_weights",
                         "text2img_truncation"], "checkpoints")
emotions = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]
assert d["emotions"] == emotions and d["samples"] == 42 and d["split"] == "test"
keys(d["img2text"], ["model", "random_embeddings"], "img2text")
for name, r in d["img2text"].items():
    keys(r, ["accuracy", "per_class_accuracy", "confusion", "mean_cosine_true_caption", "samples"], name)
    keys(r["per_class_accuracy"], emotions, name)
    assert r["samples"] == 42 and 0 <= r["accuracy"] <= 1
t = d["text2img"]
keys(t, ["samples_per_emotion", "image_size", "noise_dim", "collapse_threshold", "classifier", "generated",
         "random_embeddings", "real_images"], "text2img")
assert t["samples_per_emotion"] == 6 and t["classifier"] == {"train_images": 42, "epochs": 6,
                                                           "real_accuracy": t["classifier"]["real_accuracy"]}
for name in ("generated", "random_embeddings", "real_images"):
    s = t[name]
    keys(s, ["images", "diversity", "cas_train_real_test_this", "cas_train_this_test_real",
             "frechet_classifier_features"], name)
    assert s["images"] == 42, (name, s["images"])
    keys(s["diversity"], ["mean_ratio", "mode_collapse", "threshold", "between_over_within", "per_class"], name)
    keys(s["diversity"]["per_class"], emotions, name)
    for key in ("cas_train_real_test_this", "cas_train_this_test_real"):
        assert 0.0 <= s[key] <= 1.0, (name, key, s[key])
    assert s["frechet_classifier_features"] >= 0
# Real images of the train split vs the test split: diversity ratio near 1.
assert 0.6 < t["real_images"]["diversity"]["mean_ratio"] < 1.6, t["real_images"]["diversity"]["mean_ratio"]
PY
# The figures show all 6 images of each emotion: 6 columns, 7 rows, under a title.
[ "$(png_size "$tmp/eval/figures/generated.png")" = "$((106 + 6 * 64 + 7 * 2)) $((22 + 7 * 64 + 8 * 2))" ] ||
  fail "generated.png size: $(png_size "$tmp/eval/figures/generated.png")"
[ "$(jv "$m" 'sum(map(sum, d["img2text"]["model"]["confusion"]))')" = 42 ] || fail "confusion total"
[ "$(jv "$m" 'd["checkpoints"]["text2img_epoch"]')" = 2 ] || fail "latest text2img epoch"
[ "$(jv "$m" 'len([c for c in d["per_checkpoint"] if c["phase"] == "text2img"])')" = 2 ] || fail "grids per checkpoint"
[ "$(jv "$m" 'd["text2img"]["real_images"]["diversity"]["mode_collapse"]')" = false ] || fail "real images flagged"
grep -q "MODE COLLAPSE" "$tmp/eval/metrics.txt" || fail "metrics.txt table"
grep -q "Image -> Text" "$tmp/eval.log" || fail "table not printed"
# 5b. With CLIP weights (the tiny OpenAI-format CLIP in ../shared): CLIP score and Frechet distance on CLIP
# features for every image set. Real test images against real train images must be far closer than the samples
# of a generator trained for a few steps.
clip_dir="${FERGAN_SHARED_DIR:-/nonexistent}/clip"
if [ -f "$clip_dir/tiny/clip.safetensors" ]; then
  "$BIN/fergan_eval" --checkpoint latest --run-dir "$tmp/run" --out "$tmp/eval_clip" --samples-per-emotion 6 \
    --classifier-epochs 1 --classifier-train-samples 100 --clip-weights "$clip_dir/tiny/clip.safetensors" \
    --clip-vocab "$clip_dir/bpe_simple_vocab_16e6.txt.gz" > "$tmp/eval_clip.log" 2>&1 ||
    { cat "$tmp/eval_clip.log"; fail "fergan_eval with CLIP"; }
  python3 - "$tmp/eval_clip/metrics.json" <<'PY' || fail "CLIP metrics"
import json, sys
t = json.load(open(sys.argv[1]))["text2img"]
for name in ("generated", "random_embeddings", "real_images"):
    c = t[name]["clip_score"]
    assert 0.0 <= c["score"] <= 100.0 and -1.0 <= c["mean_cosine"] <= 1.0, (name, c)
    assert len(c["per_caption"]) == 7, (name, len(c["per_caption"]))
    for cap, v in c["per_caption"].items():  # score = 100 * max(cos, 0) per caption, both sides normalised
        assert abs(v["score"] - 100.0 * max(v["cosine"], 0.0)) < 1e-6 or v["cosine"] < 0, (cap, v)
    assert t[name]["frechet_clip"] >= 0.0
assert t["real_images"]["frechet_clip"] < t["generated"]["frechet_clip"], \
    (t["real_images"]["frechet_clip"], t["generated"]["frechet_clip"])
PY
  grep -q "CLIP score" "$tmp/eval_clip/metrics.txt" || fail "CLIP rows missing from metrics.txt"
else
  echo "note: $clip_dir/tiny not found; CLIP evaluation not exercised"
fi

r="$tmp/eval/report.html"
[ "$(grep -o "<svg" "$r" | wc -l)" -ge 4 ] || fail "loss charts missing"
# Inlined: the three baseline grids (generated, random embeddings, real; 6 per emotion here), the two
# per-checkpoint sample grids and the round trip.
[ "$(grep -o "data:image/png;base64" "$r" | wc -l)" = 6 ] || fail "inline grids: expected 6"
for alt in GENERATED "RANDOM EMBEDDINGS" REAL "text2img epoch_1" "text2img epoch_2" "round trip"; do
  grep -q "<img alt='$alt'" "$r" || fail "report lacks the '$alt' image"
done

# 6. Bad input: clear message, non-zero exit, no output directory created.
if "$BIN/fergan_eval" --checkpoint "$tmp/nope.pth" --out "$tmp/bad" 2> "$tmp/err"; then fail "missing checkpoint"; fi
grep -q "nope.pth' does not exist" "$tmp/err" || { cat "$tmp/err"; fail "missing checkpoint message"; }
[ ! -e "$tmp/bad" ] || fail "a failed evaluation created its output directory"
if "$BIN/fergan_eval" --bogus 2> "$tmp/err"; then fail "unknown option accepted"; fi
grep -q "unknown option '--bogus'" "$tmp/err" || fail "unknown option message"
if "$BIN/fergan_infer" img2text --checkpoint latest --run-dir "$tmp/run" --images "$tmp/none" 2> "$tmp/err"; then
  fail "missing image folder"; fi
grep -q "does not exist" "$tmp/err" || fail "missing image folder message"
echo "test_eval: OK"
