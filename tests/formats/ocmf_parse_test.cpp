// OCMF parser: field mapping, inheritance, preserved extensions, and one test per error path.
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <string>

#include "formats/ocmf.hpp"
#include "formats_util.hpp"

namespace assay::formats {
namespace {

using test::bytes;

// A DER signature with 32-byte r = 0x11.. and s = 0x22.. (the parser never verifies).
std::string der_hex32() {
  return "3044"
         "0220" +
         std::string(64, '1') + "0220" + std::string(64, '2');
}

// The specification's example, extended to every field of the current version.
const std::string kPayload =
    R"({"FV":"1.4","GI":"ABL SBC-301","GS":"808829900001","GV":"1.4p3","PG":"T12345",)"
    R"("MV":"Phoenix Contact","MM":"EEM-350-D-MCB","MS":"BQ27400330016","MF":"1.0",)"
    R"("IS":true,"IL":"VERIFIED","IF":["RFID_PLAIN","OCPP_RS_TLS"],"IT":"ISO14443",)"
    R"("ID":"1F2D3A4F5506C7","TT":"Tarif 1","CF":"2.1",)"
    R"("LC":{"LN":"cable_name","LI":1,"LR":2.50,"LU":"mOhm"},"CT":"EVSEID","CI":"DE*ABC*E123",)"
    R"("RD":[{"TM":"2018-07-24T13:22:04,000+0200 S","TX":"B","RV":2935.600,)"
    R"("RI":"01-0B:01.08.00*FF","RU":"kWh","RT":"DC","EF":"","ST":"G"},)"
    R"({"TM":"2018-07-24T13:26:04,500+0200 S","TX":"E","RV":2965.100,"CL":0.5,)"
    R"("RI":"01-0B:01.08.00*FF","RU":"kWh","RT":"DC","EF":"","ST":"G"}]})";

std::string sig_json(const std::string& extra = "") {
  return R"({"SA":"ECDSA-secp256r1-SHA256","SD":")" + der_hex32() + "\"" + extra + "}";
}

std::string record(const std::string& payload = kPayload, const std::string& sig = sig_json()) {
  return "OCMF|" + payload + "|" + sig;
}

// kPayload with the first occurrence of `from` replaced by `to`.
std::string payload_with(const std::string& from, const std::string& to) {
  std::string p = kPayload;
  const size_t at = p.find(from);
  if (at == std::string::npos) throw std::runtime_error("no " + from);
  p.replace(at, from.size(), to);
  return p;
}

OcmfError parse(const std::string& rec, OcmfRecord& out, const OcmfParseOptions& o = {}) {
  return parse_ocmf(bytes(rec), o, out);
}

#define EXPECT_OCMF_ERROR(rec, code, ...)                           \
  do {                                                              \
    OcmfRecord r_;                                                  \
    const OcmfError e_ = parse(rec, r_, ##__VA_ARGS__);             \
    EXPECT_EQ(ocmf_error_name(e_), ocmf_error_name(code)) << (rec); \
  } while (0)

TEST(OcmfParse, MapsEveryField) {
  const std::string rec = record();
  OcmfRecord r;
  ASSERT_EQ(parse(rec, r), OcmfError::kNone);
  // The signed bytes are exactly the payload section, a view into the input.
  EXPECT_EQ(r.payload.data(), bytes(rec).data() + 5);
  EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), kPayload);
  EXPECT_EQ(std::string(r.signature_section.begin(), r.signature_section.end()), sig_json());
  EXPECT_EQ(r.format_version, "1.4");
  EXPECT_EQ(r.version_minor, 4);
  EXPECT_EQ(r.gateway_id, "ABL SBC-301");
  EXPECT_EQ(r.gateway_serial, "808829900001");
  EXPECT_EQ(r.gateway_version, "1.4p3");
  EXPECT_EQ(r.pagination_context, 'T');
  EXPECT_EQ(r.pagination, 12345u);
  EXPECT_EQ(r.meter_vendor, "Phoenix Contact");
  EXPECT_EQ(r.meter_model, "EEM-350-D-MCB");
  EXPECT_EQ(r.meter_serial, "BQ27400330016");
  EXPECT_EQ(r.meter_firmware, "1.0");
  EXPECT_TRUE(r.has_identification_status);
  EXPECT_TRUE(r.identification_status);
  EXPECT_EQ(r.identification_level, "VERIFIED");
  ASSERT_EQ(r.identification_flags.size(), 2u);
  EXPECT_EQ(r.identification_flags[1], "OCPP_RS_TLS");
  EXPECT_EQ(r.identification_type, "ISO14443");
  EXPECT_EQ(r.identification_data, "1F2D3A4F5506C7");
  EXPECT_EQ(r.tariff_text, "Tarif 1");
  EXPECT_EQ(r.charge_controller_firmware, "2.1");
  EXPECT_TRUE(r.has_loss_compensation);
  EXPECT_EQ(r.loss_name, "cable_name");
  EXPECT_EQ(r.loss_id, "1");
  EXPECT_EQ(r.loss_resistance, 2.5);
  EXPECT_EQ(r.loss_resistance_text, "2.50");
  EXPECT_EQ(r.loss_unit, "mOhm");
  EXPECT_EQ(r.charge_point_id_type, "EVSEID");
  EXPECT_EQ(r.charge_point_id, "DE*ABC*E123");
  ASSERT_EQ(r.readings.size(), 2u);
  const OcmfReading& b = r.readings[0];
  // 2018-07-24T13:22:04+02:00 = 2018-07-24T11:22:04Z = 1532431324 s.
  EXPECT_EQ(b.time_ns, 1532431324LL * 1'000'000'000);
  EXPECT_EQ(b.tz_offset_min, 120);
  EXPECT_EQ(b.time_status, OcmfTimeStatus::kSynchronized);
  EXPECT_EQ(b.time_text, "2018-07-24T13:22:04,000+0200 S");
  EXPECT_EQ(b.tx, OcmfTx::kBegin);
  EXPECT_TRUE(b.has_value);
  EXPECT_EQ(b.value, 2935.6);
  EXPECT_EQ(b.value_text, "2935.600");  // the decimals as written
  EXPECT_EQ(b.obis, "01-0B:01.08.00*FF");
  EXPECT_EQ(b.unit, "kWh");
  EXPECT_EQ(b.current_type, "DC");
  EXPECT_EQ(b.error_flags, "");
  EXPECT_EQ(b.status, 'G');
  EXPECT_FALSE(b.has_cumulated_loss);
  EXPECT_EQ(b.inherited, 0);
  const OcmfReading& e = r.readings[1];
  EXPECT_EQ(e.time_ns, (1532431324LL + 240) * 1'000'000'000 + 500'000'000);
  EXPECT_EQ(e.tx, OcmfTx::kEnd);
  EXPECT_TRUE(ocmf_tx_ends(e.tx));
  EXPECT_TRUE(e.has_cumulated_loss);
  EXPECT_EQ(e.cumulated_loss, 0.5);
  EXPECT_EQ(e.cumulated_loss_text, "0.5");
  EXPECT_TRUE(r.extras.empty());
  EXPECT_EQ(r.algorithm, OcmfAlgorithm::kSecp256r1Sha256);
  EXPECT_TRUE(r.algorithm_explicit);
  EXPECT_FALSE(r.base64);
  EXPECT_EQ(r.signature_der().size(), 70u);
  ASSERT_EQ(r.signature_raw().size(), 64u);
  EXPECT_EQ(r.signature_raw()[0], 0x11);
  EXPECT_EQ(r.signature_raw()[63], 0x22);
  EXPECT_EQ(r.deviations, 0);
}

TEST(OcmfParse, DefaultsWhenSignatureFieldsAreAbsent) {
  OcmfRecord r;
  ASSERT_EQ(parse(record(kPayload, R"({"SD":")" + der_hex32() + "\"}"), r), OcmfError::kNone);
  EXPECT_EQ(r.algorithm, OcmfAlgorithm::kSecp256r1Sha256);  // default since OCMF 0.4
  EXPECT_FALSE(r.algorithm_explicit);
  EXPECT_FALSE(r.base64);
}

TEST(OcmfParse, Base64SignatureAndOtherCurves) {
  // 48-byte integers for P-384 / brainpoolP384r1.
  std::vector<uint8_t> der = {0x30, 0x64, 0x02, 0x30};
  der.insert(der.end(), 48, 0x33);
  der.insert(der.end(), {0x02, 0x30});
  der.insert(der.end(), 48, 0x44);
  // base64 of der, built with the strict decoder's inverse (OpenSSL).
  unsigned char b64[200];
  const int n = EVP_EncodeBlock(b64, der.data(), static_cast<int>(der.size()));
  const std::string sd(reinterpret_cast<char*>(b64), n);
  for (const char* sa :
       {"ECDSA-secp384r1-SHA256", "ECDSA-brainpool384r1-SHA256", "ECDSA-brainpoolP384r1-SHA256"}) {
    OcmfRecord r;
    const std::string sig = std::string(R"({"SA":")") + sa +
                            R"(","SE":"base64","SM":"application/x-der","SD":")" + sd + "\"}";
    ASSERT_EQ(parse(record(kPayload, sig), r), OcmfError::kNone) << sa;
    EXPECT_TRUE(r.base64);
    EXPECT_EQ(ocmf_algorithm_field_bytes(r.algorithm), 48u);
    ASSERT_EQ(r.signature_raw().size(), 96u);
    EXPECT_EQ(r.signature_raw()[47], 0x33);
    EXPECT_EQ(r.signature_raw()[48], 0x44);
  }
  for (const char* sa :
       {"ECDSA-brainpool256r1-SHA256", "ECDSA-brainpoolP256r1-SHA256", "ECDSA-secp256k1-SHA256"}) {
    OcmfRecord r;
    ASSERT_EQ(parse(record(kPayload,
                           std::string(R"({"SA":")") + sa + R"(","SD":")" + der_hex32() + "\"}"),
                    r),
              OcmfError::kNone)
        << sa;
    EXPECT_EQ(r.signature_raw().size(), 64u);
  }
  EXPECT_EQ(ocmf_algorithm_curve(OcmfAlgorithm::kBrainpoolP256r1Sha256), "brainpoolP256r1");
  EXPECT_EQ(ocmf_algorithm_name(OcmfAlgorithm::kSecp384r1Sha256), "ECDSA-secp384r1-SHA256");
}

TEST(OcmfParse, LegacyCurvesRefusedUnlessAllowed) {
  const std::string der24 =
      "302c"
      "0214" +
      std::string(40, '5') + "0214" + std::string(40, '6');
  for (const char* sa : {"ECDSA-secp192r1-SHA256", "ECDSA-secp192k1-SHA256"}) {
    const std::string rec =
        record(kPayload, std::string(R"({"SA":")") + sa + R"(","SD":")" + der24 + "\"}");
    EXPECT_OCMF_ERROR(rec, OcmfError::kLegacyAlgorithm);
    OcmfParseOptions allow;
    allow.allow_legacy_curves = true;
    OcmfRecord r;
    ASSERT_EQ(parse(rec, r, allow), OcmfError::kNone);
    EXPECT_TRUE(ocmf_algorithm_is_legacy(r.algorithm));
    ASSERT_EQ(r.signature_raw().size(), 48u);
    EXPECT_EQ(r.signature_raw()[4], 0x55);  // 20-byte r left-padded to 24
    EXPECT_EQ(r.signature_raw()[0], 0x00);
  }
}

TEST(OcmfParse, ReadingsInheritOmittedFields) {
  // LEM DCBM style: later readings omit TM/TX/RT/EF, which they share with the previous one.
  const std::string p =
      R"({"FV":"1.0","GS":"1211751603","PG":"T144","MS":"1211751603","RD":[)"
      R"({"TM":"2021-10-06T13:13:56,000+0200 R","TX":"B","RV":57.584,"RI":"1-0:1.8.0","RU":"kWh","RT":"DC","EF":"","ST":"G"},)"
      R"({"RV":4.405,"RI":"1-0:2.8.0","RU":"kWh","ST":"G"},)"
      R"({"TM":"2021-10-06T13:15:13,000+0200 R","TX":"E","RV":58.685,"RI":"1-0:1.8.0"},)"
      R"({"EF":"E"}]})";
  OcmfRecord r;
  ASSERT_EQ(parse(record(p), r), OcmfError::kNone);
  ASSERT_EQ(r.readings.size(), 4u);
  EXPECT_EQ(r.readings[1].tx, OcmfTx::kBegin);
  EXPECT_EQ(r.readings[1].time_ns, r.readings[0].time_ns);
  EXPECT_EQ(r.readings[1].current_type, "DC");
  EXPECT_EQ(r.readings[1].inherited,
            kInheritTime | kInheritTx | kInheritCurrentType | kInheritErrorFlags);
  EXPECT_EQ(r.readings[2].unit, "kWh");
  EXPECT_EQ(r.readings[2].status, 'G');
  EXPECT_TRUE(r.readings[2].inherited & kInheritStatus);
  // An error event without a value: RI/RU inherited, no RV.
  EXPECT_FALSE(r.readings[3].has_value);
  EXPECT_EQ(r.readings[3].error_flags, "E");
  EXPECT_EQ(r.readings[3].tx, OcmfTx::kEnd);
  EXPECT_EQ(r.readings[3].obis, "1-0:1.8.0");
}

TEST(OcmfParse, KeepsUnmappedFieldsAsExtras) {
  const std::string p =
      R"({"PG":"F7","GS":"g","VA":"ATAAEE000203","VB":3,"VC":0.400000006,"ZZ":true,"YN":null,)"
      R"("RD":[{"TM":"2021-10-07T15:29:55,000+0200 S","RV":0,"RU":"Wh","XV":76040,)"
      R"("UC":{"UN":"No \"Comp\"","UI":[2,{"a":"\u0001"}],"UR":0},"ST":"G"}],)"
      R"("LC":{"LR":1,"LU":"mOhm","LX":"x"},"QQ":[]})";
  OcmfRecord r;
  ASSERT_EQ(parse(record(p, sig_json(R"(,"Z1":"vendor","A1":{"k":1})")), r), OcmfError::kNone);
  EXPECT_EQ(r.pagination_context, 'F');
  ASSERT_EQ(r.extras.size(), 11u);
  auto at = [&](size_t i) { return std::pair{r.extras[i].key, r.extras[i].value}; };
  EXPECT_EQ(at(0), (std::pair<std::string_view, std::string_view>{"VA", "ATAAEE000203"}));
  EXPECT_EQ(at(1).second, "3");
  EXPECT_EQ(at(2).second, "0.400000006");  // numbers as written
  EXPECT_EQ(at(3).second, "true");
  EXPECT_EQ(at(4).second, "null");
  EXPECT_EQ(r.extras[5].section, OcmfSection::kReading);
  EXPECT_EQ(r.extras[5].reading, 0u);
  EXPECT_EQ(at(5), (std::pair<std::string_view, std::string_view>{"XV", "76040"}));
  EXPECT_EQ(at(6).first, "UC");
  EXPECT_EQ(at(6).second, R"({"UN":"No \"Comp\"","UI":[2,{"a":"\u0001"}],"UR":0})");
  EXPECT_EQ(r.extras[7].section, OcmfSection::kLossCompensation);
  EXPECT_EQ(at(7).second, "x");
  EXPECT_EQ(at(8), (std::pair<std::string_view, std::string_view>{"QQ", "[]"}));
  EXPECT_EQ(r.extras[9].section, OcmfSection::kSignature);
  EXPECT_EQ(at(9).second, "vendor");
  EXPECT_EQ(at(10).second, R"({"k":1})");
}

