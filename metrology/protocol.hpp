#pragma once
/// \file The remote-verification protocol's records (docs/metrology-cloud.md): test-case
/// requests Assay publishes (schemas/verification_request.fbs, identifier AVRQ) and
/// e-verification results it writes (schemas/verification_result.fbs, AEVR); their canonical
/// bytes, Ed25519 signatures by the engine key, encoding and strict decoding; and the decision
/// of one test case under the guard-banded rule of the calibration operator.

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/signing_key.hpp"
#include "operators/calibration.hpp"
#include "schemas/common_generated.h"

namespace assay::metrology {

/// Outcome of a campaign for one instrument, and of one test case (wire::VerificationOutcome).
enum class Outcome : uint8_t { kPassed = 0, kFailed = 1, kIndeterminate = 2, kNoResponse = 3 };

/// "passed", "failed", "indeterminate", "no_response".
std::string_view outcome_name(Outcome o);
/// The outcome named `name` (as outcome_name), or nullopt.
std::optional<Outcome> parse_outcome(std::string_view name);

/// Firmware the instrument reported against the identity registry (wire::FirmwareStatus).
enum class FirmwareStatus : uint8_t {
  kNotChecked = 0,
  kApproved = 1,
  kNotApproved = 2,
  kMissing = 3
};

/// "not_checked", "approved", "not_approved", "missing".
std::string_view firmware_status_name(FirmwareStatus s);

/// A test-case request (what Assay publishes on a group's command topic).
struct Request {
  uint8_t version = 1;
  std::string request_id;
  std::string plan_id;
  std::array<uint8_t, 32> plan_sha256{};
  std::string campaign_id;
  std::string case_id;
  std::string instrument_id;
  std::string group;
  std::string quantity;
  std::string unit;
  double reference_value = 0;
  std::string stimulus;
  int64_t issued_ns = 0;
  int64_t deadline_ns = 0;
  std::string engine_key_id;
  std::array<uint8_t, 64> signature{};
};

/// The canonical bytes of a request (docs/metrology-cloud.md, "Canonical bytes"):
/// "assay.verification-request.v1\n", then each field in declaration order (version as one
/// byte; strings and byte vectors as u32 LE length + bytes; doubles as their IEEE-754 bits,
/// u64 LE; times as i64 LE); the signature is not part of them.
std::vector<uint8_t> request_canonical_bytes(const Request& r);
/// Signs `r` with `key` (sets engine_key_id and signature = Ed25519 over SHA-256 of the
/// canonical bytes).
void sign_request(Request& r, const engine::EngineKey& key);
/// True if the signature verifies under `public_key`.
bool verify_request(const Request& r, std::span<const uint8_t, 32> public_key);
/// The AVRQ buffer of `r`.
std::vector<uint8_t> encode_request(const Request& r);
/// Decodes an AVRQ buffer (FlatBuffers Verifier, identifier, required fields, 64-byte
/// signature, 32-byte plan hash); nullopt and `error` if it is not one.
std::optional<Request> decode_request(std::span<const uint8_t> bytes, std::string* error);

/// Where a response was in the input.
struct Evidence {
  std::string source_topic;
  int32_t source_partition = 0;
  int64_t source_offset = -1;
  uint32_t reading_index = 0;
  uint64_t seq = 0;
  int64_t time_ns = 0;
  int64_t received_ns = 0;
};

/// One test case of a result.
struct CaseResult {
  std::string case_id;
  std::string request_id;
  double reference_value = 0;
  double mpe_absolute = 0;
  double mpe_relative = 0;
  Outcome outcome = Outcome::kNoResponse;
  std::string reason = "no_response";  ///< stable code (docs/metrology-cloud.md)
  double value = 0;
  double corrected = 0;
  double expanded_uncertainty = 0;
  double error = 0;
  double mpe = 0;
  wire::CalibrationVerdict calibration_verdict = wire::CalibrationVerdict::NotChecked;
  double response_reference_value = 0;
  std::vector<uint8_t> firmware_sha256;
  std::optional<Evidence> evidence;  ///< absent without a response
};

/// A response that was not counted.
struct Refusal {
  std::string request_id;
  std::string reason;  ///< a reject code, e.g. "signature.malformed", "verification.late_response"
  Evidence evidence;
};

/// An e-verification result (what Assay writes on route `verifications` and into the audit log).
struct Result {
  uint8_t version = 1;
  std::string result_id;
  std::string plan_id;
  std::array<uint8_t, 32> plan_sha256{};
  std::string campaign_id;
  std::string instrument_id;
  std::string group;
  Outcome outcome = Outcome::kNoResponse;
  std::string reason;
  std::string detail;
  std::string decision_rule = "guarded";
  std::vector<CaseResult> cases;
  std::vector<Refusal> refused;
  std::vector<uint8_t> firmware_sha256;
  FirmwareStatus firmware_status = FirmwareStatus::kNotChecked;
  std::string certificate_id;
  int64_t certificate_valid_until_ns = 0;
  int64_t issued_ns = 0;
  int64_t deadline_ns = 0;
  int64_t decided_ns = 0;
  std::string pipeline_name;
  std::string instance_id;
  std::string engine_key_id;
  std::array<uint8_t, 64> signature{};
};

/// The canonical bytes of a result ("assay.verification-result.v1\n", then every field in
/// declaration order as for requests; a case's optional evidence as one byte 0/1 and then its
/// fields; counts of cases and refusals as u32 LE; the signature is not part of them).
std::vector<uint8_t> result_canonical_bytes(const Result& r);
/// Signs `r` with `key` (engine_key_id, signature over SHA-256 of the canonical bytes).
void sign_result(Result& r, const engine::EngineKey& key);
/// True if the signature verifies under `public_key`.
bool verify_result(const Result& r, std::span<const uint8_t, 32> public_key);
/// The AEVR buffer of `r`.
std::vector<uint8_t> encode_result(const Result& r);
/// Decodes an AEVR buffer strictly; nullopt and `error` if it is not one.
std::optional<Result> decode_result(std::span<const uint8_t> bytes, std::string* error);

/// Outcome of a whole result from its cases: failed if any case failed, else no response if
/// any case went unanswered, else indeterminate if any case is, else passed (no cases: no
/// response).
Outcome aggregate(const std::vector<CaseResult>& cases);

/// The plan's side of a case decision.
struct CaseSpec {
  double reference_value = 0;
  double mpe_absolute = 0;
  double mpe_relative = 0;
};

/// Decides one answered case: the calibration check of the response (its verdict and reject
/// code, corrected value and expanded uncertainty U with the certificate in force) and the
/// response's own reference value, against the plan's reference and MPE under `rule`. Fills
/// outcome, reason, corrected, expanded_uncertainty, error and mpe of `out`.
void decide_case(const CaseSpec& spec, const operators::CalibrationResult& calibration,
                 double response_reference, operators::DecisionRule rule, CaseResult& out);

/// Checks what can be checked of a decided case from the record alone (verify-results): for a
/// case decided by the rule, that error = corrected - reference, mpe = the plan's MPE at the
/// reference and the outcome follows from |e|, U and mpe; for the other reasons, that the
/// outcome is the one the reason implies. False with a message if not.
bool recheck_case(const CaseResult& c, operators::DecisionRule rule, std::string* why);

}  // namespace assay::metrology
