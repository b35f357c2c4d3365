// The `ocmf` input format: a record decodes into one row per RD entry with the envelope
// verify_signature checks (the payload bytes exactly as received, the meter identity as key id,
// r||s from the DER signature); every parser error path, the refused algorithms and the
// expansion bound reject the record at decode with their own `ocmf.*` reason.
#include "connectors/ocmf_format.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "connectors/builtin.hpp"
#include "tests/support/decode_util.hpp"
#include "engine/pipeline.hpp"
#include "schemas/reading_generated.h"

namespace assay::connectors {
namespace {

using engine::Batch;
using engine::RejectCode;

// r = 1, s = 1: parses (strict DER), never verifies.
constexpr const char* kSig = R"({"SD":"3006020101020101"})";

std::string payload(const std::string& rd_extra = "", const std::string& head = "") {
  return R"({"FV":"1.0","GI":"GW","GS":"G1","PG":"T7","MV":"Vendor","MS":"M1",)" + head +
         R"("RD":[{"TM":"2024-05-01T10:00:00,000+0200 S","TX":"B","RV":12.5,"RI":"1-b:1.8.0",)"
         R"("RU":"kWh","ST":"G")" +
         rd_extra + R"(},{"TM":"2024-05-01T10:05:00,000+0200 U","RV":13,"RU":"Wh","ST":"G"}]})";
}

std::string record(const std::string& p, const std::string& sig = kSig) {
  return "OCMF|" + p + "|" + sig;
}

// Decodes records into one batch; returns it.
Batch& decode(Batch& b, const std::vector<std::string>& recs, OcmfFormatOptions o = {},
              uint32_t max_readings = UINT32_MAX) {
  return test::decode_records(b, recs, OcmfFormat(std::move(o)), max_readings);
}

std::string reason_of(const std::string& rec, uint32_t max_readings = UINT32_MAX) {
  Batch b;
  decode(b, {rec}, {}, max_readings);
  if (b.row_count() != 1 || b.row_reject[0] == RejectCode::kNone) return "accepted";
  EXPECT_EQ(b.row_reading[0], nullptr);
  EXPECT_EQ(b.row_reject_stage[0], engine::kDecodeStage);
  return std::string(engine::reject_code_name(b.row_reject[0]));
}

std::string attr(const wire::Reading* r, const std::string& key) {
  if (r->attributes() == nullptr) return "<none>";
  for (const auto* a : *r->attributes())
    if (a->key()->str() == key) return a->value()->str();
  return "<none>";
}

TEST(OcmfFormat, RejectCodesHaveTheParsersNames) {
  for (int e = 1; e <= static_cast<int>(formats::OcmfError::kInternalLimit); ++e) {
    const auto err = static_cast<formats::OcmfError>(e);
    EXPECT_EQ(engine::reject_code_name(ocmf_reject_code(err)), formats::ocmf_error_name(err));
  }
  EXPECT_EQ(ocmf_reject_code(formats::OcmfError::kNone), RejectCode::kNone);
}

TEST(OcmfFormat, DecodesOneRowPerReadingWithTheExactSignedPayload) {
  const std::string p = payload();
  const std::string rec = record(p);
  Batch b;
  decode(b, {rec});
  ASSERT_EQ(b.row_count(), 2u);
  ASSERT_EQ(b.sel.size(), 2u);
  const engine::Frame& f = b.frames[0];
  EXPECT_EQ(f.kind, engine::RecordKind::kForeign);
  // The signed bytes are the payload section as received: a view into the input, not a copy.
  const std::string_view signed_text(reinterpret_cast<const char*>(f.signed_bytes.data()),
                                     f.signed_bytes.size());
  EXPECT_EQ(signed_text, p);
  EXPECT_EQ(f.signed_bytes.data(), b.arena.data() + 5);
  EXPECT_EQ(f.key_id, "G1/M1");                                                 // GS and MS differ
  EXPECT_EQ(f.alg, static_cast<uint8_t>(wire::SignatureAlg::EcdsaP256Sha256));  // SA absent
  EXPECT_FALSE(f.signature_der);
  ASSERT_EQ(f.signature.size(), 64u);  // r||s, each 32 bytes
  EXPECT_EQ(f.signature[31], 1);
  EXPECT_EQ(f.signature[63], 1);

  const wire::Reading* r0 = b.row_reading[0];
  EXPECT_EQ(r0->sensor_id()->str(), "G1/M1");
  EXPECT_EQ(r0->seq(), (7u << 8) | 0u);
  EXPECT_EQ(r0->time_ns(), 1714550400LL * 1000000000LL);  // 10:00 +0200 = 08:00 UTC
  EXPECT_EQ(r0->quantity()->str(), "energy");
  EXPECT_EQ(r0->unit()->str(), "kW.h");
  EXPECT_DOUBLE_EQ(r0->value(), 12.5);
  EXPECT_EQ(attr(r0, "ocmf.time_status"), "S");
  EXPECT_EQ(attr(r0, "ocmf.TX"), "B");
  EXPECT_EQ(attr(r0, "ocmf.RI"), "1-b:1.8.0");
  EXPECT_EQ(attr(r0, "ocmf.PG"), "T7");
  EXPECT_EQ(attr(r0, "ocmf.MV"), "Vendor");
  EXPECT_EQ(attr(r0, "ocmf.SA"), "ECDSA-secp256r1-SHA256");
  const wire::Reading* r1 = b.row_reading[1];
  EXPECT_EQ(r1->seq(), (7u << 8) | 1u);
  EXPECT_EQ(r1->unit()->str(), "W.h");
  EXPECT_EQ(attr(r1, "ocmf.time_status"), "U");
  EXPECT_EQ(attr(r1, "ocmf.TX"), "B");  // inherited from the first reading
  EXPECT_EQ(attr(r1, "ocmf.RI"), "1-b:1.8.0");
  EXPECT_EQ(b.row_index[1], 1u);
}

TEST(OcmfFormat, IdentityRuleAndPrefix) {
  Batch b;
  OcmfFormatOptions o;
  o.id_prefix = "ocmf:";
  // GS equal to MS: MS alone.
  decode(
      b,
      {record(
          R"({"GS":"M9","MS":"M9","PG":"F1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh","ST":"G"}]})")},
      o);
  ASSERT_EQ(b.sel.size(), 1u);
  EXPECT_EQ(b.frames[0].key_id, "ocmf:M9");
  EXPECT_EQ(b.row_reading[0]->sensor_id()->str(), "ocmf:M9");
  // Only a charge point id.
  decode(
      b,
      {record(
          R"({"CI":"CP-1","PG":"F1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh","ST":"G"}]})")});
  ASSERT_EQ(b.sel.size(), 1u);
  EXPECT_EQ(b.frames[0].key_id, "CP-1");
}

TEST(OcmfFormat, AlgorithmsAndSignatureWidths) {
  Batch b;
  struct Case {
    const char* sa;
    wire::SignatureAlg alg;
    size_t width;
  };
  // A DER signature with 48-byte-capable integers parses for every curve (r = s = 1).
  for (const Case& c :
       {Case{"ECDSA-secp256r1-SHA256", wire::SignatureAlg::EcdsaP256Sha256, 64},
        Case{"ECDSA-brainpool256r1-SHA256", wire::SignatureAlg::EcdsaBrainpoolP256r1Sha256, 64},
        Case{"ECDSA-secp384r1-SHA256", wire::SignatureAlg::EcdsaP384Sha256, 96},
        Case{"ECDSA-brainpool384r1-SHA256", wire::SignatureAlg::EcdsaBrainpoolP384r1Sha256, 96}}) {
    SCOPED_TRACE(c.sa);
    decode(b,
           {record(payload(), std::string(R"({"SA":")") + c.sa + R"(","SD":"3006020101020101"})")});
    ASSERT_EQ(b.sel.size(), 2u);
    EXPECT_EQ(b.frames[0].alg, static_cast<uint8_t>(c.alg));
    EXPECT_EQ(b.frames[0].signature.size(), c.width);
  }
  // base64 SD (SE) decodes to the same r||s.
  decode(b, {record(payload(), R"({"SE":"base64","SD":"MAYCAQECAQE="})")});
  ASSERT_EQ(b.sel.size(), 2u);
  EXPECT_EQ(b.frames[0].signature.size(), 64u);
  EXPECT_EQ(b.frames[0].signature[63], 1);
}

TEST(OcmfFormat, RefusedAlgorithms) {
  EXPECT_EQ(
      reason_of(record(payload(), R"({"SA":"ECDSA-secp256k1-SHA256","SD":"3006020101020101"})")),
      "ocmf.unsupported_algorithm");
  EXPECT_EQ(
      reason_of(record(payload(), R"({"SA":"ECDSA-secp192r1-SHA256","SD":"3006020101020101"})")),
      "ocmf.legacy_algorithm");
  EXPECT_EQ(
      reason_of(record(payload(), R"({"SA":"ECDSA-secp192k1-SHA256","SD":"3006020101020101"})")),
      "ocmf.legacy_algorithm");
  // Even when asked to allow them: the engine cannot verify them.
  OcmfFormatOptions o;
  o.parse.allow_legacy_curves = true;
  Batch b;
  decode(b, {record(payload(), R"({"SA":"ECDSA-secp192r1-SHA256","SD":"3006020101020101"})")}, o);
  ASSERT_EQ(b.row_count(), 1u);
  EXPECT_EQ(engine::reject_code_name(b.row_reject[0]), "ocmf.legacy_algorithm");
  EXPECT_EQ(reason_of(record(payload(), R"({"SA":"RSA-SHA256","SD":"3006020101020101"})")),
            "ocmf.unknown_algorithm");
}

TEST(OcmfFormat, EveryParserErrorPathIsARejectionWithItsReason) {
  const std::string rd =
      R"("RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh","ST":"G"}])";
  const std::string ok = R"({"FV":"1.0","MS":"M1","PG":"T1",)" + rd + "}";
  struct Case {
    std::string rec, reason;
  };
  const std::vector<Case> cases = {
      {"", "ocmf.not_ocmf"},
      {"XCMF|{}|{}", "ocmf.not_ocmf"},
      {"OCMF|" + ok, "ocmf.missing_section"},
      {"OCMF|" + ok + "|" + kSig + "|", "ocmf.extra_section"},
      {"OCMF|{\"MS\":|" + std::string(kSig), "ocmf.payload_invalid_json"},
      {"OCMF|" + ok + "|{\"SD\":", "ocmf.signature_invalid_json"},
      {"OCMF|[1]|" + std::string(kSig), "ocmf.section_not_object"},
      {R"(OCMF|{"MS":"M1","MS":"M2","PG":"T1",)" + rd + "}|" + kSig, "ocmf.duplicate_key"},
      {R"(OCMF|{"MS":7,"PG":"T1",)" + rd + "}|" + kSig, "accepted"},  // lenient: number as string
      {R"(OCMF|{"MS":["x"],"PG":"T1",)" + rd + "}|" + kSig, "ocmf.wrong_type"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1e999,"RU":"kWh","ST":"G"}]}|)" +
           std::string(kSig),
       "ocmf.number_out_of_range"},
      {R"(OCMF|{"FV":"2.0","MS":"M1","PG":"T1",)" + rd + "}|" + kSig, "ocmf.unsupported_version"},
      {R"(OCMF|{"MS":"M1","PG":"X1",)" + rd + "}|" + kSig, "ocmf.pagination_invalid"},
      {R"(OCMF|{"PG":"T1",)" + rd + "}|" + kSig, "ocmf.missing_identity"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[]}|)" + std::string(kSig), "ocmf.no_readings"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[1]}|)" + std::string(kSig), "ocmf.reading_not_object"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"RV":1,"RU":"kWh","ST":"G"}]}|)" + std::string(kSig),
       "ocmf.time_missing"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"yesterday","RV":1,"RU":"kWh","ST":"G"}]}|)" +
           std::string(kSig),
       "ocmf.time_invalid"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 Q","RV":1,"RU":"kWh","ST":"G"}]}|)" +
           std::string(kSig),
       "ocmf.time_status_invalid"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","TX":"Q","RV":1,"RU":"kWh","ST":"G"}]}|)" +
           std::string(kSig),
       "ocmf.tx_invalid"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh"}]}|)" +
           std::string(kSig),
       "ocmf.status_missing"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh","ST":"?"}]}|)" +
           std::string(kSig),
       "ocmf.status_invalid"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"ST":"G"}]}|)" +
           std::string(kSig),
       "ocmf.unit_missing"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh","ST":"G","EF":"Z"}]}|)" +
           std::string(kSig),
       "ocmf.error_flags_invalid"},
      {R"(OCMF|{"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":"abc","RU":"kWh","ST":"G"}]}|)" +
           std::string(kSig),
       "ocmf.value_invalid"},
      {"OCMF|" + ok + "|{}", "ocmf.signature_missing"},
      {"OCMF|" + ok + R"(|{"SE":"base32","SD":"3006020101020101"})", "ocmf.unknown_encoding"},
      {"OCMF|" + ok + R"(|{"SM":"text/plain","SD":"3006020101020101"})", "ocmf.unknown_mime_type"},
      {"OCMF|" + ok + R"(|{"SD":"30060201010201zz"})", "ocmf.signature_encoding_invalid"},
      {"OCMF|" + ok + R"(|{"SD":"3007020101020101"})", "ocmf.signature_der_invalid"},
      {"OCMF|" + ok + R"(|{"SD":"3006020101020101"})", "accepted"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.rec);
    EXPECT_EQ(reason_of(c.rec), c.reason);
  }
}