TEST(OcmfParse, LenientTypesAreFlaggedAndCanBeRefused) {
  // Seen in the field: FV and CT as numbers (TwinCharger), RV as padded strings (DZG).
  const std::string p = payload_with(R"("FV":"1.4")", R"("FV":1.0)");
  const std::string p2 =
      R"({"FV":1.0,"GS":"x","PG":"T2","CT":0,"RD":[{"TM":"2021-10-26T10:20:52,000+0200 I","RV":"       9.038","RU":"kWh","ST":"G"}]})";
  OcmfRecord r;
  ASSERT_EQ(parse(record(p2), r), OcmfError::kNone);
  EXPECT_EQ(r.format_version, "1.0");
  EXPECT_EQ(r.charge_point_id_type, "0");
  EXPECT_EQ(r.readings[0].value, 9.038);
  EXPECT_EQ(r.readings[0].value_text, "9.038");
  EXPECT_EQ(r.deviations, kNumberAsString | kStringAsNumber);
  OcmfParseOptions strict;
  strict.lenient_types = false;
  EXPECT_OCMF_ERROR(record(p), OcmfError::kWrongType, strict);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":\"2935.600\"")),
                    OcmfError::kWrongType, strict);
}

TEST(OcmfParse, SignerIdAndUnits) {
  auto signer = [](const std::string& ids) {
    OcmfRecord r;
    const std::string p =
        "{" + ids +
        R"(,"PG":"T1","RD":[{"TM":"2021-10-26T10:20:52,000+0200 S","RV":1,"RU":"Wh","ST":"G"}]})";
    EXPECT_EQ(parse(record(p), r), OcmfError::kNone) << p;
    std::string buf;
    return std::string(ocmf_signer_id(r, buf));
  };
  EXPECT_EQ(signer(R"("GS":"G1","MS":"M1")"), "G1/M1");
  EXPECT_EQ(signer(R"("GS":"M1","MS":"M1")"), "M1");
  EXPECT_EQ(signer(R"("GS":"","MS":"M1")"), "M1");
  EXPECT_EQ(signer(R"("GS":"G1")"), "G1");
  EXPECT_EQ(signer(R"("CI":"DE*X*1")"), "DE*X*1");
  EXPECT_EQ(ocmf_unit_to_ucum("kWh"), "kW.h");
  EXPECT_EQ(ocmf_unit_to_ucum("Wh"), "W.h");
  EXPECT_EQ(ocmf_unit_to_ucum("mOhm"), "mOhm");
  EXPECT_EQ(ocmf_unit_to_ucum("sec"), "sec");
}

