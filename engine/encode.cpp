#include "engine/encode.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <span>
#include <unordered_map>
#include <unordered_set>

#include "crypto/sha256.hpp"
#include "engine/provenance_chain.hpp"
#include "engine/released_reading.hpp"
#include "engine/version.hpp"
#include "schemas/alert_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::engine {
namespace {

flatbuffers::FlatBufferBuilder& builder() {
  thread_local flatbuffers::FlatBufferBuilder fbb(4096);
  fbb.Clear();
  return fbb;
}

void emit(Batch& b, flatbuffers::FlatBufferBuilder& fbb, Route route, uint32_t frame, uint32_t row,
          RejectCode reason, size_t headroom = 0) {
  // Keep every output 8-byte aligned in the arena so consumers can read it in place.
  const size_t start = ((b.out_arena.size() + 7) & ~size_t{7}) + headroom;
  b.out_arena.resize(start + fbb.GetSize());
  std::memcpy(b.out_arena.data() + start, fbb.GetBufferPointer(), fbb.GetSize());
  b.outputs.push_back(OutputRecord{route, frame, static_cast<uint32_t>(start),
                                   static_cast<uint32_t>(fbb.GetSize()), row, reason});
}

// `s` where the output already holds it: a FlatBuffers string inside the signed input `bytes`,
// which the output carries as its signed_bytes vector `vec`, is referred to there rather than
// written twice (a field may refer to any properly aligned, terminated string inside the
// buffer; every reader sees the same value). Otherwise a new string.
flatbuffers::Offset<flatbuffers::String> string_in(
    flatbuffers::FlatBufferBuilder& fbb, std::span<const uint8_t> bytes,
    flatbuffers::Offset<flatbuffers::Vector<uint8_t>> vec, std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const auto addr = reinterpret_cast<uintptr_t>(p);
  const auto begin = reinterpret_cast<uintptr_t>(bytes.data());
  if (!vec.IsNull() && addr >= begin + 4 && addr + s.size() < begin + bytes.size()) {
    const size_t at = static_cast<size_t>(p - bytes.data()) - 4;  // its length prefix
    // The vector's data is 8-byte aligned in the output (ForceVectorAlignment below), so a
    // string 4-aligned inside the input is 4-aligned in the output.
    if (at % 4 == 0 && flatbuffers::ReadScalar<uint32_t>(p - 4) == s.size() && p[s.size()] == 0)
      // Builder offsets count from the end of the buffer; the data starts 4 bytes after vec.
      return flatbuffers::Offset<flatbuffers::String>(vec.o - 4 - static_cast<uint32_t>(at));
  }
  return fbb.CreateString(s.data(), s.size());
}

// The group fields of a grouped TrustedReading (docs/wire-contract.md "Grouped trusted
// records"): the readings' indexes, and per reading only the fields whose values differ.
struct GroupParts {
  flatbuffers::Offset<flatbuffers::Vector<uint32_t>> indexes = 0;
  flatbuffers::Offset<flatbuffers::Vector<wire::SignatureVerdict>> signature = 0;
  flatbuffers::Offset<flatbuffers::Vector<wire::CalibrationVerdict>> calibration = 0;
  flatbuffers::Offset<flatbuffers::Vector<wire::DriftLevel>> drift = 0;
  flatbuffers::Offset<flatbuffers::Vector<double>> drift_stat = 0;
  flatbuffers::Offset<flatbuffers::Vector<wire::AnomalyFlag>> anomaly = 0;
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<flatbuffers::String>>> certs = 0;
  flatbuffers::Offset<flatbuffers::Vector<double>> corrected = 0, uncertainty = 0, coverage = 0;
  bool mixed = false;  // the readings' verdicts differ
};

// A row column's values over `rows` as the wire type T, or nothing when they are all equal.
template <typename T, typename Col>
flatbuffers::Offset<flatbuffers::Vector<T>> differing(flatbuffers::FlatBufferBuilder& fbb,
                                                      const Col& col,
                                                      std::span<const uint32_t> rows) {
  bool differ = false;
  for (uint32_t r : rows) differ = differ || !(col[r] == col[rows.front()]);
  if (!differ) return 0;
  thread_local std::vector<T> v;
  v.clear();
  for (uint32_t r : rows) v.push_back(static_cast<T>(col[r]));
  return fbb.CreateVector(v);
}

GroupParts encode_group(flatbuffers::FlatBufferBuilder& fbb, const Batch& b,
                        std::span<const uint32_t> rows) {
  GroupParts g;
  thread_local std::vector<uint32_t> idx;
  idx.clear();
  for (uint32_t r : rows) idx.push_back(b.row_index[r]);
  g.indexes = fbb.CreateVector(idx);
  g.signature = differing<wire::SignatureVerdict>(fbb, b.row_signature, rows);
  g.calibration = differing<wire::CalibrationVerdict>(fbb, b.row_calibration, rows);
  g.drift = differing<wire::DriftLevel>(fbb, b.row_drift, rows);
  g.anomaly = differing<wire::AnomalyFlag>(fbb, b.row_anomaly, rows);
  g.mixed =
      !g.signature.IsNull() || !g.calibration.IsNull() || !g.drift.IsNull() || !g.anomaly.IsNull();
  // Bitwise, so that a NaN statistic is written rather than compared.
  bool stats_differ = false;
  for (uint32_t r : rows)
    stats_differ = stats_differ || std::memcmp(&b.row_drift_stat[r],
                                               &b.row_drift_stat[rows.front()], sizeof(double));
  if (stats_differ) {
    thread_local std::vector<double> v;
    v.clear();
    for (uint32_t r : rows) v.push_back(b.row_drift_stat[r]);
    g.drift_stat = fbb.CreateVector(v);
  }
  bool certs_differ = false;
  for (uint32_t r : rows) certs_differ = certs_differ || b.row_cert_id[r] != b.row_cert_id[rows[0]];
  if (certs_differ) {
    thread_local std::vector<flatbuffers::Offset<flatbuffers::String>> v;
    v.clear();
    for (uint32_t r : rows) v.push_back(fbb.CreateSharedString(b.row_cert_id[r]));
    g.certs = fbb.CreateVector(v);
  }
  bool corrected = false;
  for (uint32_t r : rows) corrected = corrected || b.row_calibration[r] != 0;
  if (corrected) {  // as encode_trusted writes them for each reading
    thread_local std::vector<double> value, unc, k;
    value.clear();
    unc.clear();
    k.clear();
    for (uint32_t r : rows) {
      const bool cal = b.row_calibration[r] != 0;
      value.push_back(cal ? b.row_corrected[r] : b.row_reading[r]->value());
      unc.push_back(cal ? b.row_expanded_unc[r] : 2.0 * b.row_reading[r]->std_uncertainty());
      k.push_back(cal ? b.row_coverage[r] : 2.0);
    }
    g.corrected = fbb.CreateVector(value);
    g.uncertainty = fbb.CreateVector(unc);
    g.coverage = fbb.CreateVector(k);
  }
  return g;
}

// `carried`: the SHA-256 of the input record's bytes when an earlier TrustedReading of this
// input record and sensor carries them (SignedBytesAt::Carrier); null: this one carries them.
// `group`: the rows a grouped record stands for (the first is r), or empty for a record of
// row r alone.
void encode_trusted(Batch& b, uint32_t r, const EncodeContext& ctx,
                    const std::array<uint8_t, 32>* carried, std::span<const uint32_t> group = {}) {
  auto& fbb = builder();
  const uint32_t f = b.row_frame[r];
  const wire::Reading* rd = b.row_reading[r];
  const auto bytes = b.frame_bytes(f);
  // Privacy rules applied: the released reading replaces the raw signed bytes.
  const auto edits = b.privacy_of_frame(f);
  const ReleasedParts released =
      edits.empty() ? ReleasedParts{} : encode_released(fbb, b, r, edits);
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> signed_bytes = 0;
  flatbuffers::Offset<flatbuffers::Vector<uint8_t>> carrier_sha = 0;
  if (edits.empty() && carried != nullptr) {
    carrier_sha = fbb.CreateVector(carried->data(), carried->size());
  } else if (edits.empty()) {
    fbb.ForceVectorAlignment(bytes.size(), 1, 8);
    signed_bytes = fbb.CreateVector(bytes.data(), bytes.size());
  }
  const auto sensor = string_in(fbb, bytes, signed_bytes, b.row_key(r));
  const auto topic = fbb.CreateString(b.topic);
  const auto pname = fbb.CreateString(ctx.pipeline.name);
  const auto sha = fbb.CreateVector(ctx.pipeline.config_sha256);
  const auto version = fbb.CreateString(kVersion);
  const auto build = fbb.CreateString(kBuildId);
  const auto instance = fbb.CreateString(ctx.pipeline.instance_id);
  const std::string_view key_id = b.frames[f].key_id;  // the envelope, decoded once
  const auto key = key_id.data() != nullptr ? string_in(fbb, bytes, signed_bytes, key_id)
                                            : flatbuffers::Offset<flatbuffers::String>();
  const auto cert = b.row_cert_id[r].empty() ? 0 : fbb.CreateString(b.row_cert_id[r]);
  static constexpr uint8_t kZeroHash[32] = {};
  const auto prev_hash = ctx.chain_fields ? fbb.CreateVector(kZeroHash, 32) : 0;
  const auto rec_hash = ctx.chain_fields ? fbb.CreateVector(kZeroHash, 32) : 0;
  // Fields are added widest first, so that the tables need no alignment padding.
  wire::ProvenanceBuilder pb(fbb);
  pb.add_source_offset(b.frames[f].source_offset.value());
  pb.add_processing_time_ns(ctx.now_ns);
  if (ctx.chain_fields) {  // patched in place by the provenance operator's seal()
    fbb.ForceDefaults(true);
    pb.add_chain_index(0);
    fbb.ForceDefaults(false);
    pb.add_prev_record_hash(prev_hash);
    pb.add_record_hash(rec_hash);
  }
  pb.add_source_topic(topic);
  pb.add_source_partition(b.partition.value());
  pb.add_pipeline_name(pname);
  pb.add_config_sha256(sha);
  pb.add_engine_version(version);
  pb.add_engine_build(build);
  pb.add_instance_id(instance);
  if (!key.IsNull()) pb.add_key_id(key);
  if (!cert.IsNull()) pb.add_calibration_certificate_id(cert);
  if (ctx.chain_fields) pb.add_chain_version(2);  // provenance chain format v2
  const auto prov = pb.Finish();
  const GroupParts grp = group.size() > 1 ? encode_group(fbb, b, group) : GroupParts{};
  const bool calibrated = b.row_calibration[r] != 0;
  wire::TrustedReadingBuilder tb(fbb);
  tb.add_seq(rd->seq());
  tb.add_drift_statistic(b.row_drift_stat[r]);
  tb.add_corrected_value(calibrated ? b.row_corrected[r] : rd->value());
  tb.add_expanded_uncertainty(calibrated ? b.row_expanded_unc[r] : 2.0 * rd->std_uncertainty());
  tb.add_coverage_factor(calibrated ? b.row_coverage[r] : 2.0);
  if (edits.empty() && carried == nullptr) tb.add_signed_bytes(signed_bytes);
  if (!carrier_sha.IsNull()) tb.add_signed_bytes_sha256(carrier_sha);
  tb.add_reading_index(b.row_index[r]);
  tb.add_sensor_id(sensor);
  tb.add_anomaly_flags(static_cast<wire::AnomalyFlag>(b.row_anomaly[r]));
  tb.add_provenance(prov);
  if (!edits.empty()) {
    tb.add_reading(released.reading);
    tb.add_privacy_rules(released.rules);
    tb.add_signed_bytes_sha256(released.signed_bytes_sha256);
  }
  tb.add_signature_verdict(static_cast<wire::SignatureVerdict>(b.row_signature[r]));
  tb.add_calibration_verdict(static_cast<wire::CalibrationVerdict>(b.row_calibration[r]));
  tb.add_drift_level(static_cast<wire::DriftLevel>(b.row_drift[r]));
  if (!carrier_sha.IsNull()) tb.add_signed_bytes_at(wire::SignedBytesAt::Carrier);
  if (!grp.indexes.IsNull()) {
    tb.add_group_reading_indexes(grp.indexes);
    if (!grp.signature.IsNull()) tb.add_group_signature_verdicts(grp.signature);
    if (!grp.calibration.IsNull()) tb.add_group_calibration_verdicts(grp.calibration);
    if (!grp.drift.IsNull()) tb.add_group_drift_levels(grp.drift);
    if (!grp.drift_stat.IsNull()) tb.add_group_drift_statistics(grp.drift_stat);
    if (!grp.anomaly.IsNull()) tb.add_group_anomaly_flags(grp.anomaly);
    if (!grp.certs.IsNull()) tb.add_group_calibration_certificate_ids(grp.certs);
    if (!grp.corrected.IsNull()) {
      tb.add_group_corrected_values(grp.corrected);
      tb.add_group_expanded_uncertainties(grp.uncertainty);
      tb.add_group_coverage_factors(grp.coverage);
    }
  }
  wire::FinishTrustedReadingBuffer(fbb, tb.Finish());
  emit(b, fbb, Route::kTrusted, f, r, RejectCode::kNone, ctx.chain_fields ? kChainHeadroom : 0);
  if (group.size() > 1) {
    b.outputs.back().readings = static_cast<uint32_t>(group.size());
    b.outputs.back().mixed = grp.mixed;
  }
}

// engine.trusted_records: grouped: the trusted rows of [first, end) by sensor, in order of each
// sensor's first reading, a sensor's rows in reading order; one TrustedReading per sensor.
void encode_trusted_grouped(Batch& b, std::span<const uint32_t> trusted, const EncodeContext& ctx) {
  thread_local std::vector<std::string_view> keys;                  // group id -> sensor
  thread_local std::unordered_map<std::string_view, uint32_t> ids;  // beyond 32 sensors
  thread_local std::vector<uint32_t> gid, start, rows;
  keys.clear();
  if (!ids.empty()) ids.clear();
  gid.clear();
  for (uint32_t r : trusted) {
    const std::string_view key = b.row_key(r);
    uint32_t id = UINT32_MAX;
    if (keys.size() <= 32) {
      const auto it = std::find(keys.begin(), keys.end(), key);
      if (it != keys.end()) id = static_cast<uint32_t>(it - keys.begin());
    } else if (const auto it = ids.find(key); it != ids.end()) {
      id = it->second;
    }
    if (id == UINT32_MAX) {
      id = static_cast<uint32_t>(keys.size());
      keys.push_back(key);
      if (keys.size() == 33)  // a record of many sensors: from here on by hash
        for (uint32_t i = 0; i < keys.size(); ++i) ids.emplace(keys[i], i);
      else if (keys.size() > 33)
        ids.emplace(key, id);
    }
    gid.push_back(id);
  }
  // Counting sort by group, stable: each group's rows stay in reading order.
  start.assign(keys.size() + 1, 0);
  for (uint32_t id : gid) ++start[id + 1];
  for (size_t i = 1; i < start.size(); ++i) start[i] += start[i - 1];
  rows.resize(trusted.size());
  {
    thread_local std::vector<uint32_t> at;
    at.assign(start.begin(), start.end() - 1);
    for (size_t i = 0; i < trusted.size(); ++i) rows[at[gid[i]]++] = trusted[i];
  }
  for (size_t g = 0; g + 1 < start.size(); ++g) {
    const std::span<const uint32_t> group(rows.data() + start[g], start[g + 1] - start[g]);
    encode_trusted(b, group.front(), ctx, nullptr, group);
  }
}

// One RejectedRecord for `rows` (readings of one input record rejected for `code` at one
// stage): the payload once, the readings it stands for listed.
void encode_rejected(Batch& b, std::span<const uint32_t> rows, RejectCode code,
                     std::string_view stage_name, const EncodeContext& ctx) {
  auto& fbb = builder();
  const uint32_t r = rows.front();
  const uint32_t f = b.row_frame[r];
  const wire::Reading* rd = b.row_reading[r];
  const auto bytes = b.frame_bytes(f);
  const auto reason = fbb.CreateString(reject_code_name(code));
  const auto stage = fbb.CreateString(stage_name.data(), stage_name.size());
  fbb.ForceVectorAlignment(bytes.size(), 1, 8);
  const auto payload = fbb.CreateVector(bytes.data(), bytes.size());
  const auto sensor = rd != nullptr ? fbb.CreateString(rd->sensor_id()) : 0;
  const auto topic = fbb.CreateString(b.topic);
  const auto pname = fbb.CreateString(ctx.pipeline.name);
  flatbuffers::Offset<flatbuffers::Vector<uint32_t>> indexes = 0;
  if (rows.size() > 1) {
    thread_local std::vector<uint32_t> idx;
    idx.clear();
    for (uint32_t row : rows) idx.push_back(b.row_index[row]);
    indexes = fbb.CreateVector(idx);
  }
  wire::RejectedRecordBuilder rb(fbb);
  rb.add_reason(reason);
  rb.add_stage(stage);
  rb.add_payload(payload);
  rb.add_reading_index(b.row_index[r]);
  if (!indexes.IsNull()) rb.add_reading_indexes(indexes);
  if (!sensor.IsNull()) rb.add_sensor_id(sensor);
  if (rd != nullptr) rb.add_seq(rd->seq());
  rb.add_source_topic(topic);
  rb.add_source_partition(b.partition.value());
  rb.add_source_offset(b.frames[f].source_offset.value());
  rb.add_pipeline_name(pname);
  rb.add_processing_time_ns(ctx.now_ns);
  rb.add_signature_verdict(static_cast<wire::SignatureVerdict>(b.row_signature[r]));
  rb.add_calibration_verdict(static_cast<wire::CalibrationVerdict>(b.row_calibration[r]));
  rb.add_anomaly_flags(static_cast<wire::AnomalyFlag>(b.row_anomaly[r]));
  wire::FinishRejectedRecordBuffer(fbb, rb.Finish());
  emit(b, fbb, Route::kRejected, f, r, code);
  b.outputs.back().readings = static_cast<uint32_t>(rows.size());
}

std::string_view stage_name(const Batch& b, uint32_t r, const EncodeContext& ctx) {
  const uint8_t i = b.row_reject_stage[r];
  return i < ctx.stage_names.size() ? std::string_view(ctx.stage_names[i]) : "unknown";
}

// The outputs of the rows [first, end) of one input record: a TrustedReading per trusted row,
// a RejectedRecord per (reason, stage) of its rejected rows. If they outgrow the bound, they
// are replaced by one rejected record (the rows are marked rejected too, for the accounts).
void encode_record(Batch& b, uint32_t first, uint32_t end, const EncodeContext& ctx) {
  const size_t out_start = b.outputs.size(), arena_start = b.out_arena.size();
  thread_local std::vector<uint32_t> rejected, group;
  rejected.clear();
  // engine.signed_bytes: once: the first trusted reading of each sensor carries the record's
  // bytes; the sensor's later readings refer to it (same key: same output partition).
  // The sensors that have their carrier: a short list, and a set beyond 32 sensors (a record
  // may hold thousands of readings of as many sensors; a scan would be quadratic).
  thread_local std::vector<std::string_view> few;
  thread_local std::unordered_set<std::string_view> many;
  few.clear();
  if (!many.empty()) many.clear();
  auto first_of_sensor = [](std::string_view key) {
    if (std::find(few.begin(), few.end(), key) != few.end()) return false;
    if (few.size() < 32) {
      few.push_back(key);
      return true;
    }
    return many.insert(key).second;
  };
  std::array<uint8_t, 32> digest{};
  bool hashed = false;
  const bool several = end - first > 1 && b.privacy_of_frame(b.row_frame[first]).empty();
  const bool once = ctx.signed_bytes_once && several;
  const bool grouped = ctx.grouped && several;
  thread_local std::vector<uint32_t> trusted;
  trusted.clear();
  for (uint32_t r = first; r < end; ++r) {
    if (b.row_reject[r] != RejectCode::kNone) {
      rejected.push_back(r);
      continue;
    }
    if (grouped) {
      trusted.push_back(r);
      continue;
    }
    const std::array<uint8_t, 32>* carried = nullptr;
    if (once) {
      const std::string_view key = b.row_key(r);
      if (!first_of_sensor(key)) {  // not the sensor's first trusted reading (the carrier)
        if (!hashed) {
          digest = crypto::sha256(b.frame_bytes(b.row_frame[r]));
          hashed = true;
        }
        carried = &digest;
      }
    }
    encode_trusted(b, r, ctx, carried);
  }
  if (grouped && !trusted.empty()) encode_trusted_grouped(b, trusted, ctx);
  // Group rejected rows by reason and stage, in order of first appearance.
  for (size_t i = 0; i < rejected.size(); ++i) {
    const uint32_t r = rejected[i];
    if (r == UINT32_MAX) continue;
    group.assign(1, r);
    for (size_t j = i + 1; j < rejected.size(); ++j) {
      const uint32_t o = rejected[j];
      if (o != UINT32_MAX && b.row_reject[o] == b.row_reject[r] &&
          b.row_reject_stage[o] == b.row_reject_stage[r]) {
        group.push_back(o);
        rejected[j] = UINT32_MAX;
      }
    }
    encode_rejected(b, group, b.row_reject[r], stage_name(b, r, ctx), ctx);
  }
  if (b.out_arena.size() - arena_start <= ctx.max_output_bytes_per_record) return;
  b.outputs.resize(out_start);
  b.out_arena.resize(arena_start);
  group.clear();
  for (uint32_t r = first; r < end; ++r) {
    b.row_reject[r] = RejectCode::kOutputTooLarge;  // overrides: nothing of it is written
    group.push_back(r);
  }
  encode_rejected(b, group, RejectCode::kOutputTooLarge, "output", ctx);
}

void encode_alert(Batch& b, const AlertEvent& a, const EncodeContext& ctx) {
  auto& fbb = builder();
  const auto sensor = fbb.CreateString(a.sensor_id);
  const auto kind = fbb.CreateString(a.kind);
  const auto msg = fbb.CreateString(a.message);
  const auto topic = fbb.CreateString(b.topic);
  const auto pname = fbb.CreateString(ctx.pipeline.name);
  wire::AlertBuilder ab(fbb);
  ab.add_sensor_id(sensor);
  ab.add_kind(kind);
  ab.add_level(static_cast<wire::AlertLevel>(a.level));
  ab.add_previous_level(static_cast<wire::AlertLevel>(a.previous_level));
  ab.add_statistic(a.statistic);
  ab.add_message(msg);
  ab.add_trigger_seq(a.trigger_seq);
  ab.add_trigger_time_ns(a.trigger_time_ns);
  ab.add_source_topic(topic);
  ab.add_source_partition(b.partition.value());
  ab.add_source_offset(a.frame < b.frames.size() ? b.frames[a.frame].source_offset.value() : -1);
  ab.add_pipeline_name(pname);
  ab.add_time_ns(ctx.now_ns);
  wire::FinishAlertBuffer(fbb, ab.Finish());
  emit(b, fbb, Route::kAlerts, a.frame, UINT32_MAX, RejectCode::kNone);
  b.outputs.back().readings = 0;
}

}  // namespace

