#!/usr/bin/env bash
# The whole test suite: sets everything up, builds the release and the ASan+UBSan flavours,
# and runs every test (unit, integration, vectors) in both with ctest; then builds the fuzz
# flavour and runs each fuzz target briefly (its corpus, then ASSAY_FUZZ_SECONDS of fuzzing).
# docs/testing.md describes the flavours.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/kafka/fetch.sh --quiet --no-kcat  # Java + the Kafka broker jars for the integration tests
start=$(date +%s)
scripts/build.sh release
scripts/build.sh asan
fuzz_start=$(date +%s)
scripts/build.sh fuzz
fuzz_build=$(( $(date +%s) - fuzz_start ))
status=0
echo "== ctest (release)"
ctest --test-dir build --output-on-failure -j "$(nproc)" --timeout 900 || status=1
echo "== ctest (asan+ubsan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900 || status=1
echo "== ctest (fuzz: every target's corpus, then ${ASSAY_FUZZ_SECONDS:-10} s of fuzzing each)"
fuzz_start=$(date +%s)
cmake -S . -B build-fuzz -DASSAY_FUZZ_SECONDS="${ASSAY_FUZZ_SECONDS:-10}" >/dev/null
ctest --test-dir build-fuzz -L fuzz --output-on-failure -j "$(nproc)" --timeout 900 || status=1
echo "== fuzz flavour: build ${fuzz_build} s, runs $(( $(date +%s) - fuzz_start )) s"
echo "== test suite finished in $(( $(date +%s) - start )) s, status $status"
exit $status
