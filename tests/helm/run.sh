#!/usr/bin/env bash
# Tests of the Helm chart (helm/assay) without a cluster:
#   - helm lint --strict, with the default values and with each helm/assay/ci/*.yaml;
#   - helm template of each, decoded strictly into the Kubernetes API types and checked by
#     tests/helm/validate (unknown fields, broken references, security context, probes, ...);
#   - the validator itself refuses a manifest with an unknown field (so a pass means something);
#   - checksum/config changes exactly when the pipeline changes (pods roll on a new config);
#   - NOTES.txt renders with every values file;
#   - the Grafana dashboard queries only metric names the engine's sources export;
#   - every tests/helm/bad/*.yaml is refused (values.schema.json or the chart's own checks),
#     with the text of its `# expect:` first line in the error;
#   - when an assay binary is built (build/cli/assay), `assay lint` accepts the default
#     pipeline as the chart renders it.
# Installs helm first when missing (scripts/helm/install-helm.sh: go install, cached).
# Prints `N passed, N failed` last; exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
chart="$root/helm/assay"
started=$(date +%s)
passed=0
failed=0
skipped=0

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Keep helm away from the user's configuration, repositories and plugins.
export HELM_CONFIG_HOME="$work/helm/config" HELM_CACHE_HOME="$work/helm/cache" HELM_DATA_HOME="$work/helm/data"
export KUBECONFIG="$work/no-kubeconfig"
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi

finish() {
  echo "== helm chart tests: $(( $(date +%s) - started )) s"
  if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
  else
    echo "$passed passed, $failed failed"
  fi
  [ "$failed" -eq 0 ]
  exit
}

# check NAME CMD...: runs CMD, counts it, shows its output on failure.
check() {
  local name="$1"
  shift
  if "$@" >"$work/out" 2>&1; then
    passed=$((passed + 1))
    echo "ok   $name"
  else
    failed=$((failed + 1))
    echo "FAIL $name"
    sed 's/^/     | /' "$work/out" | tail -40
  fi
}

echo "== setup"
t0=$(date +%s)
if ! helm="$("$root/scripts/helm/install-helm.sh")"; then
  echo "FAIL install helm"
  failed=$((failed + 1))
  finish
fi
echo "helm: $helm ($("$helm" version --template '{{.Version}}'), $(( $(date +%s) - t0 )) s)"
t0=$(date +%s)
if ! (cd "$root/tests/helm/validate" && go build -o "$work/validate" .) >"$work/out" 2>&1; then
  echo "FAIL build tests/helm/validate"
  cat "$work/out"
  failed=$((failed + 1))
  finish
fi
echo "validator built ($(( $(date +%s) - t0 )) s)"
validate="$work/validate"

release=assay-test
namespace=assay-test
render() { "$helm" template "$release" "$chart" --namespace "$namespace" "$@"; }

# render_validate OUT VALIDATOR_FLAGS -- HELM_ARGS...
render_validate() {
  local out="$1"
  shift
  local vflags=()
  while [ "$1" != "--" ]; do vflags+=("$1"); shift; done
  shift
  render "$@" >"$out" || return 1
  "$validate" "${vflags[@]}" "$out"
}

# validator flags for a values file: its `# validate:` comment line, if any.
vflags_of() { sed -n 's/^# validate: *//p' "$1" | head -1; }

echo "== lint, render, validate"
check "helm lint --strict (default values)" "$helm" lint --strict "$chart"
check "render+validate (default values)" render_validate "$work/default.yaml" \
  -require StatefulSet,Service,ConfigMap,PodDisruptionBudget,ServiceAccount \
  -forbid ScaledObject,ServiceMonitor -- 
check "render+validate (default values, oldest supported Kubernetes 1.25)" render_validate "$work/k125.yaml" \
  -require StatefulSet -- --kube-version 1.25.0
