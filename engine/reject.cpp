#include "engine/reject.hpp"

namespace assay::engine {

std::string_view reject_code_name(RejectCode code) {
  switch (code) {
    case RejectCode::kNone: return "none";
    case RejectCode::kFrameTruncated: return "frame.truncated";
    case RejectCode::kFrameTooLarge: return "frame.too_large";
    case RejectCode::kUnknownRoot: return "wire.unknown_root";
    case RejectCode::kVerifierFailed: return "wire.verifier_failed";
    case RejectCode::kBodyVerifierFailed: return "wire.body_verifier_failed";
    case RejectCode::kEmptyBatch: return "wire.empty_batch";
    case RejectCode::kSignatureBad: return "signature.bad";
    case RejectCode::kUnknownSensor: return "signature.unknown_sensor";
    case RejectCode::kUnknownKey: return "signature.unknown_key";
    case RejectCode::kKeyRevoked: return "signature.key_revoked";
    case RejectCode::kKeyNotValidAtTime: return "signature.key_not_valid_at_time";
    case RejectCode::kAlgorithmNotAllowed: return "signature.algorithm_not_allowed";
    case RejectCode::kSignatureMalformed: return "signature.malformed";
    case RejectCode::kUnsigned: return "signature.missing";
    case RejectCode::kSignatureThrottled: return "signature.throttled";
    case RejectCode::kCalNoCertificate: return "calibration.no_certificate";
    case RejectCode::kCalExpired: return "calibration.certificate_expired";
    case RejectCode::kCalNotYetValid: return "calibration.certificate_not_yet_valid";
    case RejectCode::kCalOutOfTolerance: return "calibration.out_of_tolerance";
    case RejectCode::kCalOutsideRange: return "calibration.outside_measuring_range";
    case RejectCode::kCalQuantityMismatch: return "calibration.quantity_mismatch";
    case RejectCode::kCalUnitMismatch: return "calibration.unit_mismatch";
    case RejectCode::kCalFirmwareNotApproved: return "calibration.firmware_not_approved";
    case RejectCode::kCalIndeterminate: return "calibration.indeterminate";
    case RejectCode::kAnomalyReplay: return "anomaly.replay";
    case RejectCode::kAnomalyGap: return "anomaly.gap";
    case RejectCode::kAnomalyClockSkew: return "anomaly.clock_skew";
    case RejectCode::kAnomalyFutureTimestamp: return "anomaly.future_timestamp";
    case RejectCode::kAnomalyOutsidePhysicalRange: return "anomaly.outside_physical_range";
    case RejectCode::kAnomalySpike: return "anomaly.spike";
    case RejectCode::kAnomalyStuck: return "anomaly.stuck";
    case RejectCode::kAnomalyRateLimited: return "anomaly.rate_limited";
    case RejectCode::kValueNotFinite: return "reading.value_not_finite";
    case RejectCode::kDriftAlarm: return "drift.alarm";
    case RejectCode::kTooManyReadings: return "wire.too_many_readings";
    case RejectCode::kOutputTooLarge: return "record.output_too_large";
    case RejectCode::kCount_: break;
  }
  return "unknown";
}

}  // namespace assay::engine
