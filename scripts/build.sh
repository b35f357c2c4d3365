#!/usr/bin/env bash
# Configures and builds one flavour of Assay with ccache.
#   scripts/build.sh release   -> build/       (RelWithDebInfo, benchmarks)
#   scripts/build.sh asan      -> build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer)
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
jobs="${ASSAY_JOBS:-$(nproc)}"
case "$flavour" in
  release) dir=build; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    dir=build-asan; extra=(-DCMAKE_BUILD_TYPE=Debug -DASSAY_SANITIZE=ON -DCMAKE_CXX_FLAGS=-O1) ;;
  *) echo "usage: $0 release|asan" >&2; exit 2 ;;
esac
cmake -S . -B "$dir" -G Ninja "${extra[@]}" >/dev/null
ninja -C "$dir" -j "$jobs"