for f in "$chart"/ci/*.yaml; do
  name="ci/$(basename "$f")"
  check "helm lint --strict -f $name" "$helm" lint --strict "$chart" -f "$f"
  # shellcheck disable=SC2046
  check "render+validate -f $name" render_validate "$work/$(basename "$f").out" $(vflags_of "$f") -- -f "$f"
done

echo "== validator strictness"
# A misspelt field deep in the pod spec must be refused by the strict decoding.
sed 's/^\(  *\)readOnlyRootFilesystem: true/\1readOnlyRootFilesystem: true\n\1readOnlyRootFileSystem: true/' \
  "$work/default.yaml" >"$work/typo.yaml"
refuses() { # refuses FILE TEXT: the validator fails on FILE and says TEXT
  if "$validate" "$1" >"$work/vout" 2>&1; then echo "validator accepted $1"; return 1; fi
  grep -q -- "$2" "$work/vout" || { echo "validator failed without '$2':"; cat "$work/vout"; return 1; }
}
check "validator refuses a miscased field (readOnlyRootFileSystem)" refuses "$work/typo.yaml" 'unknown field'
sed 's/^\(  *\)serviceName:/\1serviceNmae:/' "$work/default.yaml" >"$work/typo2.yaml"
check "validator refuses an unknown field (serviceNmae)" refuses "$work/typo2.yaml" 'unknown field "spec.serviceNmae"'
sed 's/^\(  *\)replicas: 1$/\1replicas: 1\n\1replicas: 2/' "$work/default.yaml" >"$work/dup.yaml"
check "validator refuses a duplicate key" refuses "$work/dup.yaml" 'already set'
sed 's/runAsNonRoot: true/runAsNonRoot: false/' "$work/default.yaml" >"$work/root.yaml"
check "validator refuses runAsNonRoot: false" refuses "$work/root.yaml" 'runAsNonRoot must be true'
printf 'apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: x}\n' >"$work/cron.yaml"
check "validator refuses a kind it does not know" refuses "$work/cron.yaml" 'unknown apiVersion/kind'

echo "== hot reload"
# The pipeline ConfigMap is mounted as a directory (a subPath mount is never updated in place,
# so an edit would not reach `assay run`'s file watcher) and that file is what runs.
reload_mount() {
  grep -q 'subPath: pipeline.yaml' "$work/default.yaml" && { echo "pipeline mounted with subPath"; return 1; }
  grep -q 'mountPath: /etc/assay/pipeline$' "$work/default.yaml" || { echo "no directory mount at /etc/assay/pipeline"; return 1; }
  grep -q -- '- /etc/assay/pipeline/pipeline.yaml$' "$work/default.yaml" || { echo "assay does not run /etc/assay/pipeline/pipeline.yaml"; return 1; }
  grep -q -- '--no-reload' "$work/default.yaml" && { echo "hot reload disabled"; return 1; }
  return 0
}
check "pipeline ConfigMap mounted as a directory and run from there (hot reload)" reload_mount

echo "== config checksum"
checksum() { render "$@" | sed -n 's/^ *checksum\/config: *//p'; }
config_rolls() {
  local a b c
  a="$(checksum)"
  b="$(checksum)"
  c="$(checksum --set engineless=1 2>/dev/null || true)" # (refused by the schema: no output)
  [ -n "$a" ] && [ "$a" = "$b" ] || { echo "checksum not stable: '$a' vs '$b'"; return 1; }
  [ -z "$c" ] || { echo "an unknown key rendered"; return 1; }
  c="$(checksum --set kafka.topic=other.topic)"
  [ -n "$c" ] && [ "$c" != "$a" ] || { echo "checksum did not change with the pipeline: $a"; return 1; }
  c="$(checksum --set replicaCount=2)"
  [ "$c" = "$a" ] || { echo "checksum changed without a pipeline change"; return 1; }
}
check "checksum/config changes with the pipeline only" config_rolls