TEST(OcmfParse, RecordReuseLeavesNothingBehind) {
  OcmfRecord r;
  ASSERT_EQ(parse(record(payload_with(R"("CF":"2.1",)", R"("CF":"2.1","XX":"x",)")), r),
            OcmfError::kNone);
  EXPECT_EQ(r.extras.size(), 1u);
  const std::string small =
      R"({"GS":"x","PG":"T1","RD":[{"TM":"2021-10-26T10:20:52,000+0200 S","ST":"G"}]})";
  ASSERT_EQ(parse(record(small), r), OcmfError::kNone);
  EXPECT_TRUE(r.extras.empty());
  EXPECT_EQ(r.readings.size(), 1u);
  EXPECT_TRUE(r.identification_flags.empty());
  EXPECT_EQ(r.meter_serial, "");
  EXPECT_FALSE(r.has_loss_compensation);
  EXPECT_FALSE(r.readings[0].has_value);
  OcmfRecord moved = std::move(r);  // views survive a move
  EXPECT_EQ(moved.gateway_serial, "x");
}

TEST(OcmfParse, PayloadWhitespaceIsKeptInTheSignedBytes) {
  const std::string p =
      "\n\t{ \"GS\" : \"x\",\r\n \"PG\":\"T1\", \"RD\" : [ {\"TM\":\"2021-10-26T10:20:52,000+0200 "
      "S\",\"ST\":\"G\"} ] }\n";
  const std::string rec = record(p);
  OcmfRecord r;
  ASSERT_EQ(parse(rec, r), OcmfError::kNone);
  EXPECT_EQ(std::string(r.payload.begin(), r.payload.end()), p);
}

