#pragma once
/// \file Machine-readable reasons why a record went to the `rejected` route. The string
/// forms are part of the public contract (RejectedRecord.reason, Kafka headers, metrics
/// labels): append new codes, never rename one.

#include <cstdint>
#include <string_view>

namespace assay::engine {

/// Why a record was rejected. kNone = not rejected.
enum class RejectCode : uint16_t {
  kNone = 0,
  // Framing and wire format (decode stage).
  kFrameTruncated,       ///< "frame.truncated": the input ended inside a frame
  kFrameTooLarge,        ///< "frame.too_large": larger than engine.max_record_bytes
  kUnknownRoot,          ///< "wire.unknown_root": not an Assay input record type
  kVerifierFailed,       ///< "wire.verifier_failed": the FlatBuffers Verifier refused the buffer
  kBodyVerifierFailed,   ///< "wire.body_verifier_failed": the signed body is not a valid Reading/ReadingBatch
  kEmptyBatch,           ///< "wire.empty_batch": a batch with no readings
  // Signature verification.
  kSignatureBad,         ///< "signature.bad"
  kUnknownSensor,        ///< "signature.unknown_sensor"
  kUnknownKey,           ///< "signature.unknown_key"
  kKeyRevoked,           ///< "signature.key_revoked"
  kKeyNotValidAtTime,    ///< "signature.key_not_valid_at_time"
  kAlgorithmNotAllowed,  ///< "signature.algorithm_not_allowed"
  kSignatureMalformed,   ///< "signature.malformed"
  kUnsigned,             ///< "signature.missing": unsigned input where a signature is required
  kSignatureThrottled,   ///< "signature.throttled": key under a forgery flood, over its budget
  // Calibration (operator `calibration`; which verdicts reject is configurable).
  kCalNoCertificate,       ///< "calibration.no_certificate"
  kCalExpired,             ///< "calibration.certificate_expired": valid_until before the reading
  kCalNotYetValid,         ///< "calibration.certificate_not_yet_valid"
  kCalOutOfTolerance,      ///< "calibration.out_of_tolerance"
  kCalOutsideRange,        ///< "calibration.outside_measuring_range"
  kCalQuantityMismatch,    ///< "calibration.quantity_mismatch"
  kCalUnitMismatch,        ///< "calibration.unit_mismatch"
  kCalFirmwareNotApproved, ///< "calibration.firmware_not_approved"
  kCalIndeterminate,       ///< "calibration.indeterminate": no decision possible (e.g. NaN value)
  // Anomalies (operator `anomaly`; which flags reject is configurable).
  kAnomalyReplay,          ///< "anomaly.replay": seq not greater than the last accepted
  kAnomalyGap,             ///< "anomaly.gap"
  kAnomalyClockSkew,       ///< "anomaly.clock_skew"
  kAnomalyFutureTimestamp, ///< "anomaly.future_timestamp"
  kAnomalyOutsidePhysicalRange, ///< "anomaly.outside_physical_range"
  kAnomalySpike,           ///< "anomaly.spike"
  kAnomalyStuck,           ///< "anomaly.stuck"
  kAnomalyRateLimited,     ///< "anomaly.rate_limited": a flooding sensor over its rate
  kValueNotFinite,         ///< "reading.value_not_finite": NaN or infinite value/uncertainty
  // Drift (operator `drift`, only where configured to reject on alarm).
  kDriftAlarm,             ///< "drift.alarm"
  // Resource bounds (engine settings; docs/config-reference.md, `engine`).
  kTooManyReadings,        ///< "wire.too_many_readings": over engine.max_readings_per_record
  kOutputTooLarge,         ///< "record.output_too_large": over engine.max_output_bytes_per_record
  kCount_,               ///< number of codes (keep last)
};

/// The stable string form, e.g. "frame.truncated".
std::string_view reject_code_name(RejectCode code);

}  // namespace assay::engine
