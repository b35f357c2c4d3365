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
    case RejectCode::kVerificationUnknownRequest: return "verification.unknown_request";
    case RejectCode::kVerificationWrongInstrument: return "verification.wrong_instrument";
    case RejectCode::kVerificationLate: return "verification.late_response";
    case RejectCode::kVerificationDuplicate: return "verification.duplicate_response";
    case RejectCode::kVerificationMalformed: return "verification.malformed_response";
    case RejectCode::kOcmfTooLarge: return "ocmf.too_large";
    case RejectCode::kOcmfNotOcmf: return "ocmf.not_ocmf";
    case RejectCode::kOcmfMissingSection: return "ocmf.missing_section";
    case RejectCode::kOcmfExtraSection: return "ocmf.extra_section";
    case RejectCode::kOcmfPayloadJson: return "ocmf.payload_invalid_json";
    case RejectCode::kOcmfSignatureJson: return "ocmf.signature_invalid_json";
    case RejectCode::kOcmfNotObject: return "ocmf.section_not_object";
    case RejectCode::kOcmfDuplicateKey: return "ocmf.duplicate_key";
    case RejectCode::kOcmfWrongType: return "ocmf.wrong_type";
    case RejectCode::kOcmfNumberOutOfRange: return "ocmf.number_out_of_range";
    case RejectCode::kOcmfTooDeep: return "ocmf.too_deep";
    case RejectCode::kOcmfTooManyReadings: return "ocmf.too_many_readings";
    case RejectCode::kOcmfTooManyFields: return "ocmf.too_many_fields";
    case RejectCode::kOcmfFieldTooLong: return "ocmf.field_too_long";
    case RejectCode::kOcmfUnsupportedVersion: return "ocmf.unsupported_version";
    case RejectCode::kOcmfPaginationInvalid: return "ocmf.pagination_invalid";
    case RejectCode::kOcmfMissingIdentity: return "ocmf.missing_identity";
    case RejectCode::kOcmfNoReadings: return "ocmf.no_readings";
    case RejectCode::kOcmfReadingNotObject: return "ocmf.reading_not_object";
    case RejectCode::kOcmfTimeMissing: return "ocmf.time_missing";
    case RejectCode::kOcmfTimeInvalid: return "ocmf.time_invalid";
    case RejectCode::kOcmfTimeStatusInvalid: return "ocmf.time_status_invalid";
    case RejectCode::kOcmfTxInvalid: return "ocmf.tx_invalid";
    case RejectCode::kOcmfStatusMissing: return "ocmf.status_missing";
    case RejectCode::kOcmfStatusInvalid: return "ocmf.status_invalid";
    case RejectCode::kOcmfUnitMissing: return "ocmf.unit_missing";
    case RejectCode::kOcmfErrorFlagsInvalid: return "ocmf.error_flags_invalid";
    case RejectCode::kOcmfValueInvalid: return "ocmf.value_invalid";
    case RejectCode::kOcmfSignatureMissing: return "ocmf.signature_missing";
    case RejectCode::kOcmfUnknownAlgorithm: return "ocmf.unknown_algorithm";
    case RejectCode::kOcmfLegacyAlgorithm: return "ocmf.legacy_algorithm";
    case RejectCode::kOcmfUnknownEncoding: return "ocmf.unknown_encoding";
    case RejectCode::kOcmfUnknownMimeType: return "ocmf.unknown_mime_type";
    case RejectCode::kOcmfSignatureEncoding: return "ocmf.signature_encoding_invalid";
    case RejectCode::kOcmfSignatureDer: return "ocmf.signature_der_invalid";
    case RejectCode::kOcmfInternalLimit: return "ocmf.internal_limit";
    case RejectCode::kOcmfUnsupportedAlgorithm: return "ocmf.unsupported_algorithm";
    case RejectCode::kOcmfCheckPaginationReplay: return "ocmf.pagination_replay";
    case RejectCode::kOcmfCheckPaginationGap: return "ocmf.pagination_gap";
    case RejectCode::kOcmfCheckTransactionUnterminated: return "ocmf.transaction_unterminated";
    case RejectCode::kOcmfCheckTransactionNotOpen: return "ocmf.transaction_not_open";
    case RejectCode::kOcmfCheckEndWithoutBegin: return "ocmf.transaction_end_without_begin";
    case RejectCode::kOcmfCheckReadingDecreased: return "ocmf.reading_decreased";
    case RejectCode::kOcmfCheckTimeDecreased: return "ocmf.time_decreased";
    case RejectCode::kOcmfCheckTimeUnsynchronized: return "ocmf.time_unsynchronized";
    case RejectCode::kOcmfCheckTimeInformative: return "ocmf.time_informative";
    case RejectCode::kOcmfCheckTransactionException: return "ocmf.transaction_exception";
    case RejectCode::kOcmfCheckErrorFlags: return "ocmf.error_flags";
    case RejectCode::kOcmfCheckMeterStatus: return "ocmf.meter_status";
    case RejectCode::kOcmfCheckTooManyRegisters: return "ocmf.too_many_registers";
    case RejectCode::kOcmfCheckStateFull: return "ocmf.state_full";
    case RejectCode::kCount_: break;
  }
  return "unknown";
}

}  // namespace assay::engine
