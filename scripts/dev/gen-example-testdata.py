#!/usr/bin/env python3
"""Regenerates the signed test data of the example config tests (examples/testdata/): the
calibration lab trust list and the lab-signed certificates, and the engine's test key.
TEST KEYS ONLY: their private halves are derived from published seeds. Needs python3-cryptography
(not needed to run the tests: the output is committed)."""
import datetime, os
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "testdata")
lab = Ed25519PrivateKey.from_private_bytes(bytes([0x33] * 32))
lab_pub = lab.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()

def ns(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()) * 10**9

def g17(v):
    return "%.17g" % v

def canonical(c):
    lines = ["assay-calibration-certificate-v1"]
    def add(k, v):
        lines.append(k + "=" + str(v).replace("\\", "\\\\").replace("\n", "\\n"))
    for k in ("certificate_id", "sensor_id", "lab_id"):
        add(k, c[k])
    for k in ("issue_date", "valid_from", "valid_until"):
        add(k + "_ns", ns(c[k]))
    add("quantity", c["quantity"]); add("unit", c["unit"])
    add("correction.offset", g17(c["offset"])); add("correction.gain", g17(c["gain"]))
    add("correction.poly", "")
    add("expanded_uncertainty", g17(c["U"])); add("coverage_factor", g17(c["k"]))
    add("mpe_initial.absolute", g17(c["mpe_initial"])); add("mpe_initial.relative", g17(0.0))
    add("mpe_in_service.absolute", g17(c["mpe"])); add("mpe_in_service.relative", g17(0.0))
    add("range_min", g17(c["min"])); add("range_max", g17(c["max"]))
    add("conformity", "pass"); add("lab_key_id", "example-lab-k1"); add("signature_alg", "Ed25519")
    return ("\n".join(lines) + "\n").encode()

certs = [
    dict(certificate_id="urn:assay:example:cert:line-1-2025", sensor_id="urn:assay:example:line-1-temperature",
         lab_id="example-lab", issue_date="2025-01-10T00:00:00Z", valid_from="2025-01-10T00:00:00Z",
         valid_until="2099-01-10T00:00:00Z", quantity="temperature", unit="Cel", offset=-0.1, gain=1.0,
         U=0.1, k=2.0, mpe_initial=0.25, mpe=0.5, min=-40.0, max=150.0),
    dict(certificate_id="urn:assay:example:cert:line-2-2020", sensor_id="urn:assay:example:line-2-pressure",
         lab_id="example-lab", issue_date="2020-01-10T00:00:00Z", valid_from="2020-01-10T00:00:00Z",
         valid_until="2021-01-10T00:00:00Z", quantity="pressure", unit="Pa", offset=0.0, gain=1.0,
         U=20.0, k=2.0, mpe_initial=50.0, mpe=100.0, min=80000.0, max=120000.0),
]
y = ["# Calibration certificates of the example config tests, signed by the TEST lab key of",
     "# labs.yaml (scripts/dev/gen-example-testdata.py). line-2's certificate expired in 2021.",
     "certificates:"]
for c in certs:
    sig = lab.sign(canonical(c)).hex()
    y += [f"  - certificate_id: {c['certificate_id']}", f"    sensor_id: {c['sensor_id']}",
          f"    lab_id: {c['lab_id']}", f"    issue_date: {c['issue_date']}", f"    valid_from: {c['valid_from']}",
          f"    valid_until: {c['valid_until']}", f"    quantity: {c['quantity']}", f"    unit: {c['unit']}",
          f"    correction: {{offset: {c['offset']!r}, gain: {c['gain']!r}, poly: []}}",
          f"    expanded_uncertainty: {c['U']!r}", f"    coverage_factor: {c['k']!r}",
          "    mpe:", f"      initial: {{absolute: {c['mpe_initial']!r}, relative: 0}}",
          f"      in_service: {{absolute: {c['mpe']!r}, relative: 0}}",
          f"    measuring_range: {{min: {c['min']!r}, max: {c['max']!r}}}", "    conformity: pass",
          "    lab_key_id: example-lab-k1", "    signature_alg: Ed25519", f'    signature: "{sig}"']
open(os.path.join(here, "certificates.yaml"), "w").write("\n".join(y) + "\n")
open(os.path.join(here, "labs.yaml"), "w").write(
    "# Trust list of the example config tests: one TEST calibration lab (published private key).\n"
    f"labs:\n  - lab_id: example-lab\n    key_id: example-lab-k1\n    alg: Ed25519\n    public_key: \"{lab_pub}\"\n")
engine = Ed25519PrivateKey.from_private_bytes(bytes([0x44] * 32))
open(os.path.join(here, "engine.key"), "wb").write(engine.private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
open(os.path.join(here, "engine.pub"), "wb").write(engine.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
