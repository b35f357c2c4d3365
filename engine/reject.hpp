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
  kCount_,               ///< number of codes (keep last)
};

/// The stable string form, e.g. "frame.truncated".
std::string_view reject_code_name(RejectCode code);

}  // namespace assay::engine
