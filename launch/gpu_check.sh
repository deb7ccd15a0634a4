#!/usr/bin/env bash
# The one prepared check for a GPU machine: build fergan against the machine's CUDA LibTorch and NCCL, run the
# GPU tests, compare a CUDA training step with the CPU one, measure training throughput (GPU vs the same
# machine's CPU, side by side), and — when launch/gpu_bundle.sh packed a FER2013 subset — train both GANs on real
# faces for a few minutes and evaluate them (fergan_eval report). Prints a short table at the end.
#
#   launch/gpu_bundle.sh                  (here, once: fills the git-ignored .device/ with packages + FER subset)
#   launch/gpu_check.sh [BUILD_DIR]       (on the GPU machine; default /tmp/build-gpu; files worth keeping go to
#                                          $OUT when set, else BUILD_DIR/out)
# Needs python3 with a CUDA PyTorch (its LibTorch and NCCL are used), nvcc, cmake; fergan's other dependencies
# come from .device/debs when the machine lacks them. With one GPU the NCCL tests run as one rank (NCCL refuses
# two ranks on one GPU); with N GPUs as N ranks. FERGAN_GPU_TRAIN_S bounds the real-data training (default 150 s),
# FERGAN_GPU_DEADLINE_S the whole script (default 540 s: the real-data stages shrink to fit).
# Rehearsal without a GPU (checks this script before using a GPU): FERGAN_GPU_CHECK_BIN=<built bin dir>
# FERGAN_GPU_DEVICE=cpu FERGAN_GPU_QUICK=1 launch/gpu_check.sh  (skips sections 1-4, tiny sizes).
set -uo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-/tmp/build-gpu}"
out="${OUT:-$build/out}"
jobs="$(nproc)"
mkdir -p "$build" "$out"
log="$out/gpu_check.log"
: >"$log"
t0=$SECONDS
say() { echo "[$((SECONDS - t0))s] $*" | tee -a "$log"; }

declare -a rows
failed=0
row() { rows+=("$(printf '%-44s %s' "$1" "$2")"); }

dev="${FERGAN_GPU_DEVICE:-cuda}"
quick="${FERGAN_GPU_QUICK:-0}"
size() { if [ "$quick" = 1 ]; then echo "$2"; else echo "$1"; fi; }  # full, quick
if [ -n "${FERGAN_GPU_CHECK_BIN:-}" ]; then
  bin="$FERGAN_GPU_CHECK_BIN"; gpus=0; gpu_name="(rehearsal on $dev)"; torch_info="(rehearsal)"
