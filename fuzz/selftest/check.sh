#!/usr/bin/env bash
# Checks the replay-and-mutate main (fuzz/replay_main.cpp) with a target that crashes on purpose:
# the corpus replays cleanly, mutation finds the crash within the time given, the process dies
# of it (non-zero status), and the crashing input is written where the message says.
#   check.sh BINARY SEED_FILE WORK_DIR
set -uo pipefail
bin=$1 seed=$2 work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
# The crash is expected: abort_on_error keeps the sanitizers' exit path the same as a crash.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:abort_on_error=1" "$bin" --mutate-seconds 20 "$seed" >out.log 2>&1
status=$?
cat out.log
[ "$status" -ne 0 ] || { echo "FAIL: the crashing target exited 0"; exit 1; }
grep -q '^replay: .*seed (6 bytes)' out.log || { echo "FAIL: the seed was not replayed first"; exit 1; }
files=(fuzz-crash-*.bin)
[ -f "${files[0]}" ] || { echo "FAIL: no fuzz-crash-*.bin written"; exit 1; }
grep -q "written to $PWD/${files[0]}" out.log || { echo "FAIL: the message does not name the file"; exit 1; }
size=$(stat -c %s "${files[0]}")
[ "$size" -eq 7 ] && [ "$(head -c 4 "${files[0]}")" = FUZZ ] ||
  { echo "FAIL: the written input is not the crashing one ($size bytes)"; exit 1; }
echo "ok: exit status $status, crashing input ${files[0]} ($size bytes)"
