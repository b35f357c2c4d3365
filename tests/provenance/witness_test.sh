#!/usr/bin/env bash
# Provenance v2 against a real, independently written C2SP witness (issue 18):
#   - litewitness (filippo.io/torchwood v0.6.1, tlog-witness over HTTP) runs on loopback with
#     an Ed25519 key in an ssh-agent; witnessctl registers the pipeline's log and key;
#   - `assay run` submits each checkpoint with its consistency proof; the cosignatures come back
#     onto the attestations route; `verify-stream --witness VKEY --min-witnesses 1` passes;
#   - golang.org/x/mod/sumdb/note (standard Go tooling) opens every checkpoint note of Assay's;
#   - a restart continues the log and the witness follows (consistency proof from its size);
#   - a witness that is down delays cosignatures, not the stream, and catches up later;
#   - a forked history (the same log written again, differently) is refused by the witness and
#     reported by verify-stream as a fork.
# Installs litewitness, witnessctl and the note checker on first use under BUILD/tools/go/bin
# (go install from the Go module proxy; a few minutes cold, cached afterwards).
# Usage: tests/provenance/witness_test.sh ASSAY_BINARY BUILD_DIR
set -uo pipefail
assay="$1"
build="$2"
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="$build/tools/go/bin"
passed=0
failed=0
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then PATH="/usr/local/go/bin:$PATH"; fi

