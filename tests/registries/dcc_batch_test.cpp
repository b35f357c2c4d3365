// The ECDSA P-256 SignatureValue of a DCC is checked by Assay's batched verifier
// (crypto::ecdsa_verify_batch) after xmlsec has processed the rest of the signature
// (registries/dcc.cpp, docs/dcc.md#performance). These tests hold that path to the refusals of
// xmlsec's own check: a SignedInfo whose signature is wrong is refused (`bad_signature`, located
// at the ds:Signature, no reference named) whether checked at once, deferred, alone or in a
// batch; one bad document among good ones refuses exactly that one, also in a certificates
// directory; a bad signature outranks a mapping refusal, as before.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "engine/bytes.hpp"
#include "registries/certificate_sources.hpp"
#include "registries/dcc.hpp"
#include "tests/registries/dcc_util.hpp"

namespace {

using namespace assay;
using namespace assay::testing;
using registries::CertRefusal;
using registries::DccOutcome;
using registries::DccVerifyMode;

constexpr const char* kForms[] = {"list-expandedUncXMLList",    "list-coverageIntervalXMLList",
                                  "list-expandedMUXMLList",     "list-coverageIntervalMUXMLList",
                                  "list-standardMUXMLList",     "realList-expandedUnc",
                                  "realList-listUnivariateUnc", "real-expandedUnc",
                                  "real-coverageInterval",      "real-expandedMU",
                                  "real-coverageIntervalMU",    "real-standardMU",
                                  "constant-uncertainty"};

// The document with its SignatureValue (base64 r||s, possibly wrapped) replaced by `f(r||s)`.
template <typename F>
std::string with_signature(std::string xml, F&& f) {
  const std::string open = "<ds:SignatureValue>", close = "</ds:SignatureValue>";
  const size_t b = xml.find(open) + open.size(), e = xml.find(close);
  EXPECT_NE(xml.find(open), std::string::npos);
  std::string b64;
  for (char c : xml.substr(b, e - b))
    if (c != '\n' && c != '\r' && c != ' ') b64.push_back(c);
  auto raw = engine::from_base64(b64);
  EXPECT_TRUE(raw.has_value());
  EXPECT_EQ(raw->size(), 64u);  // P-256: r||s
  if (!raw) return xml;
  f(*raw);
  return xml.substr(0, b) + engine::to_base64(*raw) + xml.substr(e);
}

// The document with one bit of s flipped: its SignedInfo and references are intact.
std::string with_wrong_signature(const std::string& xml) {
  return with_signature(xml, [](std::vector<uint8_t>& rs) { rs[40] ^= 0x01; });
}

std::string good_doc() {
  return slurp(dcc_data("bad/good.xml"));
}

const std::string kBadWhy = "the signature does not verify [lab key 'assay-test-lab-2025']";

TEST(DccBatch, WrongSignedInfoSignatureIsRefused) {
  TempDir dir("batch-wrong");
  auto trust = load_trust(dir, {test_lab()});
  // The untouched document passes.
  const auto ok = registries::import_dcc(good_doc(), "good.xml", *trust);
  ASSERT_TRUE(ok.import) << ok.refused->message;
  EXPECT_FALSE(ok.pending);
  // A flipped bit of s: refused, located at the ds:Signature, no reference is blamed.
  const std::string bad = with_wrong_signature(good_doc());
  const auto o = registries::import_dcc(bad, "certs/bad.xml", *trust);
  ASSERT_FALSE(o.import);
  ASSERT_TRUE(o.refused);
  EXPECT_FALSE(o.pending);
  EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature);
  EXPECT_EQ(o.refused->message,
            "certs/bad.xml:93: /dcc:digitalCalibrationCertificate/ds:Signature: " + kBadWhy);
  EXPECT_EQ(o.refused->certificate_id, ok.import->cert.certificate_id);
  // r = 0 (out of range) and s||r: refused the same way.
  const std::string zero_r = with_signature(good_doc(), [](std::vector<uint8_t>& rs) {
    std::fill(rs.begin(), rs.begin() + 32, uint8_t{0});
  });
  const std::string swapped = with_signature(good_doc(), [](std::vector<uint8_t>& rs) {
    std::swap_ranges(rs.begin(), rs.begin() + 32, rs.begin() + 32);  // s||r
  });
  for (const std::string* doc : {&zero_r, &swapped}) {
    const auto r = registries::import_dcc(*doc, "certs/bad.xml", *trust);
    ASSERT_TRUE(r.refused);
    EXPECT_EQ(r.refused->reason, CertRefusal::kBadSignature);
    EXPECT_EQ(r.refused->message, o.refused->message);
  }
}

TEST(DccBatch, ShortenedSignatureTakesXmlsecsOwnCheck) {
  TempDir dir("batch-short");
  auto trust = load_trust(dir, {test_lab()});
  // r||s shorter than 64 bytes is not deferred: xmlsec's OpenSSL code reads halves of an even
  // length (leading zeros cut) and fails an odd one; both are refused.
  for (size_t len : {size_t{62}, size_t{63}}) {
    const std::string doc =
        with_signature(good_doc(), [&](std::vector<uint8_t>& rs) { rs.resize(len); });
    const auto o =
        registries::import_dcc(doc, "short.xml", *trust, nullptr, false, DccVerifyMode::kDeferred);
    EXPECT_FALSE(o.pending) << len;
    ASSERT_TRUE(o.refused) << len;
    EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature);
  }
}

