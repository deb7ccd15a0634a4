#!/usr/bin/env bash
# The one prepared check for a GPU machine: build fergan against the machine's CUDA LibTorch and NCCL,
# run the GPU tests, and print a short table of throughput figures.
#
#   launch/gpu_check.sh [BUILD_DIR]      (default /tmp/build-gpu; needs python3 with a CUDA PyTorch, nvcc,
#                                          NCCL (NCCL_ROOT or the CUDA toolkit's), Open MPI and the apt deps)
# With one GPU the NCCL tests run as one rank (NCCL refuses two ranks on one GPU); with N GPUs as N ranks.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-/tmp/build-gpu}"
jobs="$(nproc)"
log="$build/gpu_check.log"
mkdir -p "$build"
: >"$log"

torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
torch_info="$(python3 -c 'import torch; print(torch.__version__, "cuda", torch.version.cuda, "cxx11abi", int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
echo "LibTorch: $torch_info ($torch_prefix)"
if [[ "$torch_info" == *"cxx11abi 0"* ]]; then
  echo "warning: this PyTorch uses the pre-C++11 ABI; apt's spdlog/yaml-cpp/gtest use the C++11 ABI and will not"
  echo "         link. Use a cxx11-ABI LibTorch (pytorch.org 'cxx11 ABI' zip, or PyTorch >= 2.7) via TORCH_PREFIX."
fi
torch_prefix="${TORCH_PREFIX:-$torch_prefix}"
nvcc="$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)"
gpus="$(nvidia-smi -L | wc -l)"
echo "GPUs: $gpus"; nvidia-smi -L

mpi_flags=(--oversubscribe)
[[ "$(id -u)" == 0 ]] && mpi_flags+=(--allow-run-as-root)

cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DFERGAN_WITH_CUDA=ON -DCMAKE_CUDA_COMPILER="$nvcc" \
  -DCMAKE_PREFIX_PATH="$torch_prefix" -DFERGAN_BUILD_BENCH=OFF >>"$log" 2>&1 || { tail -40 "$log"; exit 1; }
make -C "$build" -j"$jobs" test_dist test_mpi_nccl test_mpi_collectives test_mpi_reducer test_mpi_control \
  >>"$log" 2>&1 || { grep -E "error" "$log" | head -40; exit 1; }

declare -a rows
run() {  # name, command...
  local name="$1"; shift
  local start=$SECONDS
  if "$@" >>"$log" 2>&1; then rows+=("$(printf '%-34s %-6s %4ss' "$name" PASS $((SECONDS - start)))")
  else rows+=("$(printf '%-34s %-6s %4ss' "$name" FAIL $((SECONDS - start)))"); failed=1; fi
}
failed=0
bin="$build/bin"
nccl_ranks=$(( gpus >= 2 ? gpus : 1 ))
run "test_dist (singleton)" "$bin/test_dist"
run "NCCL tests, $nccl_ranks rank(s)" mpirun -np "$nccl_ranks" "${mpi_flags[@]}" "$bin/test_mpi_nccl"
run "MPI collectives, 2 ranks" mpirun -np 2 "${mpi_flags[@]}" "$bin/test_mpi_collectives"
run "MPI reducer, 2 ranks" mpirun -np 2 "${mpi_flags[@]}" "$bin/test_mpi_reducer"
run "MPI broadcast/stop, 2 ranks" mpirun -np 2 "${mpi_flags[@]}" "$bin/test_mpi_control"

echo
echo "== fergan GPU check ($(nvidia-smi --query-gpu=name --format=csv,noheader | head -1), $gpus GPU(s)) =="
printf '%s\n' "${rows[@]}"
echo "-- throughput --"
grep -h '^BENCH' "$log" | sed 's/^BENCH /  /' || echo "  (no benchmark lines: see $log)"
echo "full log: $log"
exit $failed
