#include "connectors/ocmf_format.hpp"

#include <cmath>
#include <limits>

#include "connectors/format_rows.hpp"
#include "engine/pipeline.hpp"
#include "schemas/reading_generated.h"

namespace assay::connectors {

using engine::Batch;
using engine::RejectCode;
using formats::OcmfAlgorithm;
using formats::OcmfError;
using formats::OcmfRecord;

namespace {

// The wire algorithm of an OCMF SA (SHA-256 on every curve); false if Assay cannot verify it.
bool wire_alg(OcmfAlgorithm a, wire::SignatureAlg& out) {
  switch (a) {
    case OcmfAlgorithm::kSecp256r1Sha256:
      out = wire::SignatureAlg::EcdsaP256Sha256;
      return true;
    case OcmfAlgorithm::kBrainpoolP256r1Sha256:
      out = wire::SignatureAlg::EcdsaBrainpoolP256r1Sha256;
      return true;
    case OcmfAlgorithm::kSecp384r1Sha256:
      out = wire::SignatureAlg::EcdsaP384Sha256;
      return true;
    case OcmfAlgorithm::kBrainpoolP384r1Sha256:
      out = wire::SignatureAlg::EcdsaBrainpoolP384r1Sha256;
      return true;
    default:
      return false;  // secp256k1, the legacy 192-bit curves
  }
}

// The measured quantity named by an OCMF unit.
std::string_view quantity_of(std::string_view unit) {
  if (unit == "kWh" || unit == "Wh") return "energy";
  if (unit == "mOhm" || unit == "uOhm") return "resistance";
  return "ocmf";
}

std::string_view section_prefix(formats::OcmfSection s) {
  switch (s) {
    case formats::OcmfSection::kPayload:
      return "ocmf.";
    case formats::OcmfSection::kReading:
      return "ocmf.RD.";
    case formats::OcmfSection::kLossCompensation:
      return "ocmf.LC.";
    case formats::OcmfSection::kSignature:
      return "ocmf.S.";
  }
  return "ocmf.";
}

void attr(flatbuffers::FlatBufferBuilder& fbb, AttrOffsets& out, std::string_view key,
          std::string_view value) {
  if (!value.empty()) add_attribute(fbb, out, key, value);
}

// The record-level attributes (the same on every reading of the record).
void record_attrs(flatbuffers::FlatBufferBuilder& fbb, AttrOffsets& out, const OcmfRecord& r) {
  const char pg[2] = {r.pagination_context, 0};
  attr(fbb, out, "ocmf.PG", std::string(pg) + std::to_string(r.pagination));
  attr(fbb, out, "ocmf.FV", r.format_version);
  attr(fbb, out, "ocmf.GI", r.gateway_id);
  attr(fbb, out, "ocmf.GS", r.gateway_serial);
  attr(fbb, out, "ocmf.GV", r.gateway_version);
  attr(fbb, out, "ocmf.MV", r.meter_vendor);
  attr(fbb, out, "ocmf.MM", r.meter_model);
  attr(fbb, out, "ocmf.MS", r.meter_serial);
  attr(fbb, out, "ocmf.MF", r.meter_firmware);
  if (r.has_identification_status)
    attr(fbb, out, "ocmf.IS", r.identification_status ? "true" : "false");
  attr(fbb, out, "ocmf.IL", r.identification_level);
  std::string flags;
  for (std::string_view f : r.identification_flags) {
    if (!flags.empty()) flags += ',';
    flags += f;
  }
  attr(fbb, out, "ocmf.IF", flags);
  attr(fbb, out, "ocmf.IT", r.identification_type);
  attr(fbb, out, "ocmf.ID", r.identification_data);
  attr(fbb, out, "ocmf.TT", r.tariff_text);
  attr(fbb, out, "ocmf.CF", r.charge_controller_firmware);
  if (r.has_loss_compensation) {
    attr(fbb, out, "ocmf.LC.LN", r.loss_name);
    attr(fbb, out, "ocmf.LC.LI", r.loss_id);
    attr(fbb, out, "ocmf.LC.LR", r.loss_resistance_text);
    attr(fbb, out, "ocmf.LC.LU", r.loss_unit);
  }
  attr(fbb, out, "ocmf.CT", r.charge_point_id_type);
  attr(fbb, out, "ocmf.CI", r.charge_point_id);
  attr(fbb, out, "ocmf.SA", formats::ocmf_algorithm_name(r.algorithm));
}

// One finished Reading buffer for RD entry `k`, appended to `blob` at an 8-aligned offset.
// Returns the offset.
size_t build_reading(std::vector<uint8_t>& blob, const OcmfRecord& r, uint32_t k,
                     std::string_view sensor) {
  thread_local flatbuffers::FlatBufferBuilder fbb(1024);
  fbb.Clear();
  const formats::OcmfReading& rd = r.readings[k];
  AttrOffsets attrs;
  const char status[2] = {static_cast<char>(rd.time_status), 0};
  attr(fbb, attrs, "ocmf.TM", rd.time_text);
  attr(fbb, attrs, "ocmf.time_status", status);
  const char tx[2] = {static_cast<char>(rd.tx), 0};
  attr(fbb, attrs, "ocmf.TX", tx);
  attr(fbb, attrs, "ocmf.RV", rd.value_text);
  attr(fbb, attrs, "ocmf.RI", rd.obis);
  attr(fbb, attrs, "ocmf.RU", rd.unit);
  attr(fbb, attrs, "ocmf.RT", rd.current_type);
  if (rd.has_cumulated_loss) attr(fbb, attrs, "ocmf.CL", rd.cumulated_loss_text);
  attr(fbb, attrs, "ocmf.EF", rd.error_flags);
  const char st[2] = {rd.status, 0};
  attr(fbb, attrs, "ocmf.ST", st);
  record_attrs(fbb, attrs, r);
  for (const formats::OcmfExtra& e : r.extras) {
    if (e.section == formats::OcmfSection::kReading && e.reading != k) continue;
    attr(fbb, attrs, std::string(section_prefix(e.section)) + std::string(e.key), e.value);
  }
  const auto sid = fbb.CreateString(sensor.data(), sensor.size());
  const std::string_view q = quantity_of(rd.unit);
  const auto quantity = fbb.CreateString(q.data(), q.size());
  const std::string_view u = formats::ocmf_unit_to_ucum(rd.unit);
  const auto unit = fbb.CreateString(u.data(), u.size());
  const auto av = fbb.CreateVector(attrs);
  wire::ReadingBuilder b(fbb);
  b.add_sensor_id(sid);
  // seq: the pagination counter and the reading's index (docs/ocmf.md).
  b.add_seq((r.pagination << 8) | (k & 0xffu));
  b.add_time_ns(rd.time_ns);
  b.add_quantity(quantity);
  b.add_unit(unit);
  b.add_value(rd.has_value ? rd.value : std::numeric_limits<double>::quiet_NaN());
  b.add_attributes(av);
  wire::FinishReadingBuffer(fbb, b.Finish());
  return append_finished(blob, fbb);
}

}  // namespace

std::string_view ocmf_identity(const OcmfRecord& r, std::string_view prefix, std::string& buf) {
  std::string id;
  formats::ocmf_signer_id(r, id);
  buf.assign(prefix);
  buf += id;
  return buf;
}

RejectCode ocmf_reject_code(OcmfError e) {
  if (e == OcmfError::kNone) return RejectCode::kNone;
  return static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kOcmfTooLarge) +
                                 static_cast<uint16_t>(e) - 1);
}