// ---- error paths, one by one --------------------------------------------------------------

TEST(OcmfErrors, Framing) {
  OcmfParseOptions small;
  small.max_record_bytes = 100;
  EXPECT_OCMF_ERROR(record(), OcmfError::kTooLarge, small);
  EXPECT_OCMF_ERROR("", OcmfError::kNotOcmf);
  EXPECT_OCMF_ERROR("XCMF|{}|{}", OcmfError::kNotOcmf);
  EXPECT_OCMF_ERROR("ocmf|{}|{}", OcmfError::kNotOcmf);
  EXPECT_OCMF_ERROR("OCMF", OcmfError::kMissingSection);
  EXPECT_OCMF_ERROR("OCMF" + kPayload + "|" + sig_json(), OcmfError::kMissingSection);
  EXPECT_OCMF_ERROR("OCMF|" + kPayload, OcmfError::kMissingSection);
  EXPECT_OCMF_ERROR(record() + "|3059301306", OcmfError::kExtraSection);
  EXPECT_OCMF_ERROR(record(payload_with("Tarif 1", "Tarif|1")), OcmfError::kExtraSection);
}

TEST(OcmfErrors, Json) {
  EXPECT_OCMF_ERROR(record("{"), OcmfError::kPayloadJson);
  EXPECT_OCMF_ERROR(record(kPayload + "x"), OcmfError::kPayloadJson);
  EXPECT_OCMF_ERROR(record(payload_with("\"GV\":\"1.4p3\",", "\"GV\":\"1.4p3\",,")),
                    OcmfError::kPayloadJson);
  EXPECT_OCMF_ERROR(record(payload_with("Tarif 1", "Tarif \xC3\x28")), OcmfError::kPayloadJson);
  EXPECT_OCMF_ERROR(record("/*c*/" + kPayload), OcmfError::kPayloadJson);
  EXPECT_OCMF_ERROR(record(kPayload, "{\"SD\":}"), OcmfError::kSignatureJson);
  EXPECT_OCMF_ERROR(record(kPayload, sig_json() + "}"), OcmfError::kSignatureJson);
  EXPECT_OCMF_ERROR(record("[]"), OcmfError::kNotObject);
  EXPECT_OCMF_ERROR(record("\"x\""), OcmfError::kNotObject);
  EXPECT_OCMF_ERROR(record(kPayload, "[]"), OcmfError::kNotObject);
}

