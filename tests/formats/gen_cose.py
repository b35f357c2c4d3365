#!/usr/bin/env python3
"""Writes COSE_Sign1 / COSE_Mac0 messages carrying SenML packs, produced by an independent
implementation (pycose + cbor2 from PyPI), for Assay's interop test
(tests/formats/interop/cose_interop_test.cpp).

  gen_cose.py --out DIR --venv DIR

Installs pycose and cbor2 into a virtual environment under --venv on first use (the suite
runs on a fresh machine), re-runs itself inside it, and writes DIR/manifest.json plus one
DIR/<name>.cose per message. The manifest lists the keys (public parts and HMAC secrets), the
identity registry (kid -> key), and for every message, in stream order, the verdict Assay
must reach: "valid", "signature.bad", "senml.replay" or a cose.* reason, with the records the
pack resolves to (RFC 8428 §4.6, computed here independently of Assay's parser).

Variants: ES256, EdDSA and HMAC 256/256 messages; SenML in CBOR and in JSON; tampered payload
and tampered protected header (signature kept); signed with a foreign key under a registered
kid; replayed bytes and a freshly signed pack with old times; and malformed envelopes
(untagged, truncated, trailing bytes, wrong tag, alg unprotected, indefinite array, detached
payload, crit header).
"""
import argparse
import json
import os
import subprocess
import sys
from fractions import Fraction

PINS = ["pycose==1.1.0", "cbor2==5.6.5"]


def ensure_venv(venv):
    py = os.path.join(venv, "bin", "python3")
    marker = os.path.join(venv, ".assay-pins")
    if not (os.path.exists(py) and os.path.exists(marker) and open(marker).read() == " ".join(PINS)):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + PINS)
        with open(marker, "w") as f:
            f.write(" ".join(PINS))
    return py


def resolve(pack):
    """RFC 8428 §4.6 resolution of a pack given as a list of dicts with JSON labels."""
    out, bn, bt, bu, bv = [], "", Fraction(0), None, Fraction(0)
    for r in pack:
        bn = r.get("bn", bn)
        bt = Fraction(r["bt"]) if "bt" in r else bt
        bu = r.get("bu", bu)
        bv = Fraction(r["bv"]) if "bv" in r else bv
        t = bt + Fraction(r.get("t", 0))
        rec = {"name": bn + r.get("n", ""), "time_ns": int(t * 10**9), "unit": r.get("u", bu) or ""}
        if "v" in r:
            rec["value"] = float(bv + Fraction(r["v"]))
        elif "vb" in r:
            rec["value"] = 1.0 if r["vb"] else 0.0
        elif "s" in r:
            rec["value"] = float(Fraction(r["s"]))
        out.append(rec)
    return out


CBOR_LABELS = {"bver": -1, "bn": -2, "bt": -3, "bu": -4, "bv": -5, "bs": -6, "n": 0, "u": 1,
               "v": 2, "vs": 3, "vb": 4, "s": 5, "t": 6, "ut": 7, "vd": 8}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--venv", required=True)
    args = ap.parse_args()
    if os.environ.get("ASSAY_GEN_COSE_IN_VENV") != "1":
        py = ensure_venv(args.venv)
        env = dict(os.environ, ASSAY_GEN_COSE_IN_VENV="1")
        sys.exit(subprocess.call([py, os.path.abspath(__file__)] + sys.argv[1:], env=env))
    generate(args.out)


