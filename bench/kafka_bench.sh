#!/usr/bin/env bash
# End-to-end Kafka benchmark (issue 3): starts a throwaway real broker (scripts/kafka/broker.sh),
# runs build/bench/assay_bench_kafka against it (bare librdkafka passthrough vs `assay run`
# pass-through, same input, same run), stops the broker.
# Usage: bench/kafka_bench.sh [BUILD_DIR] [--records N] [--reps R] [--eos]
#        bench/kafka_bench.sh [BUILD_DIR] --restore SENSORS [--reps R]
#        bench/kafka_bench.sh [BUILD_DIR] --pipeline quality [--records N] [--sensors S]
#                             [--reps R] [--commit-interval-ms MS]
# (--pipeline quality: at-least-once vs exactly-once vs no durable state on a quality.yaml-like
# pipeline, with the changelog bytes per reading; see bench/bench_kafka.cpp.)
set -euo pipefail
cd "$(dirname "$0")/.."
build="build"
if [[ $# -gt 0 && $1 != --* ]]; then build="$1"; shift; fi
[[ -x $build/bench/assay_bench_kafka ]] || { echo "build $build/bench/assay_bench_kafka first" >&2; exit 1; }
dir="$(mktemp -d "${TMPDIR:-/tmp}/assay-kafka-bench.XXXXXX")"
trap 'scripts/kafka/broker.sh stop "$dir"; rm -rf "$dir"' EXIT
scripts/kafka/broker.sh start "$dir"
ASSAY_KAFKA_DIR="$dir" "$build/bench/assay_bench_kafka" --assay "$build/cli/assay" "$@"
