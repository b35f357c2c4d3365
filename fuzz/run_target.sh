#!/usr/bin/env bash
# One fuzz target as a ctest test: every committed corpus input once (regressions), then
# SECONDS of fuzzing from them. New inputs go to WORK (under the build dir), crash inputs to
# ARTIFACTS; the repository is never written.
#   run_target.sh BINARY CORPUS WORK ARTIFACTS SECONDS [libFuzzer options...]
set -euo pipefail
bin=$1 corpus=$2 work=$3 artifacts=$4 seconds=$5
shift 5
mkdir -p "$work" "$artifacts"
# Absolute paths: a target may change its working directory (fuzz_pipeline works in a
# temporary one).
corpus=$(realpath "$corpus") work=$(realpath "$work") artifacts=$(realpath "$artifacts")/
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
shopt -s nullglob
inputs=("$corpus"/*)
if [ ${#inputs[@]} -gt 0 ]; then
  echo "== $(basename "$bin"): ${#inputs[@]} corpus inputs"
  log="$work.regress.log"
  if ! "$bin" -timeout=25 "$@" "${inputs[@]}" >"$log" 2>&1; then
    cat "$log"
    exit 1
  fi
  tail -n 1 "$log"
fi
echo "== $(basename "$bin"): fuzzing for ${seconds} s"
exec "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$artifacts" "$@" "$work" "$corpus"
