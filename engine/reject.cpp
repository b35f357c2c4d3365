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
    case RejectCode::kCount_: break;
  }
  return "unknown";
}

}  // namespace assay::engine