else
# --- 1. dependencies -------------------------------------------------------------------------------------------
install_carried_debs() {
  local tmp; tmp="$(mktemp -d)"
  for f in "$src"/.device/debs/*.deb; do
    if command -v dpkg-deb >/dev/null; then dpkg-deb -x "$f" "$tmp"
    else (cd "$tmp" && ar p "$f" "$(ar t "$f" | grep '^data.tar')" | tar x --zstd 2>/dev/null || ar p "$f" "$(ar t "$f" | grep '^data.tar')" | tar xJ); fi
  done
  # Merge without replacing anything the image already has (its own libraries stay in charge), keeping /lib -> usr/lib.
  tar -C "$tmp" -cf - . | tar -C / -xf - --skip-old-files --keep-directory-symlink
  local m=/usr/lib/x86_64-linux-gnu
  # What Debian's maintainer scripts would do through update-alternatives.
  for pair in "mpirun.openmpi:/usr/bin/mpirun" "mpiexec.openmpi:/usr/bin/mpiexec" "mpicc.openmpi:/usr/bin/mpicc" \
              "mpic++.openmpi:/usr/bin/mpicxx" "$m/openmpi/include:/usr/include/x86_64-linux-gnu/mpi" \
              "$m/openmpi/lib/libmpi.so:$m/libmpi.so" "$m/pkgconfig/hdf5-serial.pc:$m/pkgconfig/hdf5.pc"; do
    [ -e "${pair#*:}" ] || ln -s "${pair%%:*}" "${pair#*:}"
  done
  ldconfig -X  # refresh the cache only; never re-point the image's own soname links
  rm -rf "$tmp"
}
if ! command -v mpicc >/dev/null || ! command -v h5cc >/dev/null || [ ! -d /usr/include/spdlog ] || [ ! -d /usr/include/yaml-cpp ] || [ ! -d /usr/include/CLI ]; then
  if ls "$src"/.device/debs/*.deb >/dev/null 2>&1; then
    say "installing carried Debian packages (.device/debs)"
    install_carried_debs >>"$log" 2>&1
  else
    say "missing MPI/HDF5/spdlog/yaml-cpp and no .device/debs (run launch/gpu_bundle.sh first)"; exit 1
  fi
fi
mpi_flags=(--oversubscribe)
[[ "$(id -u)" == 0 ]] && mpi_flags+=(--allow-run-as-root)
export PMIX_MCA_pcompress_base_silence_warning=1  # the image's PMIx lacks zlib: harmless

# --- 2. LibTorch and NCCL from the machine's PyTorch -------------------------------------------------------------
torch_prefix="${TORCH_PREFIX:-$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')}"
torch_info="$(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cxx11abi", int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
say "LibTorch: $torch_info ($torch_prefix)"
nccl_root=""
for cand in "${NCCL_ROOT:-}" "$(python3 -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null)" \
            /usr/local/cuda /usr; do
  [ -n "$cand" ] && [ -f "$cand/include/nccl.h" ] && { nccl_root="$cand"; break; }
done
[ -n "$nccl_root" ] || { say "nccl.h not found (set NCCL_ROOT)"; exit 1; }
if [ ! -e "$nccl_root/lib/libnccl.so" ] && [ -e "$nccl_root/lib/libnccl.so.2" ]; then
  # pip's nvidia-nccl wheel has only the soname file; give the linker its development name in a shim prefix.
  shim="$build/nccl"; mkdir -p "$shim/lib"
  ln -sfn "$nccl_root/include" "$shim/include"; ln -sf "$nccl_root/lib/libnccl.so.2" "$shim/lib/libnccl.so"
  export LD_LIBRARY_PATH="$nccl_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  nccl_root="$shim"
fi
gpus="$(nvidia-smi -L | wc -l)"
gpu_name="$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)"
say "GPUs: $gpus x $gpu_name; NCCL: $nccl_root"
nvcc="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"

# --- 3. build ----------------------------------------------------------------------------------------------------
say "configure + build (-j$jobs)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFERGAN_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DNCCL_ROOT="$nccl_root" -DFERGAN_BUILD_BENCH=OFF >>"$log" 2>&1 ||
  { tail -40 "$log"; exit 1; }
if ! make -C "$build" -k -j"$jobs" fergan_dist fergan_eval data_prep test_dist test_mpi_nccl >>"$log" 2>&1; then
  grep -E "error" "$log" | grep -v "^make" | head -40
  row "build" "FAILED (see errors above)"; failed=1
  # Go on with whatever was built: the programs matter most.
  [ -x "$build/bin/fergan_dist" ] && [ -x "$build/bin/data_prep" ] || { say "build FAILED"; exit 1; }
fi
say "build done"
bin="$build/bin"

# --- 4. GPU tests ------------------------------------------------------------------------------------------------
check() {  # name, command...: one table row
  local name="$1"; shift
  local start=$SECONDS
  if "$@" >>"$log" 2>&1; then row "$name" "PASS ($((SECONDS - start)) s)"
  else row "$name" "FAIL ($((SECONDS - start)) s)"; failed=1; fi
}
nccl_ranks=$(( gpus >= 2 ? gpus : 1 ))
[ -x "$bin/test_dist" ] && check "test_dist (singleton)" timeout 120 "$bin/test_dist"
[ -x "$bin/test_mpi_nccl" ] && check "NCCL tests, $nccl_ranks rank(s)" timeout 180 mpirun -np "$nccl_ranks" "${mpi_flags[@]}" "$bin/test_mpi_nccl"
fi

# --- 5. CUDA vs CPU training, throughput -------------------------------------------------------------------------
work=/tmp/fergan_gpu
rm -rf "$work"; mkdir -p "$work"
"$bin/data_prep" synth --out "$work/raw" --per-class 200 --seed 3 >>"$log" 2>&1
"$bin/data_prep" --input "$work/raw" --out "$work/shards" --random-embeddings --quiet >>"$log" 2>&1 ||
  { say "data_prep FAILED"; failed=1; }
train() {  # run_dir, extra --set args...: one fergan_dist run on the synthetic shards
  local dir="$1"; shift
  "$bin/fergan_dist" --config "$src/config/default.yaml" --set run_dir="$dir" --set checkpoint_dir="$dir/ckpt" \
    --set data.shards="$work/shards" --set text2img.image_size=64 --set train.log_interval=1 "$@" >"$dir.log" 2>&1
}
metric() {  # metrics.jsonl, phase, field, which (first|last)
  python3 - "$@" <<'EOF'
import json, sys
path, phase, field, which = sys.argv[1:5]
rows = [r for r in map(json.loads, open(path)) if r.get("event") == "interval" and r.get("phase") == phase]
rows = rows[:1] if which == "first" else rows[-3:]
print("%.6g" % (sum(r[field] for r in rows) / len(rows)) if rows else "nan")
EOF
}
rel() { python3 -c "import sys; a,b=map(float,sys.argv[1:]); print('%.2e' % (abs(a-b)/max(abs(b),1e-12)))" "$1" "$2"; }

# First step from identical weights (seeded init on the CPU, then moved): losses must agree up to TF32/cuDNN.
for d in cpu "$dev"; do
  train "$work/first_$d" --set device="$d" --set train.batch_size=32 --set data.max_samples=64 \
    --set img2text.epochs=1 --set text2img.epochs=1 --set threads=4 || { say "training on $d FAILED"; failed=1; }
done
for phase in img2text text2img; do
  for f in d_loss g_loss; do
    a="$(metric "$work/first_$dev/metrics.jsonl" $phase $f first)"; b="$(metric "$work/first_cpu/metrics.jsonl" $phase $f first)"
    r="$(rel "$a" "$b")"
    row "step 1 $phase $f $dev vs cpu" "$a vs $b (rel $r)"
    python3 -c "import sys; sys.exit(0 if float('$r') < 2e-2 else 1)" || failed=1
  done
done

# Throughput: the default networks at 64x64 and 256x256, per-rank batch 64, GPU vs all CPU cores.
bench() {  # label, device, image_size, phase, max_samples
  local dir="$work/bench_$2_$3_$4"
  train "$dir" --set device="$2" --set text2img.image_size="$3" --set train.batch_size=64 --phase "$4" \
    --set data.max_samples="$5" --set img2text.epochs=2 --set text2img.epochs=2 --set train.log_interval=10 --set threads=0 \
    --set train.save_interval=100 ||
    { row "$1" "FAILED"; failed=1; return; }
  row "$1" "$(metric "$dir/metrics.jsonl" "$4" images_per_s last) img/s"
}
bench "img2text, $dev" "$dev" 64 img2text "$(size 1400 128)"
bench "img2text, cpu ($jobs threads)" cpu 64 img2text "$(size 640 128)"
bench "text2img 64x64 ngf64, $dev" "$dev" 64 text2img "$(size 1400 128)"
bench "text2img 64x64 ngf64, cpu ($jobs threads)" cpu 64 text2img "$(size 320 128)"
[ "$quick" = 1 ] || bench "text2img 256x256 ngf64, $dev" "$dev" 256 text2img 1400
while read -r line; do row "nccl" "$line"; done < <(grep -h '^BENCH' "$log" | sed 's/^BENCH //')

# --- 6. Real FER2013: train both GANs for a few minutes on the GPU, then fergan_eval ------------------------------
if [ -f "$src/.device/fer_subset.tar.gz" ]; then
  fer=/tmp/fer_subset; run=/tmp/fer_run
  rm -rf "$fer" "$run"; mkdir -p "$fer"
  tar xzf "$src/.device/fer_subset.tar.gz" -C "$fer"
  "$bin/data_prep" --input "$fer" --out "$fer/shards" --random-embeddings --quiet >>"$log" 2>&1 ||
    { say "data_prep on FER FAILED"; failed=1; }
  common=(--config "$src/config/default.yaml" --set run_dir="$run" --set checkpoint_dir="$run/ckpt"
          --set data.shards="$fer/shards" --set text2img.image_size=64 --set train.batch_size=64 --set device="$dev"
          --set train.log_interval=50 --set img2text.epochs="$(size 3 1)" --set text2img.epochs=300
          --set train.save_interval="$(size 2 1)" --set data.max_samples="$(size 0 640)")
  say "FER2013 training: img2text $(size 3 1) epochs, then text2img until the deadline (SIGTERM -> checkpoint, exit 3)"
  timeout --preserve-status -s TERM 45 "$bin/fergan_dist" "${common[@]}" --phase img2text >"$out/fer_train.log" 2>&1
  row "FER img2text $(size 3 1) epochs" "exit $?"
  budget="${FERGAN_GPU_TRAIN_S:-150}"
  # Stay inside the machine's per-command limit: leave ~90 s for eval and copying results.
  left=$(( ${FERGAN_GPU_DEADLINE_S:-540} - (SECONDS - t0) - 90 ))
  (( budget > left )) && budget=$left
  (( budget < 20 )) && budget=20
  timeout --preserve-status -s TERM "$budget" "$bin/fergan_dist" "${common[@]}" --phase text2img >>"$out/fer_train.log" 2>&1
  rc=$?
  row "FER text2img ${budget} s, stopped by SIGTERM" "exit $rc (3 = checkpointed)"
  [ $rc -eq 3 ] || [ $rc -eq 0 ] || failed=1
  row "FER text2img img/s" "$(metric "$run/metrics.jsonl" text2img images_per_s last)"
  while read -r line; do row "FER" "$line"; done < <(grep -E "Epoch [0-9]+/[0-9]+ done" "$out/fer_train.log")
  cp "$run/metrics.jsonl" "$out/fer_metrics.jsonl"
  last_png="$(ls -t "$run"/ckpt/text2img_generator_*.png 2>/dev/null | head -1)"
  [ -n "$last_png" ] && cp "$last_png" "$out/fer_grid_last.png"
  first_png="$(ls -tr "$run"/ckpt/text2img_generator_*.png 2>/dev/null | head -1)"
  [ -n "$first_png" ] && cp "$first_png" "$out/fer_grid_first.png"
  say "fergan_eval on the test split"
  eval_left=$(( ${FERGAN_GPU_DEADLINE_S:-540} - (SECONDS - t0) ))
  (( eval_left < 30 )) && eval_left=30
  if timeout "$eval_left" "$bin/fergan_eval" --run-dir "$run" --shards "$fer/shards" --split test --device "$dev" \
       --out "$run/eval" $( [ "$quick" = 1 ] && echo "--samples-per-emotion 8 --max-samples 200 --classifier-train-samples 300 --classifier-epochs 1") >>"$log" 2>&1; then
    cp "$run/eval/report.html" "$run/eval/metrics.json" "$out/" 2>/dev/null
    [ -f "$run/eval/metrics.txt" ] && cp "$run/eval/metrics.txt" "$out/"
    row "fergan_eval (test split)" "PASS"
  else
    row "fergan_eval (test split)" "FAIL"; failed=1
  fi
fi

echo
echo "== fergan GPU check ($gpu_name, $gpus GPU(s), $torch_info, $((SECONDS - t0)) s) =="
printf '%s\n' "${rows[@]}"
[ -f "$out/metrics.txt" ] && { echo "-- fergan_eval --"; head -40 "$out/metrics.txt"; }
gzip -f "$log"
exit $failed