TEST(OcmfErrors, DuplicateKeys) {
  EXPECT_OCMF_ERROR(record(payload_with(R"("PG":"T12345")", R"("PG":"T12345","PG":"T1")")),
                    OcmfError::kDuplicateKey);
  EXPECT_OCMF_ERROR(record(payload_with(R"("RV":2935.600)", R"("RV":2935.600,"RV":1)")),
                    OcmfError::kDuplicateKey);
  EXPECT_OCMF_ERROR(record(payload_with(R"("CF":"2.1")", R"("CF":"2.1","XA":1,"XA":2)")),
                    OcmfError::kDuplicateKey);
  EXPECT_OCMF_ERROR(record(payload_with(R"("CF":"2.1")", R"("CF":"2.1","XA":{"a":1,"a":2})")),
                    OcmfError::kDuplicateKey);
  EXPECT_OCMF_ERROR(record(payload_with(R"("LN":"cable_name")", R"("LN":"c","LN":"d")")),
                    OcmfError::kDuplicateKey);
  EXPECT_OCMF_ERROR(record(kPayload, sig_json(R"(,"SD":"00")")), OcmfError::kDuplicateKey);
  // The same key in different objects is not a duplicate.
  OcmfRecord r;
  EXPECT_EQ(parse(record(payload_with(R"("CF":"2.1")", R"("CF":"2.1","XA":{"a":{"a":1}})")), r),
            OcmfError::kNone);
}

