#include "metrology/protocol.hpp"

#include <cmath>
#include <cstring>

#include "crypto/sha256.hpp"
#include "schemas/verification_request_generated.h"
#include "schemas/verification_result_generated.h"

namespace assay::metrology {

namespace {

constexpr std::string_view kOutcomeNames[] = {"passed", "failed", "indeterminate", "no_response"};
constexpr std::string_view kFirmwareNames[] = {"not_checked", "approved", "not_approved",
                                               "missing"};

// Canonical byte writer (docs/metrology-cloud.md, "Canonical bytes").
class Canon {
 public:
  explicit Canon(std::string_view domain) { out_.insert(out_.end(), domain.begin(), domain.end()); }
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) {
    for (int i = 0; i < 4; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, 8);
    u64(bits);
  }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
  }
  void bytes(std::span<const uint8_t> b) {
    u32(static_cast<uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  std::vector<uint8_t> take() { return std::move(out_); }

 private:
  std::vector<uint8_t> out_;
};

std::string str_of(const flatbuffers::String* s) {
  return s == nullptr ? std::string() : s->str();
}

std::vector<uint8_t> bytes_of(const flatbuffers::Vector<uint8_t>* v) {
  return v == nullptr ? std::vector<uint8_t>() : std::vector<uint8_t>(v->begin(), v->end());
}

void canon_evidence(Canon& c, const Evidence& e) {
  c.str(e.source_topic);
  c.u32(static_cast<uint32_t>(e.source_partition));
  c.i64(e.source_offset);
  c.u32(e.reading_index);
  c.u64(e.seq);
  c.i64(e.time_ns);
  c.i64(e.received_ns);
}

flatbuffers::Offset<wire::VerificationEvidence> build_evidence(flatbuffers::FlatBufferBuilder& fbb,
                                                               const Evidence& e) {
  return wire::CreateVerificationEvidenceDirect(fbb, e.source_topic.c_str(), e.source_partition,
                                                e.source_offset, e.reading_index, e.seq, e.time_ns,
                                                e.received_ns);
}

Evidence evidence_of(const wire::VerificationEvidence* e) {
  Evidence out;
  if (e == nullptr) return out;
  out.source_topic = str_of(e->source_topic());
  out.source_partition = e->source_partition();
  out.source_offset = e->source_offset();
  out.reading_index = e->reading_index();
  out.seq = e->seq();
  out.time_ns = e->time_ns();
  out.received_ns = e->received_ns();
  return out;
}

std::array<uint8_t, 32> digest(const std::vector<uint8_t>& canonical) {
  return crypto::sha256(canonical);
}

// Outcome implied by a case reason that is not decided by the rule.
std::optional<Outcome> implied_outcome(std::string_view reason) {
  if (reason == "firmware_not_approved" || reason == "value_not_finite") return Outcome::kFailed;
  if (reason == "no_certificate" || reason == "certificate_expired" ||
      reason == "certificate_not_yet_valid" || reason == "quantity_mismatch" ||
      reason == "unit_mismatch" || reason == "reference_mismatch")
    return Outcome::kIndeterminate;
  if (reason == "no_response") return Outcome::kNoResponse;
  return std::nullopt;
}

}  // namespace

std::string_view outcome_name(Outcome o) {
  const auto i = static_cast<size_t>(o);
  return i < 4 ? kOutcomeNames[i] : std::string_view("unknown");
}

std::optional<Outcome> parse_outcome(std::string_view name) {
  for (size_t i = 0; i < 4; ++i)
    if (kOutcomeNames[i] == name) return static_cast<Outcome>(i);
  return std::nullopt;
}

std::string_view firmware_status_name(FirmwareStatus s) {
  const auto i = static_cast<size_t>(s);
  return i < 4 ? kFirmwareNames[i] : std::string_view("unknown");
}

// ---- requests ------------------------------------------------------------------------------

std::vector<uint8_t> request_canonical_bytes(const Request& r) {
  Canon c("assay.verification-request.v1\n");
  c.u8(r.version);
  c.str(r.request_id);
  c.str(r.plan_id);
  c.bytes(r.plan_sha256);
  c.str(r.campaign_id);
  c.str(r.case_id);
  c.str(r.instrument_id);
  c.str(r.group);
  c.str(r.quantity);
  c.str(r.unit);
  c.f64(r.reference_value);
  c.str(r.stimulus);
  c.i64(r.issued_ns);
  c.i64(r.deadline_ns);
  c.str(r.engine_key_id);
  return c.take();
}

void sign_request(Request& r, const engine::EngineKey& key) {
  r.engine_key_id = key.key_id();
  const auto h = digest(request_canonical_bytes(r));
  r.signature = key.sign(h);
}

bool verify_request(const Request& r, std::span<const uint8_t, 32> public_key) {
  const auto h = digest(request_canonical_bytes(r));
  return engine::verify_engine_signature(public_key, h, r.signature);
}

std::vector<uint8_t> encode_request(const Request& r) {
  flatbuffers::FlatBufferBuilder fbb(512);
  const auto sha2 = fbb.CreateVector(r.plan_sha256.data(), r.plan_sha256.size());
  const auto sig2 = fbb.CreateVector(r.signature.data(), r.signature.size());
  const auto rid = fbb.CreateString(r.request_id);
  const auto plan = fbb.CreateString(r.plan_id);
  const auto camp = fbb.CreateString(r.campaign_id);
  const auto cs = fbb.CreateString(r.case_id);
  const auto inst = fbb.CreateString(r.instrument_id);
  const auto grp = fbb.CreateString(r.group);
  const auto qty = fbb.CreateString(r.quantity);
  const auto unit = fbb.CreateString(r.unit);
  const auto stim = fbb.CreateString(r.stimulus);
  const auto kid = fbb.CreateString(r.engine_key_id);
  wire::VerificationRequestBuilder b(fbb);
  b.add_version(r.version);
  b.add_request_id(rid);
  b.add_plan_id(plan);
  b.add_plan_sha256(sha2);
  b.add_campaign_id(camp);
  b.add_case_id(cs);
  b.add_instrument_id(inst);
  b.add_group(grp);
  b.add_quantity(qty);
  b.add_unit(unit);
  b.add_reference_value(r.reference_value);
  b.add_stimulus(stim);
  b.add_issued_ns(r.issued_ns);
  b.add_deadline_ns(r.deadline_ns);
  b.add_engine_key_id(kid);
  b.add_signature(sig2);
  wire::FinishVerificationRequestBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::optional<Request> decode_request(std::span<const uint8_t> bytes, std::string* error) {
  auto fail = [&](const char* why) -> std::optional<Request> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  if (bytes.size() < 8 || !wire::VerificationRequestBufferHasIdentifier(bytes.data()))
    return fail("not a VerificationRequest (identifier AVRQ)");
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (!wire::VerifyVerificationRequestBuffer(v)) return fail("the FlatBuffers Verifier refused it");
  const auto* q = wire::GetVerificationRequest(bytes.data());
  if (q->version() != 1) return fail("unknown request version");
  if (q->plan_sha256() == nullptr || q->plan_sha256()->size() != 32)
    return fail("plan_sha256 must be 32 bytes");
  if (q->signature() == nullptr || q->signature()->size() != 64)
    return fail("signature must be 64 bytes");
  Request r;
  r.version = q->version();
  r.request_id = str_of(q->request_id());
  r.plan_id = str_of(q->plan_id());
  std::memcpy(r.plan_sha256.data(), q->plan_sha256()->data(), 32);
  r.campaign_id = str_of(q->campaign_id());
  r.case_id = str_of(q->case_id());
  r.instrument_id = str_of(q->instrument_id());
  r.group = str_of(q->group());
  r.quantity = str_of(q->quantity());
  r.unit = str_of(q->unit());
  r.reference_value = q->reference_value();
  r.stimulus = str_of(q->stimulus());
  r.issued_ns = q->issued_ns();
  r.deadline_ns = q->deadline_ns();
  r.engine_key_id = str_of(q->engine_key_id());
  std::memcpy(r.signature.data(), q->signature()->data(), 64);
  if (r.request_id.empty() || r.instrument_id.empty())
    return fail("request_id and instrument_id must not be empty");
  return r;
}

// ---- results -------------------------------------------------------------------------------

std::vector<uint8_t> result_canonical_bytes(const Result& r) {
  Canon c("assay.verification-result.v1\n");
  c.u8(r.version);
  c.str(r.result_id);
  c.str(r.plan_id);
  c.bytes(r.plan_sha256);
  c.str(r.campaign_id);
  c.str(r.instrument_id);
  c.str(r.group);
  c.u8(static_cast<uint8_t>(r.outcome));
  c.str(r.reason);
  c.str(r.detail);
  c.str(r.decision_rule);
  c.u32(static_cast<uint32_t>(r.cases.size()));
  for (const CaseResult& k : r.cases) {
    c.str(k.case_id);
    c.str(k.request_id);
    c.f64(k.reference_value);
    c.f64(k.mpe_absolute);
    c.f64(k.mpe_relative);
    c.u8(static_cast<uint8_t>(k.outcome));
    c.str(k.reason);
    c.f64(k.value);
    c.f64(k.corrected);
    c.f64(k.expanded_uncertainty);
    c.f64(k.error);
    c.f64(k.mpe);
    c.u8(static_cast<uint8_t>(k.calibration_verdict));
    c.f64(k.response_reference_value);
    c.bytes(k.firmware_sha256);
    c.u8(k.evidence ? 1 : 0);
    if (k.evidence) canon_evidence(c, *k.evidence);
  }
  c.u32(static_cast<uint32_t>(r.refused.size()));
  for (const Refusal& f : r.refused) {
    c.str(f.request_id);
    c.str(f.reason);
    canon_evidence(c, f.evidence);
  }
  c.bytes(r.firmware_sha256);
  c.u8(static_cast<uint8_t>(r.firmware_status));
  c.str(r.certificate_id);
  c.i64(r.certificate_valid_until_ns);
  c.i64(r.issued_ns);
  c.i64(r.deadline_ns);
  c.i64(r.decided_ns);
  c.str(r.pipeline_name);
  c.str(r.instance_id);
  c.str(r.engine_key_id);
  return c.take();
}

void sign_result(Result& r, const engine::EngineKey& key) {
  r.engine_key_id = key.key_id();
  r.signature = key.sign(digest(result_canonical_bytes(r)));
}

bool verify_result(const Result& r, std::span<const uint8_t, 32> public_key) {
  return engine::verify_engine_signature(public_key, digest(result_canonical_bytes(r)),
                                         r.signature);
}

std::vector<uint8_t> encode_result(const Result& r) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  std::vector<flatbuffers::Offset<wire::VerificationCase>> cases;
  for (const CaseResult& k : r.cases) {
    const auto cid = fbb.CreateString(k.case_id);
    const auto rid = fbb.CreateString(k.request_id);
    const auto reason = fbb.CreateString(k.reason);
    const auto fw = fbb.CreateVector(k.firmware_sha256);
    const auto ev = k.evidence ? build_evidence(fbb, *k.evidence)
                               : flatbuffers::Offset<wire::VerificationEvidence>();
    wire::VerificationCaseBuilder b(fbb);
    b.add_case_id(cid);
    b.add_request_id(rid);
    b.add_reference_value(k.reference_value);
    b.add_mpe_absolute(k.mpe_absolute);
    b.add_mpe_relative(k.mpe_relative);
    fbb.ForceDefaults(true);
    b.add_outcome(static_cast<wire::VerificationOutcome>(k.outcome));
    fbb.ForceDefaults(false);
    b.add_reason(reason);
    b.add_value(k.value);
    b.add_corrected(k.corrected);
    b.add_expanded_uncertainty(k.expanded_uncertainty);
    b.add_error(k.error);
    b.add_mpe(k.mpe);
    b.add_calibration_verdict(k.calibration_verdict);
    b.add_response_reference_value(k.response_reference_value);
    b.add_firmware_sha256(fw);
    if (!ev.IsNull()) b.add_evidence(ev);
    cases.push_back(b.Finish());
  }
  std::vector<flatbuffers::Offset<wire::RefusedResponse>> refused;
  for (const Refusal& f : r.refused) {
    const auto rid = fbb.CreateString(f.request_id);
    const auto reason = fbb.CreateString(f.reason);
    const auto ev = build_evidence(fbb, f.evidence);
    refused.push_back(wire::CreateRefusedResponse(fbb, rid, reason, ev));
  }
  const auto cases_v = fbb.CreateVector(cases);
  const auto refused_v = fbb.CreateVector(refused);
  const auto result_id = fbb.CreateString(r.result_id);
  const auto plan = fbb.CreateString(r.plan_id);
  const auto sha = fbb.CreateVector(r.plan_sha256.data(), r.plan_sha256.size());
  const auto camp = fbb.CreateString(r.campaign_id);
  const auto inst = fbb.CreateString(r.instrument_id);
  const auto grp = fbb.CreateString(r.group);
  const auto reason = fbb.CreateString(r.reason);
  const auto detail = fbb.CreateString(r.detail);
  const auto rule = fbb.CreateString(r.decision_rule);
  const auto fw = fbb.CreateVector(r.firmware_sha256);
  const auto cert = fbb.CreateString(r.certificate_id);
  const auto pname = fbb.CreateString(r.pipeline_name);
  const auto inst_id = fbb.CreateString(r.instance_id);
  const auto kid = fbb.CreateString(r.engine_key_id);
  const auto sig = fbb.CreateVector(r.signature.data(), r.signature.size());
  wire::VerificationResultBuilder b(fbb);
  b.add_version(r.version);
  b.add_result_id(result_id);
  b.add_plan_id(plan);
  b.add_plan_sha256(sha);
  b.add_campaign_id(camp);
  b.add_instrument_id(inst);
  b.add_group(grp);
  fbb.ForceDefaults(true);
  b.add_outcome(static_cast<wire::VerificationOutcome>(r.outcome));
  b.add_firmware_status(static_cast<wire::FirmwareStatus>(r.firmware_status));
  fbb.ForceDefaults(false);
  b.add_reason(reason);
  b.add_detail(detail);
  b.add_decision_rule(rule);
  b.add_cases(cases_v);
  b.add_refused(refused_v);
  b.add_firmware_sha256(fw);
  b.add_certificate_id(cert);
  b.add_certificate_valid_until_ns(r.certificate_valid_until_ns);
  b.add_issued_ns(r.issued_ns);
  b.add_deadline_ns(r.deadline_ns);
  b.add_decided_ns(r.decided_ns);
  b.add_pipeline_name(pname);
  b.add_instance_id(inst_id);
  b.add_engine_key_id(kid);
  b.add_signature(sig);
  wire::FinishVerificationResultBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::optional<Result> decode_result(std::span<const uint8_t> bytes, std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<Result> {
    if (error != nullptr) *error = why;
    return std::nullopt;
  };
  if (bytes.size() < 8 || !wire::VerificationResultBufferHasIdentifier(bytes.data()))
    return fail("not a VerificationResult (identifier AEVR)");
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (!wire::VerifyVerificationResultBuffer(v)) return fail("the FlatBuffers Verifier refused it");
  const auto* q = wire::GetVerificationResult(bytes.data());
  if (q->version() != 1) return fail("unknown result version");
  if (q->plan_sha256() == nullptr || q->plan_sha256()->size() != 32)
    return fail("plan_sha256 must be 32 bytes");
  if (q->signature() == nullptr || q->signature()->size() != 64)
    return fail("signature must be 64 bytes");
  if (static_cast<uint8_t>(q->outcome()) > 3) return fail("unknown outcome");
  if (static_cast<uint8_t>(q->firmware_status()) > 3) return fail("unknown firmware status");
  Result r;
  r.version = q->version();
  r.result_id = str_of(q->result_id());
  r.plan_id = str_of(q->plan_id());
  std::memcpy(r.plan_sha256.data(), q->plan_sha256()->data(), 32);
  r.campaign_id = str_of(q->campaign_id());
  r.instrument_id = str_of(q->instrument_id());
  r.group = str_of(q->group());
  r.outcome = static_cast<Outcome>(q->outcome());
  r.reason = str_of(q->reason());
  r.detail = str_of(q->detail());
  r.decision_rule = str_of(q->decision_rule());
  if (q->cases() != nullptr) {
    for (const auto* k : *q->cases()) {
      if (static_cast<uint8_t>(k->outcome()) > 3) return fail("unknown case outcome");
      CaseResult c;
      c.case_id = str_of(k->case_id());
      c.request_id = str_of(k->request_id());
      c.reference_value = k->reference_value();
      c.mpe_absolute = k->mpe_absolute();
      c.mpe_relative = k->mpe_relative();
      c.outcome = static_cast<Outcome>(k->outcome());
      c.reason = str_of(k->reason());
      c.value = k->value();
      c.corrected = k->corrected();
      c.expanded_uncertainty = k->expanded_uncertainty();
      c.error = k->error();
      c.mpe = k->mpe();
      c.calibration_verdict = k->calibration_verdict();
      c.response_reference_value = k->response_reference_value();
      c.firmware_sha256 = bytes_of(k->firmware_sha256());
      if (k->evidence() != nullptr) c.evidence = evidence_of(k->evidence());
      r.cases.push_back(std::move(c));
    }
  }
  if (q->refused() != nullptr) {
    for (const auto* f : *q->refused()) {
      Refusal x;
      x.request_id = str_of(f->request_id());
      x.reason = str_of(f->reason());
      x.evidence = evidence_of(f->evidence());
      r.refused.push_back(std::move(x));
    }
  }
  r.firmware_sha256 = bytes_of(q->firmware_sha256());
  r.firmware_status = static_cast<FirmwareStatus>(q->firmware_status());
  r.certificate_id = str_of(q->certificate_id());
  r.certificate_valid_until_ns = q->certificate_valid_until_ns();
  r.issued_ns = q->issued_ns();
  r.deadline_ns = q->deadline_ns();
  r.decided_ns = q->decided_ns();
  r.pipeline_name = str_of(q->pipeline_name());
  r.instance_id = str_of(q->instance_id());
  r.engine_key_id = str_of(q->engine_key_id());
  std::memcpy(r.signature.data(), q->signature()->data(), 64);
  return r;
}

// ---- decisions -----------------------------------------------------------------------------

Outcome aggregate(const std::vector<CaseResult>& cases) {
  if (cases.empty()) return Outcome::kNoResponse;
  bool no_response = false, indeterminate = false;
  for (const CaseResult& c : cases) {
    if (c.outcome == Outcome::kFailed) return Outcome::kFailed;
    no_response = no_response || c.outcome == Outcome::kNoResponse;
    indeterminate = indeterminate || c.outcome == Outcome::kIndeterminate;
  }
  if (no_response) return Outcome::kNoResponse;
  return indeterminate ? Outcome::kIndeterminate : Outcome::kPassed;
}

void decide_case(const CaseSpec& spec, const operators::CalibrationResult& cal,
                 double response_reference, operators::DecisionRule rule, CaseResult& out) {
  using wire::CalibrationVerdict;
  out.calibration_verdict = cal.verdict;
  out.corrected = cal.corrected;
  out.expanded_uncertainty = cal.expanded;
  out.mpe = spec.mpe_absolute + spec.mpe_relative * std::fabs(spec.reference_value);
  out.error = cal.corrected - spec.reference_value;
  auto set = [&](Outcome o, const char* reason) {
    out.outcome = o;
    out.reason = reason;
  };
  if (cal.code == engine::RejectCode::kValueNotFinite)
    return set(Outcome::kFailed, "value_not_finite");
  switch (cal.verdict) {
    case CalibrationVerdict::FirmwareNotApproved:
      return set(Outcome::kFailed, "firmware_not_approved");
    case CalibrationVerdict::NoCertificate:
      return set(Outcome::kIndeterminate, "no_certificate");
    case CalibrationVerdict::CertificateExpired:
      return set(Outcome::kIndeterminate, "certificate_expired");
    case CalibrationVerdict::CertificateNotYetValid:
      return set(Outcome::kIndeterminate, "certificate_not_yet_valid");
    case CalibrationVerdict::QuantityMismatch:
      return set(Outcome::kIndeterminate, "quantity_mismatch");
    case CalibrationVerdict::UnitMismatch:
      return set(Outcome::kIndeterminate, "unit_mismatch");
    default:
      break;  // decided below (outside the range too: the error decides)
  }
  if (!std::isfinite(out.error)) return set(Outcome::kFailed, "value_not_finite");
  // The standard the instrument measured must be the one the plan names: the comparison is
  // with the plan's value, which the instrument must not be able to choose.
  if (!(response_reference == spec.reference_value))
    return set(Outcome::kIndeterminate, "reference_mismatch");
  switch (
      operators::decide_tolerance(std::fabs(out.error), out.expanded_uncertainty, out.mpe, rule)) {
    case CalibrationVerdict::InTolerance:
      return set(Outcome::kPassed, "in_tolerance");
    case CalibrationVerdict::OutOfTolerance:
      return set(Outcome::kFailed, "out_of_tolerance");
    default:
      return set(Outcome::kIndeterminate, "indeterminate");
  }
}

bool recheck_case(const CaseResult& c, operators::DecisionRule rule, std::string* why) {
  auto bad = [&](const std::string& m) {
    if (why != nullptr) *why = "case '" + c.case_id + "': " + m;
    return false;
  };
  if (auto implied = implied_outcome(c.reason)) {
    if (*implied != c.outcome)
      return bad("reason " + c.reason + " implies " + std::string(outcome_name(*implied)) +
                 ", the record says " + std::string(outcome_name(c.outcome)));
    if (c.reason == "no_response" && c.evidence) return bad("no_response with evidence");
    if (c.reason != "no_response" && !c.evidence) return bad("a decided case without evidence");
    return true;
  }
  if (c.reason != "in_tolerance" && c.reason != "out_of_tolerance" && c.reason != "indeterminate")
    return bad("unknown reason '" + c.reason + "'");
  if (!c.evidence) return bad("a decided case without evidence");
  const double mpe = c.mpe_absolute + c.mpe_relative * std::fabs(c.reference_value);
  if (mpe != c.mpe) return bad("mpe does not follow from the plan's MPE at the reference");
  if (c.corrected - c.reference_value != c.error) return bad("error != corrected - reference");
  if (c.response_reference_value != c.reference_value) return bad("reference values differ");
  const auto v = operators::decide_tolerance(std::fabs(c.error), c.expanded_uncertainty, mpe, rule);
  const Outcome expect = v == wire::CalibrationVerdict::InTolerance      ? Outcome::kPassed
                         : v == wire::CalibrationVerdict::OutOfTolerance ? Outcome::kFailed
                                                                         : Outcome::kIndeterminate;
  const char* expect_reason = expect == Outcome::kPassed   ? "in_tolerance"
                              : expect == Outcome::kFailed ? "out_of_tolerance"
                                                           : "indeterminate";
  if (expect != c.outcome || c.reason != expect_reason)
    return bad("|e| = " + std::to_string(std::fabs(c.error)) + ", U = " +
               std::to_string(c.expanded_uncertainty) + ", MPE = " + std::to_string(mpe) +
               " give " + expect_reason + ", the record says " + c.reason);
  return true;
}

}  // namespace assay::metrology