TEST(DccBatch, ChangedSignedInfoIsRefused) {
  TempDir dir("batch-signedinfo");
  auto trust = load_trust(dir, {test_lab()});
  // White space inside ds:SignedInfo is part of its canonical form, but of no reference: the
  // references still verify, the SignatureValue does not.
  std::string doc = good_doc();
  const std::string from = "<ds:SignedInfo>\n", to = "<ds:SignedInfo>\n \n";
  ASSERT_NE(doc.find(from), std::string::npos);
  doc.replace(doc.find(from), from.size(), to);
  const auto o = registries::import_dcc(doc, "si.xml", *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature);
  EXPECT_EQ(o.refused->message,
            "si.xml:93: /dcc:digitalCalibrationCertificate/ds:Signature: " + kBadWhy);
}

TEST(DccBatch, SignatureOfAnotherKeyIsRefused) {
  TempDir dir("batch-otherkey");
  auto trust = load_trust(dir, {test_lab()});
  // Signed by the other lab, but naming the test lab's key: the trust list's key is used, and
  // the signature (valid for the other lab's key) does not verify with it.
  std::string doc = slurp(dcc_data("bad/other-lab.xml"));
  const size_t b = doc.find("<ds:KeyInfo>"), e = doc.find("</ds:KeyInfo>");
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  doc =
      doc.substr(0, b) + "<ds:KeyInfo><ds:KeyName>assay-test-lab-2025</ds:KeyName>" + doc.substr(e);
  const auto o = registries::import_dcc(doc, "other.xml", *trust);
  ASSERT_TRUE(o.refused);
  EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature);
  EXPECT_NE(o.refused->message.find(kBadWhy), std::string::npos) << o.refused->message;
  EXPECT_EQ(o.refused->message.find("digest of reference"), std::string::npos);
}

TEST(DccBatch, DeferredEqualsImmediate) {
  TempDir dir("batch-deferred");
  auto trust = load_trust(dir, {test_lab()});
  for (const std::string& doc : {good_doc(), with_wrong_signature(good_doc())}) {
    const auto now = registries::import_dcc(doc, "d.xml", *trust);
    auto later =
        registries::import_dcc(doc, "d.xml", *trust, nullptr, false, DccVerifyMode::kDeferred);
    // Deferred: the mapping is done, the SignatureValue is still to be checked.
    ASSERT_TRUE(later.pending);
    EXPECT_TRUE(later.import);
    EXPECT_EQ(later.pending->signature.size(), 64u);
    EXPECT_NE(later.pending->signed_info.find("<ds:SignedInfo"), std::string::npos);
    registries::complete_dcc_signatures(std::span<DccOutcome>(&later, 1));
    EXPECT_FALSE(later.pending);
    ASSERT_EQ(now.import.has_value(), later.import.has_value());
    ASSERT_EQ(now.refused.has_value(), later.refused.has_value());
    if (now.refused) {
      EXPECT_EQ(now.refused->reason, later.refused->reason);
      EXPECT_EQ(now.refused->message, later.refused->message);
    } else {
      EXPECT_EQ(now.import->cert.certificate_id, later.import->cert.certificate_id);
      EXPECT_EQ(now.import->cert.signature, later.import->cert.signature);
    }
  }
}

TEST(DccBatch, OneBadAmongGoodRefusesExactlyThatOne) {
  TempDir dir("batch-one-bad");
  auto trust = load_trust(dir, {test_lab()});
  std::vector<std::string> docs;
  for (const char* f : kForms) docs.push_back(slurp(dcc_data(std::string("forms/") + f + ".xml")));
  docs.push_back(good_doc());
  // Batches of 1 ... 300 documents (more than a multi-buffer group and than a scalar chunk),
  // the bad one first, in the middle and last.
  for (size_t n : {size_t{1}, size_t{2}, size_t{9}, size_t{64}, size_t{300}}) {
    for (size_t bad : {size_t{0}, n / 2, n - 1}) {
      std::vector<DccOutcome> outcomes;
      for (size_t i = 0; i < n; ++i) {
        const std::string& doc = docs[i % docs.size()];
        outcomes.push_back(registries::import_dcc(i == bad ? with_wrong_signature(doc) : doc,
                                                  "doc-" + std::to_string(i) + ".xml", *trust,
                                                  nullptr, false, DccVerifyMode::kDeferred));
        ASSERT_TRUE(outcomes.back().pending) << i;
      }
      registries::complete_dcc_signatures(outcomes);
      for (size_t i = 0; i < n; ++i) {
        const DccOutcome& o = outcomes[i];
        EXPECT_FALSE(o.pending);
        if (i == bad) {
          ASSERT_TRUE(o.refused) << n << " " << i;
          EXPECT_FALSE(o.import);
          EXPECT_EQ(o.refused->reason, CertRefusal::kBadSignature);
          EXPECT_TRUE(o.refused->message.starts_with("doc-" + std::to_string(i) + ".xml:"))
              << o.refused->message;
          EXPECT_NE(o.refused->message.find(kBadWhy), std::string::npos);
        } else {
          ASSERT_TRUE(o.import) << n << " " << i << ": " << o.refused->message;
          EXPECT_FALSE(o.refused);
        }
      }
    }
  }
}

