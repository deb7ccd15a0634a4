#!/usr/bin/env bash
# Installs every Debian 12 package fergan needs to build, test and run on the CPU.
# Idempotent: packages already present are skipped by apt. Run as root (or via sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git ca-certificates
  libtorch-dev python3-torch python3-numpy python3-torchvision python3-pil time
  libopenblas0-pthread libopenblas-dev
  libgoogle-perftools-dev
  libopenmpi-dev openmpi-bin
  libhdf5-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libjpeg-dev libpng-dev zlib1g-dev libssl-dev libcsv-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  slurm-wlm munge libpmix-dev
  procps psmisc
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian's LibTorch calls BLAS through libblas.so.3; make sure OpenBLAS provides it, not the reference BLAS.
if command -v update-alternatives >/dev/null; then
  alt=$(update-alternatives --list libblas.so.3-x86_64-linux-gnu 2>/dev/null | grep -m1 openblas || true)
  if [ -n "$alt" ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO update-alternatives --set libblas.so.3-x86_64-linux-gnu "$alt" >/dev/null
  fi
fi
echo "install_deps: all packages present"
