#!/usr/bin/env bash
# Compile check of the CUDA/NCCL path on a machine without a GPU or a CUDA LibTorch.
#
# Debian's LibTorch is CPU-only, so a full -DFERGAN_WITH_CUDA=ON configure cannot link here. This script
# instead compiles every src/dist/*.cpp and src/core/runtime*.cpp with FERGAN_WITH_CUDA defined (as the
# CUDA build does) with g++ -fsyntax-only against the CUDA toolkit's headers (cuda_runtime.h, nccl.h) and
# LibTorch's headers, which include c10/cuda/CUDAStream.h. Not named test_*.sh: CTest runs it as
# check_cuda_compile only where the toolkit is installed (tests/CMakeLists.txt).
# Usage: tests/scripts/check_cuda_compile.sh [CUDA_HOME]
set -euo pipefail
source_dir="$(cd "$(dirname "$0")/../.." && pwd)"
cuda_home="${1:-${CUDA_HOME:-/usr/local/cuda}}"
for header in cuda_runtime.h nccl.h; do
  [[ -f "$cuda_home/include/$header" ]] || { echo "error: $cuda_home/include/$header not found"; exit 1; }
done
torch_include=(-isystem /usr/include/torch/csrc/api/include)  # c10/, ATen/, torch/ are in /usr/include already
[[ -f /usr/include/c10/cuda/CUDAStream.h ]] || { echo "error: LibTorch's c10/cuda headers not found"; exit 1; }
# Debian ships c10/cuda's headers but not the one CMake generates for a CUDA build of LibTorch; a stand-in
# with the same content as a shared-library build's makes them usable for a syntax check.
stub_dir="$(mktemp -d)"
trap 'rm -rf "$stub_dir"' EXIT
if [[ ! -f /usr/include/c10/cuda/impl/cuda_cmake_macros.h ]]; then
  mkdir -p "$stub_dir/c10/cuda/impl"
  printf '#pragma once\n#define C10_CUDA_BUILD_SHARED_LIBS\n' >"$stub_dir/c10/cuda/impl/cuda_cmake_macros.h"
fi
torch_include+=(-isystem "$stub_dir")
mpi_flags=(-DOMPI_SKIP_MPICXX=1 $(mpicc --showme:compile))
status=0
for src in "$source_dir"/src/dist/*.cpp "$source_dir"/src/core/runtime*.cpp "$source_dir"/tests/dist/mpi_nccl.cpp; do
  echo "checking $(basename "$src")"
  if ! g++ -std=c++17 -fsyntax-only -Wall -Wextra -Wno-unused-parameter -DFERGAN_WITH_CUDA=1 \
      -D_GLIBCXX_USE_CXX11_ABI=1 -I"$source_dir/include" -I"$source_dir/src/dist" -I"$source_dir/tests/dist" "${torch_include[@]}" \
      -isystem "$cuda_home/include" "${mpi_flags[@]}" "$src"; then
    status=1
  fi
done
[[ $status -eq 0 ]] && echo "CUDA/NCCL sources compile (syntax) OK against $cuda_home"
exit $status
