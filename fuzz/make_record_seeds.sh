#!/usr/bin/env bash
# Writes the record-based seeds of the fuzz corpora (fuzz/corpus/{records,record_json,
# audit_verify,stream_verify}/gen-*) with the release build's `assay`: a small simulated fleet
# (every algorithm, SignedBatch, injected faults) run through verify_signature, calibration,
# anomaly, drift and provenance, with an audit log, all signed with the examples' TEST engine
# key (examples/testdata/engine.key, whose public half the fuzz targets pin). Deterministic
# inputs (fixed seed and start time); the outputs carry processing times, so they differ from
# run to run in those bytes only. Usage: fuzz/make_record_seeds.sh [ASSAY_BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
assay=${1:-$root/build/cli/assay}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$assay" simulate --out fleet.asy --sensors 6 --records 30 --batch-fraction 0.4 --batch-size 3 \
  --seed 7 --start-time 2026-01-01T00:00:00Z --fault forged=0.1 --fault tampered=0.1 \
  --fault replay=0.1 --fault unknown_key=0.1 --threads 1 >/dev/null 2>&1
cat >p.yaml <<YAML
name: fuzz-seeds
input: {type: file, path: fleet.asy}
engine: {batch_size: 4}
operators:
  - {type: verify_signature, registry: sensors.yaml}
  - {type: calibration, certificates: certificates.yaml, trust: labs.yaml, registry: sensors.yaml}
  - {type: anomaly, registry: sensors.yaml, rate_limit: {rate: 0}, clock_skew_tolerance_ms: 31536000000}
  - {type: drift, registry: sensors.yaml}
  - {type: provenance, key: $root/examples/testdata/engine.key, checkpoint: {every_records: 4, every_ms: 100000}}
routes:
  trusted: {type: file, path: out/trusted.asy}
  rejected: {type: file, path: out/rejected.asy}
  attestations: {type: file, path: out/attestations.asy}
audit: {file: out/audit.log, key: $root/examples/testdata/engine.key}
YAML
"$assay" run p.yaml >/dev/null 2>&1
# The same fleet with grouped trusted records (engine.trusted_records: grouped): one record per
# sensor and SignedBatch, with group_* vectors (calibration and drift verdicts per reading).
sed -e 's/engine: {batch_size: 4}/engine: {batch_size: 4, trusted_records: grouped}/' \
  -e 's#out/#out-grouped/#g' p.yaml >grouped.yaml
"$assay" run grouped.yaml >/dev/null 2>&1
"$assay" prove --trusted out/trusted.asy --attestations out/attestations.asy --partition 0 \
  --offset 3 >out/proof.json 2>/dev/null
python3 - "$root/fuzz/corpus" <<'PY'
import os, struct, sys
corpus = sys.argv[1]

def frames(path):
    d = open(path, "rb").read()
    out, i = [], 0
    while i + 4 <= len(d):
        n = struct.unpack_from("<I", d, i)[0]
        out.append(d[i + 4:i + 4 + n])
        i += 4 + n
    return out

def framed(fs):
    return b"".join(struct.pack("<I", len(f)) + f for f in fs)

def write(target, name, data):
    os.makedirs(os.path.join(corpus, target), exist_ok=True)
    open(os.path.join(corpus, target, "gen-" + name), "wb").write(data)

fleet = frames("fleet.asy")
trusted = frames("out/trusted.asy")
rejected = frames("out/rejected.asy")
atts = frames("out/attestations.asy")
audit = frames("out/audit.log")
# Unsigned Reading / ReadingBatch buffers: the signed bodies of the fleet's records.
bodies = []
for f in fleet:
    # SignedReading/SignedBatch: the body vector is the first [ubyte] field; find it by its
    # file identifier ARDG/ABAT at offset 4 of an embedded buffer.
    for ident in (b"ARDG", b"ABAT"):
        k = f.find(ident, 8)
        if k >= 8:
            start = k - 4
            n = struct.unpack_from("<I", f, start - 4)[0]  # the vector's length prefix
            if 0 < n <= len(f) - start:
                bodies.append(f[start:start + n])
# records: policy byte + a framed file of a few records (signed, unsigned, outputs, broken).
write("records", "fleet-0", b"\x00" + framed(fleet[:6]))
write("records", "fleet-1", b"\x02" + framed(fleet[6:12]))
write("records", "fleet-2", b"\x04" + framed(fleet[12:]))
write("records", "unsigned", b"\x00" + framed(bodies[:6]))
write("records", "mixed-small-limit", b"\x03" + framed([fleet[0], bodies[0], trusted[0], b"", b"ASRD"]))
write("records", "torn", b"\x00" + framed(fleet[:2]) + struct.pack("<I", 500) + fleet[2][:40])
write("records", "too-large", b"\x01" + framed(fleet[:3]))
# record_json: one record of every kind the pipeline writes.
kinds = {}
for name, fs in (("fleet", fleet), ("body", bodies), ("trusted", trusted), ("rejected", rejected),
                 ("attestation", atts), ("audit", audit)):
    for i, f in enumerate(fs):
        ident = f[4:8]
        if (name, ident) not in kinds:
            kinds[(name, ident)] = f
            write("record_json", "%s-%s" % (name, ident.decode("ascii", "replace")), f)
# audit_verify: the log, a shortened copy, two events swapped.
write("audit_verify", "log", framed(audit))
write("audit_verify", "log-head", framed(audit[:2]))
if len(audit) >= 3:
    write("audit_verify", "log-swapped", framed([audit[0], audit[2], audit[1]] + audit[3:]))
# stream_verify: policy + attestations length + attestations + trusted.
def stream(policy, a, t):
    fa = framed(a)
    return bytes([policy]) + struct.pack("<I", len(fa)) + fa + framed(t)
write("stream_verify", "clean", stream(0, atts, trusted))
write("stream_verify", "open-tail", stream(1, atts[:3], trusted))
write("stream_verify", "witnessed", stream(2, atts, trusted))
write("stream_verify", "record-missing", stream(0, atts, trusted[:5] + trusted[6:]))
write("stream_verify", "proof", b"\x04" + open("out/proof.json", "rb").read())
# Grouped trusted records: a whole stream, and the largest group as a record_json seed.
g_trusted = frames("out-grouped/trusted.asy")
g_atts = frames("out-grouped/attestations.asy")
write("stream_verify", "grouped", stream(0, g_atts, g_trusted))
write("stream_verify", "grouped-swapped", stream(0, g_atts, [g_trusted[1], g_trusted[0]] + g_trusted[2:]))
write("record_json", "trusted-grouped-ATRD", max(g_trusted, key=len))
PY
echo "record seeds written under fuzz/corpus/"