def generate(out):
    import cbor2
    from importlib.metadata import version
    from pycose.algorithms import EdDSA, Es256, HMAC256
    from pycose.headers import KID, Algorithm, ContentType
    from pycose.keys import EC2Key, OKPKey, SymmetricKey
    from pycose.keys.curves import P256, Ed25519
    from pycose.messages import CoseMessage, Mac0Message, Sign1Message

    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".cose") or f == "manifest.json":
            os.remove(os.path.join(out, f))

    keys = {
        "es256-a": EC2Key.generate_key(crv=P256), "es256-b": EC2Key.generate_key(crv=P256),
        "ed25519-a": OKPKey.generate_key(crv=Ed25519), "ed25519-b": OKPKey.generate_key(crv=Ed25519),
        "hmac-a": SymmetricKey.generate_key(32), "hmac-b": SymmetricKey.generate_key(32),
    }
    kids = {"es256-a": b"sensor-es256", "ed25519-a": b"sensor-eddsa", "hmac-a": b"sensor-hmac"}

    def key_json(name, k):
        if isinstance(k, EC2Key):
            return {"type": "es256", "public_hex": (b"\x04" + k.x + k.y).hex()}
        if isinstance(k, OKPKey):
            return {"type": "ed25519", "public_hex": k.x.hex()}
        return {"type": "hmac", "secret_hex": k.k.hex()}

    def cbor_pack(pack):
        return cbor2.dumps([{CBOR_LABELS[k]: v for k, v in r.items()} for r in pack])

    def sign1(alg, key, kid, payload, ct=112, tag=True, alg_unprotected=False):
        phdr = {ContentType: ct} if alg_unprotected else {Algorithm: alg, ContentType: ct}
        uhdr = {KID: kid, Algorithm: alg} if alg_unprotected else {KID: kid}
        m = Sign1Message(phdr=phdr, uhdr=uhdr, payload=payload)
        m.key = key
        return m.encode(tag=tag)

    def mac0(key, kid, payload, ct=112):
        m = Mac0Message(phdr={Algorithm: HMAC256, ContentType: ct}, uhdr={KID: kid}, payload=payload)
        m.key = key
        return m.encode()

    def parts(msg):
        t = cbor2.loads(msg)
        return t.tag, list(t.value)

    def rebuild(tag, arr):
        return cbor2.dumps(cbor2.CBORTag(tag, arr))

    es_pack = [
        {"bn": "urn:dev:es256:0001:", "bt": 1700000000, "bu": "Cel", "n": "temp", "v": 21.5},
        {"n": "temp", "t": 10, "v": 21.75},
        {"n": "humidity", "t": 10, "u": "%RH", "v": 40},
    ]
    ed_pack = [
        {"bn": "urn:dev:ed:0002/", "bt": 1700000000.5, "bv": 100, "bu": "Pa", "n": "p", "v": 0.25},
        {"n": "p", "t": 1, "v": -0.5},
    ]
    mac_pack = [
        {"bver": 10, "bn": "urn:dev:mac:0003:", "bt": 1700000100, "n": "door", "vb": True},
        {"n": "energy", "u": "J", "s": 1500},
    ]
    json_pack = [{"bn": "urn:dev:ed:0002/json-", "bt": 1700000200, "n": "lux", "u": "lx", "v": 310}]
    es_pack2 = [{"bn": "urn:dev:es256:0001:", "bt": 1700000060, "bu": "Cel", "n": "temp", "v": 22}]
    es_stale = [{"bn": "urn:dev:es256:0001:", "bt": 1700000005, "bu": "Cel", "n": "temp", "v": 22}]

    messages = []

    def add(name, data, expect, pack=None):
        with open(os.path.join(out, name + ".cose"), "wb") as f:
            f.write(data)
        m = {"name": name, "file": name + ".cose", "expect": expect}
        if pack is not None:
            m["records"] = resolve(pack)
        messages.append(m)

    es_valid = sign1(Es256, keys["es256-a"], kids["es256-a"], cbor_pack(es_pack))
    ed_valid = sign1(EdDSA, keys["ed25519-a"], kids["ed25519-a"], cbor_pack(ed_pack))
    mac_valid = mac0(keys["hmac-a"], kids["hmac-a"], cbor_pack(mac_pack))
    add("es256-valid", es_valid, "valid", es_pack)
    add("eddsa-valid", ed_valid, "valid", ed_pack)
    add("hmac-valid", mac_valid, "valid", mac_pack)
    add("eddsa-json-valid",
        sign1(EdDSA, keys["ed25519-a"], kids["ed25519-a"], json.dumps(json_pack).encode(), ct=110),
        "valid", json_pack)
    add("es256-second-pack", sign1(Es256, keys["es256-a"], kids["es256-a"], cbor_pack(es_pack2)),
        "valid", es_pack2)

    # Tampered: payload changed (one value), signature/tag kept.
    for name, msg, pack in (("es256", es_valid, es_pack), ("eddsa", ed_valid, ed_pack),
                            ("hmac", mac_valid, mac_pack)):
        tag, arr = parts(msg)
        changed = [dict(r) for r in pack]
        changed[0]["t"] = changed[0].get("t", 0) + 3600  # an hour later: would pass replay
        arr[2] = cbor_pack(changed)
        add(name + "-tampered-payload", rebuild(tag, arr), "signature.bad")
    # Tampered protected header: content type 112 -> 60 (application/cbor), signature kept.
    tag, arr = parts(es_valid)
    arr[0] = cbor2.dumps({1: -7, 3: 60})
    add("es256-tampered-protected", rebuild(tag, arr), "signature.bad")
    # A foreign key under a registered kid.
    add("es256-foreign-key", sign1(Es256, keys["es256-b"], kids["es256-a"], cbor_pack(es_pack2)),
        "signature.bad")
    add("eddsa-foreign-key", sign1(EdDSA, keys["ed25519-b"], kids["ed25519-a"], cbor_pack(ed_pack)),
        "signature.bad")
    add("hmac-foreign-key", mac0(keys["hmac-b"], kids["hmac-a"], cbor_pack(mac_pack)),
        "signature.bad")
    # Replays: the same bytes again, and a freshly signed pack with an old time.
    add("es256-replayed-bytes", es_valid, "senml.replay")
    add("es256-stale-pack", sign1(Es256, keys["es256-a"], kids["es256-a"], cbor_pack(es_stale)),
        "senml.replay")
    # Malformed envelopes.
    add("es256-untagged", sign1(Es256, keys["es256-a"], kids["es256-a"], cbor_pack(es_pack), tag=False),
        "cose.untagged")
    add("es256-truncated", es_valid[:-1], "cose.truncated")
    add("es256-trailing", es_valid + b"\x00", "cose.trailing_bytes")
    tag, arr = parts(es_valid)
    add("es256-wrong-tag", rebuild(98, arr), "cose.wrong_tag")
    add("es256-alg-unprotected",
        sign1(Es256, keys["es256-a"], kids["es256-a"], cbor_pack(es_pack), alg_unprotected=True),
        "cose.alg_not_protected")
    body = cbor2.dumps(arr)
    assert body[0] == 0x84
    add("es256-indefinite-array", b"\xd2\x9f" + body[1:] + b"\xff", "cose.indefinite_length")
    add("es256-detached", rebuild(18, [arr[0], arr[1], None, arr[3]]), "cose.detached_payload")
    add("es256-crit", rebuild(18, [cbor2.dumps({1: -7, 2: [99], 99: 1}), arr[1], arr[2], arr[3]]),
        "cose.crit_unsupported")

    # Self-check with pycose: every message expected valid or signature.bad decodes, and
    # verifies exactly when expected valid (kid -> registered key).
    registry = {kids[k].hex(): k for k in kids}
    for m in messages:
        if m["expect"] not in ("valid", "signature.bad", "senml.replay"):
            continue
        msg = CoseMessage.decode(open(os.path.join(out, m["file"]), "rb").read())
        msg.key = keys[registry[msg.uhdr[KID].hex()]]
        ok = msg.verify_tag() if isinstance(msg, Mac0Message) else msg.verify_signature()
        assert ok == (m["expect"] != "signature.bad"), m["name"]

    manifest = {
        "generator": {"pycose": version("pycose"), "cbor2": version("cbor2")},
        "keys": {name: key_json(name, k) for name, k in keys.items()},
        "registry": registry,
        "messages": messages,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"gen_cose: {len(messages)} messages in {out}")


if __name__ == "__main__":
    main()
