#!/usr/bin/env python3
"""AAS export against the published schema and an independent implementation (issue 17).

  aas_validate.py --assay BIN --work DIR --venv DIR --schema tests/data/aas/aas.json

Runs the real tools: `assay simulate` (a small fleet), `assay run` (verify_signature,
calibration and the instrument register, which writes its snapshot), then `assay aas export`
(one shell per instrument, with the trusted stream's readings as TimeSeries records). Every
shell must validate against the IDTA-01001-3-0-1 AAS JSON schema with the `jsonschema`
package, and load in the Eclipse BaSyx Python SDK (its JSON deserializer, strict mode), where
the Nameplate, the TimeSeries records with their verdict qualifiers and the linked segment are
checked. A deliberately broken copy must fail the schema (so the check can fail).

Sized for CI time: python-jsonschema takes 1-4 s per shell on this schema even with 3 records
(every SubmodelElement branch is tried for every element), so 4 instruments, 3 records each, and
the broken copy keeps only the submodel it breaks.

Installs jsonschema and basyx-python-sdk into a virtual environment under --venv on first use
(the suite runs on a fresh machine). Exit 0 if everything holds, 1 otherwise.
"""
import argparse
import glob
import json
import os
import subprocess
import sys

PINS = ["jsonschema==4.23.0", "basyx-python-sdk==2.2.0"]


def ensure_venv(venv):
    py = os.path.join(venv, "bin", "python3")
    marker = os.path.join(venv, ".assay-pins")
    if not (os.path.exists(py) and os.path.exists(marker) and open(marker).read() == " ".join(PINS)):
        subprocess.check_call([sys.executable, "-m", "venv", venv])
        subprocess.check_call([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + PINS)
        with open(marker, "w") as f:
            f.write(" ".join(PINS))
    return py


CHECK = r'''
import json, sys, copy
import jsonschema
from basyx.aas.adapter.json import read_aas_json_file
from basyx.aas import model

schema = json.load(open(sys.argv[1]))
validator = jsonschema.Draft201909Validator(schema)
files = sys.argv[2:]
failures = 0
records = 0
for path in files:
    doc = json.load(open(path))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    for e in errors[:5]:
        print(f"SCHEMA {path}: {list(e.path)}: {e.message}")
    failures += len(errors)
    # The independent implementation: strict deserialisation (failsafe=False raises).
    with open(path) as f:
        store = read_aas_json_file(f, failsafe=False)
    shells = [o for o in store if isinstance(o, model.AssetAdministrationShell)]
    subs = {o.id_short: o for o in store if isinstance(o, model.Submodel)}
    assert len(shells) == 1, path
    assert set(subs) == {"Nameplate", "TimeSeries"}, (path, set(subs))
    np = subs["Nameplate"]
    assert np.semantic_id.key[0].value == "https://admin-shell.io/zvei/nameplate/2/0/Nameplate"
    serial = np.get_referable("SerialNumber").value
    assert serial and shells[0].asset_information.global_asset_id.endswith(serial), (serial, path)
    assert np.get_referable("FirmwareVersion") is not None
    markings = np.get_referable("Markings")
    assert any(m.get_referable("MarkingName").value == "M" for m in markings.value), path
    ts = subs["TimeSeries"]
    assert ts.semantic_id.key[0].value == "https://admin-shell.io/idta/TimeSeries/1/1"
    segs = ts.get_referable("Segments")
    linked = segs.get_referable("LinkedSegment01")
    assert linked.get_referable("Endpoint").value.startswith("kafka://"), path
    internal = segs.get_referable("InternalSegment01")
    for rec in internal.get_referable("Records").value:
        value = rec.get_referable("Value")
        verdicts = {q.type: q.value for q in value.qualifier}
        assert verdicts.get("AssayVerdict") == "trusted", verdicts
        assert verdicts.get("AssayCalibrationVerdict") == "InTolerance", verdicts
        records += 1
print(f"{len(files)} shells, {records} records, {failures} schema errors")
# A broken copy must fail: a Property without its valueType, an idShort with a space.
doc = json.load(open(files[0]))
bad = copy.deepcopy(doc)
bad["submodels"] = bad["submodels"][:1]
del bad["submodels"][0]["submodelElements"][0]["valueType"]
bad["assetAdministrationShells"][0]["idShort"] = "has space"
broken = len(list(validator.iter_errors(bad)))
print(f"broken copy: {broken} schema errors")
sys.exit(0 if failures == 0 and records == 3 * len(files) and broken >= 2 else 1)
'''


def run(cmd, **kw):
    print("+", " ".join(cmd), flush=True)
    subprocess.check_call(cmd, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--assay", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--venv", required=True)
    ap.add_argument("--schema", required=True)
    a = ap.parse_args()
    py = ensure_venv(a.venv)
    w = os.path.abspath(a.work)
    subprocess.call(["rm", "-rf", w])
    os.makedirs(w)
    run([a.assay, "simulate", "--out", f"{w}/in.asy", "--sensors", "4", "--records", "200",
         "--seed", "9", "--start-time", "2026-01-01T00:00:00Z", "--registry-out", f"{w}/sensors.yaml",
         "--certs-out", f"{w}/certificates.yaml", "--labs-out", f"{w}/labs.yaml", "--labels-out", "",
         "--fault", "expired_calibration=0", "--fault", "drift=0"])
    with open(f"{w}/p.yaml", "w") as f:
        f.write(f"""name: aas
input: {{type: file, path: {w}/in.asy}}
registries:
  identity: {{file: {w}/sensors.yaml, reload_interval_ms: 0}}
  calibration: {{certificates: {w}/certificates.yaml, trust: {w}/labs.yaml, reload_interval_ms: 0}}
operators:
  - type: verify_signature
  - type: calibration
  - type: instrument_register
    snapshot: {w}/register.jsonl
routes:
  trusted: {{type: file, path: {w}/trusted.asy}}
  rejected: {{type: jsonl, path: {w}/rejected.jsonl}}
""")
    run([a.assay, "run", f"{w}/p.yaml", "--no-progress", "--no-reload"], stdout=subprocess.DEVNULL)
    run([a.assay, "aas", "export", "--snapshot", f"{w}/register.jsonl", "--trusted", f"{w}/trusted.asy",
         "--out", f"{w}/aas", "--records", "3", "--endpoint", "kafka://broker:9092/readings.trusted",
         "--manufacturer", "Example Instruments GmbH", "--marking", "M=DE-M-PTB-0001",
         "--marking", "CE="])
    files = sorted(glob.glob(f"{w}/aas/*.aas.json"))
    if len(files) != 4:
        print(f"expected 4 shells, found {len(files)}")
        return 1
    return subprocess.call([py, "-c", CHECK, a.schema] + files)


if __name__ == "__main__":
    sys.exit(main())