echo "== NOTES.txt"
# `helm template` does not print NOTES.txt and `helm install --dry-run` needs a cluster, so
# render it through a copy of the chart with one more template that includes it.
notes() {
  rm -rf "$work/notes-chart" && cp -r "$chart" "$work/notes-chart" || return 1
  printf '%s\n' 'apiVersion: v1' 'kind: ConfigMap' 'metadata: {name: notes}' 'data:' '  NOTES.txt: |' \
    '    {{- include "assay/templates/NOTES.txt" . | nindent 4 }}' >"$work/notes-chart/templates/zz-notes.yaml"
  "$helm" template "$release" "$work/notes-chart" --namespace "$namespace" -s templates/zz-notes.yaml "$@" >"$work/notes.out" || return 1
  grep -q 'Assay 0.1.0 is deployed as StatefulSet assay-test' "$work/notes.out" || { echo "NOTES.txt not rendered:"; cat "$work/notes.out"; return 1; }
}
check "NOTES.txt renders (default values)" notes
for f in "$chart"/ci/*.yaml; do
  check "NOTES.txt renders -f ci/$(basename "$f")" notes -f "$f"
done

echo "== bad values are refused"
refused() { # refused FILE: helm template fails, with the text of the file's `# expect:` line
  local expect
  expect="$(sed -n '1s/^# expect: *//p' "$1")"
  if render -f "$1" >"$work/bad.out" 2>&1; then
    echo "rendered although it must be refused"
    return 1
  fi
  if [ -n "$expect" ] && ! grep -qF -- "$expect" "$work/bad.out"; then
    echo "refused, but not for the expected reason ('$expect'):"
    cat "$work/bad.out"
    return 1
  fi
  head -3 "$work/bad.out"
}
for f in "$root"/tests/helm/bad/*.yaml; do
  check "refused: bad/$(basename "$f")" refused "$f"
done

echo "== Grafana dashboard"
# Every metric the dashboard queries is one Assay exports (a renamed metric breaks this test,
# not silently the dashboard), and the dashboard covers the main ones.
dashboard_metrics() {
  local m missing=0
  python3 -m json.tool "$chart/dashboards/assay.json" >/dev/null || return 1
  for m in $(grep -o 'assay_[a-z_]*' "$chart/dashboards/assay.json" | sed -E 's/_(bucket|sum|count)$//' | sort -u); do
    if ! grep -rqF "\"$m\"" "$root/engine" "$root/connectors" "$root/operators" --include='*.cpp'; then
      echo "dashboard queries $m, which no engine/connectors/operators source exports"
      missing=1
    fi
  done
  for m in assay_route_records_total assay_operator_records_rejected_total assay_operator_batch_duration_seconds \
    assay_kafka_consumer_lag_records assay_batches_in_flight assay_input_readings_total; do
    grep -qF "$m" "$chart/dashboards/assay.json" || { echo "dashboard has no panel on $m"; missing=1; }
  done
  return $missing
}
check "dashboard queries only metrics Assay exports, and all the main ones" dashboard_metrics

echo "== the rendered default pipeline passes assay lint"
assay="${ASSAY_BIN:-$root/build/cli/assay}"
if [ -x "$assay" ]; then
  pipeline_lints() {
    # The ConfigMap's pipeline.yaml, with /etc/assay moved under a temp dir holding an
    # (empty) identity registry where the Secret would be mounted.
    mkdir -p "$work/etc/assay/registry"
    echo 'sensors: []' >"$work/etc/assay/registry/sensors.yaml"
    render -s templates/configmap.yaml |
      sed -n '/^  pipeline.yaml: |/,$p' | tail -n +2 | sed 's/^    //' |
      sed "s#/etc/assay/#$work/etc/assay/#g" >"$work/etc/assay/pipeline.yaml"
    "$assay" lint "$work/etc/assay/pipeline.yaml"
  }
  check "assay lint of the chart's default pipeline" pipeline_lints
else
  skipped=$((skipped + 1))
  echo "skip assay lint of the chart's default pipeline (no $assay; set ASSAY_BIN)"
fi

finish
