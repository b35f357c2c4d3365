// Real OCMF records of public chargers and meters (tests/data/ocmf, with provenance): each one
// parses, its signature verifies (or fails, where it is bad upstream) with OpenSSL over the
// exact payload bytes the parser exposes, and a tampered twin of each fails.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "crypto/ecdsa_p256.hpp"
#include "formats/ocmf.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::bytes;

struct RealRecord {
  std::string id, record, curve, expect;
  std::vector<uint8_t> key;
  std::string parse;  ///< expected parser outcome ("ok" or a reason)
};

std::vector<RealRecord> load_real() {
  std::vector<RealRecord> out;
  std::istringstream in(
      test::read_text(std::string(ASSAY_SOURCE_DIR) + "/tests/data/ocmf/real_records.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line);
    out.push_back({j.at("id"), j.at("record"), j.at("curve"), j.at("signature"),
                   test::unhex(j.at("public_key_der_hex").get<std::string>()), j.at("parse")});
  }
  return out;
}

OcmfParseOptions options_for(const RealRecord& r) {
  OcmfParseOptions o;
  o.allow_legacy_curves = r.curve == "secp192r1";
  return o;
}

// Signature check as the engine will do it: over the parser's payload view, with the
// parser's algorithm (SHA-256 for every OCMF algorithm) and decoded signature.
bool verifies(const OcmfRecord& r, const std::vector<uint8_t>& key) {
  return test::openssl_ecdsa_sha256_verify_der(key, r.payload, r.signature_der());
}

TEST(OcmfReal, DataIsThere) {
  const auto recs = load_real();
  EXPECT_EQ(recs.size(), 23u);
  size_t valid = 0;
  for (const auto& r : recs) valid += r.expect == "valid";
  EXPECT_EQ(valid, 19u);
}

TEST(OcmfReal, EveryRecordParsesAndVerifiesAsPublished) {
  for (const RealRecord& rr : load_real()) {
    SCOPED_TRACE(rr.id);
    OcmfRecord r;
    ASSERT_EQ(ocmf_error_name(parse_ocmf(bytes(rr.record), options_for(rr), r)), rr.parse);
    if (rr.parse != "ok") {
      // Refused before any signature check; OpenSSL refuses the same bytes.
      EXPECT_EQ(rr.expect, "bad");
      continue;
    }
    EXPECT_FALSE(r.readings.empty());
    std::string buf;
    EXPECT_FALSE(ocmf_signer_id(r, buf).empty());
    // Payload view = the bytes between the first and second '|'.
    const size_t p2 = rr.record.find('|', 5);
    EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), rr.record.substr(5, p2 - 5));
    EXPECT_EQ(verifies(r, rr.key), rr.expect == "valid");
    // r||s from the parser re-encoded as DER gives the same verdict (the conversion is exact).
    EXPECT_EQ(test::openssl_ecdsa_sha256_verify_der(rr.key, r.payload,
                                                    test::raw_to_der(r.signature_raw())),
              rr.expect == "valid");
  }
}

TEST(OcmfReal, TamperedTwinsFail) {
  for (const RealRecord& rr : load_real()) {
    if (rr.expect != "valid") continue;
    SCOPED_TRACE(rr.id);
    const std::string twin = formats::test::tamper_ocmf_reading(rr.record);
    ASSERT_NE(twin, rr.record);
    OcmfRecord r;
    ASSERT_EQ(parse_ocmf(bytes(twin), options_for(rr), r), OcmfError::kNone);
    EXPECT_FALSE(verifies(r, rr.key));
  }
}

