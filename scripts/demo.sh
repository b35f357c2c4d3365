#!/usr/bin/env bash
# The main job: sets everything up, builds Assay, simulates a fleet of signed sensors with
# injected faults, and runs the example pipeline over it, printing a summary at the end.
# Ctrl-C stops it gracefully (the summary is still printed).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh release
export ASSAY_DEMO_DIR="${ASSAY_DEMO_DIR:-$PWD/demo}"
mkdir -p "$ASSAY_DEMO_DIR/out"
SENSORS="${ASSAY_DEMO_SENSORS:-500}"
RECORDS="${ASSAY_DEMO_RECORDS:-500000}"
echo "== simulating $SENSORS sensors, $RECORDS readings into $ASSAY_DEMO_DIR" >&2
./build/engine/cli/assay simulate --out "$ASSAY_DEMO_DIR/fleet.asy" \
  --sensors "$SENSORS" --records "$RECORDS" \
  --registry-out "$ASSAY_DEMO_DIR/sensors.yaml" --certs-out "$ASSAY_DEMO_DIR/certificates.yaml" \
  --labs-out "$ASSAY_DEMO_DIR/labs.yaml" --labels-out "$ASSAY_DEMO_DIR/labels.jsonl"
echo "== running examples/factory.yaml (metrics on http://127.0.0.1:9464/metrics)" >&2
exec ./build/engine/cli/assay run examples/factory.yaml --progress