TEST(OcmfFormat, LimitsAreRejections) {
  OcmfFormatOptions o;
  o.parse.max_record_bytes = 128;
  Batch b;
  decode(b, {record(payload())}, o);
  ASSERT_EQ(b.row_count(), 1u);
  EXPECT_EQ(engine::reject_code_name(b.row_reject[0]), "ocmf.too_large");
  // Nesting beyond the parser's depth in an unmapped field.
  std::string deep =
      R"({"MS":"M1","PG":"T1","XX":)" + std::string(20, '[') + std::string(20, ']') +
      R"(,"RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RV":1,"RU":"kWh","ST":"G"}]})";
  EXPECT_EQ(reason_of(record(deep)), "ocmf.too_deep");
  // The engine's expansion bound (engine.max_readings_per_record).
  EXPECT_EQ(reason_of(record(payload()), 1), "wire.too_many_readings");
  EXPECT_EQ(reason_of(record(payload()), 2), "accepted");
  // A pre-rejected frame (truncated by the source) keeps its reason.
  b.clear();
  engine::Frame f;
  f.pre_reject = RejectCode::kFrameTruncated;
  b.frames.push_back(f);
  OcmfFormat fmt({});
  engine::decode_batch(b, &fmt);
  ASSERT_EQ(b.row_count(), 1u);
  EXPECT_EQ(b.row_reject[0], RejectCode::kFrameTruncated);
}

