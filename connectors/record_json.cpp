#include "connectors/record_json.hpp"

#include <charconv>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/time.hpp"
#include "engine/trusted_group.hpp"
#include "schemas/alert_generated.h"
#include "schemas/calibration_certificate_generated.h"
#include "schemas/checkpoint_generated.h"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "schemas/verification_request_generated.h"
#include "schemas/verification_result_generated.h"

namespace assay::connectors {

namespace {

namespace w = assay::wire;

constexpr int kMaxNesting = 4;         // signed bodies inside TrustedReading inside RejectedRecord ...
constexpr size_t kHexPrefixBytes = 32;  // bytes shown in an invalid record's hex_prefix

enum class Root { kUnknown, kReading, kReadingBatch, kSignedReading, kSignedBatch, kTrusted, kRejected,
                  kAlert, kCalibration, kCheckpoint, kVerificationRequest, kVerificationResult };

struct RootInfo {
  const char* id;
  Root root;
  const char* name;
};

constexpr RootInfo kRoots[] = {
    {"ARDG", Root::kReading, "Reading"},
    {"ABAT", Root::kReadingBatch, "ReadingBatch"},
    {"ASRD", Root::kSignedReading, "SignedReading"},
    {"ASBT", Root::kSignedBatch, "SignedBatch"},
    {"ATRD", Root::kTrusted, "TrustedReading"},
    {"AREJ", Root::kRejected, "RejectedRecord"},
    {"AALR", Root::kAlert, "Alert"},
    {"ACAL", Root::kCalibration, "CalibrationCertificate"},
    {"ACKP", Root::kCheckpoint, "Checkpoint"},
    {"AVRQ", Root::kVerificationRequest, "VerificationRequest"},
    {"AEVR", Root::kVerificationResult, "VerificationResult"},
};

const RootInfo* find_root(std::span<const uint8_t> b) {
  if (b.size() < 8) return nullptr;
  for (const auto& r : kRoots)
    if (std::memcmp(b.data() + 4, r.id, 4) == 0) return &r;
  return nullptr;
}

constexpr char kHex[] = "0123456789abcdef";

// ---- JSON writing helpers -------------------------------------------------------------

void sep(std::string& o) {
  if (!o.empty()) {
    const char c = o.back();
    if (c != '{' && c != '[' && c != ':') o.push_back(',');
  }
}

void key(std::string& o, std::string_view k) {
  sep(o);
  o.push_back('"');
  o.append(k);
  o.append("\":");
}

void put_u64(std::string& o, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  o.append(buf, r.ptr);
}

void put_i64(std::string& o, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  o.append(buf, r.ptr);
}

void field_u64(std::string& o, std::string_view k, uint64_t v) {
  key(o, k);
  put_u64(o, v);
}

void field_i64(std::string& o, std::string_view k, int64_t v) {
  key(o, k);
  put_i64(o, v);
}

void field_double(std::string& o, std::string_view k, double v) {
  key(o, k);
  append_json_double(o, v);
}

void field_str(std::string& o, std::string_view k, const flatbuffers::String* s) {
  key(o, k);
  if (s == nullptr) {
    o.append("null");
  } else {
    append_json_string(o, std::string_view(s->c_str(), s->size()));
  }
}

void field_bytes(std::string& o, std::string_view k, const flatbuffers::Vector<uint8_t>* v) {
  key(o, k);
  if (v == nullptr) {
    o.append("null");
    return;
  }
  o.push_back('"');
  append_hex(o, {v->data(), v->size()});
  o.push_back('"');
}

// `name_ns` as integer plus `name_utc` as RFC 3339.
void field_time(std::string& o, std::string_view k, int64_t ns) {
  field_i64(o, k, ns);
  std::string_view base = k;
  if (base.size() > 3 && base.substr(base.size() - 3) == "_ns") base.remove_suffix(3);
  sep(o);
  o.push_back('"');
  o.append(base);
  o.append("_utc\":\"");
  o.append(engine::format_rfc3339(ns));
  o.push_back('"');
}

template <typename E>
void field_enum(std::string& o, std::string_view k, E e, const char* name) {
  key(o, k);
  if (name != nullptr && name[0] != '\0') {
    o.push_back('"');
    o.append(name);
    o.push_back('"');
  } else {
    put_i64(o, static_cast<int64_t>(e));
  }
}

void field_anomaly(std::string& o, std::string_view k, w::AnomalyFlag flags) {
  const uint32_t v = static_cast<uint32_t>(flags);
  field_u64(o, k, v);
  sep(o);
  o.push_back('"');
  o.append(k);
  o.append("_names\":[");
  bool first = true;
  for (uint32_t bit = 0; bit < 32; ++bit) {
    const uint32_t m = 1u << bit;
    if ((v & m) == 0) continue;
    if (!first) o.push_back(',');
    first = false;
    const char* nm = w::EnumNameAnomalyFlag(static_cast<w::AnomalyFlag>(m));
    if (nm[0] != '\0') {
      o.push_back('"');
      o.append(nm);
      o.push_back('"');
    } else {
      o.append("\"bit");
      put_u64(o, bit);
      o.push_back('"');
    }
  }
  o.push_back(']');
}

void write_invalid(std::string& o, std::string_view reason, std::span<const uint8_t> b) {
  o.append("{\"type\":\"invalid\",\"reason\":\"");
  o.append(reason);
  o.append("\",\"size\":");
  put_u64(o, b.size());
  o.append(",\"hex_prefix\":\"");
  append_hex(o, b.first(std::min(b.size(), kHexPrefixBytes)));
  o.append("\"}");
}

bool decode(std::span<const uint8_t> b, std::string& o, int depth);

// Decodes a nested buffer held in a [ubyte] vector (copied to aligned storage first).
void field_nested(std::string& o, std::string_view k, const flatbuffers::Vector<uint8_t>* v, int depth) {
  key(o, k);
  if (v == nullptr) {
    o.append("null");
    return;
  }
  decode({v->data(), v->size()}, o, depth + 1);
}

// ---- per-type writers (buffer already verified) ---------------------------------------

void write_reading(std::string& o, const w::Reading* r) {
  o.append("{\"type\":\"Reading\"");
  field_str(o, "sensor_id", r->sensor_id());
  field_u64(o, "seq", r->seq());
  field_time(o, "time_ns", r->time_ns());
  field_str(o, "quantity", r->quantity());
  field_str(o, "unit", r->unit());
  field_double(o, "value", r->value());
  field_double(o, "std_uncertainty", r->std_uncertainty());
  field_bytes(o, "firmware_sha256", r->firmware_sha256());
  field_enum(o, "kind", r->kind(), w::EnumNameReadingKind(r->kind()));
  field_double(o, "reference_value", r->reference_value());
  if (r->request_id() != nullptr) field_str(o, "request_id", r->request_id());  // metrology-cloud.md
  if (const auto* attrs = r->attributes()) {  // only when present (privacy.md)
    key(o, "attributes");
    o.push_back('[');
    for (flatbuffers::uoffset_t i = 0; i < attrs->size(); ++i) {
      o.append(i != 0 ? ",{" : "{");
      field_str(o, "key", attrs->Get(i)->key());
      field_str(o, "value", attrs->Get(i)->value());
      o.push_back('}');
    }
    o.push_back(']');
  }
  o.push_back('}');
}

void write_reading_batch(std::string& o, const w::ReadingBatch* b) {
  o.append("{\"type\":\"ReadingBatch\"");
  key(o, "readings");
  if (b->readings() == nullptr) {
    o.append("null");
  } else {
    o.push_back('[');
    for (flatbuffers::uoffset_t i = 0; i < b->readings()->size(); ++i) {
      if (i != 0) o.push_back(',');
      write_reading(o, b->readings()->Get(i));
    }
    o.push_back(']');
  }
  o.push_back('}');
}

template <typename T>
void write_signed(std::string& o, const char* type, const T* s, int depth) {
  o.append("{\"type\":\"");
  o.append(type);
  o.push_back('"');
  field_str(o, "key_id", s->key_id());
  field_enum(o, "alg", s->alg(), w::EnumNameSignatureAlg(s->alg()));
  field_bytes(o, "signature", s->signature());
  field_nested(o, "body", s->body(), depth);
  field_bytes(o, "body_hex", s->body());
  o.push_back('}');
}

void write_provenance(std::string& o, const w::Provenance* p) {
  if (p == nullptr) {
    o.append("null");
    return;
  }
  o.push_back('{');
  field_str(o, "source_topic", p->source_topic());
  field_i64(o, "source_partition", p->source_partition());
  field_i64(o, "source_offset", p->source_offset());
  field_str(o, "pipeline_name", p->pipeline_name());
  field_bytes(o, "config_sha256", p->config_sha256());
  field_str(o, "engine_version", p->engine_version());
  field_str(o, "instance_id", p->instance_id());
  field_time(o, "processing_time_ns", p->processing_time_ns());
  field_str(o, "key_id", p->key_id());
  field_str(o, "calibration_certificate_id", p->calibration_certificate_id());
  field_bytes(o, "prev_record_hash", p->prev_record_hash());
  field_bytes(o, "record_hash", p->record_hash());
  field_str(o, "engine_build", p->engine_build());
  field_u64(o, "chain_index", p->chain_index());
  if (p->chain_version() != 0) field_u64(o, "chain_version", p->chain_version());
  o.push_back('}');
}

// A grouped record's readings (docs/wire-contract.md "Grouped trusted records"), expanded:
// "group": [{reading_index, verdicts, values}, ...]; values the record leaves to the reading
// are shown as "values": "from_reading".
void write_group(std::string& o, const w::TrustedReading* t) {
  std::vector<engine::TrustedEntry> entries;
  std::string why;
  if (!engine::trusted_entries(*t, &entries, &why)) {
    key(o, "group_error");
    append_json_string(o, why);
    return;
  }
  key(o, "group");
  o.push_back('[');
  for (size_t i = 0; i < entries.size(); ++i) {
    const engine::TrustedEntry& e = entries[i];
    if (i != 0) o.push_back(',');
    o.push_back('{');
    field_u64(o, "reading_index", e.reading_index);
    field_enum(o, "signature_verdict", e.signature_verdict,
               w::EnumNameSignatureVerdict(e.signature_verdict));
    field_enum(o, "calibration_verdict", e.calibration_verdict,
               w::EnumNameCalibrationVerdict(e.calibration_verdict));
    field_enum(o, "drift_level", e.drift_level, w::EnumNameDriftLevel(e.drift_level));
    field_double(o, "drift_statistic", e.drift_statistic);
    field_anomaly(o, "anomaly_flags", e.anomaly_flags);
    if (!e.calibration_certificate_id.empty()) {
      key(o, "calibration_certificate_id");
      append_json_string(o, e.calibration_certificate_id);
    }
    if (e.values_given) {
      field_double(o, "corrected_value", e.corrected_value);
      field_double(o, "expanded_uncertainty", e.expanded_uncertainty);
      field_double(o, "coverage_factor", e.coverage_factor);
    } else {
      key(o, "values");
      o.append("\"from_reading\"");
    }
    o.push_back('}');
  }
  o.push_back(']');
}

void write_trusted(std::string& o, const w::TrustedReading* t, int depth) {
  o.append("{\"type\":\"TrustedReading\"");
  field_nested(o, "signed", t->signed_bytes(), depth);
  field_bytes(o, "signed_bytes", t->signed_bytes());
  field_u64(o, "reading_index", t->reading_index());
  field_str(o, "sensor_id", t->sensor_id());
  field_u64(o, "seq", t->seq());
  field_enum(o, "signature_verdict", t->signature_verdict(),
             w::EnumNameSignatureVerdict(t->signature_verdict()));
  field_str(o, "signature_reason", t->signature_reason());
  field_enum(o, "calibration_verdict", t->calibration_verdict(),
             w::EnumNameCalibrationVerdict(t->calibration_verdict()));
  field_str(o, "calibration_reason", t->calibration_reason());
  field_enum(o, "drift_level", t->drift_level(), w::EnumNameDriftLevel(t->drift_level()));
  field_double(o, "drift_statistic", t->drift_statistic());
  field_str(o, "drift_reason", t->drift_reason());
  field_anomaly(o, "anomaly_flags", t->anomaly_flags());
  field_str(o, "anomaly_reason", t->anomaly_reason());
  field_double(o, "corrected_value", t->corrected_value());
  field_double(o, "expanded_uncertainty", t->expanded_uncertainty());
  field_double(o, "coverage_factor", t->coverage_factor());
  if (t->signed_bytes_at() != w::SignedBytesAt::Here) {  // carried once (docs/wire-contract.md)
    field_enum(o, "signed_bytes_at", t->signed_bytes_at(),
               w::EnumNameSignedBytesAt(t->signed_bytes_at()));
    field_bytes(o, "signed_bytes_sha256", t->signed_bytes_sha256());
  }
  if (t->group_reading_indexes() != nullptr) write_group(o, t);
  key(o, "provenance");
  write_provenance(o, t->provenance());
  if (t->reading() != nullptr) {  // privacy rules applied (docs/privacy.md)
    key(o, "reading");
    write_reading(o, t->reading());
    key(o, "privacy_rules");
    o.push_back('[');
    for (flatbuffers::uoffset_t i = 0; t->privacy_rules() && i < t->privacy_rules()->size(); ++i) {
      if (i != 0) o.push_back(',');
      append_json_string(o, t->privacy_rules()->Get(i)->string_view());
    }
    o.push_back(']');
    field_bytes(o, "signed_bytes_sha256", t->signed_bytes_sha256());
  }
  o.push_back('}');
}

void write_rejected(std::string& o, const w::RejectedRecord* r, int depth) {
  o.append("{\"type\":\"RejectedRecord\"");
  field_str(o, "reason", r->reason());
  field_str(o, "detail", r->detail());
  field_str(o, "stage", r->stage());
  field_bytes(o, "payload", r->payload());
  // The payload may be anything; decoded only where it verifies as an Assay record.
  field_nested(o, "payload_decoded", r->payload(), depth);
  field_u64(o, "reading_index", r->reading_index());
  field_str(o, "sensor_id", r->sensor_id());
  field_u64(o, "seq", r->seq());
  field_str(o, "source_topic", r->source_topic());
  field_i64(o, "source_partition", r->source_partition());
  field_i64(o, "source_offset", r->source_offset());
  field_str(o, "pipeline_name", r->pipeline_name());
  field_time(o, "processing_time_ns", r->processing_time_ns());
  field_enum(o, "signature_verdict", r->signature_verdict(),
             w::EnumNameSignatureVerdict(r->signature_verdict()));
  field_enum(o, "calibration_verdict", r->calibration_verdict(),
             w::EnumNameCalibrationVerdict(r->calibration_verdict()));
  field_anomaly(o, "anomaly_flags", r->anomaly_flags());
  o.push_back('}');
}

void write_alert(std::string& o, const w::Alert* a) {
  o.append("{\"type\":\"Alert\"");
  field_str(o, "sensor_id", a->sensor_id());
  field_str(o, "kind", a->kind());
  field_enum(o, "level", a->level(), w::EnumNameAlertLevel(a->level()));
  field_enum(o, "previous_level", a->previous_level(), w::EnumNameAlertLevel(a->previous_level()));
  field_double(o, "statistic", a->statistic());
  field_str(o, "message", a->message());
  field_u64(o, "trigger_seq", a->trigger_seq());
  field_time(o, "trigger_time_ns", a->trigger_time_ns());
  field_str(o, "source_topic", a->source_topic());
  field_i64(o, "source_partition", a->source_partition());
  field_i64(o, "source_offset", a->source_offset());
  field_str(o, "pipeline_name", a->pipeline_name());
  field_time(o, "time_ns", a->time_ns());
  o.push_back('}');
}

void write_mpe(std::string& o, std::string_view k, const w::Mpe* m) {
  key(o, k);
  if (m == nullptr) {
    o.append("null");
    return;
  }
  o.push_back('{');
  field_double(o, "absolute", m->absolute());
  field_double(o, "relative", m->relative());
  o.push_back('}');
}

void write_calibration(std::string& o, const w::CalibrationCertificate* c) {
  o.append("{\"type\":\"CalibrationCertificate\"");
  field_str(o, "certificate_id", c->certificate_id());
  field_str(o, "sensor_id", c->sensor_id());
  field_str(o, "lab_id", c->lab_id());
  field_time(o, "issue_date_ns", c->issue_date_ns());
  field_time(o, "valid_from_ns", c->valid_from_ns());
  field_time(o, "valid_until_ns", c->valid_until_ns());
  field_str(o, "quantity", c->quantity());
  field_str(o, "unit", c->unit());
  key(o, "correction");
  if (const auto* cor = c->correction(); cor == nullptr) {
    o.append("null");
  } else {
    o.push_back('{');
    field_double(o, "offset", cor->offset());
    field_double(o, "gain", cor->gain());
    key(o, "poly");
    if (cor->poly() == nullptr) {
      o.append("null");
    } else {
      o.push_back('[');
      for (flatbuffers::uoffset_t i = 0; i < cor->poly()->size(); ++i) {
        if (i != 0) o.push_back(',');
        append_json_double(o, cor->poly()->Get(i));
      }
      o.push_back(']');
    }
    o.push_back('}');
  }
  field_double(o, "expanded_uncertainty", c->expanded_uncertainty());
  field_double(o, "coverage_factor", c->coverage_factor());
  write_mpe(o, "mpe_initial", c->mpe_initial());
  write_mpe(o, "mpe_in_service", c->mpe_in_service());
  field_double(o, "range_min", c->range_min());
  field_double(o, "range_max", c->range_max());
  field_str(o, "conformity", c->conformity());
  field_str(o, "lab_key_id", c->lab_key_id());
  field_enum(o, "signature_alg", c->signature_alg(), w::EnumNameSignatureAlg(c->signature_alg()));
  field_bytes(o, "signature", c->signature());
  o.push_back('}');
}

void write_checkpoint(std::string& o, const w::Checkpoint* c) {
  o.append("{\"type\":\"Checkpoint\"");
  field_str(o, "topic", c->topic());
  field_i64(o, "partition", c->partition());
  field_i64(o, "first_offset", c->first_offset());
  field_i64(o, "last_offset", c->last_offset());
  field_u64(o, "record_count", c->record_count());
  field_bytes(o, "merkle_root", c->merkle_root());
  field_bytes(o, "chain_head", c->chain_head());
  field_str(o, "engine_key_id", c->engine_key_id());
  field_bytes(o, "signature", c->signature());
  field_str(o, "pipeline_name", c->pipeline_name());
  field_str(o, "instance_id", c->instance_id());
  field_time(o, "time_ns", c->time_ns());
  field_bytes(o, "prev_chain_head", c->prev_chain_head());
  if (c->version() >= 2) {  // provenance v2 attestations (docs/provenance.md)
    field_u64(o, "version", c->version());
    field_enum(o, "kind", c->kind(), w::EnumNameAttestationKind(c->kind()));
    field_str(o, "origin", c->origin());
    field_str(o, "note", c->note());
    field_bytes(o, "frontier", c->frontier());
  }
  o.push_back('}');
}

void write_verification_request(std::string& o, const w::VerificationRequest* q) {
  o.append("{\"type\":\"VerificationRequest\"");
  field_u64(o, "version", q->version());
  field_str(o, "request_id", q->request_id());
  field_str(o, "plan_id", q->plan_id());
  field_bytes(o, "plan_sha256", q->plan_sha256());
  field_str(o, "campaign_id", q->campaign_id());
  field_str(o, "case_id", q->case_id());
  field_str(o, "instrument_id", q->instrument_id());
  field_str(o, "group", q->group());
  field_str(o, "quantity", q->quantity());
  field_str(o, "unit", q->unit());
  field_double(o, "reference_value", q->reference_value());
  field_str(o, "stimulus", q->stimulus());
  field_time(o, "issued_ns", q->issued_ns());
  field_time(o, "deadline_ns", q->deadline_ns());
  field_str(o, "engine_key_id", q->engine_key_id());
  field_bytes(o, "signature", q->signature());
  o.push_back('}');
}

void write_evidence(std::string& o, const w::VerificationEvidence* e) {
  key(o, "evidence");
  if (e == nullptr) {
    o.append("null");
    return;
  }
  o.push_back('{');
  field_str(o, "source_topic", e->source_topic());
  field_i64(o, "source_partition", e->source_partition());
  field_i64(o, "source_offset", e->source_offset());
  field_u64(o, "reading_index", e->reading_index());
  field_u64(o, "seq", e->seq());
  field_time(o, "time_ns", e->time_ns());
  field_time(o, "received_ns", e->received_ns());
  o.push_back('}');
}

void write_verification_result(std::string& o, const w::VerificationResult* r) {
  o.append("{\"type\":\"VerificationResult\"");
  field_u64(o, "version", r->version());
  field_str(o, "result_id", r->result_id());
  field_str(o, "plan_id", r->plan_id());
  field_bytes(o, "plan_sha256", r->plan_sha256());
  field_str(o, "campaign_id", r->campaign_id());
  field_str(o, "instrument_id", r->instrument_id());
  field_str(o, "group", r->group());
  field_enum(o, "outcome", r->outcome(), w::EnumNameVerificationOutcome(r->outcome()));
  field_str(o, "reason", r->reason());
  field_str(o, "detail", r->detail());
  field_str(o, "decision_rule", r->decision_rule());
  key(o, "cases");
  o.push_back('[');
  if (const auto* cases = r->cases()) {
    for (flatbuffers::uoffset_t i = 0; i < cases->size(); ++i) {
      const auto* c = cases->Get(i);
      o.append(i != 0 ? ",{" : "{");
      field_str(o, "case_id", c->case_id());
      field_str(o, "request_id", c->request_id());
      field_double(o, "reference_value", c->reference_value());
      field_double(o, "mpe_absolute", c->mpe_absolute());
      field_double(o, "mpe_relative", c->mpe_relative());
      field_enum(o, "outcome", c->outcome(), w::EnumNameVerificationOutcome(c->outcome()));
      field_str(o, "reason", c->reason());
      field_double(o, "value", c->value());
      field_double(o, "corrected", c->corrected());
      field_double(o, "expanded_uncertainty", c->expanded_uncertainty());
      field_double(o, "error", c->error());
      field_double(o, "mpe", c->mpe());
      field_enum(o, "calibration_verdict", c->calibration_verdict(),
                 w::EnumNameCalibrationVerdict(c->calibration_verdict()));
      field_double(o, "response_reference_value", c->response_reference_value());
      field_bytes(o, "firmware_sha256", c->firmware_sha256());
      write_evidence(o, c->evidence());
      o.push_back('}');
    }
  }
  o.push_back(']');
  key(o, "refused");
  o.push_back('[');
  if (const auto* refused = r->refused()) {
    for (flatbuffers::uoffset_t i = 0; i < refused->size(); ++i) {
      const auto* f = refused->Get(i);
      o.append(i != 0 ? ",{" : "{");
      field_str(o, "request_id", f->request_id());
      field_str(o, "reason", f->reason());
      write_evidence(o, f->evidence());
      o.push_back('}');
    }
  }
  o.push_back(']');
  field_bytes(o, "firmware_sha256", r->firmware_sha256());
  field_enum(o, "firmware_status", r->firmware_status(),
             w::EnumNameFirmwareStatus(r->firmware_status()));
  field_str(o, "certificate_id", r->certificate_id());
  field_time(o, "certificate_valid_until_ns", r->certificate_valid_until_ns());
  field_time(o, "issued_ns", r->issued_ns());
  field_time(o, "deadline_ns", r->deadline_ns());
  field_time(o, "decided_ns", r->decided_ns());
  field_str(o, "pipeline_name", r->pipeline_name());
  field_str(o, "instance_id", r->instance_id());
  field_str(o, "engine_key_id", r->engine_key_id());
  field_bytes(o, "signature", r->signature());
  o.push_back('}');
}

template <typename T>
bool verify_root(const uint8_t* p, size_t n) {
  flatbuffers::Verifier::Options opts;
  opts.max_depth = 64;
  opts.max_tables = 1000000;
  opts.check_alignment = true;
  flatbuffers::Verifier v(p, n, opts);
  return v.VerifyBuffer<T>(nullptr);
}

bool verify_for(Root r, const uint8_t* p, size_t n) {
  switch (r) {
    case Root::kReading: return verify_root<w::Reading>(p, n);
    case Root::kReadingBatch: return verify_root<w::ReadingBatch>(p, n);
    case Root::kSignedReading: return verify_root<w::SignedReading>(p, n);
    case Root::kSignedBatch: return verify_root<w::SignedBatch>(p, n);
    case Root::kTrusted: return verify_root<w::TrustedReading>(p, n);
    case Root::kRejected: return verify_root<w::RejectedRecord>(p, n);
    case Root::kAlert: return verify_root<w::Alert>(p, n);
    case Root::kCalibration: return verify_root<w::CalibrationCertificate>(p, n);
    case Root::kCheckpoint: return verify_root<w::Checkpoint>(p, n);
    case Root::kVerificationRequest: return verify_root<w::VerificationRequest>(p, n);
    case Root::kVerificationResult: return verify_root<w::VerificationResult>(p, n);
    case Root::kUnknown: return false;
  }
  return false;
}

bool decode(std::span<const uint8_t> b, std::string& o, int depth) {
  const RootInfo* info = find_root(b);
  if (info == nullptr || depth > kMaxNesting) {
    write_invalid(o, "wire.unknown_root", b);
    return false;
  }
  if (b.size() >= FLATBUFFERS_MAX_BUFFER_SIZE) {
    write_invalid(o, "wire.verifier_failed", b);
    return false;
  }
  // Scalars are read in place: the buffer must start on an 8-byte boundary.
  std::vector<uint8_t> aligned;
  const uint8_t* p = b.data();
  if (reinterpret_cast<uintptr_t>(p) % 8 != 0) {
    aligned.assign(b.begin(), b.end());
    p = aligned.data();
  }
  const size_t n = b.size();
  if (!verify_for(info->root, p, n)) {
    write_invalid(o, "wire.verifier_failed", b);
    return false;
  }
  switch (info->root) {
    case Root::kReading: write_reading(o, flatbuffers::GetRoot<w::Reading>(p)); break;
    case Root::kReadingBatch: write_reading_batch(o, flatbuffers::GetRoot<w::ReadingBatch>(p)); break;
    case Root::kSignedReading:
      write_signed(o, "SignedReading", flatbuffers::GetRoot<w::SignedReading>(p), depth);
      break;
    case Root::kSignedBatch:
      write_signed(o, "SignedBatch", flatbuffers::GetRoot<w::SignedBatch>(p), depth);
      break;
    case Root::kTrusted: write_trusted(o, flatbuffers::GetRoot<w::TrustedReading>(p), depth); break;
    case Root::kRejected: write_rejected(o, flatbuffers::GetRoot<w::RejectedRecord>(p), depth); break;
    case Root::kAlert: write_alert(o, flatbuffers::GetRoot<w::Alert>(p)); break;
    case Root::kCalibration:
      write_calibration(o, flatbuffers::GetRoot<w::CalibrationCertificate>(p));
      break;
    case Root::kCheckpoint: write_checkpoint(o, flatbuffers::GetRoot<w::Checkpoint>(p)); break;
    case Root::kVerificationRequest:
      write_verification_request(o, flatbuffers::GetRoot<w::VerificationRequest>(p));
      break;
    case Root::kVerificationResult:
      write_verification_result(o, flatbuffers::GetRoot<w::VerificationResult>(p));
      break;
    case Root::kUnknown: break;
  }
  return true;
}

// Length of a valid UTF-8 sequence starting at s[i] (0 if invalid).
size_t utf8_len(std::string_view s, size_t i) {
  const auto c0 = static_cast<unsigned char>(s[i]);
  auto cont = [&](size_t k) {
    return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
  };
  if (c0 >= 0xC2 && c0 <= 0xDF) return cont(1) ? 2 : 0;
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c0 == 0xE0 && c1 < 0xA0) return 0;  // overlong
    if (c0 == 0xED && c1 >= 0xA0) return 0;  // surrogates
    return 3;
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const auto c1 = static_cast<unsigned char>(s[i + 1]);
    if (c0 == 0xF0 && c1 < 0x90) return 0;  // overlong
    if (c0 == 0xF4 && c1 >= 0x90) return 0;  // > U+10FFFF
    return 4;
  }
  return 0;
}

}  // namespace

