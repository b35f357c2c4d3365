#!/usr/bin/env bash
# One fuzz target as a ctest test of the fuzz flavour: every committed corpus and regression
# input once, then SECONDS of fuzzing from them. New inputs go to WORK (under the build dir),
# crash inputs to ARTIFACTS; the repository is never written. REGRESSIONS may be "-" (none).
#   run_target.sh BINARY CORPUS REGRESSIONS WORK ARTIFACTS SECONDS [libFuzzer options...]
set -euo pipefail
bin=$1 corpus=$2 regressions=$3 work=$4 artifacts=$5 seconds=$6
shift 6
mkdir -p "$work" "$artifacts"
# Absolute paths: a target may change its working directory (fuzz_pipeline works in a
# temporary one).
corpus=$(realpath "$corpus") work=$(realpath "$work") artifacts=$(realpath "$artifacts")/
dirs=("$corpus")
[ "$regressions" = - ] || dirs+=("$(realpath "$regressions")")
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
shopt -s nullglob
inputs=()
for d in "${dirs[@]}"; do inputs+=("$d"/*); done
if [ ${#inputs[@]} -gt 0 ]; then
  echo "== $(basename "$bin"): ${#inputs[@]} corpus and regression inputs"
  log="$work.regress.log"
  if ! "$bin" -timeout=25 "$@" "${inputs[@]}" >"$log" 2>&1; then
    cat "$log"
    exit 1
  fi
  tail -n 1 "$log"
fi
echo "== $(basename "$bin"): fuzzing for ${seconds} s"
exec "$bin" -max_total_time="$seconds" -timeout=25 -print_final_stats=1 \
  -artifact_prefix="$artifacts" "$@" "$work" "${dirs[@]}"