TEST(OcmfFormat, ReadingWithoutValueIsNotANumber) {
  Batch b;
  decode(
      b,
      {record(
          R"({"MS":"M1","PG":"T1","RD":[{"TM":"2024-05-01T10:00:00,000+0000 S","RU":"kWh","ST":"E","EF":"E"}]})")});
  ASSERT_EQ(b.sel.size(), 1u);
  EXPECT_TRUE(std::isnan(b.row_reading[0]->value()));
  EXPECT_EQ(attr(b.row_reading[0], "ocmf.EF"), "E");
}

TEST(OcmfFormat, BadBytesNeverCrash) {
  // Every prefix of a good record, and every single-byte change to a few values: each either
  // decodes or is one rejected row; nothing reads past the frame (ASan).
  const std::string good = record(payload());
  Batch b;
  for (size_t n = 0; n < good.size(); ++n) {
    decode(b, {good.substr(0, n)});
    ASSERT_GE(b.row_count(), 1u);
    if (b.row_reject[0] != RejectCode::kNone) {
      EXPECT_EQ(b.row_count(), 1u);
    }
  }
  for (size_t i = 0; i < good.size(); ++i)
    for (char c : {'\0', '|', '"', '{', '9', '\xff'}) {
      std::string t = good;
      t[i] = c;
      decode(b, {t});
      ASSERT_GE(b.row_count(), 1u);
    }
}

TEST(OcmfFormat, PipelineConfig) {
  engine::Registries reg;
  register_builtin_connectors(reg);
  ASSERT_TRUE(reg.formats.count("ocmf"));
  const std::string yaml =
      "input: {type: file, path: x, format: ocmf, ocmf: {id_prefix: 'm:', lenient_types: false}}\n";
  const engine::ConfigNode root = engine::ConfigNode::load_string(yaml, "t.yaml");
  const engine::ConfigNode input = root.get("input");
  engine::Metrics metrics;
  engine::PipelineInfo info;
  engine::EngineOptions eo;
  engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext ctx{info, metrics, eo, services, warnings, &reg};
  auto fmt = reg.formats.at("ocmf")(input, ctx);
  const auto* o = dynamic_cast<const OcmfFormat*>(fmt.get());
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->options().id_prefix, "m:");
  EXPECT_FALSE(o->options().parse.lenient_types);
  const engine::ConfigNode bad =
      engine::ConfigNode::load_string("input: {format: ocmf, ocmf: {id_prefx: 'm:'}}\n", "t.yaml");
  EXPECT_THROW(reg.formats.at("ocmf")(bad.get("input"), ctx), engine::ConfigError);
}

}  // namespace
}  // namespace assay::connectors
