#!/usr/bin/env bash
# Prepares what launch/gpu_check.sh needs on a bare GPU machine that cannot reach a package mirror, in the
# git-ignored folder .device/ (carried to the machine):
#   .device/debs/        Debian bookworm packages of fergan's C/C++ dependencies (Open MPI, HDF5, yaml-cpp,
#                        spdlog/fmt, nlohmann-json, CLI11, libjpeg, libpng, zlib/openssl headers, googletest). The GPU
#                        machine's image brings CUDA, nvcc, cmake and a CUDA PyTorch (LibTorch) but none of these;
#                        gpu_check.sh unpacks them without overwriting anything already installed there.
#   .device/fer_subset.tar.gz  a class-capped subset of the FER2013 image folders (never committed: .device/ is ignored)
#                        so the check can train on real faces; the whole tarball would exceed what may travel.
# Usage: launch/gpu_bundle.sh [PER_CLASS_TRAIN]   (default 2500 training images per emotion, the whole test split)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
per_class="${1:-2500}"
out="$here/.device"
mkdir -p "$out/debs"

packages=(
  libopenmpi-dev libopenmpi3 openmpi-bin openmpi-common libhwloc15 libhwloc-plugins libevent-core-2.1-7
  libevent-pthreads-2.1-7 libevent-2.1-7 libpmix2 libfabric1 libucx0 libibverbs1 librdmacm1 libpsm2-2
  libpsm-infinipath1 libnl-3-200 libnl-route-3-200 libnuma1 libltdl7 libmunge2
  libhdf5-dev libhdf5-103-1 libhdf5-hl-100 libhdf5-cpp-103-1 libhdf5-hl-cpp-100 hdf5-helpers libsz2 libaec0 libaec-dev
  libcurl4 libnghttp2-14 librtmp1 libssh2-1 libpsl5 libbrotli1 libldap-2.5-0 libsasl2-2 libsasl2-modules-db
  libunistring2 libidn2-0 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libcom-err2
  libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0 libtasn1-6 libffi8 libzstd1
  libyaml-cpp-dev libyaml-cpp0.7 libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 nlohmann-json3-dev libcli11-dev
  libjpeg62-turbo-dev libjpeg62-turbo libjpeg-dev libpng-dev libpng16-16 zlib1g-dev libssl-dev
  libgtest-dev libgmock-dev
)
(cd "$out/debs" && rm -f ./*.deb && apt-get download "${packages[@]}" >/dev/null)
echo "debs: $(ls "$out/debs" | wc -l) packages, $(du -sh "$out/debs" | cut -f1)"

tarball="$here/../shared/data/fer2013/fer2013_images.tar.gz"
if [ -f "$tarball" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  tar xzf "$tarball" -C "$tmp"
  root="$tmp"
  [ -d "$tmp/train" ] || root="$(dirname "$(find "$tmp" -maxdepth 3 -type d -name train -print -quit)")"
  list="$tmp/list.txt"
  : >"$list"
  for dir in "$root"/train/*/; do
    (cd "$root" && ls "train/$(basename "$dir")" | sort | awk -v n="$per_class" 'NR <= n' | sed "s|^|train/$(basename "$dir")/|") >>"$list"
  done
  (cd "$root" && find test -type f | sort) >>"$list"
  tar czf "$out/fer_subset.tar.gz" -C "$root" -T "$list"
  echo "fer_subset.tar.gz: $(wc -l <"$list") images, $(du -sh "$out/fer_subset.tar.gz" | cut -f1)"
else
  echo "no FER2013 tarball at $tarball: the GPU check will train on synthetic faces only"
fi
