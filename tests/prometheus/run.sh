#!/usr/bin/env bash
# Prometheus for real (issue 7): a real Prometheus server (Debian package `prometheus`) scrapes a
# running `assay demo` (the example pipeline on the embedded Kafka cluster), and this script
# asserts through Prometheus's HTTP API that Assay's series arrive with the expected labels;
# `promtool check metrics` must pass on Assay's /metrics page.
#   usage: tests/prometheus/run.sh ASSAY_BINARY
# Prints `N passed, N failed` last; exits non-zero on any failure.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
assay="${1:?usage: $0 ASSAY_BINARY}"
passed=0
failed=0
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/     | /' | tail -30; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

for tool in prometheus promtool python3; do
  command -v "$tool" >/dev/null || { fail "$tool is installed (scripts/setup.sh installs it)"; finish; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
http_get() { python3 -c 'import sys,urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "$1" 2>/dev/null; }
# query EXPR -> Prometheus API JSON result of an instant query
query() { python3 - "$prom_url" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    print(json.dumps(json.load(urllib.request.urlopen(url, timeout=5))["data"]["result"]))
except Exception as e:
    print("[]")
PY
}
# has_series EXPR PY_CONDITION: some series of EXPR satisfies the condition on (labels m, value v)
has_series() { python3 - "$(query "$1")" "$2" <<'PY'
import json, sys
series = json.loads(sys.argv[1])
cond = sys.argv[2]
ok = any(eval(cond, {}, {"m": s["metric"], "v": float(s["value"][1])}) for s in series)
sys.exit(0 if ok else 1)
PY
}
wait_for() { # wait_for SECONDS CMD...
  local end=$(( $(date +%s) + $1 ))
  shift
  while [ "$(date +%s)" -lt "$end" ]; do "$@" && return 0; sleep 0.5; done
  return 1
}

assay_port="$(free_port)"
prom_port="$(free_port)"
prom_url="http://127.0.0.1:$prom_port"
cat >"$work/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: assay
    static_configs:
      - targets: ["127.0.0.1:$assay_port"]
YML
check_config() { promtool check config "$work/prometheus.yml"; }
if out="$(check_config 2>&1)"; then ok "promtool check config"; else fail "promtool check config" "$out"; fi

prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
pids+=($!)
if wait_for 60 http_get "$prom_url/-/ready" >/dev/null; then ok "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') is ready"
else fail "prometheus starts" "$(tail -20 "$work/prometheus.log")"; finish; fi

# The demo: a paced simulated fleet through the example pipeline (~12 s of data, then idle stop).
ASSAY_DEMO_METRICS="127.0.0.1:$assay_port" "$assay" demo --pipeline "$root/examples/demo.yaml" \
  --dir "$work/demo" --sensors 50 --records 36000 --rate 3000 --no-progress \
  >"$work/demo.out" 2>"$work/demo.err" &
demo_pid=$!
pids+=($demo_pid)

scraped_up() { has_series 'up{job="assay"}' 'v == 1'; }
if wait_for 60 scraped_up; then ok "Prometheus scrapes assay (up == 1)"
else fail "Prometheus scrapes assay" "$(query 'up'; tail -5 "$work/demo.err")"; fi

# promtool check metrics on a page taken while records flow.
readings_flow() { has_series 'assay_input_readings_total{job="assay"}' 'v > 0'; }
wait_for 60 readings_flow
http_get "http://127.0.0.1:$assay_port/metrics" >"$work/metrics.txt"
if out="$(promtool check metrics <"$work/metrics.txt" 2>&1)" && [ -s "$work/metrics.txt" ]; then
  ok "promtool check metrics passes on /metrics ($(grep -vc '^#' "$work/metrics.txt") samples)"
else fail "promtool check metrics" "$out"; fi

# Series and labels, through the query API (last_over_time: a series still counts after the
# demo ended and its target went stale, on a slow machine).
expect() { # expect NAME EXPR CONDITION
  local name="$1" expr="$2" cond="$3"
  if wait_for 30 has_series "$expr" "$cond"; then ok "$name"; else fail "$name" "$expr -> $(query "$expr")"; fi
}
p='m.get("pipeline") == "factory-demo" and m.get("job") == "assay" and m.get("instance") == "127.0.0.1:'"$assay_port"'"'
expect "assay_input_readings_total{pipeline} counts readings" 'last_over_time(assay_input_readings_total[10m])' "$p and v > 0"
expect "assay_route_records_total{route=trusted}" 'last_over_time(assay_route_records_total[10m])' "$p and m.get('route') == 'trusted' and v > 0"
expect "assay_route_records_total{route=rejected}" 'last_over_time(assay_route_records_total[10m])' "$p and m.get('route') == 'rejected' and v > 0"
expect "assay_operator_records_rejected_total{operator,reason} by signature reason" \
  'last_over_time(assay_operator_records_rejected_total[10m])' "$p and m.get('operator') == 'verify_signature' and m.get('reason', '').startswith('signature.') and v > 0"
expect "assay_operator_records_rejected_total{operator=calibration,reason=calibration.*}" \
  'last_over_time(assay_operator_records_rejected_total[10m])' "$p and m.get('operator') == 'calibration' and m.get('reason', '').startswith('calibration.') and v > 0"
expect "assay_operator_records_in_total{operator=verify_signature}" 'last_over_time(assay_operator_records_in_total[10m])' "$p and m.get('operator') == 'verify_signature' and v > 0"
expect "assay_operator_batch_duration_seconds histogram (rate of _count)" \
  'rate(assay_operator_batch_duration_seconds_count[10m])' "$p and m.get('operator') == 'verify_signature' and v >= 0"
expect "histogram_quantile over assay_operator_batch_duration_seconds_bucket" \
  'histogram_quantile(0.99, sum by (le, pipeline, job, instance) (rate(assay_operator_batch_duration_seconds_bucket[10m])))' "$p and v >= 0"
expect "assay_connector_records_total{connector,role=source}" 'last_over_time(assay_connector_records_total[10m])' "$p and m.get('role') == 'source' and m.get('connector') == 'kafka:sensors.raw' and v > 0"
expect "assay_kafka_consumer_lag_records{topic,partition}" 'last_over_time(assay_kafka_consumer_lag_records[10m])' "$p and m.get('topic') == 'sensors.raw' and m.get('partition', '') != ''"
expect "assay_config_info{config_sha256}" 'last_over_time(assay_config_info[10m])' "$p and len(m.get('config_sha256', '')) == 64 and v == 1"
expect "assay_config_reloads_total{result}" 'last_over_time(assay_config_reloads_total[10m])' "m.get('result') in ('success', 'failure') and v == 0"
expect "assay_build_info{version,build}" 'last_over_time(assay_build_info[10m])' "m.get('version', '') != '' and v == 1"

# The demo ends by itself; the last scraped totals never exceed what its summary reports.
if wait_for 120 bash -c "! kill -0 $demo_pid 2>/dev/null"; then
  wait "$demo_pid"; rc=$?
  if [ "$rc" -eq 0 ]; then ok "demo ended by itself (exit 0)"; else fail "demo exit code $rc" "$(tail -20 "$work/demo.err")"; fi
  summary_in="$(sed -n 's/^ *readings in  *\([0-9]*\)$/\1/p' "$work/demo.out")"
  last="$(query 'max_over_time(assay_input_readings_total{job="assay"}[5m])' | python3 -c 'import json,sys; r=json.load(sys.stdin); print(int(float(r[0]["value"][1])) if r else -1)')"
  if [ -n "$summary_in" ] && [ "$last" -gt 0 ] && [ "$last" -le "$summary_in" ]; then
    ok "scraped readings ($last) <= the demo's summary ($summary_in)"
  else fail "scraped readings ($last) vs summary ($summary_in)" "$(cat "$work/demo.out")"; fi
else
  fail "demo ends by itself" "$(tail -20 "$work/demo.err")"
fi
finish
