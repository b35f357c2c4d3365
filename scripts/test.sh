#!/usr/bin/env bash
# The whole test suite: sets everything up, builds the release and the ASan+UBSan flavours,
# and runs every test (unit, integration, vectors) in both with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/kafka/fetch.sh --quiet --no-kcat  # Java + the Kafka broker jars for the integration tests
start=$(date +%s)
scripts/build.sh release
scripts/build.sh asan
status=0
echo "== ctest (release)"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 || status=1
echo "== ctest (asan+ubsan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900 || status=1
echo "== test suite finished in $(( $(date +%s) - start )) s, status $status"
exit $status
