#!/usr/bin/env bash
# The ThreadSanitizer flavour (docs/testing.md): builds build-tsan/ (gcc -fsanitize=thread) and
# runs the tests that exercise threads: the engine (runner, offset tracker, HTTP server,
# supervisor, audit log), the registries (live reloads and stores), the connectors, the
# pipelines of the operators' tests (the TBB runner end to end) and the Kafka integration tests
# on a real broker. Any race report fails the test that produced it (halt_on_error: the report
# is printed and the process exits 66). Suppressions: scripts/tsan.supp (a reason per line).
#   scripts/tsan.sh [ctest args...]     e.g. scripts/tsan.sh -R 'OffsetTracker|Runner'
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
scripts/build.sh tsan assay assay_engine_tests assay_registries_tests assay_connectors_tests \
  assay_operators_tests assay_kafka_tests
built=$(date +%s)
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4:suppressions=$PWD/scripts/tsan.supp${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
status=0
ctest --test-dir build-tsan -L 'engine|registries|connectors|operators|integration' \
  -E 'prometheus_scrape|provenance_witness' --output-on-failure -j "$(nproc)" --timeout 1800 "$@" ||
  status=1
echo "== tsan: build $((built - start)) s, tests $(( $(date +%s) - built )) s, status $status"
exit $status
