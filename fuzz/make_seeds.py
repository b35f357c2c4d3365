#!/usr/bin/env python3
"""Writes the generated seed inputs of the fuzz corpora (fuzz/corpus/<target>/gen-*).

Hand-built CBOR (COSE_Sign1/COSE_Mac0 with SenML payloads), SenML JSON, and the other inputs
that are not copies of files in tests/. Deterministic: running it again rewrites the same
bytes. Signatures are placeholders: the parsers never verify, and the verifiers' targets are
about structure. Usage: fuzz/make_seeds.py [REPO_ROOT]
"""
import json
import os
import struct
import sys

ROOT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def head(major, v):
    m = major << 5
    if v < 24:
        return bytes([m | v])
    if v < 0x100:
        return bytes([m | 24, v])
    if v < 0x10000:
        return bytes([m | 25]) + struct.pack(">H", v)
    if v < 0x100000000:
        return bytes([m | 26]) + struct.pack(">I", v)
    return bytes([m | 27]) + struct.pack(">Q", v)


def cbor(x):
    """A minimal CBOR encoder (definite lengths, shortest heads)."""
    if isinstance(x, bool):
        return b"\xf5" if x else b"\xf4"
    if x is None:
        return b"\xf6"
    if isinstance(x, int):
        return head(0, x) if x >= 0 else head(1, -1 - x)
    if isinstance(x, float):
        return b"\xfb" + struct.pack(">d", x)
    if isinstance(x, bytes):
        return head(2, len(x)) + x
    if isinstance(x, str):
        b = x.encode()
        return head(3, len(b)) + b
    if isinstance(x, list):
        return head(4, len(x)) + b"".join(cbor(i) for i in x)
    if isinstance(x, dict):
        return head(5, len(x)) + b"".join(cbor(k) + cbor(v) for k, v in x.items())
    if isinstance(x, Tag):
        return head(6, x.tag) + cbor(x.value)
    raise TypeError(x)


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "gen-" + name), "wb") as f:
        f.write(data)


T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def senml_packs():
    # RFC 8428 integer labels: bn -2, bt -3, bu -4, bv -5, bs -6, bver -1, n 0, u 1, v 2,
    # vs 3, vb 4, s 5, t 6, ut 7, vd 8.
    return {
        "single": [{-2: "urn:dev:ow:10e2073a01080063:", -3: T0, 0: "temp", 1: "Cel", 2: 23.5}],
        "base-values": [
            {-2: "dev1/", -3: T0, -4: "Pa", -5: 100000.0, -1: 10},
            {0: "p", 2: 12.5, 6: 1},
            {0: "p", 2: -3, 6: 2},
            {0: "q", 4: True, 6: 3},
            {0: "s", 5: 42.0, 6: 4, 7: 60.0},
        ],
        "strings": [{-2: "d/", -3: T0, 0: "a", 3: "text"}, {0: "b", 8: b"\x01\x02", 6: 1}],
        "float-time": [{0: "dev2/t", 6: float(T0) + 0.25, 2: 1.5}],
    }


def senml_json(pack):
    names = {-2: "bn", -3: "bt", -4: "bu", -5: "bv", -6: "bs", -1: "bver", 0: "n", 1: "u",
             2: "v", 3: "vs", 4: "vb", 5: "s", 6: "t", 7: "ut", 8: "vd"}
    out = []
    for r in pack:
        o = {}
        for k, v in r.items():
            if isinstance(v, bytes):
                import base64
                v = base64.urlsafe_b64encode(v).decode().rstrip("=")
            o[names[k]] = v
        out.append(o)
    return json.dumps(out, separators=(",", ":"))


def cose(kind, alg, payload, kid=b"sensor-key-1", tagged=True, extra_protected=None,
         unprotected=None):
    prot = {1: alg}
    if extra_protected:
        prot.update(extra_protected)
    unprot = {4: kid} if kid is not None else {}
    if unprotected:
        unprot.update(unprotected)
    sig = bytes(range(32 if alg == 5 else 64))
    msg = [cbor(prot), unprot, payload, sig]
    body = cbor(msg)
    if tagged:
        return cbor(Tag(18 if kind == "sign1" else 17, msg))
    return body


def copy(target, name, src, prefix=b""):
    with open(os.path.join(ROOT, src), "rb") as f:
        write(target, name, prefix + f.read())


