#!/usr/bin/env bash
# The main job: sets everything up, builds Assay and runs the demo on the embedded Kafka
# cluster (no broker needed): a simulated fleet of signed sensors with injected faults
# streams through examples/demo.yaml with a live progress line, and a summary at the end.
# Ctrl-C stops it gracefully. Extra arguments go to `assay demo` (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
exec ./build/cli/assay demo "$@"