TEST(DccBatch, DirectoryWithOneBadDocument) {
  TempDir dir("batch-dir");
  auto trust = load_trust(dir, {test_lab()});
  const std::string certs = dir / "certs";
  std::filesystem::create_directories(certs);
  for (const char* f : kForms)
    spit(certs + "/" + f + ".xml", slurp(dcc_data(std::string("forms/") + f + ".xml")));
  spit(certs + "/m-bad.xml", with_wrong_signature(good_doc()));
  registries::CertificatesLoadReport report;
  const auto loaded = registries::load_certificates_dir(certs, *trust, report, nullptr);
  EXPECT_EQ(loaded.size(), std::size(kForms));
  EXPECT_EQ(report.loaded, std::size(kForms));
  ASSERT_EQ(report.refused.size(), 1u);
  EXPECT_EQ(report.refused[0].reason, CertRefusal::kBadSignature);
  EXPECT_EQ(report.refused[0].message,
            certs + "/m-bad.xml:93: /dcc:digitalCalibrationCertificate/ds:Signature: " + kBadWhy);
  const auto good = registries::import_dcc(good_doc(), "good.xml", *trust);
  ASSERT_TRUE(good.import);
  for (const auto& c : loaded) EXPECT_NE(c.certificate_id, good.import->cert.certificate_id);
}

TEST(DccBatch, LargeDirectoryWithOneBadDocument) {
  // 300 files: runs of several files per batch. Copies of the forms documents under new names
  // (their certificate ids repeat: the later copies are refused as duplicates, as before), and
  // one document with a wrong SignatureValue.
  TempDir dir("batch-bigdir");
  auto trust = load_trust(dir, {test_lab()});
  const std::string certs = dir / "certs";
  std::filesystem::create_directories(certs);
  constexpr size_t kFiles = 300, kBad = 157;
  char name[32];
  for (size_t i = 0; i < kFiles; ++i) {
    std::snprintf(name, sizeof name, "/f-%03zu.xml", i);
    const std::string doc =
        slurp(dcc_data(std::string("forms/") + kForms[i % std::size(kForms)] + ".xml"));
    spit(certs + name, i == kBad ? with_wrong_signature(good_doc()) : doc);
  }
  registries::CertificatesLoadReport report;
  const auto loaded = registries::load_certificates_dir(certs, *trust, report, nullptr);
  EXPECT_EQ(loaded.size(), std::size(kForms));
  size_t bad = 0, duplicates = 0;
  for (const auto& r : report.refused) {
    if (r.reason == CertRefusal::kBadSignature) {
      ++bad;
      std::snprintf(name, sizeof name, "/f-%03zu.xml:93: ", kBad);
      EXPECT_TRUE(r.message.starts_with(certs + name)) << r.message;
    } else if (r.message.find("duplicate certificate_id") != std::string::npos) {
      ++duplicates;
    } else {
      ADD_FAILURE() << r.message;
    }
  }
  EXPECT_EQ(bad, 1u);
  EXPECT_EQ(duplicates, kFiles - 1 - std::size(kForms));
}

TEST(DccBatch, BadSignatureOutranksMappingRefusal) {
  TempDir dir("batch-precedence");
  auto trust = load_trust(dir, {test_lab()});
  // A signed document the mapping refuses (no recalibration statement): `invalid` ...
  const std::string doc = slurp(dcc_data("bad/no-recalibration.xml"));
  for (auto mode : {DccVerifyMode::kNow, DccVerifyMode::kDeferred}) {
    auto o = registries::import_dcc(doc, "n.xml", *trust, nullptr, false, mode);
    registries::complete_dcc_signatures(std::span<DccOutcome>(&o, 1));
    ASSERT_TRUE(o.refused);
    EXPECT_EQ(o.refused->reason, CertRefusal::kInvalid) << o.refused->message;
    // ... but with a wrong SignatureValue: `bad_signature`, as when xmlsec checked it first.
    auto b =
        registries::import_dcc(with_wrong_signature(doc), "n.xml", *trust, nullptr, false, mode);
    EXPECT_EQ(b.pending.has_value(), mode == DccVerifyMode::kDeferred);
    registries::complete_dcc_signatures(std::span<DccOutcome>(&b, 1));
    ASSERT_TRUE(b.refused);
    EXPECT_EQ(b.refused->reason, CertRefusal::kBadSignature) << b.refused->message;
    EXPECT_NE(b.refused->message.find(kBadWhy), std::string::npos);
  }
}

}  // namespace