void encode_batch(Batch& b, const EncodeContext& ctx) {
  b.outputs.clear();
  b.out_arena.clear();
  b.outputs.reserve(b.row_count() + b.alerts.size());
  b.out_arena.reserve(b.arena.size() * 2 + b.row_count() * (256 + kChainHeadroom));
  // The rows of one input record are consecutive (decode adds them frame by frame).
  const uint32_t rows = static_cast<uint32_t>(b.row_count());
  for (uint32_t r = 0; r < rows;) {
    uint32_t end = r + 1;
    while (end < rows && b.row_frame[end] == b.row_frame[r]) ++end;
    encode_record(b, r, end, ctx);
    r = end;
  }
  for (const AlertEvent& a : b.alerts) encode_alert(b, a, ctx);
  for (uint32_t i = 0; i < b.side_records.size(); ++i) {  // already encoded by their operator
    const SideRecord& s = b.side_records[i];
    const size_t start = (b.out_arena.size() + 7) & ~size_t{7};
    b.out_arena.resize(start + s.bytes.size());
    std::memcpy(b.out_arena.data() + start, s.bytes.data(), s.bytes.size());
    b.outputs.push_back(OutputRecord{s.route, s.frame, static_cast<uint32_t>(start),
                                     static_cast<uint32_t>(s.bytes.size()), UINT32_MAX,
                                     RejectCode::kNone, /*readings=*/0, /*side=*/i});
  }
  // Each trusted record's Merkle leaf, here in the parallel stage (multi-buffer), so that the
  // serial seal step only hashes a fixed-size digest per record (docs/provenance.md).
  if (ctx.chain_fields) prepare_chain_leaves(b);
}

}  // namespace assay::engine