TEST(OcmfReal, AssayCryptoAgreesOnP256Records) {
  // The engine's batched P-256 path (crypto/) takes r||s as the parser exposes it.
  size_t checked = 0;
  for (const RealRecord& rr : load_real()) {
    if (rr.curve != "secp256r1") continue;
    SCOPED_TRACE(rr.id);
    OcmfRecord r;
    ASSERT_EQ(parse_ocmf(bytes(rr.record), options_for(rr), r), OcmfError::kNone);
    const auto key = crypto::EcdsaP256PublicKey::parse(rr.key);
    ASSERT_TRUE(key.has_value());
    const crypto::EcdsaP256Job job{&*key, r.signature_raw().data(), r.signature_raw().size(),
                                   r.payload.data(), r.payload.size()};
    EXPECT_EQ(crypto::ecdsa_p256_verify(job), rr.expect == "valid");
    const std::string twin = formats::test::tamper_ocmf_reading(rr.record);
    OcmfRecord t;
    ASSERT_EQ(parse_ocmf(bytes(twin), {}, t), OcmfError::kNone);
    const crypto::EcdsaP256Job tjob{&*key, t.signature_raw().data(), t.signature_raw().size(),
                                    t.payload.data(), t.payload.size()};
    EXPECT_FALSE(crypto::ecdsa_p256_verify(tjob));
    ++checked;
  }
  EXPECT_EQ(checked, 14u);
}

TEST(OcmfReal, FieldFactsOfSomeMakers) {
  std::map<std::string, RealRecord> by_id;
  for (auto& rr : load_real()) by_id[rr.id] = rr;
  OcmfRecord r;
  // Legacy curve refused by default.
  EXPECT_EQ(parse_ocmf(bytes(by_id["ebz-ld3-secp192r1-1"].record), {}, r),
            OcmfError::kLegacyAlgorithm);
  // TwinCharger: base64 signature, numbers and strings swapped, a vendor field.
  ASSERT_EQ(parse_ocmf(bytes(by_id["twincharger-base64-1"].record), {}, r), OcmfError::kNone);
  EXPECT_TRUE(r.base64);
  EXPECT_EQ(r.deviations, kNumberAsString | kStringAsNumber);
  ASSERT_EQ(r.extras.size(), 1u);
  EXPECT_EQ(r.extras[0].key, "UCPN");
  // LEM: inherited fields and a per-reading object extension.
  ASSERT_EQ(parse_ocmf(bytes(by_id["lem-dcbm-1"].record), {}, r), OcmfError::kNone);
  ASSERT_EQ(r.readings.size(), 4u);
  EXPECT_EQ(r.readings[1].tx, OcmfTx::kBegin);
  EXPECT_EQ(r.readings[3].tx, OcmfTx::kEnd);
  ASSERT_EQ(r.extras.size(), 1u);
  EXPECT_EQ(r.extras[0].value, R"({"UN":"No_Comp","UI":2,"UR":0})");
  // NZR: P-384 (SHA-256 as the specification names) and brainpool.
  ASSERT_EQ(parse_ocmf(bytes(by_id["nzr-secp384r1-1"].record), {}, r), OcmfError::kNone);
  EXPECT_EQ(r.algorithm, OcmfAlgorithm::kSecp384r1Sha256);
  ASSERT_EQ(parse_ocmf(bytes(by_id["nzr-brainpoolp256r1-1"].record), {}, r), OcmfError::kNone);
  EXPECT_EQ(r.algorithm, OcmfAlgorithm::kBrainpoolP256r1Sha256);
  // Enercharge: many vendor fields, all kept.
  ASSERT_EQ(parse_ocmf(bytes(by_id["enercharge-isa-1"].record), {}, r), OcmfError::kNone);
  EXPECT_EQ(r.extras.size(), 30u);
  std::string buf;
  EXPECT_EQ(ocmf_signer_id(r, buf), "000001");
  // DZG behind a Nano gateway: gateway and meter serial differ.
  ASSERT_EQ(parse_ocmf(bytes(by_id["dzg-nano-secp256k1-2"].record), {}, r), OcmfError::kNone);
  EXPECT_EQ(ocmf_signer_id(r, buf), "060643/1DZG0033016824");
  EXPECT_EQ(r.readings[1].unit, "sec");
}

}  // namespace
}  // namespace assay::formats
