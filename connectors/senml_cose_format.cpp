#include "connectors/senml_cose_format.hpp"

#include <cstdio>
#include <limits>

#include "connectors/format_rows.hpp"
#include "engine/bytes.hpp"
#include "engine/pipeline.hpp"
#include "schemas/reading_generated.h"

namespace assay::connectors {

using engine::Batch;
using engine::RejectCode;
using formats::CoseAlgorithm;
using formats::CoseError;
using formats::CoseMessage;
using formats::SenmlError;
using formats::SenmlPack;
using formats::SenmlRecord;
using formats::SenmlValueKind;

namespace {

wire::SignatureAlg wire_alg(CoseAlgorithm a) {
  switch (a) {
    case CoseAlgorithm::kES256:
      return wire::SignatureAlg::EcdsaP256Sha256;
    case CoseAlgorithm::kEdDSA:
      return wire::SignatureAlg::Ed25519;
    case CoseAlgorithm::kHmac256:
      break;
  }
  return wire::SignatureAlg::HmacSha256;
}

std::string number_text(double v) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
}

// The sensor id and quantity of a record under the rule.
void identity(const SenmlRecord& rec, SenmlSensorRule rule, std::string_view key_id,
              std::string_view& sensor, std::string_view& quantity) {
  if (rule == SenmlSensorRule::kKey) {
    sensor = key_id;
    quantity = rec.name;
    return;
  }
  const size_t bn = rec.base_name_size;
  if (bn == 0) {
    sensor = rec.name;
    quantity = {};
    return;
  }
  sensor = rec.name.substr(0, bn);
  if (sensor.size() > 1 && (sensor.back() == ':' || sensor.back() == '/')) sensor.remove_suffix(1);
  quantity = rec.name.substr(bn);
}

// One finished Reading buffer for record `k`, appended to `blob` at an 8-aligned offset.
size_t build_reading(std::vector<uint8_t>& blob, const SenmlRecord& rec, std::string_view sensor,
                     std::string_view quantity) {
  thread_local flatbuffers::FlatBufferBuilder fbb(512);
  fbb.Clear();
  AttrOffsets attrs;
  add_attribute(fbb, attrs, "senml.name", rec.name);
  switch (rec.kind) {
    case SenmlValueKind::kBool:
      add_attribute(fbb, attrs, "senml.vb", rec.bool_value ? "true" : "false");
      break;
    case SenmlValueKind::kString:
      add_attribute(fbb, attrs, "senml.vs", rec.string_value);
      break;
    case SenmlValueKind::kData:
      add_attribute(fbb, attrs, "senml.vd", engine::to_hex(rec.data_value));
      break;
    case SenmlValueKind::kNumber:
    case SenmlValueKind::kSumOnly:
      break;
  }
  if (rec.has_sum) add_attribute(fbb, attrs, "senml.s", number_text(rec.sum));
  if (rec.has_update_time) add_attribute(fbb, attrs, "senml.ut", number_text(rec.update_time));
  const auto sid = fbb.CreateString(sensor.data(), sensor.size());
  const auto q = fbb.CreateString(quantity.data(), quantity.size());
  const auto unit = fbb.CreateString(rec.unit.data(), rec.unit.size());
  const auto av = fbb.CreateVector(attrs);
  wire::ReadingBuilder b(fbb);
  b.add_sensor_id(sid);
  // seq: the time (SenML has no counter; the frame is marked unsequenced, docs/senml-cose.md).
  b.add_seq(static_cast<uint64_t>(rec.time_ns));
  b.add_time_ns(rec.time_ns);
  b.add_quantity(q);
  b.add_unit(unit);
  b.add_value(rec.value);
  b.add_attributes(av);
  wire::FinishReadingBuffer(fbb, b.Finish());
  return append_finished(blob, fbb);
}

bool printable(std::span<const uint8_t> kid) {
  for (uint8_t c : kid)
    if (c < 0x21 || c > 0x7e) return false;
  return !kid.empty();
}

}  // namespace

std::string_view senml_cose_key_id(std::span<const uint8_t> kid, std::string_view prefix,
                                   std::string& buf) {
  buf.assign(prefix);
  if (printable(kid)) {
    buf.append(reinterpret_cast<const char*>(kid.data()), kid.size());
  } else {
    buf += "hex:";
    buf += engine::to_hex(kid);
  }
  return buf;
}

RejectCode cose_reject_code(CoseError e) {
  if (e == CoseError::kNone) return RejectCode::kNone;
  return static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kCoseTooLarge) +
                                 static_cast<uint16_t>(e) - 1);
}