void append_hex(std::string& out, std::span<const uint8_t> bytes) {
  const size_t base = out.size();
  out.resize(base + bytes.size() * 2);
  char* d = out.data() + base;
  for (uint8_t b : bytes) {
    *d++ = kHex[b >> 4];
    *d++ = kHex[b & 15];
  }
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Copy a run of plain ASCII in one go.
    size_t j = i;
    while (j < s.size()) {
      const auto c = static_cast<unsigned char>(s[j]);
      if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
      ++j;
    }
    out.append(s.data() + i, j - i);
    i = j;
    if (i >= s.size()) break;
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = utf8_len(s, i);
      if (n != 0) {
        out.append(s.data() + i, n);
        i += n;
        continue;
      }
    }
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      case '\b': out.append("\\b"); break;
      case '\f': out.append("\\f"); break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
        out.append(esc, 6);
      }
    }
    ++i;
  }
  out.push_back('"');
}

void append_json_double(std::string& out, double v) {
  if (std::isnan(v)) {
    out.append("\"NaN\"");
    return;
  }
  if (std::isinf(v)) {
    out.append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
    return;
  }
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string_view root_type_name(std::span<const uint8_t> bytes) {
  const RootInfo* info = find_root(bytes);
  return info == nullptr ? std::string_view{} : std::string_view{info->name};
}

bool append_record_json(std::span<const uint8_t> bytes, std::string& out) {
  return decode(bytes, out, 0);
}

bool record_to_json(std::span<const uint8_t> bytes, std::string& out) {
  out.clear();
  return decode(bytes, out, 0);
}

}  // namespace assay::connectors
