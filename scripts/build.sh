#!/usr/bin/env bash
# Configures and builds one flavour of Assay with ccache.
#   scripts/build.sh release   -> build/       (RelWithDebInfo, benchmarks)
#   scripts/build.sh asan      -> build-asan/  (AddressSanitizer + UndefinedBehaviorSanitizer)
#   scripts/build.sh fuzz      -> build-fuzz/  (clang: the libFuzzer targets of fuzz/, ASan + UBSan)
#   scripts/build.sh tsan      -> build-tsan/  (ThreadSanitizer: the tests of scripts/tsan.sh)
# Extra arguments are ninja targets (default: all of the flavour).
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
export CCACHE_DIR="${CCACHE_DIR:-$HOME/.cache/ccache}"
export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-5G}"
# The test executables share a precompiled header (tests/CMakeLists.txt); ccache caches their
# objects only with these sloppiness settings.
export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-pch_defines,time_macros}"
jobs="${ASSAY_JOBS:-$(nproc)}"
case "$flavour" in
  release) dir=build; extra=(-DCMAKE_BUILD_TYPE=RelWithDebInfo) ;;
  asan)    dir=build-asan; extra=(-DCMAKE_BUILD_TYPE=Debug -DASSAY_SANITIZE=ON -DCMAKE_CXX_FLAGS=-O1) ;;
  fuzz)    dir=build-fuzz; extra=(-DCMAKE_BUILD_TYPE=Debug -DASSAY_FUZZ=ON
             -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
             -DCMAKE_CXX_FLAGS=-O1 -DCMAKE_C_FLAGS=-O1
             -DCMAKE_CXX_FLAGS_DEBUG=-gline-tables-only -DCMAKE_C_FLAGS_DEBUG=-gline-tables-only) ;;
  tsan)    dir=build-tsan; extra=(-DCMAKE_BUILD_TYPE=Debug -DASSAY_TSAN=ON -DCMAKE_CXX_FLAGS=-O1
             -DASSAY_BUILD_BENCH=OFF) ;;
  *) echo "usage: $0 release|asan|fuzz|tsan [ninja targets...]" >&2; exit 2 ;;
esac
# ASSAY_LEAN_DEBUG_INFO=1 (the test command sets it): line tables only (-g1) instead of full
# debug info; backtraces and sanitizer reports keep file:line, the compile takes ~30 % less CPU
# (calibration_test.cpp: 9.5 s vs 13.5 s user). Debuggers then show no local variables.
if [ "${ASSAY_LEAN_DEBUG_INFO:-0}" = 1 ]; then
  case "$flavour" in
    release) extra+=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG") ;;
    asan)    extra+=(-DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1) ;;
  esac
fi
shift || true
cmake -S . -B "$dir" -G Ninja "${extra[@]}" >/dev/null
ninja -C "$dir" -j "$jobs" "$@"