def registry_seeds():
    # First byte: 0 identity file, 1 trust list, 2 certificates file, 3 one message (4: JSON).
    copy("registries", "identity-sensors", "examples/testdata/sensors.yaml", b"\x00")
    copy("registries", "identity-dcc-sensors", "examples/testdata/dcc-sensors.yaml", b"\x00")
    copy("registries", "trust-labs", "examples/testdata/labs.yaml", b"\x01")
    copy("registries", "trust-dcc-labs", "examples/testdata/dcc-labs.yaml", b"\x01")
    copy("registries", "certificates", "examples/testdata/certificates.yaml", b"\x02")
    copy("registries", "certificates-dcc", "tests/data/dcc/forms/real-expandedUnc.xml", b"\x02")
    sensor = {"sensor_id": "urn:assay:fuzz:s1", "owner": "plant", "quantity": "pressure",
              "unit": "kPa", "measuring_range": {"min": 0, "max": 500},
              "redundancy_group": "g1",
              "approved_firmware": ["7e516949c9e15831d7c02e1a0a86ec0e6f8fa4b7b866e348645f46f969bf25da"],
              "keys": [{"key_id": "k1", "alg": "Ed25519",
                        "public_key": "d04ab232742bb4ab3a1368bd4615e4e6d0224ab71a016baf8520a332c9778737",
                        "valid_from": "2025-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"},
                       {"key_id": "k2", "alg": "EcdsaP256Sha256", "revoked": True,
                        "public_key": "04" + "11" * 64}]}
    write("registries", "message-sensor-json", b"\x07" + json.dumps(sensor).encode())
    write("registries", "message-sensor-yaml", b"\x03" + json.dumps(sensor, indent=1).encode()
          .replace(b'{', b' ').replace(b'}', b' ').replace(b',\n', b'\n'))
    with open(os.path.join(ROOT, "examples/testdata/certificates.yaml"), "rb") as f:
        text = f.read().decode()
    first = text.split("\n  - ")[1].split("\n  - ")[0]
    write("registries", "message-certificate", b"\x03" + ("  " + first).encode())


def dcc_seeds():
    # First byte: bit 0 re-sign with the TEST lab key, bit 1 identity, bit 2 record paths.
    base = os.path.join(ROOT, "tests/data/dcc")
    for sub in ("forms", "bad", "real"):
        for name in sorted(os.listdir(os.path.join(base, sub))):
            if not name.endswith(".xml") or name.endswith(("_lt.xml", "_manipulated.xml")):
                continue  # large variants of the real DCC, covered by its other forms
            policy = 6 if sub != "bad" else 2
            copy("dcc", "%s-%s" % (sub, name[:-4]), "tests/data/dcc/%s/%s" % (sub, name),
                 bytes([policy]))
    copy("dcc", "resign-good", "tests/data/dcc/bad/good.xml", b"\x07")
    copy("dcc", "resign-pascal", "tests/data/dcc/bad/pascal-table.xml", b"\x03")
    copy("dcc", "resign-list", "tests/data/dcc/forms/list-expandedUncXMLList.xml", b"\x07")