TEST(OcmfErrors, WrongTypes) {
  EXPECT_OCMF_ERROR(record(payload_with("\"IS\":true", "\"IS\":\"true\"")), OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"GS\":\"808829900001\"", "\"GS\":null")),
                    OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"GS\":\"808829900001\"", "\"GS\":{}")),
                    OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"GS\":\"808829900001\"", "\"GS\":[]")),
                    OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"IF\":[\"RFID_PLAIN\",", "\"IF\":[1,")),
                    OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"IF\":[\"RFID_PLAIN\",\"OCPP_RS_TLS\"]", "\"IF\":\"x\"")),
                    OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"IF\":[\"RFID_PLAIN\",", "\"IF\":[[],")),
                    OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"LC\":{", "\"LC\":[],\"LX\":{")), OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"RD\":[", "\"RD\":{},\"RX\":[")), OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":true")), OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":[1]")), OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(payload_with("\"LR\":2.50", "\"LR\":{}")), OcmfError::kWrongType);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":5})"), OcmfError::kSignatureEncoding);  // "5"
  OcmfParseOptions strict;
  strict.lenient_types = false;
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":5})"), OcmfError::kWrongType, strict);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":true})"), OcmfError::kWrongType);
}

TEST(OcmfErrors, NumbersAndLimits) {
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":1e400")),
                    OcmfError::kNumberOutOfRange);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":-1e400")),
                    OcmfError::kNumberOutOfRange);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":1" + std::string(70, '0'))),
                    OcmfError::kNumberOutOfRange);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":\"1,5\"")),
                    OcmfError::kValueInvalid);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":\"\"")),
                    OcmfError::kValueInvalid);
  EXPECT_OCMF_ERROR(record(payload_with("\"RV\":2935.600", "\"RV\":\"1e999\"")),
                    OcmfError::kValueInvalid);
  std::string deep = "1";
  for (int i = 0; i < 10; ++i) deep = "[" + deep + "]";
  EXPECT_OCMF_ERROR(record(payload_with(R"("CF":"2.1")", R"("CF":"2.1","XD":)" + deep)),
                    OcmfError::kTooDeep);
  OcmfParseOptions o;
  o.max_readings = 1;
  EXPECT_OCMF_ERROR(record(), OcmfError::kTooManyReadings, o);
  o = {};
  o.max_extras = 1;
  EXPECT_OCMF_ERROR(record(payload_with(R"("CF":"2.1")", R"("CF":"2.1","XA":1,"XB":2)")),
                    OcmfError::kTooManyFields, o);
  std::string many_flags = "\"IF\":[";
  for (int i = 0; i < 17; ++i) many_flags += std::string(i ? "," : "") + "\"F\"";
  EXPECT_OCMF_ERROR(
      record(payload_with("\"IF\":[\"RFID_PLAIN\",\"OCPP_RS_TLS\"]", many_flags + "]")),
      OcmfError::kTooManyFields);
  o = {};
  o.max_string_bytes = 10;
  EXPECT_OCMF_ERROR(record(), OcmfError::kFieldTooLong, o);
}

