#!/usr/bin/env bash
# The quality run: real FER2013 from ../shared -> data_prep -> both GANs with config/default.yaml ->
# fergan_eval on the test split -> every sample as its own PNG (>= 100 per emotion, FER2013's folder layout),
# all in one seeded run directory, then a table of the targets (docs/quality.md).
#
#   ./launch/quality.sh            on the CPU: 64x64, sized to finish within an hour on 2 cores (see below)
#   FERGAN_QUALITY_FULL=1 ./launch/quality.sh
#                                  the full-length default (256x256, 50 + 50 epochs) on a GPU
# FERGAN_QUALITY_RUN (default experiments/quality) is the run directory; it is replaced.
# Caption embeddings: CLIP with FERGAN_CLIP_WEIGHTS (a ViT-B/32 .safetensors/.pt) and the BPE vocabulary from
# ../shared, else seeded random vectors (no CLIP weights ship with fergan; data_prep warns).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
"$here/launch/install_deps.sh"
build="${FERGAN_BUILD_DIR:-$here/build}"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j "$(nproc)" --target data_prep fergan_dist fergan_eval fergan_infer
bin="$build/bin"
run="${FERGAN_QUALITY_RUN:-experiments/quality}"
tarball=../shared/data/fer2013/fer2013_images.tar.gz
[ -f "$tarball" ] || { echo "quality.sh: $tarball not found (FER2013 is read from ../shared)" >&2; exit 1; }

start=$(date +%s)
stamp() { echo "== [$(($(date +%s) - start)) s] $*"; }
rm -rf "$run"
mkdir -p "$run"
# FER2013 is unpacked inside the (git-ignored) run directory and removed once the shards exist.
stamp "data_prep: FER2013 -> $run/shards"
mkdir -p "$run/fer2013"
tar -xzf "$tarball" -C "$run/fer2013"
embeddings=(--random-embeddings)
if [ -n "${FERGAN_CLIP_WEIGHTS:-}" ]; then
  embeddings=(--clip-weights "$FERGAN_CLIP_WEIGHTS" --clip-vocab ../shared/clip/bpe_simple_vocab_16e6.txt.gz)
fi
"$bin/data_prep" --input "$run/fer2013" --out "$run/shards" --config config/default.yaml "${embeddings[@]}" --quiet
rm -rf "$run/fer2013"

# The CPU run: what one hour of 2 cores buys (measured: docs/quality.md). Image->Text on the whole training
# split (2 epochs, 1,796 steps of batch 32); Text->Image at 64x64 with narrower networks (ngf = ndf = 32) on an
# evenly spaced subset of 12,800 training images (2 epochs, 800 steps). The two GANs then train one after the
# other, each with its own sizes, into the same run directory.
common=(--config config/default.yaml --set run_dir="$run" --set checkpoint_dir="$run/checkpoints"
  --set data.shards="$run/shards" --set seed=42)
if [ "${FERGAN_QUALITY_FULL:-0}" = 1 ]; then
  stamp "fergan_dist: both GANs"
  "$bin/fergan_dist" "${common[@]}" 2>&1 | tee "$run/train.log"
else
  cpu=(--set device=cpu --set train.batch_size=32 --set train.save_interval=1 --set train.log_interval=100)
  stamp "fergan_dist: Image->Text"
  "$bin/fergan_dist" "${common[@]}" "${cpu[@]}" --phase img2text \
    --set img2text.epochs="${FERGAN_QUALITY_I2T_EPOCHS:-2}" --set data.max_samples="${FERGAN_QUALITY_I2T_SAMPLES:-0}" \
    2>&1 | tee "$run/train.log"
  stamp "fergan_dist: Text->Image"
  "$bin/fergan_dist" "${common[@]}" "${cpu[@]}" --phase text2img --set text2img.image_size=64 \
    --set text2img.ngf=32 --set text2img.ndf=32 --set text2img.epochs="${FERGAN_QUALITY_T2I_EPOCHS:-2}" \
    --set data.max_samples="${FERGAN_QUALITY_SAMPLES:-12800}" 2>&1 | tee -a "$run/train.log"
  # The original system's Text->Image GAN (config/original.yaml) at the same sizes, steps and seed, for its
  # sample grid beside ours: what the switches of config/default.yaml change, seen side by side.
  stamp "fergan_dist: Text->Image of config/original.yaml (the grid beside ours)"
  mkdir -p "$run/original"
  "$bin/fergan_dist" --config config/original.yaml --set run_dir="$run/original" \
    --set checkpoint_dir="$run/original/checkpoints" --set data.shards="$run/shards" --set seed=42 "${cpu[@]}" \
    --phase text2img --set text2img.image_size=64 --set text2img.ngf=32 --set text2img.ndf=32 \
    --set text2img.epochs="${FERGAN_QUALITY_T2I_EPOCHS:-2}" --set data.max_samples="${FERGAN_QUALITY_SAMPLES:-12800}" \
    >"$run/original/train.log" 2>&1 || { tail -20 "$run/original/train.log" >&2; exit 1; }
  epochs="${FERGAN_QUALITY_T2I_EPOCHS:-2}"
  /usr/bin/python3 - "$run/checkpoints/text2img_generator_epoch_$epochs.png" \
    "$run/original/checkpoints/text2img_generator_epoch_$epochs.png" "$run/grids_default_vs_original.png" <<'PY'