OcmfFormat::OcmfFormat(OcmfFormatOptions options) : options_(std::move(options)) {
  options_.parse.allow_legacy_curves = false;  // never verifiable: refused with its reason
}

void OcmfFormat::decode(Batch& b, uint32_t f) const {
  engine::Frame& fr = b.frames[f];
  fr.kind = engine::RecordKind::kForeign;
  auto reject = [&](RejectCode code) {
    b.reject_row(b.add_row(f, 0, nullptr), code, engine::kDecodeStage);
  };
  thread_local OcmfRecord rec;
  const OcmfError e = formats::parse_ocmf(b.frame_bytes(f), options_.parse, rec);
  if (e != OcmfError::kNone) return reject(ocmf_reject_code(e));
  wire::SignatureAlg alg{};
  if (!wire_alg(rec.algorithm, alg)) return reject(RejectCode::kOcmfUnsupportedAlgorithm);
  if (rec.readings.size() > b.max_readings_per_record) return reject(RejectCode::kTooManyReadings);
  thread_local std::string id;
  ocmf_identity(rec, options_.id_prefix, id);
  // One buffer per record: the key id, r‖s, then the readings (8-aligned).
  std::vector<uint8_t> blob;
  blob.reserve(id.size() + 96 + rec.readings.size() * 768);
  blob.insert(blob.end(), id.begin(), id.end());
  const std::span<const uint8_t> rs = rec.signature_raw();
  const size_t rs_at = blob.size();
  blob.insert(blob.end(), rs.begin(), rs.end());
  thread_local std::vector<size_t> at;
  at.resize(rec.readings.size());
  for (uint32_t k = 0; k < rec.readings.size(); ++k) at[k] = build_reading(blob, rec, k, id);
  const std::vector<uint8_t>& kept = add_record_rows(b, f, std::move(blob), at);
  fr.signed_bytes = rec.payload;  // a view into the frame: the signed bytes
  fr.key_id = std::string_view(reinterpret_cast<const char*>(kept.data()), id.size());
  fr.signature = {kept.data() + rs_at, rs.size()};
  fr.alg = static_cast<uint8_t>(alg);
  fr.signature_der = false;
}

std::unique_ptr<engine::InputFormat> OcmfFormat::from_config(const engine::ConfigNode& input,
                                                             engine::BuildContext& ctx) {
  OcmfFormatOptions o;
  if (auto n = input.maybe("ocmf")) {
    o.id_prefix = n->get_string("id_prefix", "");
    o.parse.lenient_types = n->get_bool("lenient_types", true);
    o.parse.max_record_bytes = static_cast<size_t>(n->get_int(
        "max_record_bytes", static_cast<int64_t>(o.parse.max_record_bytes), 64, 1 << 20));
    o.parse.max_readings = static_cast<size_t>(
        n->get_int("max_readings", static_cast<int64_t>(o.parse.max_readings), 1, 4096));
    n->finish();
  }
  (void)ctx;
  return std::make_unique<OcmfFormat>(std::move(o));
}

}  // namespace assay::connectors
