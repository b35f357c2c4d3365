// The `senml-cose` input format: a COSE_Sign1/COSE_Mac0 message with a SenML pack decodes into
// one row per resolved record, with the envelope verify_signature checks (the Sig_structure /
// MAC_structure rebuilt from the bytes as received, the kid as key id, the raw signature);
// the sensor rules; every COSE and SenML parser error, unsupported content types and the
// expansion bound reject the message at decode with their own reason.
#include "connectors/senml_cose_format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "../formats/cbor_builder.hpp"
#include "engine/pipeline.hpp"
#include "schemas/reading_generated.h"
#include "tests/support/decode_util.hpp"

namespace assay::connectors {
namespace {

using engine::Batch;
using engine::RejectCode;
using formats::test::Cbor;

const std::vector<uint8_t> kSig64(64, 0x5A);

// tag(18) [bstr({1: alg, 3: ct}), {4: kid}, bstr(payload), bstr(sig)]
std::vector<uint8_t> message(const Cbor& payload, std::string_view kid = "dev-k1", int64_t alg = -8,
                             int ct = 112, int tag = 18, size_t sig_len = 64) {
  Cbor prot;
  if (ct >= 0) {
    prot.map(2).uint(1).integer(alg).uint(3).uint(static_cast<uint64_t>(ct));
  } else {
    prot.map(1).uint(1).integer(alg);
  }
  Cbor c;
  c.tag(static_cast<uint64_t>(tag)).array(4).bstr(prot);
  c.map(1).uint(4).bstr(kid);
  c.bstr(payload);
  c.bstr(std::span<const uint8_t>(std::vector<uint8_t>(sig_len, 0x5A)));
  return c.b;
}

// [{bn, bt, bu, n, v}, {n, u, v, t}, {n, vb}]: a device with three records.
Cbor pack3(std::string_view bn = "urn:dev:ow:10e2:") {
  Cbor p;
  p.array(3);
  p.map(5).neg(-2).text(bn).neg(-3).uint(1767225600).neg(-4).text("Cel").uint(0).text("temp");
  p.uint(2).f64(21.5);
  p.map(4).uint(0).text("humidity").uint(1).text("%RH").uint(2).f64(41.25).uint(6).uint(0);
  p.map(3).uint(0).text("door").uint(4).boolean(true).uint(6).uint(2);
  return p;
}

Batch& decode(Batch& b, const std::vector<std::vector<uint8_t>>& recs,
              SenmlCoseFormatOptions o = {}, uint32_t max_readings = UINT32_MAX) {
  return test::decode_records(b, recs, SenmlCoseFormat(std::move(o)), max_readings);
}

std::string reason_of(const std::vector<uint8_t>& rec, uint32_t max_readings = UINT32_MAX) {
  Batch b;
  decode(b, {rec}, {}, max_readings);
  if (b.row_count() != 1 || b.row_reject[0] == RejectCode::kNone) return "accepted";
  EXPECT_EQ(b.row_reading[0], nullptr);
  EXPECT_EQ(b.row_reject_stage[0], engine::kDecodeStage);
  return std::string(engine::reject_code_name(b.row_reject[0]));
}

std::string attr(const wire::Reading* r, std::string_view key) {
  if (r->attributes() == nullptr) return "<none>";
  for (const auto* a : *r->attributes())
    if (a->key()->string_view() == key) return a->value()->str();
  return "<none>";
}

TEST(SenmlCoseFormat, ReasonNamesAreTheParsersNames) {
  for (int e = 1; e <= static_cast<int>(formats::CoseError::kSignatureLength); ++e) {
    const auto err = static_cast<formats::CoseError>(e);
    EXPECT_EQ(engine::reject_code_name(cose_reject_code(err)), formats::cose_error_name(err));
  }
  for (int e = 1; e <= static_cast<int>(formats::SenmlError::kDataInvalid); ++e) {
    const auto err = static_cast<formats::SenmlError>(e);
    EXPECT_EQ(engine::reject_code_name(senml_reject_code(err)), formats::senml_error_name(err));
  }
  EXPECT_EQ(cose_reject_code(formats::CoseError::kNone), RejectCode::kNone);
  EXPECT_EQ(senml_reject_code(formats::SenmlError::kNone), RejectCode::kNone);
}

TEST(SenmlCoseFormat, PackBecomesRowsOfTheBaseNamesDevice) {
  const auto msg = message(pack3(), "dev-k1", -8);
  Batch b;
  decode(b, {msg});
  ASSERT_EQ(b.row_count(), 3u);
  const engine::Frame& f = b.frames[0];
  EXPECT_EQ(f.kind, engine::RecordKind::kForeign);
  EXPECT_FALSE(f.sequenced);
  EXPECT_EQ(f.key_id, "dev-k1");
  EXPECT_EQ(f.alg, static_cast<uint8_t>(wire::SignatureAlg::Ed25519));
  EXPECT_EQ(std::vector<uint8_t>(f.signature.begin(), f.signature.end()), kSig64);
  // The signed bytes are the Sig_structure, built as the COSE parser builds it.
  formats::CoseMessage m;
  ASSERT_EQ(formats::parse_cose(msg, {}, m), formats::CoseError::kNone);
  std::vector<uint8_t> tbs(formats::cose_to_be_signed_size(m));
  ASSERT_EQ(formats::cose_build_to_be_signed(m, tbs), tbs.size());
  EXPECT_EQ(std::vector<uint8_t>(f.signed_bytes.begin(), f.signed_bytes.end()), tbs);
  EXPECT_EQ(tbs[0], 0x84);  // ["Signature1", ...]
  const wire::Reading* r0 = b.row_reading[0];
  const wire::Reading* r1 = b.row_reading[1];
  const wire::Reading* r2 = b.row_reading[2];
  for (const auto* r : {r0, r1, r2}) EXPECT_EQ(r->sensor_id()->str(), "urn:dev:ow:10e2");
  EXPECT_EQ(r0->quantity()->str(), "temp");
  EXPECT_EQ(r0->unit()->str(), "Cel");
  EXPECT_EQ(r0->value(), 21.5);
  EXPECT_EQ(r0->time_ns(), 1767225600'000000000);
  EXPECT_EQ(r0->seq(), 1767225600'000000000u);
  EXPECT_EQ(attr(r0, "senml.name"), "urn:dev:ow:10e2:temp");
  EXPECT_EQ(r1->quantity()->str(), "humidity");
  EXPECT_EQ(r1->unit()->str(), "%RH");
  EXPECT_EQ(r2->quantity()->str(), "door");
  EXPECT_EQ(r2->unit()->str(), "Cel");  // the base unit
  EXPECT_EQ(r2->value(), 1);
  EXPECT_EQ(attr(r2, "senml.vb"), "true");
  EXPECT_EQ(r2->time_ns(), 1767225602'000000000);
  for (uint32_t k = 0; k < 3; ++k) EXPECT_EQ(b.row_reject[k], RejectCode::kNone);
}

TEST(SenmlCoseFormat, SensorRules) {
  SenmlCoseFormatOptions key_rule;
  key_rule.sensor = SenmlSensorRule::kKey;
  key_rule.id_prefix = "senml:";
  Batch b;
  decode(b, {message(pack3(), "gw-1", -7)}, key_rule);
  ASSERT_EQ(b.row_count(), 3u);
  EXPECT_EQ(b.frames[0].key_id, "senml:gw-1");
  EXPECT_EQ(b.frames[0].alg, static_cast<uint8_t>(wire::SignatureAlg::EcdsaP256Sha256));
  EXPECT_EQ(b.row_reading[0]->sensor_id()->str(), "senml:gw-1");
  EXPECT_EQ(b.row_reading[0]->quantity()->str(), "urn:dev:ow:10e2:temp");
  // A base name ending in '/' loses it; without a base name the resolved name is the sensor.
  decode(b, {message(pack3("urn:dev:x/"))});
  EXPECT_EQ(b.row_reading[0]->sensor_id()->str(), "urn:dev:x");
  Cbor nobn;
  nobn.array(1).map(3).uint(0).text("urn:dev:y:t").uint(2).f64(1).uint(6).uint(1767225600);
  decode(b, {message(nobn)});
  ASSERT_EQ(b.row_count(), 1u);
  EXPECT_EQ(b.row_reading[0]->sensor_id()->str(), "urn:dev:y:t");
  EXPECT_EQ(b.row_reading[0]->quantity()->str(), "");
  // A kid that is not printable text is named by its hex.
  decode(b, {message(pack3(), std::string_view("\x01\xff", 2))});
  EXPECT_EQ(b.frames[0].key_id, "hex:01ff");
  // HMAC 256/256 in a COSE_Mac0.
  decode(b, {message(pack3(), "mac-k1", 5, 112, 17, 32)});
  ASSERT_EQ(b.row_count(), 3u);
  EXPECT_EQ(b.frames[0].alg, static_cast<uint8_t>(wire::SignatureAlg::HmacSha256));
  EXPECT_EQ(b.frames[0].signed_bytes[1], 0x64);  // "MAC0"
}

TEST(SenmlCoseFormat, ContentTypes) {
  const std::string json = R"([{"bn":"urn:dev:j:","bt":1767225600,"n":"t","u":"Cel","v":2}])";
  Cbor jp;
  jp.b.assign(json.begin(), json.end());
  Batch b;
  decode(b, {message(jp, "k", -8, 110)});  // application/senml+json
  ASSERT_EQ(b.row_count(), 1u);
  EXPECT_EQ(b.row_reading[0]->sensor_id()->str(), "urn:dev:j");
  decode(b, {message(jp, "k", -8, -1)});  // no content type: JSON by its first byte
  ASSERT_EQ(b.row_count(), 1u);
  EXPECT_EQ(b.row_reject[0], RejectCode::kNone);
  decode(b, {message(pack3(), "k", -8, -1)});  // no content type: CBOR
  EXPECT_EQ(b.row_count(), 3u);
  EXPECT_EQ(reason_of(message(pack3(), "k", -8, 60)), "cose.content_type_unsupported");
  EXPECT_EQ(reason_of(message(jp, "k", -8, 112)), "senml.truncated");  // JSON declared as CBOR
}

TEST(SenmlCoseFormat, BadMessagesAreRejectedAtDecodeWithTheirReason) {
  const auto good = message(pack3());
  EXPECT_EQ(reason_of(good), "accepted");
  auto truncated = good;
  truncated.pop_back();
  EXPECT_EQ(reason_of(truncated), "cose.truncated");
  auto trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(reason_of(trailing), "cose.trailing_bytes");
  EXPECT_EQ(reason_of(std::vector<uint8_t>(good.begin() + 1, good.end())), "cose.untagged");
  EXPECT_EQ(reason_of(message(pack3(), "k", -35)), "cose.unsupported_alg");
  EXPECT_EQ(reason_of(message(pack3(), "k", -8, 112, 18, 63)), "cose.signature_length");
  EXPECT_EQ(reason_of(message(pack3(), "")), "cose.kid_invalid");
  // SenML errors under a well-formed envelope.
  Cbor relative;
  relative.array(1).map(3).uint(0).text("x").uint(2).f64(1).uint(6).uint(5);
  EXPECT_EQ(reason_of(message(relative)), "senml.relative_time");
  Cbor empty;
  empty.array(0);
  EXPECT_EQ(reason_of(message(empty)), "senml.empty_pack");
  Cbor indefinite;
  indefinite.raw({0x9f, 0xff});
  EXPECT_EQ(reason_of(message(indefinite)), "senml.indefinite_length");
  Cbor mandatory;
  mandatory.array(1).map(4).uint(0).text("x").uint(2).f64(1).uint(6).uint(1767225600);
  mandatory.text("z_").uint(1);
  EXPECT_EQ(reason_of(message(mandatory)), "senml.unknown_mandatory_field");
  Cbor no_value;
  no_value.array(1).map(2).uint(0).text("x").uint(6).uint(1767225600);
  EXPECT_EQ(reason_of(message(no_value)), "senml.no_value");
  // More records than the engine's bound on readings per input record.
  EXPECT_EQ(reason_of(good, 2), "wire.too_many_readings");
  EXPECT_EQ(reason_of(good, 3), "accepted");
}

TEST(SenmlCoseFormat, GarbageNeverCrashesAndAlwaysGivesOneRow) {
  const auto good = message(pack3());
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < 4000; ++i) {
    auto m = good;
    const int flips = 1 + i % 4;
    for (int k = 0; k < flips; ++k) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      m[x % m.size()] ^= static_cast<uint8_t>(1u << (x >> 32) % 8);
    }
    if (i % 7 == 0) m.resize(x % m.size());
    Batch b;
    decode(b, {m});
    ASSERT_GE(b.row_count(), 1u);
    if (b.row_reject[0] != RejectCode::kNone) {
      EXPECT_EQ(b.row_count(), 1u);
    } else {
      for (uint32_t r = 0; r < b.row_count(); ++r) ASSERT_NE(b.row_reading[r], nullptr);
    }
  }
}

}  // namespace
}  // namespace assay::connectors
