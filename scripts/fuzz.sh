#!/usr/bin/env bash
# Runs the libFuzzer targets of fuzz/ (docs/testing.md) for as long as asked, up to one per
# core at a time, and prints executions and crashes per target.
#
#   scripts/fuzz.sh [--seconds N] [--jobs J] [--no-build] [TARGET...]
#
# TARGET is a name (`ocmf`) or a binary name (`fuzz_ocmf`); default: every target. Each runs
# N seconds (default 60) from its committed seeds and regression inputs (fuzz/corpus/<name>,
# fuzz/regressions/<name>, read only) and from what
# earlier runs found (build-fuzz/fuzz/corpus/<name>, where new inputs go: never the repo). A
# crash, leak, timeout or out-of-memory input is saved to build-fuzz/fuzz/crashes/<name>/ and
# fuzzing goes on with the time left (at most 20 findings per target and run). Logs:
# build-fuzz/fuzz/logs/; every run appends one line per target to build-fuzz/fuzz/runs.tsv
# (date, target, seconds, executions, findings). Exit status 1 if anything was found.
# Reproduce a finding: build-fuzz/fuzz/fuzz_<name> build-fuzz/fuzz/crashes/<name>/<file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=60
jobs=$(nproc)
build=1
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("${1#fuzz_}"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do
    n=$(basename "$f" .cpp)
    [ "$n" = fuzz_util ] || targets+=("${n#fuzz_}")  # fuzz_util.cpp: helpers, not a target
  done
fi
for t in "${targets[@]}"; do
  [ -f "fuzz/fuzz_$t.cpp" ] && [ "$t" != util ] || { echo "fuzz.sh: no target '$t' (fuzz/fuzz_$t.cpp)" >&2; exit 2; }
done
if [ "$build" = 1 ]; then
  bins=()
  for t in "${targets[@]}"; do bins+=("fuzz_$t"); done
  scripts/setup.sh --fuzz  # clang and libFuzzer, when missing
  scripts/build.sh fuzz "${bins[@]}" >/dev/null
fi
mkdir -p build-fuzz/fuzz/logs
out=$(realpath build-fuzz/fuzz)  # absolute: a target may change its working directory
src=$PWD
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Fuzzes one target for $seconds, restarting after each finding; writes a summary line.
run_one() {
  local t=$1 bin=$out/fuzz_$1 work=$out/corpus/$1 crashes=$out/crashes/$1/ log=$out/logs/$1.log
  local dict=() seeds=("$src/fuzz/corpus/$t") left=$seconds execs=0 findings=0 start now n
  mkdir -p "$work" "$crashes"
  [ -d "fuzz/regressions/$t" ] && seeds+=("$src/fuzz/regressions/$t")
  [ -f "fuzz/dict/$t.dict" ] && dict=(-dict="$src/fuzz/dict/$t.dict")
  : >"$log"
  start=$(date +%s)
  while [ "$left" -gt 0 ] && [ "$findings" -lt 20 ]; do
    local before after
    before=$(find "$crashes" -type f | wc -l)
    "$bin" -max_total_time="$left" -timeout=25 -print_final_stats=1 -artifact_prefix="$crashes" \
      "${dict[@]}" "$work" "${seeds[@]}" >>"$log" 2>&1 || true
    n=$(grep -a 'stat::number_of_executed_units:' "$log" | awk '{s += $2} END {print s + 0}')
    execs=$n
    after=$(find "$crashes" -type f | wc -l)
    findings=$((findings + after - before))
    now=$(date +%s)
    left=$((seconds - (now - start)))
    [ "$after" -gt "$before" ] || break  # ended by time (or by something that left no input)
  done
  now=$(date +%s)
  printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$t" "$((now - start))" "$execs" "$findings" \
    >>"$out/runs.tsv"
  printf '%-16s %8s s %14s execs %10s execs/s %4s findings %7s corpus\n' "$t" "$((now - start))" \
    "$execs" "$((execs / (now - start > 0 ? now - start : 1)))" "$findings" \
    "$(find "$work" -type f | wc -l)"
}

echo "fuzzing ${#targets[@]} target(s), ${seconds} s each, ${jobs} at a time"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
  run_one "$t" &
  running=$((running + 1))
done
wait
# Findings of this run: any target whose last summary line counts one.
found=0
for t in "${targets[@]}"; do
  f=$(awk -F'\t' -v t="$t" '$2 == t {n = $5} END {print n + 0}' "$out/runs.tsv")
  [ "$f" -eq 0 ] || { found=1; echo "findings of $t: $out/crashes/$t/"; }
done
exit $found