import sys
from PIL import Image, ImageDraw
ours, original = Image.open(sys.argv[1]).convert("RGB"), Image.open(sys.argv[2]).convert("RGB")
gap, title = 16, 18
canvas = Image.new("RGB", (ours.width + gap + original.width, title + max(ours.height, original.height)), "white")
canvas.paste(ours, (0, title))
canvas.paste(original, (ours.width + gap, title))
draw = ImageDraw.Draw(canvas)
draw.text((4, 3), "config/default.yaml", fill="black")
draw.text((ours.width + gap + 4, 3), "config/original.yaml (the original system)", fill="black")
canvas.save(sys.argv[3])
PY
fi

stamp "fergan_eval on the test split"
"$bin/fergan_eval" --run-dir "$run" --shards "$run/shards" --split test --out "$run/eval" 2>&1 | tee "$run/eval.log"

stamp "fergan_infer: 100 samples per emotion as PNG files"
"$bin/fergan_infer" text2img --run-dir "$run" --shards "$run/shards" --samples 100 --per-image \
  --out "$run/samples" >"$run/samples.log" 2>&1
stamp "done"

# The targets of docs/quality.md, from metrics.json.
python3 - "$run/eval/metrics.json" "$run/samples" <<'PY'
import json, os, sys
m = json.load(open(sys.argv[1]))
rows = []
def check(name, value, target, ok):
    rows.append((name, value, target, "yes" if ok else "NO"))
t = m.get("text2img")
if t:
    g, r = t["generated"], t["random_embeddings"]
    ratios = {k: v["ratio"] for k, v in g["diversity"]["per_class"].items()}
    worst = min(ratios, key=ratios.get)
    check("T2I diversity ratio, every emotion", f"min {ratios[worst]:.3f} ({worst})", ">= 0.7", ratios[worst] >= 0.7)
    real_acc = t["classifier"]["real_accuracy"]
    cas = g["cas_train_real_test_this"]
    check("T2I CAS train real -> test generated", f"{cas:.3f} ({cas / real_acc:.2f} x real {real_acc:.3f})",
          ">= 0.8 x real", cas >= 0.8 * real_acc)
    fd, fd_r = g["frechet_classifier_features"], r["frechet_classifier_features"]
    check("T2I Frechet (classifier features)", f"{fd:.2f} ({fd / fd_r:.2f} x random {fd_r:.2f})", "<= 0.5 x random",
          fd <= 0.5 * fd_r)
i = m.get("img2text")
if i:
    model = i["model"]
    check("I2T top-1", f"{model['accuracy']:.3f}", ">= 0.45", model["accuracy"] >= 0.45)
    recall = model["per_class_accuracy"]
    low = min(recall, key=lambda k: recall[k] if recall[k] is not None else 1)
    check("I2T recall, every emotion", f"min {recall[low]:.3f} ({low})", "> 0", (recall[low] or 0) > 0)
    conf = model["confusion"]
    predicted = [sum(row[k] for row in conf) for k in range(len(conf))]
    share = max(predicted) / max(1, sum(predicted))
    check("I2T largest share of predictions", f"{share:.3f}", "<= 0.40", share <= 0.40)
counts = {d: len(os.listdir(os.path.join(sys.argv[2], d))) for d in sorted(os.listdir(sys.argv[2]))
          if os.path.isdir(os.path.join(sys.argv[2], d))}
check("per-image samples per emotion", ", ".join(f"{k} {v}" for k, v in counts.items()), ">= 100",
      len(counts) == 7 and min(counts.values()) >= 100)
width = max(len(r[0]) for r in rows)
print(f"\n{'target':<{width}}  {'measured':<40}  {'wanted':<16}  met")
for name, value, target, ok in rows:
    print(f"{name:<{width}}  {value:<40}  {target:<16}  {ok}")
PY
echo "Run directory: $run (eval/report.html, eval/metrics.txt, samples/<emotion>/*.png, checkpoints/," \
  "grids_default_vs_original.png)"
