#!/usr/bin/env bash
# Side-by-side benchmark comparison: runs the baseline and the current build of one harness
# alternately REPS times and prints the medians of items_per_second and their ratio.
#   BASELINE=/path/to/old/build/bench bench/compare.sh BENCH FILTER [REPS] [MIN_TIME]
# BENCH is the harness name without the prefix (pipeline, verify, quality, provenance, ...).
json=$(mktemp); b=$1; f=$2; reps=${3:-3}; mt=${4:-1}
out=$(mktemp); : > $out
for i in $(seq 1 $reps); do
  for side in baseline current; do
    if [ $side = baseline ]; then bin=${BASELINE:?set BASELINE to the bench directory of the old build}/assay_bench_$b; else bin=${CURRENT:-build/bench}/assay_bench_$b; fi
    $bin --benchmark_filter="$f" --benchmark_min_time=$mt --benchmark_out=$json --benchmark_out_format=json >/dev/null 2>&1
    python3 - $side "$json" >> $out <<'P'
import json,sys
d=json.load(open(sys.argv[2]))
for x in d["benchmarks"]:
    print(sys.argv[1], x["name"], x.get("items_per_second",0))
P
  done
done
python3 - $out <<'P'
import sys,statistics,collections
v=collections.defaultdict(list)
for l in open(sys.argv[1]):
    s,n,x=l.split(); v[(n,s)].append(float(x))
for n in sorted({n for n,_ in v}):
    b=statistics.median(v[(n,"baseline")]); c=statistics.median(v[(n,"current")])
    print(f"{n:50s} baseline {b/1e3:9.1f}k/s  current {c/1e3:9.1f}k/s  ratio {c/b:5.2f}  (n={len(v[(n,'current')])})")
P