RejectCode senml_reject_code(SenmlError e) {
  if (e == SenmlError::kNone) return RejectCode::kNone;
  return static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kSenmlTooLarge) +
                                 static_cast<uint16_t>(e) - 1);
}

SenmlCoseFormat::SenmlCoseFormat(SenmlCoseFormatOptions options) : options_(std::move(options)) {}

void SenmlCoseFormat::decode(Batch& b, uint32_t f) const {
  engine::Frame& fr = b.frames[f];
  fr.kind = engine::RecordKind::kForeign;
  fr.sequenced = false;
  auto reject = [&](RejectCode code) {
    b.reject_row(b.add_row(f, 0, nullptr), code, engine::kDecodeStage);
  };
  CoseMessage msg;
  const CoseError ce = formats::parse_cose(b.frame_bytes(f), options_.cose, msg);
  if (ce != CoseError::kNone) return reject(cose_reject_code(ce));
  bool json = false;
  if (!formats::senml_payload_is_json(msg, json))
    return reject(RejectCode::kCoseContentTypeUnsupported);
  thread_local SenmlPack pack;
  const SenmlError se = json ? formats::parse_senml_json(msg.payload, options_.senml, pack)
                             : formats::parse_senml_cbor(msg.payload, options_.senml, pack);
  if (se != SenmlError::kNone) return reject(senml_reject_code(se));
  if (pack.records.size() > b.max_readings_per_record) return reject(RejectCode::kTooManyReadings);

  thread_local std::string id;
  senml_cose_key_id(msg.kid, options_.id_prefix, id);
  // One buffer per record: the key id, the To-Be-Signed bytes, then the readings (8-aligned).
  const size_t tbs_size = formats::cose_to_be_signed_size(msg);
  std::vector<uint8_t> blob;
  blob.reserve(id.size() + tbs_size + 8 + pack.records.size() * 256);
  blob.insert(blob.end(), id.begin(), id.end());
  const size_t tbs_at = blob.size();
  blob.resize(tbs_at + tbs_size);
  if (formats::cose_build_to_be_signed(msg, {blob.data() + tbs_at, tbs_size}) != tbs_size)
    return reject(RejectCode::kCoseTooLarge);  // not reached: the size was computed above
  thread_local std::vector<size_t> at;
  at.resize(pack.records.size());
  for (size_t k = 0; k < pack.records.size(); ++k) {
    std::string_view sensor, quantity;
    identity(pack.records[k], options_.sensor, id, sensor, quantity);
    at[k] = build_reading(blob, pack.records[k], sensor, quantity);
  }
  const std::vector<uint8_t>& kept = add_record_rows(b, f, std::move(blob), at);
  fr.signed_bytes = {kept.data() + tbs_at, tbs_size};
  fr.key_id = std::string_view(reinterpret_cast<const char*>(kept.data()), id.size());
  fr.signature = msg.signature;  // a view into the frame
  fr.alg = static_cast<uint8_t>(wire_alg(msg.algorithm));
  fr.signature_der = false;
}

std::unique_ptr<engine::InputFormat> SenmlCoseFormat::from_config(const engine::ConfigNode& input,
                                                                  engine::BuildContext& ctx) {
  SenmlCoseFormatOptions o;
  if (auto n = input.maybe("senml_cose")) {
    o.id_prefix = n->get_string("id_prefix", "");
    if (auto s = n->maybe("sensor")) {
      const std::string v = s->as_string();
      if (v == "base_name") {
        o.sensor = SenmlSensorRule::kBaseName;
      } else if (v == "key") {
        o.sensor = SenmlSensorRule::kKey;
      } else {
        s->fail("sensor must be base_name or key, not '" + v + "'");
      }
    }
    o.cose.require_tag = n->get_bool("require_tag", o.cose.require_tag);
    o.cose.max_message_bytes = static_cast<size_t>(n->get_int(
        "max_message_bytes", static_cast<int64_t>(o.cose.max_message_bytes), 64, 1 << 20));
    o.senml.max_pack_bytes = o.cose.max_message_bytes;
    o.senml.max_records = static_cast<size_t>(
        n->get_int("max_records", static_cast<int64_t>(o.senml.max_records), 1, 4096));
    o.senml.accept_non_numeric = n->get_bool("accept_non_numeric", o.senml.accept_non_numeric);
    n->finish();
  }
  (void)ctx;
  return std::make_unique<SenmlCoseFormat>(std::move(o));
}

}  // namespace assay::connectors
