#!/usr/bin/env bash
# The whole test suite: sets everything up, builds the release and the ASan+UBSan flavours,
# and runs every test (unit, integration, vectors) in both with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/kafka/fetch.sh --quiet --no-kcat  # Java + the Kafka broker jars for the integration tests
start=$(date +%s)
export ASSAY_LEAN_DEBUG_INFO=1  # line tables only: the suite's builds fit its time budget
scripts/build.sh release
scripts/build.sh asan
release=0 asan=0
echo "== ctest (release)"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 || release=1
echo "== ctest (asan+ubsan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900 || asan=1
# A failure's output scrolls far up in a long log: repeat which tests failed, with their
# assertion messages, at the end (where a CI log's tail shows it).
summarise() {  # build dir, flavour
  local failed="$1/Testing/Temporary/LastTestsFailed.log"
  echo "== failed ($2): $(cut -d: -f2- "$failed" 2>/dev/null | tr '\n' ' ')"
  grep -E -A8 ': Failure$|^\[  FAILED  \]|runtime error:|ERROR: AddressSanitizer' \
    "$1/Testing/Temporary/LastTest.log" | grep -v -E '^\[  FAILED  \] [0-9]+ test' | head -n 80 || true
}
[[ $release -eq 0 ]] || summarise build release
[[ $asan -eq 0 ]] || summarise build-asan asan+ubsan
status=$(( release | asan ))
echo "== test suite finished in $(( $(date +%s) - start )) s, status $status"
exit $status
