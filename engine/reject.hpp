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
  // Remote verification (operator `verification`, docs/metrology-cloud.md).
  kVerificationUnknownRequest,   ///< "verification.unknown_request": names no request Assay issued
  kVerificationWrongInstrument,  ///< "verification.wrong_instrument": the request was for another instrument
  kVerificationLate,             ///< "verification.late_response": arrived after the request's deadline
  kVerificationDuplicate,        ///< "verification.duplicate_response": the request was already answered
  kVerificationMalformed,        ///< "verification.malformed_response": not a ReferenceCheck reading
  // OCMF input (format `ocmf`, docs/ocmf.md). The parser's reasons, in formats::OcmfError
  // order (kOcmfTooLarge + (error - 1)):
  kOcmfTooLarge,  ///< "ocmf.too_large"
  kOcmfNotOcmf,  ///< "ocmf.not_ocmf"
  kOcmfMissingSection,  ///< "ocmf.missing_section"
  kOcmfExtraSection,  ///< "ocmf.extra_section"
  kOcmfPayloadJson,  ///< "ocmf.payload_invalid_json"
  kOcmfSignatureJson,  ///< "ocmf.signature_invalid_json"
  kOcmfNotObject,  ///< "ocmf.section_not_object"
  kOcmfDuplicateKey,  ///< "ocmf.duplicate_key"
  kOcmfWrongType,  ///< "ocmf.wrong_type"
  kOcmfNumberOutOfRange,  ///< "ocmf.number_out_of_range"
  kOcmfTooDeep,  ///< "ocmf.too_deep"
  kOcmfTooManyReadings,  ///< "ocmf.too_many_readings"
  kOcmfTooManyFields,  ///< "ocmf.too_many_fields"
  kOcmfFieldTooLong,  ///< "ocmf.field_too_long"
  kOcmfUnsupportedVersion,  ///< "ocmf.unsupported_version"
  kOcmfPaginationInvalid,  ///< "ocmf.pagination_invalid"
  kOcmfMissingIdentity,  ///< "ocmf.missing_identity"
  kOcmfNoReadings,  ///< "ocmf.no_readings"
  kOcmfReadingNotObject,  ///< "ocmf.reading_not_object"
  kOcmfTimeMissing,  ///< "ocmf.time_missing"
  kOcmfTimeInvalid,  ///< "ocmf.time_invalid"
  kOcmfTimeStatusInvalid,  ///< "ocmf.time_status_invalid"
  kOcmfTxInvalid,  ///< "ocmf.tx_invalid"
  kOcmfStatusMissing,  ///< "ocmf.status_missing"
  kOcmfStatusInvalid,  ///< "ocmf.status_invalid"
  kOcmfUnitMissing,  ///< "ocmf.unit_missing"
  kOcmfErrorFlagsInvalid,  ///< "ocmf.error_flags_invalid"
  kOcmfValueInvalid,  ///< "ocmf.value_invalid"
  kOcmfSignatureMissing,  ///< "ocmf.signature_missing"
  kOcmfUnknownAlgorithm,  ///< "ocmf.unknown_algorithm"
  kOcmfLegacyAlgorithm,  ///< "ocmf.legacy_algorithm"
  kOcmfUnknownEncoding,  ///< "ocmf.unknown_encoding"
  kOcmfUnknownMimeType,  ///< "ocmf.unknown_mime_type"
  kOcmfSignatureEncoding,  ///< "ocmf.signature_encoding_invalid"
  kOcmfSignatureDer,  ///< "ocmf.signature_der_invalid"
  kOcmfInternalLimit,  ///< "ocmf.internal_limit"
  kOcmfUnsupportedAlgorithm,  ///< "ocmf.unsupported_algorithm": an SA Assay does not verify (secp256k1)
  // OCMF plausibility (operator `ocmf_checks`), in formats::OcmfCheck order
  // (kOcmfCheckPaginationReplay + (check - 1)):
  kOcmfCheckPaginationReplay,  ///< "ocmf.pagination_replay"
  kOcmfCheckPaginationGap,  ///< "ocmf.pagination_gap"
  kOcmfCheckTransactionUnterminated,  ///< "ocmf.transaction_unterminated"
  kOcmfCheckTransactionNotOpen,  ///< "ocmf.transaction_not_open"
  kOcmfCheckEndWithoutBegin,  ///< "ocmf.transaction_end_without_begin"
  kOcmfCheckReadingDecreased,  ///< "ocmf.reading_decreased"
  kOcmfCheckTimeDecreased,  ///< "ocmf.time_decreased"
  kOcmfCheckTimeUnsynchronized,  ///< "ocmf.time_unsynchronized"
  kOcmfCheckTimeInformative,  ///< "ocmf.time_informative"
  kOcmfCheckTransactionException,  ///< "ocmf.transaction_exception"
  kOcmfCheckErrorFlags,  ///< "ocmf.error_flags"
  kOcmfCheckMeterStatus,  ///< "ocmf.meter_status"
  kOcmfCheckTooManyRegisters,  ///< "ocmf.too_many_registers"
  kOcmfCheckStateFull,  ///< "ocmf.state_full"
  // SenML/COSE input (format `senml-cose`, docs/senml-cose.md). The COSE parser's reasons,
  // in formats::CoseError order (kCoseTooLarge + (error - 1)):
  kCoseTooLarge,  ///< "cose.too_large"
  kCoseTruncated,  ///< "cose.truncated"
  kCoseCborMalformed,  ///< "cose.cbor_malformed"
  kCoseIndefiniteLength,  ///< "cose.indefinite_length"
  kCoseTooDeep,  ///< "cose.too_deep"
  kCoseTrailingBytes,  ///< "cose.trailing_bytes"
  kCoseUntagged,  ///< "cose.untagged"
  kCoseWrongTag,  ///< "cose.wrong_tag"
  kCoseNotArray,  ///< "cose.not_array"
  kCoseWrongArrayLength,  ///< "cose.wrong_array_length"
  kCoseProtectedNotBstr,  ///< "cose.protected_not_bstr"
  kCoseProtectedNotMap,  ///< "cose.protected_not_map"
  kCoseUnprotectedNotMap,  ///< "cose.unprotected_not_map"
  kCosePayloadNotBstr,  ///< "cose.payload_not_bstr"
  kCoseDetachedPayload,  ///< "cose.detached_payload"
  kCoseSignatureNotBstr,  ///< "cose.signature_not_bstr"
  kCoseHeaderLabelInvalid,  ///< "cose.header_label_invalid"
  kCoseDuplicateHeader,  ///< "cose.duplicate_header"
  kCoseTooManyHeaders,  ///< "cose.too_many_headers"
  kCoseAlgMissing,  ///< "cose.alg_missing"
  kCoseAlgNotProtected,  ///< "cose.alg_not_protected"
  kCoseAlgInvalid,  ///< "cose.alg_invalid"
  kCoseUnsupportedAlg,  ///< "cose.unsupported_alg"
  kCoseAlgKindMismatch,  ///< "cose.alg_kind_mismatch"
  kCoseKidMissing,  ///< "cose.kid_missing"
  kCoseKidInvalid,  ///< "cose.kid_invalid"
  kCoseCritUnsupported,  ///< "cose.crit_unsupported"
  kCoseContentTypeInvalid,  ///< "cose.content_type_invalid"
  kCoseSignatureLength,  ///< "cose.signature_length"
  kCoseUnknown,  ///< "cose.unknown"
  // The SenML parser's reasons, in formats::SenmlError order (kSenmlTooLarge + (error - 1)):
  kSenmlTooLarge,  ///< "senml.too_large"
  kSenmlTruncated,  ///< "senml.truncated"
  kSenmlCborMalformed,  ///< "senml.cbor_malformed"
  kSenmlInvalidJson,  ///< "senml.invalid_json"
  kSenmlIndefiniteLength,  ///< "senml.indefinite_length"
  kSenmlTooDeep,  ///< "senml.too_deep"
  kSenmlTrailingBytes,  ///< "senml.trailing_bytes"
  kSenmlNotArray,  ///< "senml.not_array"
  kSenmlEmptyPack,  ///< "senml.empty_pack"
  kSenmlTooManyRecords,  ///< "senml.too_many_records"
  kSenmlRecordNotMap,  ///< "senml.record_not_map"
  kSenmlLabelInvalid,  ///< "senml.label_invalid"
  kSenmlDuplicateField,  ///< "senml.duplicate_field"
  kSenmlTooManyFields,  ///< "senml.too_many_fields"
  kSenmlWrongType,  ///< "senml.wrong_type"
  kSenmlInvalidUtf8,  ///< "senml.invalid_utf8"
  kSenmlFieldTooLong,  ///< "senml.field_too_long"
  kSenmlUnknownMandatoryField,  ///< "senml.unknown_mandatory_field"
  kSenmlUnsupportedVersion,  ///< "senml.unsupported_version"
  kSenmlVersionMismatch,  ///< "senml.version_mismatch"
  kSenmlInvalidName,  ///< "senml.invalid_name"
  kSenmlNoValue,  ///< "senml.no_value"
  kSenmlMultipleValues,  ///< "senml.multiple_values"
  kSenmlNonNumericValue,  ///< "senml.non_numeric_value"
  kSenmlValueNotFinite,  ///< "senml.value_not_finite"
  kSenmlRelativeTime,  ///< "senml.relative_time"
  kSenmlTimeOutOfRange,  ///< "senml.time_out_of_range"
  kSenmlDataInvalid,  ///< "senml.data_invalid"
  kSenmlUnknown,  ///< "senml.unknown"
  kCoseContentTypeUnsupported,  ///< "cose.content_type_unsupported": a content type other than SenML CBOR (112) or JSON (110)
  // SenML replay protection (operator `senml_checks`), in formats::SenmlCheck order
  // (kSenmlCheckReplay + (check - 1)):
  kSenmlCheckReplay,  ///< "senml.replay"
  kSenmlCheckStateFull,  ///< "senml.state_full"
  kCount_,               ///< number of codes (keep last)
};

/// The stable string form, e.g. "frame.truncated".
std::string_view reject_code_name(RejectCode code);

}  // namespace assay::engine
