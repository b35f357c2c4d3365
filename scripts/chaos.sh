#!/usr/bin/env bash
# The chaos harness at length (issue 14, docs/state.md): starts a throwaway real Kafka broker
# (scripts/kafka/broker.sh), runs KafkaChaos with ASSAY_CHAOS_CYCLES cycles (default 100) of
# SIGKILLs, graceful stops, second members and broker restarts against exactly-once `assay run`
# instances, and compares what read_committed consumers see with one clean run. The ctest
# target runs the same test with 3 cycles.
# Usage: scripts/chaos.sh [BUILD_DIR] [CYCLES] [SEED]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
cycles="${2:-100}"
seed="${3:-$RANDOM}"
[[ -x $build/tests/assay_kafka_tests && -x $build/cli/assay ]] ||
  { echo "build $build first (scripts/build.sh release)" >&2; exit 1; }
dir="$(mktemp -d "${TMPDIR:-/tmp}/assay-chaos.XXXXXX")"
trap 'scripts/kafka/broker.sh stop "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
scripts/kafka/broker.sh start "$dir"
echo "chaos: $cycles cycles, seed $seed"
ASSAY_KAFKA_DIR="$dir" ASSAY_CHAOS_CYCLES="$cycles" ASSAY_CHAOS_SEED="$seed" \
  "$build/tests/assay_kafka_tests" --gtest_filter='KafkaChaos.*'
