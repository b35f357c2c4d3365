#!/usr/bin/env python3
"""Regenerates the generated DCC test data (the real public DCCs in tests/data/dcc/real are not
generated): a TEST calibration lab (EC P-256 key and self-signed X.509 certificate, made with
openssl), DCC 3.2 documents with the schema's structure, one per univariate D-SI uncertainty
form, documents for the bad-input tests, and the DCCs of the example pipeline; each signed
with an enveloped XMLDSig signature by the xmlsec1 command-line tool.

TEST KEYS ONLY: the lab's private key is committed next to its certificate. Needs openssl and
xmlsec1 (Debian packages; not needed to run the tests: the output is committed).

    scripts/dev/gen-dcc-testdata.py
"""
import os
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "dcc")
LAB = os.path.join(DATA, "test-lab")
EXAMPLE = os.path.join(ROOT, "examples", "testdata", "dcc")

LAB_CODE = "D-K-99999-01"


def run(*args, **kw):
    subprocess.run(args, check=True, **kw)


def make_lab(dirname, cn, start="20250101000000Z", end="20350101000000Z"):
    """EC P-256 key + self-signed certificate valid from `start` to `end` (openssl ca sets the
    dates; openssl req cannot back-date)."""
    os.makedirs(dirname, exist_ok=True)
    key, cert = os.path.join(dirname, "lab-key.pem"), os.path.join(dirname, "lab-cert.pem")
    with tempfile.TemporaryDirectory() as tmp:
        run("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
        csr = os.path.join(tmp, "lab.csr")
        run("openssl", "req", "-new", "-key", key, "-subj", "/C=DE/O=Assay Test Lab/CN=" + cn,
            "-out", csr)
        open(os.path.join(tmp, "index.txt"), "w").close()
        with open(os.path.join(tmp, "ca.cnf"), "w") as f:
            f.write(f"""[ca]
default_ca = test
[test]
dir = {tmp}
database = {tmp}/index.txt
new_certs_dir = {tmp}
serial = {tmp}/serial
default_md = sha256
policy = any
x509_extensions = ext
unique_subject = no
[any]
commonName = supplied
[ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
""")
        with open(os.path.join(tmp, "serial"), "w") as f:
            f.write("1000\n")
        run("openssl", "ca", "-batch", "-selfsign", "-config", os.path.join(tmp, "ca.cnf"),
            "-keyfile", key, "-in", csr, "-out", cert, "-startdate", start, "-enddate", end,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Only the PEM block (openssl ca prepends a text dump).
    text = open(cert).read()
    open(cert, "w").write(text[text.index("-----BEGIN CERTIFICATE-----"):])
    return key, cert


SIGNATURE_TEMPLATE = """<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
    <ds:SignedInfo>
      <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
      <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
      <ds:Reference URI="{uri}">
        <ds:Transforms>
          <ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/>
          <ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
        </ds:Transforms>
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue/>
      </ds:Reference>{extra}
    </ds:SignedInfo>
    <ds:SignatureValue/>
    <ds:KeyInfo>
      <ds:X509Data/>
    </ds:KeyInfo>
  </ds:Signature>"""


EXTERNAL_REFERENCE = """
      <ds:Reference URI="{uri}">
        <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/>
        <ds:DigestValue/>
      </ds:Reference>"""

# The file a signed test document refers to (tests/registries/dcc_bad_input_test.cpp creates
# it and watches that nothing opens it).
EXTERNAL_FILE = "/tmp/assay-dcc-external-reference.xml"


def sign(xml, key, cert, uri="", external=None):
    """Adds an enveloped signature template before the root's end tag and signs it; `external`
    adds a second reference to that URI (xmlsec1 reads it to sign; Assay never does)."""
    at = xml.rindex("</dcc:digitalCalibrationCertificate>")
    extra = EXTERNAL_REFERENCE.format(uri=external) if external else ""
    tmpl = xml[:at] + "  " + SIGNATURE_TEMPLATE.format(uri=uri, extra=extra) + "\n" + xml[at:]
    with tempfile.TemporaryDirectory() as tmp:
        src, out = os.path.join(tmp, "in.xml"), os.path.join(tmp, "out.xml")
        open(src, "w").write(tmpl)
        run("xmlsec1", "--sign", "--privkey-pem", key + "," + cert, "--output", out, src)
        return open(out).read()


def real(value, unit, unc=""):
    return f"<si:real><si:value>{value}</si:value><si:unit>{unit}</si:unit>{unc}</si:real>"


def xmllist(values, unit, unc=""):
    return (f"<si:realListXMLList><si:valueXMLList>{values}</si:valueXMLList>"
            f"<si:unitXMLList>{unit}</si:unitXMLList>{unc}</si:realListXMLList>")


def quantity(ref, value, extra=""):
    return f"""<dcc:quantity refType="{ref}">
              <dcc:name><dcc:content lang="en">{ref}</dcc:content></dcc:name>
              {value}{extra}
            </dcc:quantity>"""


def limits(lo, hi, unit):
    return f"""
              <dcc:measurementMetaData>
                <dcc:metaData refType="basic_conformity">
                  <dcc:declaration><dcc:content lang="en">Conformity</dcc:content></dcc:declaration>
                  <dcc:conformityXMLList>pass</dcc:conformityXMLList>
                  <dcc:data>
                    <dcc:quantity refType="basic_acceptanceLimitLower">{xmllist(lo, unit)}</dcc:quantity>
                    <dcc:quantity refType="basic_acceptanceLimitUpper">{xmllist(hi, unit)}</dcc:quantity>
                  </dcc:data>
                </dcc:metaData>
              </dcc:measurementMetaData>"""


def dcc(uid, sensor, table, end="2025-06-01", period="P1Y", extra_statements="",
        item_ids=None, root_ns="https://ptb.de/dcc", lab_code=LAB_CODE, results=None):
    ids = item_ids if item_ids is not None else f"""
          <dcc:identification>
            <dcc:issuer>manufacturer</dcc:issuer>
            <dcc:value>SN-{uid}</dcc:value>
            <dcc:name><dcc:content lang="en">Serial no.</dcc:content></dcc:name>
          </dcc:identification>
          <dcc:identification>
            <dcc:issuer>customer</dcc:issuer>
            <dcc:value>{sensor}</dcc:value>
            <dcc:name><dcc:content lang="en">Sensor id</dcc:content></dcc:name>
          </dcc:identification>"""
    recal = f"<dcc:period>{period}</dcc:period>" if period.startswith("P") else f"<dcc:date>{period}</dcc:date>"
    code = f"\n      <dcc:calibrationLaboratoryCode>{lab_code}</dcc:calibrationLaboratoryCode>" if lab_code else ""
    res = results if results is not None else f"""
        <dcc:result refType="basic_measuringResult">
          <dcc:name><dcc:content lang="en">Calibration results</dcc:content></dcc:name>
          <dcc:data>
            <dcc:list refType="basic_table">
            {table}
            </dcc:list>
          </dcc:data>
        </dcc:result>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<dcc:digitalCalibrationCertificate xmlns:dcc="{root_ns}" xmlns:si="https://ptb.de/si" schemaVersion="3.2.1">
  <!-- Generated by scripts/dev/gen-dcc-testdata.py: a TEST certificate, not a real calibration. -->
  <dcc:administrativeData>
    <dcc:dccSoftware>
      <dcc:software>
        <dcc:name><dcc:content>Assay gen-dcc-testdata.py</dcc:content></dcc:name>
        <dcc:release>1</dcc:release>
      </dcc:software>
    </dcc:dccSoftware>
    <dcc:coreData>
      <dcc:countryCodeISO3166_1>DE</dcc:countryCodeISO3166_1>
      <dcc:usedLangCodeISO639_1>en</dcc:usedLangCodeISO639_1>
      <dcc:mandatoryLangCodeISO639_1>en</dcc:mandatoryLangCodeISO639_1>
      <dcc:uniqueIdentifier>{uid}</dcc:uniqueIdentifier>
      <dcc:beginPerformanceDate>{end}</dcc:beginPerformanceDate>
      <dcc:endPerformanceDate>{end}</dcc:endPerformanceDate>
      <dcc:performanceLocation>laboratory</dcc:performanceLocation>
    </dcc:coreData>
    <dcc:items>
      <dcc:item>
        <dcc:name><dcc:content lang="en">Temperature sensor</dcc:content></dcc:name>
        <dcc:identifications>{ids}
        </dcc:identifications>
      </dcc:item>
    </dcc:items>
    <dcc:calibrationLaboratory>{code}
      <dcc:contact>
        <dcc:name><dcc:content>Assay Test Lab</dcc:content></dcc:name>
        <dcc:eMail>lab@example.invalid</dcc:eMail>
        <dcc:location><dcc:city>Testtown</dcc:city><dcc:countryCode>DE</dcc:countryCode></dcc:location>
      </dcc:contact>
    </dcc:calibrationLaboratory>
    <dcc:respPersons>
      <dcc:respPerson><dcc:person><dcc:name><dcc:content>Test Person</dcc:content></dcc:name></dcc:person></dcc:respPerson>
    </dcc:respPersons>
    <dcc:customer>
      <dcc:name><dcc:content>Assay examples</dcc:content></dcc:name>
      <dcc:location><dcc:city>Testtown</dcc:city></dcc:location>
    </dcc:customer>
    <dcc:statements>
      <dcc:statement refType="basic_recalibration">
        <dcc:declaration><dcc:content lang="en">Recalibration due</dcc:content></dcc:declaration>
        {recal}
      </dcc:statement>{extra_statements}
    </dcc:statements>
  </dcc:administrativeData>
  <dcc:measurementResults>
    <dcc:measurementResult>
      <dcc:name><dcc:content lang="en">Measurement results</dcc:content></dcc:name>
      <dcc:results>{res}
      </dcc:results>
    </dcc:measurementResult>
  </dcc:measurementResults>
</dcc:digitalCalibrationCertificate>
"""


# The calibration table of the form documents: reference 0, 50, 100 degC; indicated 1, 51,
# 101 degC (the correction is y = x - 1 exactly); the uncertainty is on the error (1 K each).
REF = quantity("basic_referenceValue", xmllist("0 50 100", "\\degreecelsius"))
IND = quantity("basic_measuredValue", xmllist("1 51 101", "\\degreecelsius"))
LIM = limits("-1.5", "1.5", "\\kelvin")


def err_list(unc):
    return REF + IND + quantity("basic_measurementError", xmllist("1 1 1", "\\kelvin", unc), LIM)


# Per-point expanded uncertainties 0.1 0.2 0.3 K with k = 2 2 2.5 and p = 0.95 0.95 0.99: the
# largest standard uncertainty is the third point's, u = 0.12 K.
FORMS = {
    "list-expandedUncXMLList": err_list(
        "<si:expandedUncXMLList><si:uncertaintyXMLList>0.1 0.2 0.3</si:uncertaintyXMLList>"
        "<si:coverageFactorXMLList>2 2 2.5</si:coverageFactorXMLList>"
        "<si:coverageProbabilityXMLList>0.95 0.95 0.99</si:coverageProbabilityXMLList>"
        "<si:distributionXMLList>normal</si:distributionXMLList></si:expandedUncXMLList>"),
    # u = 0.05 0.1 0.12 with intervals of half-width 0.1 0.2 0.3 around the error 1 K.
    "list-coverageIntervalXMLList": err_list(
        "<si:coverageIntervalXMLList><si:standardUncXMLList>0.05 0.1 0.12</si:standardUncXMLList>"
        "<si:intervalMinXMLList>0.9 0.8 0.7</si:intervalMinXMLList>"
        "<si:intervalMaxXMLList>1.1 1.2 1.3</si:intervalMaxXMLList>"
        "<si:coverageProbabilityXMLList>0.95 0.95 0.99</si:coverageProbabilityXMLList>"
        "</si:coverageIntervalXMLList>"),
    "list-expandedMUXMLList": err_list(
        "<si:measurementUncertaintyUnivariateXMLList><si:expandedMUXMLList>"
        "<si:valueExpandedMUXMLList>0.1 0.2 0.3</si:valueExpandedMUXMLList>"
        "<si:coverageFactorXMLList>2 2 2.5</si:coverageFactorXMLList>"
        "<si:coverageProbabilityXMLList>0.95 0.95 0.99</si:coverageProbabilityXMLList>"
        "</si:expandedMUXMLList></si:measurementUncertaintyUnivariateXMLList>"),
    "list-coverageIntervalMUXMLList": err_list(
        "<si:measurementUncertaintyUnivariateXMLList><si:coverageIntervalMUXMLList>"
        "<si:valueStandardMUXMLList>0.05 0.1 0.12</si:valueStandardMUXMLList>"
        "<si:intervalMinXMLList>0.9 0.8 0.7</si:intervalMinXMLList>"
        "<si:intervalMaxXMLList>1.1 1.2 1.3</si:intervalMaxXMLList>"
        "<si:coverageProbabilityXMLList>0.95 0.95 0.99</si:coverageProbabilityXMLList>"
        "</si:coverageIntervalMUXMLList></si:measurementUncertaintyUnivariateXMLList>"),
    # Standard uncertainties only: Assay states U = 2u (k = 2), probability not stated.
    "list-standardMUXMLList": err_list(
        "<si:measurementUncertaintyUnivariateXMLList><si:standardMUXMLList>"
        "<si:valueStandardMUXMLList>0.05 0.1 0.12</si:valueStandardMUXMLList>"
        "</si:standardMUXMLList></si:measurementUncertaintyUnivariateXMLList>"),
}


# One-point tables (si:real and si:constant): reference 20 degC, indicated 20.5 degC (offset
# -0.5), error 0.5 K with U = 0.3 K, k = 2.5, p = 0.99 (coverage intervals: u = 0.12 around 0.5).
def one_point(err_value):
    return (quantity("basic_referenceValue", real("20", "\\degreecelsius")) +
            quantity("basic_measuredValue", real("20.5", "\\degreecelsius")) +
            quantity("basic_measurementError", err_value))


FORMS.update({
    "real-expandedUnc": one_point(real("0.5", "\\kelvin",
        "<si:expandedUnc><si:uncertainty>0.3</si:uncertainty><si:coverageFactor>2.5</si:coverageFactor>"
        "<si:coverageProbability>0.99</si:coverageProbability></si:expandedUnc>")),
    "real-coverageInterval": one_point(real("0.5", "\\kelvin",
        "<si:coverageInterval><si:standardUnc>0.12</si:standardUnc><si:intervalMin>0.2</si:intervalMin>"
        "<si:intervalMax>0.8</si:intervalMax><si:coverageProbability>0.99</si:coverageProbability>"
        "</si:coverageInterval>")),
    "real-expandedMU": one_point(real("0.5", "\\kelvin",
        "<si:measurementUncertaintyUnivariate><si:expandedMU><si:valueExpandedMU>0.3</si:valueExpandedMU>"
        "<si:coverageFactor>2.5</si:coverageFactor><si:coverageProbability>0.99</si:coverageProbability>"
        "</si:expandedMU></si:measurementUncertaintyUnivariate>")),
    "real-coverageIntervalMU": one_point(real("0.5", "\\kelvin",
        "<si:measurementUncertaintyUnivariate><si:coverageIntervalMU><si:valueStandardMU>0.12</si:valueStandardMU>"
        "<si:intervalMin>0.2</si:intervalMin><si:intervalMax>0.8</si:intervalMax>"
        "<si:coverageProbability>0.99</si:coverageProbability></si:coverageIntervalMU>"
        "</si:measurementUncertaintyUnivariate>")),
    "real-standardMU": one_point(real("0.5", "\\kelvin",
        "<si:measurementUncertaintyUnivariate><si:standardMU><si:valueStandardMU>0.12</si:valueStandardMU>"
        "</si:standardMU></si:measurementUncertaintyUnivariate>")),
    "constant-uncertainty": one_point(
        "<si:constant><si:value>0.5</si:value><si:unit>\\kelvin</si:unit>"
        "<si:uncertainty>0.12</si:uncertainty></si:constant>"),
    # si:realList: each si:real with its own expanded uncertainty (the three points above) ...
    "realList-expandedUnc": REF + IND + quantity("basic_measurementError",
        "<si:realList><si:listUnit>\\kelvin</si:listUnit>" + "".join(
            f"<si:real><si:value>1</si:value><si:expandedUnc><si:uncertainty>{U}</si:uncertainty>"
            f"<si:coverageFactor>{k}</si:coverageFactor><si:coverageProbability>{p}</si:coverageProbability>"
            "</si:expandedUnc></si:real>" for U, k, p in ((0.1, 2, 0.95), (0.2, 2, 0.95), (0.3, 2.5, 0.99)))
        + "</si:realList>", LIM),
    # ... or one list-wide uncertainty (si:listUnivariateUnc): U = 0.3 K, k = 2.5, p = 0.99.
    "realList-listUnivariateUnc": REF + IND + quantity("basic_measurementError",
        "<si:realList><si:listUnit>\\kelvin</si:listUnit><si:listUnivariateUnc><si:expandedUnc>"
        "<si:uncertainty>0.3</si:uncertainty><si:coverageFactor>2.5</si:coverageFactor>"
        "<si:coverageProbability>0.99</si:coverageProbability></si:expandedUnc></si:listUnivariateUnc>"
        + "<si:real><si:value>1</si:value></si:real>" * 3 + "</si:realList>", LIM),
})


def main():
    key, cert = make_lab(LAB, "Assay Test Lab 2025")
    other_key, other_cert = make_lab(os.path.join(DATA, "other-lab"), "Another Test Lab")
    forms = os.path.join(DATA, "forms")
    bad = os.path.join(DATA, "bad")
    os.makedirs(forms, exist_ok=True)
    os.makedirs(bad, exist_ok=True)
    for name, table in FORMS.items():
        xml = dcc("urn:assay:test:dcc:" + name, "urn:assay:test:sensor:" + name, table)
        open(os.path.join(forms, name + ".xml"), "w").write(sign(xml, key, cert))

    base = lambda uid, **kw: dcc("urn:assay:test:dcc:" + uid, "urn:assay:test:sensor:" + uid,
                                 kw.pop("table", FORMS["list-expandedUncXMLList"]), **kw)
    w = lambda name, text: open(os.path.join(bad, name), "w").write(text)
    good = sign(base("good"), key, cert)
    w("good.xml", good)
    # The same document signed by a lab that is not in the trust list.
    w("other-lab.xml", sign(base("good"), other_key, other_cert))
    # Signature over a different document: good.xml's signature pasted into another DCC.
    other = sign(base("another"), key, cert)
    sig_good = good[good.index("<ds:Signature"):good.index("</ds:Signature>") + 15]
    sig_other = other[other.index("<ds:Signature"):other.index("</ds:Signature>") + 15]
    w("signature-of-another-document.xml", other.replace(sig_other, sig_good))
    # Unsigned.
    w("unsigned.xml", base("unsigned"))
    # A reference to an external URI (never fetched): signed by xmlsec1 over a local file, then
    # the reference is what the document presents.
    open(EXTERNAL_FILE, "w").write("<external/>\n")
    xml = sign(base("external-ref"), key, cert, external="file://" + EXTERNAL_FILE)
    os.remove(EXTERNAL_FILE)
    w("external-reference-file.xml", xml)
    # The same reference to an http URL (tests/registries replace PORT with a listening port).
    w("external-reference-http.xml", xml.replace("file://" + EXTERNAL_FILE, "http://127.0.0.1:PORT/dcc.xml"))
    # Well signed, but the mapping lacks what it needs or the data is wrong.
    w("wrong-namespace.xml", sign(base("wrong-ns", root_ns="https://dfm.dk"), key, cert))
    w("no-unique-identifier.xml", sign(base("x").replace(
        "<dcc:uniqueIdentifier>urn:assay:test:dcc:x</dcc:uniqueIdentifier>", ""), key, cert))
    w("no-recalibration.xml", sign(base("no-recal").replace(
        'refType="basic_recalibration"', 'refType="basic_note"'), key, cert))
    w("no-uncertainty.xml", sign(base("no-unc", table=REF + IND + quantity(
        "basic_measurementError", xmllist("1 1 1", "\\kelvin"))), key, cert))
    w("no-sensor-id.xml", sign(base("no-sensor", item_ids="""
          <dcc:identification>
            <dcc:issuer>manufacturer</dcc:issuer>
            <dcc:value>SN-1</dcc:value>
          </dcc:identification>"""), key, cert))
    w("two-tables.xml", sign(base("two-tables", results=f"""
        <dcc:result><dcc:name><dcc:content>a</dcc:content></dcc:name><dcc:data><dcc:list>{REF}{IND}</dcc:list></dcc:data></dcc:result>
        <dcc:result><dcc:name><dcc:content>b</dcc:content></dcc:name><dcc:data><dcc:list>{REF}{IND}</dcc:list></dcc:data></dcc:result>"""),
        key, cert))
    w("pascal-table.xml", sign(base("pascal", table=quantity(
        "basic_referenceValue", xmllist("100000 101000", "\\pascal")) + quantity(
        "basic_measuredValue", xmllist("100010 101020", "\\pascal", "<si:expandedUncXMLList>"
        "<si:uncertaintyXMLList>4</si:uncertaintyXMLList><si:coverageFactorXMLList>2</si:coverageFactorXMLList>"
        "<si:coverageProbabilityXMLList>0.95</si:coverageProbabilityXMLList></si:expandedUncXMLList>"))),
        key, cert))
    w("lab-code-mismatch.xml", sign(base("lab-code", lab_code="D-K-11111-01"), key, cert))
    w("multivariate.xml", sign(base("multi", table=REF + IND + quantity(
        "basic_measurementError", xmllist("1 1 1", "\\kelvin",
        "<si:ellipsoidalRegionXMLList><si:covarianceMatrix><si:column><si:covariance>"
        "<si:value>1</si:value><si:unit>\\kelvin\\tothe{2}</si:unit></si:covariance></si:column>"
        "</si:covarianceMatrix><si:coverageFactor>2</si:coverageFactor>"
        "<si:coverageProbability>0.95</si:coverageProbability></si:ellipsoidalRegionXMLList>"))),
        key, cert))

    # The example pipeline's DCCs (examples/dcc.yaml): sensors of examples/testdata/dcc-sensors.yaml.
    os.makedirs(EXAMPLE, exist_ok=True)
    # A temperature sensor: reference 0, 50, 100 degC read as 0.4, 50.3, 100.2 (a line through
    # three points: offset -0.4, gain 1.002), U = 0.1 K (k = 2).
    t = (quantity("basic_referenceValue", xmllist("0 50 100", "\\degreecelsius")) +
         quantity("basic_measuredValue", xmllist("0.4 50.3 100.2", "\\degreecelsius")) +
         quantity("basic_measurementError", xmllist("0.4 0.3 0.2", "\\kelvin",
                  "<si:expandedUncXMLList><si:uncertaintyXMLList>0.1</si:uncertaintyXMLList>"
                  "<si:coverageFactorXMLList>2</si:coverageFactorXMLList>"
                  "<si:coverageProbabilityXMLList>0.95</si:coverageProbabilityXMLList>"
                  "</si:expandedUncXMLList>"), limits("-0.5", "0.5", "\\kelvin")))
    rng = """
      <dcc:statement refType="basic_validityRange">
        <dcc:declaration><dcc:content lang="en">Calibrated range</dcc:content></dcc:declaration>
        <dcc:data>
          <dcc:quantity refType="basic_validityRangeMin">""" + real("-20", "\\degreecelsius") + """</dcc:quantity>
          <dcc:quantity refType="basic_validityRangeMax">""" + real("120", "\\degreecelsius") + """</dcc:quantity>
        </dcc:data>
      </dcc:statement>"""
    ex = dcc("urn:assay:example:dcc:line-1-2026", "urn:assay:example:line-1-temperature", t,
             end="2026-01-15", period="P2Y", extra_statements=rng)
    open(os.path.join(EXAMPLE, "line-1-temperature.xml"), "w").write(sign(ex, key, cert))
    # A pressure sensor in kPa whose DCC states pascal (converted on import), measured in kPa.
    p = (quantity("basic_referenceValue", xmllist("90000 100000 110000", "\\pascal")) +
         quantity("basic_measuredValue", xmllist("90.05 100.05 110.05", "\\kilo\\pascal",
                  "<si:measurementUncertaintyUnivariateXMLList><si:expandedMUXMLList>"
                  "<si:valueExpandedMUXMLList>0.02</si:valueExpandedMUXMLList>"
                  "<si:coverageFactorXMLList>2</si:coverageFactorXMLList>"
                  "<si:coverageProbabilityXMLList>0.95</si:coverageProbabilityXMLList>"
                  "</si:expandedMUXMLList></si:measurementUncertaintyUnivariateXMLList>")) +
         quantity("basic_measurementError", xmllist("50 50 50", "\\pascal"),
                  limits("-100", "100", "\\pascal")))
    ex = dcc("urn:assay:example:dcc:line-3-2026", "urn:assay:example:line-3-pressure", p,
             end="2026-01-15", period="P2Y")
    open(os.path.join(EXAMPLE, "line-3-pressure.xml"), "w").write(sign(ex, key, cert))
    # A tampered copy: refused at load (an alert), the rest of the registry loads.
    tampered = sign(dcc("urn:assay:example:dcc:line-4-2026", "urn:assay:example:line-4-temperature",
                        t, end="2026-01-15", period="P2Y"), key, cert)
    open(os.path.join(EXAMPLE, "line-4-tampered.xml"), "w").write(
        tampered.replace("0.4 50.3 100.2", "0.4 50.3 100.1"))
    # The lab's certificate for the example trust list.
    open(os.path.join(ROOT, "examples", "testdata", "dcc-lab.pem"), "w").write(open(cert).read())


if __name__ == "__main__":
    main()