TEST(OcmfErrors, HeaderFields) {
  for (const char* fv : {"\"2.0\"", "\"1.x\"", "\"1.01\"", "\"0.4\"", "\"1.\"", "\"1\"", "\"\""}) {
    if (std::string(fv) == "\"\"") continue;  // empty FV = absent: 1.0
    EXPECT_OCMF_ERROR(record(payload_with("\"FV\":\"1.4\"", std::string("\"FV\":") + fv)),
                      OcmfError::kUnsupportedVersion);
  }
  EXPECT_OCMF_ERROR(record(payload_with(R"("PG":"T12345",)", "")), OcmfError::kPaginationInvalid);
  for (const char* pg : {"X12", "T", "T012", "T-1", "T99999999999999999999", "T1a", "t1"})
    EXPECT_OCMF_ERROR(record(payload_with("\"T12345\"", std::string("\"") + pg + "\"")),
                      OcmfError::kPaginationInvalid);
  EXPECT_OCMF_ERROR(
      record(R"({"PG":"T1","RD":[{"TM":"2021-10-26T10:20:52,000+0200 S","ST":"G"}]})"),
      OcmfError::kMissingIdentity);
  EXPECT_OCMF_ERROR(
      record(
          R"({"GS":"","MS":"","PG":"T1","RD":[{"TM":"2021-10-26T10:20:52,000+0200 S","ST":"G"}]})"),
      OcmfError::kMissingIdentity);
}

TEST(OcmfErrors, Readings) {
  EXPECT_OCMF_ERROR(record(R"({"GS":"x","PG":"T1"})"), OcmfError::kNoReadings);
  EXPECT_OCMF_ERROR(record(R"({"GS":"x","PG":"T1","RD":[]})"), OcmfError::kNoReadings);
  EXPECT_OCMF_ERROR(record(R"({"GS":"x","PG":"T1","RD":[1]})"), OcmfError::kReadingNotObject);
  EXPECT_OCMF_ERROR(record(R"({"GS":"x","PG":"T1","RD":[[]]})"), OcmfError::kReadingNotObject);
  EXPECT_OCMF_ERROR(record(R"({"GS":"x","PG":"T1","RD":[{"ST":"G"}]})"), OcmfError::kTimeMissing);
  EXPECT_OCMF_ERROR(
      record(R"({"GS":"x","PG":"T1","RD":[{"TM":"2021-10-26T10:20:52,000+0200 S"}]})"),
      OcmfError::kStatusMissing);
  for (const char* tm : {"2018-07-24 13:22:04,000+0200 S", "2018-02-30T13:22:04,000+0200 S",
                         "2018-13-24T13:22:04,000+0200 S", "2018-07-24T24:22:04,000+0200 S",
                         "2018-07-24T13:60:04,000+0200 S", "2018-07-24T13:22:60,000+0200 S",
                         "2018-07-24T13:22:04.000+0200 S", "2018-07-24T13:22:04,00+0200 S",
                         "2018-07-24T13:22:04,000Z S", "2018-07-24T13:22:04,000+1500 S",
                         "2018-07-24T13:22:04,000+0260 S", "2018-07-24T13:22:04,000+0200S",
                         "1969-12-31T23:59:59,000+0000 S", "2262-01-01T00:00:00,000+0000 S",
                         "2O18-07-24T13:22:04,000+0200 S"})
    EXPECT_OCMF_ERROR(record(payload_with("2018-07-24T13:22:04,000+0200 S", tm)),
                      OcmfError::kTimeInvalid);
  EXPECT_OCMF_ERROR(
      record(payload_with("2018-07-24T13:22:04,000+0200 S", "2018-07-24T13:22:04,000+0200 X")),
      OcmfError::kTimeStatusInvalid);
  // Leap day is valid.
  OcmfRecord r;
  EXPECT_EQ(parse(record(payload_with("2018-07-24T13:22:04,000+0200 S",
                                      "2020-02-29T13:22:04,000-0130 U")),
                  r),
            OcmfError::kNone);
  EXPECT_EQ(r.readings[0].tz_offset_min, -90);
  for (const char* tx : {"Q", "BE", "", "b"})
    EXPECT_OCMF_ERROR(record(payload_with("\"TX\":\"B\"", std::string("\"TX\":\"") + tx + "\"")),
                      OcmfError::kTxInvalid);
  for (const char* st : {"Z", "GG", "", "g"})
    EXPECT_OCMF_ERROR(record(payload_with("\"ST\":\"G\"", std::string("\"ST\":\"") + st + "\"")),
                      OcmfError::kStatusInvalid);
  EXPECT_OCMF_ERROR(
      record(
          R"({"GS":"x","PG":"T1","RD":[{"TM":"2021-10-26T10:20:52,000+0200 S","RV":1,"ST":"G"}]})"),
      OcmfError::kUnitMissing);
  EXPECT_OCMF_ERROR(record(payload_with("\"EF\":\"\"", "\"EF\":\"X\"")),
                    OcmfError::kErrorFlagsInvalid);
}