work="$(mktemp -d)"
lw_pid=""
agent_pid=""
cleanup() {
  [ -n "$lw_pid" ] && kill "$lw_pid" 2>/dev/null
  [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1"; }
fail() { failed=$((failed + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     | /' "$2" | tail -30; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

echo "== setup"
mkdir -p "$bin"
if [ ! -x "$bin/litewitness" ] || [ ! -x "$bin/witnessctl" ]; then
  echo "installing litewitness and witnessctl (filippo.io/torchwood v0.6.1) into $bin"
  if ! GOBIN="$bin" GOFLAGS=-trimpath CGO_ENABLED=0 go install \
      filippo.io/torchwood/cmd/litewitness@v0.6.1 filippo.io/torchwood/cmd/witnessctl@v0.6.1 \
      >"$work/install.log" 2>&1; then
    fail "install litewitness" "$work/install.log"
    finish
  fi
fi
if [ ! -x "$bin/assay-notecheck" ] || [ "$root/tests/provenance/notecheck/main.go" -nt "$bin/assay-notecheck" ]; then
  if ! (cd "$root/tests/provenance/notecheck" && GOFLAGS=-trimpath go build -o "$bin/assay-notecheck" .) >"$work/nc.log" 2>&1; then
    fail "build the note checker" "$work/nc.log"
    finish
  fi
fi

cd "$work" || exit 1
# The witness key, in an ssh-agent (litewitness signs through one).
ssh-keygen -q -t ed25519 -N '' -C witness -f wkey
eval "$(ssh-agent -a "$work/agent.sock" -s)" >/dev/null
agent_pid="$SSH_AGENT_PID"
ssh-add -q wkey 2>/dev/null
fp="$(ssh-keygen -lf wkey.pub | awk '{print $2}')"

# The engine key and its log: one chain (file input = partition 0).
"$assay" keygen --alg ed25519 --out engine >/dev/null
prefix="example.test/assay-witness"
origin="$prefix/0"
vkey="$("$assay" pubkey engine.key --origin "$origin" | sed -n 's/^  - "\(.*\)"$/\1/p')"
"$bin/witnessctl" add-log -db w.db -origin "$origin" 2>/dev/null
"$bin/witnessctl" add-key -db w.db -origin "$origin" -key "$vkey" 2>/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
start_witness() {
  "$bin/litewitness" -name example.test/w1 -db w.db -ssh-agent "$work/agent.sock" -key "$fp" \
    -listen "127.0.0.1:$port" >>lw.log 2>&1 &
  lw_pid=$!
  for _ in $(seq 1 100); do
    grep -q "listening" lw.log 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
stop_witness() { kill "$lw_pid" 2>/dev/null; wait "$lw_pid" 2>/dev/null; lw_pid=""; }
if ! start_witness; then fail "litewitness starts" lw.log; finish; fi
wvkey="$(sed -n 's/.*verifier key.*vkey=\([^ ]*\).*/\1/p' lw.log | head -1)"
[ -n "$wvkey" ] && ok "litewitness runs on 127.0.0.1:$port ($wvkey)" || { fail "litewitness vkey" lw.log; finish; }

# pipeline DIR INPUT [START_OFFSET]
pipeline() {
  mkdir -p "$1"
  cat >"$1/p.yaml" <<EOF
name: witnessed
input: {type: file, path: $work/$2, start_offset: ${3:-0}}
routes:
  trusted: {type: file, path: trusted.asy, append: true}
  rejected: {type: file, path: rejected.asy}
  attestations: {type: file, path: att.asy, append: true}
operators:
  - type: provenance
    key: $work/engine.key
    origin: $prefix
    checkpoint: {every_records: 64, every_ms: 600000}
    witnesses: [{url: "http://127.0.0.1:$port", key: "$wvkey", timeout_ms: 2000}]
    witness_options: {final_wait_ms: ${FINAL_WAIT:-5000}, retry_ms: 100}
engine: {batch_size: 64}
EOF
}
verify() {  # DIR [ATT] extra...
  local d="$1" att="${2:-$1/att.asy}"
  shift 2
  "$assay" verify-stream --trusted "$d/trusted.asy" --attestations "$att" --public-key engine.pub "$@"
}
"$assay" simulate --out in1.asy --sensors 5 --records 700 --alg-mix ed25519=1 --batch-fraction 0 --seed 3 >/dev/null 2>&1
"$assay" simulate --out in2.asy --sensors 5 --records 300 --alg-mix ed25519=1 --batch-fraction 0 --seed 4 >/dev/null 2>&1
"$assay" simulate --out in3.asy --sensors 5 --records 1500 --alg-mix ed25519=1 --batch-fraction 0 --seed 5 >/dev/null 2>&1

echo "== cosigned checkpoints"
pipeline a in1.asy
if (cd a && "$assay" run p.yaml --no-progress) >run1.log 2>&1; then ok "run with a witness"; else fail "run with a witness" run1.log; fi
if verify a "" --witness "$wvkey" --min-witnesses 1 >v1.log 2>&1 && grep -q "VERIFIED" v1.log; then
  ok "verify-stream --min-witnesses 1: $(grep -o '[0-9]* witness cosignature(s)' v1.log)"
else fail "verify-stream --min-witnesses 1" v1.log; fi
if grep -q "[1-9][0-9]* witness cosignature" v1.log; then ok "cosignatures were stored on the attestations route"; else fail "no cosignatures stored" v1.log; fi
if grep -q 'witness_size\|refuses\|cannot prove' run1.log; then fail "the witness refused something" run1.log; else ok "the witness accepted every submission"; fi

echo "== standard Go tooling opens Assay's notes (golang.org/x/mod/sumdb/note)"
"$assay" inspect a/att.asy >att.jsonl
python3 - <<'EOF'
import json
n = 0
for line in open("att.jsonl"):
    r = json.loads(line)
    if r.get("kind") in ("Checkpoint", "Cosigned"):
        open("note-%03d.txt" % n, "w").write(r["note"])
        n += 1
print(n)
EOF
if [ ! -f note-000.txt ]; then fail "no checkpoint notes"; finish; fi
if "$bin/assay-notecheck" "$vkey" note-*.txt >nc.log 2>&1; then ok "note.Open verifies $(grep -c '^ok' nc.log) notes"; else fail "note.Open" nc.log; fi
# A note with one changed byte does not open.
sed '2s/.$/0/' note-000.txt >bad-note.txt
if "$bin/assay-notecheck" "$vkey" bad-note.txt >nc2.log 2>&1; then fail "a changed note opens" nc2.log
else grep -q "note.Open" nc2.log && ok "a changed note is refused by note.Open" || fail "changed note" nc2.log; fi

echo "== a restart continues the log; the witness follows"
pipeline a in2.asy
if (cd a && "$assay" run p.yaml --no-progress) >run2.log 2>&1; then ok "restart with a witness"; else fail "restart" run2.log; fi
if verify a "" --witness "$wvkey" --min-witnesses 1 >v2.log 2>&1; then ok "the continued stream is witnessed ($(grep -o '[0-9]* records in' v2.log))"; else fail "continued stream" v2.log; fi

echo "== a witness that is down delays cosignatures, never the stream"
stop_witness
"$assay" simulate --out in4.asy --sensors 5 --records 200 --alg-mix ed25519=1 --batch-fraction 0 --seed 6 >/dev/null 2>&1
pipeline a in4.asy
sed -i 's/final_wait_ms: [0-9]*/final_wait_ms: 1000/' a/p.yaml
t0=$(date +%s%N)
if (cd a && "$assay" run p.yaml --no-progress) >run3.log 2>&1; then ok "run with the witness down"; else fail "run with the witness down" run3.log; fi
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -lt 10000 ] && ok "it finished in $ms ms" || fail "took $ms ms"
grep -q "witness not answering" run3.log && ok "the outage is logged" || fail "no log of the outage" run3.log
if verify a "" --witness "$wvkey" --min-witnesses 1 >v3.log 2>&1; then fail "unwitnessed records verified" v3.log
else grep -q '"unwitnessed"' v3.log && ok "verify-stream names the unwitnessed records" || fail "no unwitnessed finding" v3.log; fi
if verify a "" --witness "$wvkey" --min-witnesses 1 --allow-open-tail >v4.log 2>&1; then ok "with --allow-open-tail they are counted: $(grep -o '[0-9]* not witnessed' v4.log)"; else fail "--allow-open-tail" v4.log; fi
if ! start_witness; then fail "litewitness restarts" lw.log; finish; fi
"$assay" simulate --out in5.asy --sensors 5 --records 100 --alg-mix ed25519=1 --batch-fraction 0 --seed 7 >/dev/null 2>&1
pipeline a in5.asy
if (cd a && "$assay" run p.yaml --no-progress) >run4.log 2>&1; then ok "run after the witness is back"; else fail "run after" run4.log; fi
if verify a "" --witness "$wvkey" --min-witnesses 1 >v5.log 2>&1; then ok "the witness caught up: the whole stream is witnessed again"; else fail "caught up" v5.log; fi

echo "== a forked history"
# The same log (key, origin) written again from scratch, differently, and longer.
pipeline fork in3.asy
if (cd fork && "$assay" run p.yaml --no-progress) >run5.log 2>&1; then ok "the forked pipeline runs (the witness does not stop it)"; else fail "forked run" run5.log; fi
if grep -q "inconsistent with what it cosigned\|larger tree than this log" run5.log; then ok "the witness refuses the fork: $(grep -o 'msg="[^"]*"' run5.log | grep -m1 'fork\|larger')"; else fail "the witness accepted a fork" run5.log; fi
if verify fork "" --witness "$wvkey" --min-witnesses 1 >v6.log 2>&1; then fail "the fork verifies as witnessed" v6.log; else ok "the fork is not witnessed"; fi
cat a/att.asy fork/att.asy >both.asy
if verify a both.asy >v7.log 2>&1; then fail "two histories verify" v7.log
else grep -q '"finding":"fork"' v7.log && ok "verify-stream reports the fork: $(grep -c '"finding":"fork"' v7.log) checkpoint(s) of the same size with different roots" || fail "no fork finding" v7.log; fi
finish