def pipeline_seeds():
    for name in sorted(os.listdir(os.path.join(ROOT, "examples"))):
        if name.endswith(".yaml") and not name.endswith("_test.yaml"):
            copy("pipeline", "example-" + name[:-5], "examples/" + name)
    write("pipeline", "kafka", """name: k
instance_id: fuzz-1
input:
  type: kafka
  brokers: 127.0.0.1:1
  topic: sensors.raw
  group_id: g
  properties: {fetch.max.bytes: "1048576", receive.message.max.bytes: "4000000"}
engine: {batch_size: 64, max_in_flight: 4, threads: 2, max_record_bytes: 65536}
metrics: {listen: "127.0.0.1:0"}
registries:
  identity: {file: testdata/sensors.yaml, reload_interval_ms: 0}
  calibration: {certificates: testdata/certificates.yaml, trust: testdata/labs.yaml}
operators:
  - {type: verify_signature}
  - {type: calibration}
  - type: privacy
    secret_file: testdata/keys/ex-line2-k1.secret
    rules:
      - {name: hide-owner, field: sensor_id, action: pseudonymize}
routes:
  trusted: {type: kafka, brokers: 127.0.0.1:1, topic: t, partition: source}
  rejected: {type: kafka, brokers: 127.0.0.1:1, topic: r}
  alerts: {type: jsonl, path: out/alerts.jsonl}
""")
    write("pipeline", "provenance-witness", """name: w
input: {type: file, path: in.asy, start_offset: 2}
operators:
  - type: provenance
    key: testdata/engine.key
    key_id: engine-1
    checkpoint: {every_records: 10, every_ms: 500}
    witnesses:
      - {vkey: "witness.example+9f3b8ddd+BAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g", url: "http://127.0.0.1:1/"}
routes:
  trusted: {type: file, path: out/t.asy, append: true}
  rejected: {type: jsonl, path: out/r.jsonl}
  attestations: {type: file, path: out/a.asy, append: true}
audit: {file: out/audit.log, key: testdata/engine.key, fsync: false, topic: audit, kafka: {brokers: 127.0.0.1:1}}
""")
    write("pipeline", "json", json.dumps({
        "name": "j", "input": {"type": "file", "path": "x.asy"},
        "operators": [{"type": "anomaly", "registry": "testdata/sensors.yaml"},
                      {"type": "drift", "registry": "testdata/sensors.yaml"}],
        "routes": {"trusted": {"type": "file", "path": "t.asy"},
                   "rejected": {"type": "file", "path": "t.asy"}}}))


def http_seeds():
    # fuzz_http: request heads as a client sends them (served, refused, incomplete).
    write("http", "get-metrics", "GET /metrics HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n")
    write("http", "get-healthz-10", "GET /healthz HTTP/1.0\r\n\r\n")
    write("http", "head-readyz", "HEAD /readyz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
    write("http", "post-metrics", "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
    write("http", "unknown-path", "GET /nope HTTP/1.1\r\n\r\n")
    write("http", "http2", "GET /metrics HTTP/2.0\r\n\r\n")
    write("http", "bare-lf", "GET /metrics HTTP/1.1\nHost: a\n\n")
    write("http", "incomplete", "GET /metrics HTTP/1.1\r\nHost: a\r\n")
    write("http", "long-header", "GET /metrics HTTP/1.1\r\nX: " + "a" * 9000 + "\r\n\r\n")


def main():
    http_seeds()
    registry_seeds()
    dcc_seeds()
    pipeline_seeds()
    packs = senml_packs()
    # senml: first byte = policy (bit 0: JSON, bit 1: accept non-numeric); packs separated by
    # "\n--\n".
    for name, p in packs.items():
        write("senml", "cbor-" + name, bytes([0]) + cbor(p))
        write("senml", "json-" + name, bytes([1]) + senml_json(p).encode())
        write("senml", "cbor-nn-" + name, bytes([2]) + cbor(p))
        write("senml", "json-nn-" + name, bytes([3]) + senml_json(p).encode())
    later = [{-2: "dev1/", -3: T0 + 10, 0: "p", 2: 1.0}]
    write("senml", "cbor-two-packs", bytes([0]) + cbor(packs["base-values"]) + b"\n--\n" +
          cbor(later) + b"\n--\n" + cbor(later))
    write("senml", "json-two-packs", bytes([1]) + senml_json(packs["base-values"]).encode() +
          b"\n--\n" + senml_json(later).encode() + b"\n--\n" + senml_json(later).encode())
    # cose: first byte = policy (0: defaults).
    for name, p in packs.items():
        payload = cbor(p)
        write("cose", "sign1-es256-" + name, bytes([0]) + cose("sign1", -7, payload))
        write("cose", "sign1-eddsa-" + name, bytes([0]) + cose("sign1", -8, payload))
        write("cose", "mac0-hmac-" + name, bytes([0]) + cose("mac0", 5, payload))
    pl = cbor(packs["single"])
    write("cose", "untagged", bytes([2]) + cose("sign1", -7, pl, tagged=False))
    write("cose", "no-kid", bytes([1]) + cose("sign1", -8, pl, kid=None))
    write("cose", "kid-protected", bytes([0]) + cose("sign1", -7, pl, kid=None,
                                                    extra_protected={4: b"k1", 3: 112}))
    write("cose", "content-type-text", bytes([0]) + cose("mac0", 5, pl,
                                                        unprotected={3: "application/senml+cbor"}))
    write("cose", "crit", bytes([0]) + cose("sign1", -7, pl, extra_protected={2: [1]}))


if __name__ == "__main__":
    main()
