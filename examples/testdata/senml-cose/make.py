#!/usr/bin/env python3
"""Writes the COSE/SenML test messages of examples/senml-cose_test.yaml with an independent
implementation (pycose 1.1.0 + cbor2 5.6.5 from PyPI; run it with the venv that
tests/formats/gen_cose.py creates: build/cose-venv/bin/python3 make.py).

TEST KEYS ONLY: the private keys below are derived from published seeds; never use them for
real sensors. Prints the registry entries and one hex line per message (name, hex).
"""
import hashlib

import cbor2
from pycose.algorithms import EdDSA, Es256, HMAC256
from pycose.headers import KID, Algorithm, ContentType
from pycose.keys import EC2Key, OKPKey, SymmetricKey
from pycose.keys.curves import P256, Ed25519
from pycose.messages import Mac0Message, Sign1Message

LABELS = {"bn": -2, "bt": -3, "bu": -4, "bv": -5, "n": 0, "u": 1, "v": 2, "vb": 4, "s": 5, "t": 6}


def seed(name):
    return hashlib.sha256(b"assay senml-cose example " + name.encode()).digest()


def okp(s):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    x = Ed25519PrivateKey.from_private_bytes(s).public_key().public_bytes_raw()
    return OKPKey(crv=Ed25519, d=s, x=x)


ed = okp(seed("ed"))
ed_other = okp(seed("ed-other"))
d = int.from_bytes(seed("es256"), "big") % (2**256 - 2**224 + 2**192 + 2**96 - 1)  # < n
es = EC2Key(crv=P256, d=d.to_bytes(32, "big"))
mac = SymmetricKey(k=seed("hmac"))


def pack(records):
    return cbor2.dumps([{LABELS[k]: v for k, v in r.items()} for r in records])


def sign1(alg, key, kid, payload, ct=112):
    m = Sign1Message(phdr={Algorithm: alg, ContentType: ct}, uhdr={KID: kid}, payload=payload)
    m.key = key
    return m.encode()


def mac0(key, kid, payload):
    m = Mac0Message(phdr={Algorithm: HMAC256, ContentType: 112}, uhdr={KID: kid}, payload=payload)
    m.key = key
    return m.encode()


weather = [
    {"bn": "urn:dev:ow:10e2073a01080063:", "bt": 1767225600, "bu": "Cel", "n": "temp", "v": 21.5},
    {"n": "humidity", "u": "%RH", "v": 41.25},
    {"n": "temp", "t": 60, "v": 21.75},
]
weather_later = [{"bn": "urn:dev:ow:10e2073a01080063:", "bt": 1767225720, "n": "temp", "u": "Cel", "v": 22.0}]
press = [{"bn": "urn:dev:mac:0024befffe804ff1:", "bt": 1767225600, "n": "pressure", "u": "Pa", "v": 101325}]
door = [{"bn": "urn:dev:mac:0024befffe804ff2:", "bt": 1767225600, "n": "door", "vb": True},
        {"n": "energy", "u": "J", "s": 1500, "t": 1}]

out = {}
out["eddsa"] = sign1(EdDSA, ed, b"ow-10e2073a-k1", pack(weather))
out["eddsa_later"] = sign1(EdDSA, ed, b"ow-10e2073a-k1", pack(weather_later))
out["es256"] = sign1(Es256, es, b"mac-804ff1-k1", pack(press))
out["hmac"] = mac0(mac, b"mac-804ff2-k1", pack(door))
t = cbor2.loads(out["eddsa_later"])
arr = list(t.value)
tampered = [dict(r) for r in weather_later]
tampered[0]["v"] = 12.0
arr[2] = pack(tampered)
out["eddsa_tampered"] = cbor2.dumps(cbor2.CBORTag(18, arr))
out["eddsa_foreign"] = sign1(EdDSA, ed_other, b"ow-10e2073a-k1", pack(weather_later))
out["unknown_kid"] = sign1(EdDSA, ed_other, b"ow-10e2073a-k9", pack(weather_later))
out["json"] = sign1(EdDSA, ed, b"ow-10e2073a-k1",
                    b'[{"bn":"urn:dev:ow:10e2073a01080063:","bt":1767225900,"n":"temp","u":"Cel","v":23}]', ct=110)

print("ed25519 public", ed.x.hex())
print("es256 public", (b"\x04" + es.x + es.y).hex())
print("hmac secret", mac.k.hex())
for name, msg in out.items():
    print(name, msg.hex())

# Bad SenML under a valid signature: a relative time (refused: verdicts must not depend on
# the time of arrival), and a pack with a mandatory-to-understand field.
print("senml_relative", sign1(EdDSA, ed, b"ow-10e2073a-k1", pack([{"n": "x", "t": 5, "v": 1}])).hex())
print("senml_mandatory", sign1(EdDSA, ed, b"ow-10e2073a-k1",
                               cbor2.dumps([{0: "urn:dev:ow:10e2073a01080063:temp", 2: 1.0, 6: 1767225600, "z_": 1}])).hex())