TEST(OcmfErrors, Signature) {
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SA":"ECDSA-secp256r1-SHA256"})"),
                    OcmfError::kSignatureMissing);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":""})"), OcmfError::kSignatureMissing);
  for (const char* sa : {"ECDSA-secp521r1-SHA256", "RSA-SHA256", "ECDSA-secp256r1-SHA512",
                         "ecdsa-secp256r1-sha256", ""})
    EXPECT_OCMF_ERROR(
        record(kPayload, std::string(R"({"SA":")") + sa + R"(","SD":")" + der_hex32() + "\"}"),
        OcmfError::kUnknownAlgorithm);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SE":"base32","SD":")" + der_hex32() + "\"}"),
                    OcmfError::kUnknownEncoding);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SM":"application/pkcs7","SD":")" + der_hex32() + "\"}"),
                    OcmfError::kUnknownMimeType);
  for (const char* sd : {"zz", "304", "30 44", "0x3044"})
    EXPECT_OCMF_ERROR(record(kPayload, std::string(R"({"SD":")") + sd + "\"}"),
                      OcmfError::kSignatureEncoding);
  for (const char* sd : {"MEUCIQ", "MEUC====", "ME*C"})
    EXPECT_OCMF_ERROR(record(kPayload, std::string(R"({"SE":"base64","SD":")") + sd + "\"}"),
                      OcmfError::kSignatureEncoding);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":")" + std::string(400, 'a') + "\"}"),
                    OcmfError::kSignatureEncoding);  // longer than any DER signature
  // 64 raw bytes instead of DER (seen in a published sample).
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":")" + std::string(128, 'E') + "\"}"),
                    OcmfError::kSignatureDer);
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":")" + der_hex32() + "00\"}"),
                    OcmfError::kSignatureDer);
  // 48-byte integers do not fit a P-256 signature.
  const std::string der48 =
      "3064"
      "0230" +
      std::string(96, '3') + "0230" + std::string(96, '4');
  EXPECT_OCMF_ERROR(record(kPayload, R"({"SD":")" + der48 + "\"}"), OcmfError::kSignatureDer);
}

TEST(OcmfErrors, NamesAreStable) {
  EXPECT_EQ(ocmf_error_name(OcmfError::kPaginationInvalid), "ocmf.pagination_invalid");
  EXPECT_EQ(ocmf_error_name(OcmfError::kSignatureDer), "ocmf.signature_der_invalid");
  // Every code has its own name.
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(OcmfError::kInternalLimit); ++i)
    names.insert(ocmf_error_name(static_cast<OcmfError>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(OcmfError::kInternalLimit) + 1);
}

}  // namespace
}  // namespace assay::formats
