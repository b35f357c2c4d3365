// COSE_Sign1 / COSE_Mac0 SenML messages made by an independent implementation (pycose + cbor2,
// tests/formats/gen_cose.py, run by the ctest fixture formats_cose_generate) are decoded by
// Assay's parsers, the bytes they build are verified with OpenSSL and with Assay's crypto, the
// packs are resolved and replay-checked in stream order, and every message must reach the
// verdict the generator wrote down.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "../formats_util.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/hmac_sha256.hpp"
#include "formats/cose.hpp"
#include "formats/senml_check.hpp"

namespace assay::formats {
namespace {

struct Key {
  std::string type;
  std::vector<uint8_t> bytes;  // public key or HMAC secret
};

// Verifies with OpenSSL and with Assay's crypto; both must agree.
bool verify(const Key& k, const CoseMessage& m, std::span<const uint8_t> tbs) {
  bool ssl = false, assay = false;
  if (k.type == "es256" && m.algorithm == CoseAlgorithm::kES256) {
    ssl = test::openssl_es256_verify(k.bytes, tbs, m.signature);
    const auto key = crypto::EcdsaP256PublicKey::parse(k.bytes);
    EXPECT_TRUE(key.has_value());
    assay = crypto::ecdsa_p256_verify(
        {&*key, m.signature.data(), m.signature.size(), tbs.data(), tbs.size()});
  } else if (k.type == "ed25519" && m.algorithm == CoseAlgorithm::kEdDSA) {
    ssl = test::openssl_ed25519_verify(k.bytes, tbs, m.signature);
    assay = crypto::ed25519_verify({k.bytes.data(), m.signature.data(), tbs.data(), tbs.size()});
  } else if (k.type == "hmac" && m.algorithm == CoseAlgorithm::kHmac256) {
    ssl = test::openssl_hmac_sha256_verify(k.bytes, tbs, m.signature);
    const auto key = crypto::HmacSha256Key::from_secret(k.bytes);
    assay = crypto::hmac_sha256_verify(
        {&key, m.signature.data(), m.signature.size(), tbs.data(), tbs.size()});
  } else {
    return false;  // the key's algorithm is not the message's
  }
  EXPECT_EQ(ssl, assay);
  return ssl && assay;
}

TEST(CoseInterop, PycoseMessagesReachTheirVerdicts) {
  const std::string dir = ASSAY_COSE_VECTORS;
  const auto manifest = nlohmann::json::parse(test::read_text(dir + "/manifest.json"));
  std::map<std::string, Key> keys;
  for (const auto& [name, k] : manifest.at("keys").items())
    keys[name] = {k.at("type"),
                  test::unhex(k.contains("public_hex") ? k.at("public_hex").get<std::string>()
                                                       : k.at("secret_hex").get<std::string>())};
  std::map<std::string, std::string> registry;  // kid hex -> key name
  for (const auto& [kid, name] : manifest.at("registry").items()) registry[kid] = name;

  SenmlReplayChecker replay;
  SenmlReplayState state;
  std::map<std::string, int> seen;
  for (const auto& msg : manifest.at("messages")) {
    const std::string name = msg.at("name");
    const std::string expect = msg.at("expect");
    SCOPED_TRACE(name);
    const auto bytes = test::read_binary(dir + "/" + msg.at("file").get<std::string>());
    std::string verdict;
    CoseMessage m;
    SenmlPack pack;
    const CoseError ce = parse_cose(bytes, {}, m);
    if (ce != CoseError::kNone) {
      verdict = cose_error_name(ce);
    } else {
      std::vector<uint8_t> tbs(cose_to_be_signed_size(m));
      ASSERT_EQ(cose_build_to_be_signed(m, tbs), tbs.size());
      const auto reg = registry.find(test::hex(m.kid));
      if (reg == registry.end()) {
        verdict = "signature.unknown_key";
      } else if (!verify(keys.at(reg->second), m, tbs)) {
        verdict = "signature.bad";
      } else {
        ASSERT_TRUE(m.has_content_type);
        const SenmlError se = m.content_format == kSenmlJsonContentFormat
                                  ? parse_senml_json(m.payload, {}, pack)
                                  : parse_senml_cbor(m.payload, {}, pack);
        ASSERT_EQ(senml_error_name(se), "ok");
        verdict = replay.check(state, pack).ok() ? "valid" : "senml.replay";
      }
    }
    EXPECT_EQ(verdict, expect);
    ++seen[expect];
    if (verdict == "valid" && msg.contains("records")) {
      const auto& want = msg.at("records");
      ASSERT_EQ(pack.records.size(), want.size());
      for (size_t i = 0; i < want.size(); ++i) {
        EXPECT_EQ(pack.records[i].name, want[i].at("name").get<std::string>());
        EXPECT_EQ(pack.records[i].time_ns, want[i].at("time_ns").get<int64_t>());
        EXPECT_EQ(pack.records[i].unit, want[i].at("unit").get<std::string>());
        EXPECT_EQ(pack.records[i].value, want[i].at("value").get<double>());
      }
    }
  }
  // The stream covers every kind of verdict (an empty or partial manifest cannot pass).
  EXPECT_GE(seen["valid"], 5);
  EXPECT_GE(seen["signature.bad"], 7);
  EXPECT_GE(seen["senml.replay"], 2);
  EXPECT_GE(seen.size(), 10u);
}

}  // namespace
}  // namespace assay::formats
