#pragma once
/// \file Strict decoding of COSE_Sign1 and COSE_Mac0 messages (RFC 9052, algorithms of RFC
/// 9053: ES256, EdDSA, HMAC 256/256) and construction of the exact bytes that were signed or
/// MACed (Sig_structure / MAC_structure with an empty external_aad). See docs/senml-cose.md.
///
/// Choices: a message must carry its CBOR tag (18 COSE_Sign1, 17 COSE_Mac0) unless the
/// caller names the kind of untagged messages; definite lengths only; `alg` must be in the
/// protected header; `kid` (either header) is required by default; any `crit` header is
/// refused (Assay understands no extension headers); a label may appear once across both
/// headers; no bytes may follow the message. The parser never verifies: it exposes kid,
/// algorithm, signature/tag and the views needed to build the signed bytes. Every view points
/// into the caller's input.

#include <cstdint>
#include <span>
#include <string_view>

namespace assay::formats {

/// Why a COSE message could not be decoded. Stable string forms: cose_error_name().
enum class CoseError : uint8_t {
  kNone = 0,
  kTooLarge,            ///< "cose.too_large": over CoseParseOptions::max_message_bytes
  kTruncated,           ///< "cose.truncated": the input ends inside an item (or a declared length)
  kMalformed,           ///< "cose.cbor_malformed": reserved/unassigned CBOR encodings, stray break
  kIndefiniteLength,    ///< "cose.indefinite_length": indefinite-length string, array or map
  kTooDeep,             ///< "cose.too_deep": header values nested over the limit
  kTrailingBytes,       ///< "cose.trailing_bytes": bytes after the message
  kUntagged,            ///< "cose.untagged": no tag where one is required
  kWrongTag,            ///< "cose.wrong_tag": a tag other than 17/18 (or a kind not accepted)
  kNotArray,            ///< "cose.not_array": the message is not an array
  kWrongArrayLength,    ///< "cose.wrong_array_length": not exactly 4 elements
  kProtectedNotBstr,    ///< "cose.protected_not_bstr"
  kProtectedNotMap,     ///< "cose.protected_not_map": the bstr does not hold exactly one map
  kUnprotectedNotMap,   ///< "cose.unprotected_not_map"
  kPayloadNotBstr,      ///< "cose.payload_not_bstr"
  kDetachedPayload,     ///< "cose.detached_payload": nil payload (not supported)
  kSignatureNotBstr,    ///< "cose.signature_not_bstr": signature/tag is not a byte string
  kHeaderLabelInvalid,  ///< "cose.header_label_invalid": a label that is not int or tstr
  kDuplicateHeader,     ///< "cose.duplicate_header": a label twice (in one or across headers)
  kTooManyHeaders,      ///< "cose.too_many_headers": more entries than the limit
  kAlgMissing,          ///< "cose.alg_missing"
  kAlgNotProtected,     ///< "cose.alg_not_protected": alg only in the unprotected header
  kAlgInvalid,          ///< "cose.alg_invalid": alg is not an int or tstr
  kUnsupportedAlg,      ///< "cose.unsupported_alg": not ES256 (-7), EdDSA (-8), HMAC 256/256 (5)
  kAlgKindMismatch,     ///< "cose.alg_kind_mismatch": a MAC alg in Sign1 or a signature alg in Mac0
  kKidMissing,          ///< "cose.kid_missing"
  kKidInvalid,          ///< "cose.kid_invalid": kid not a non-empty bstr within the limit
  kCritUnsupported,     ///< "cose.crit_unsupported": a crit header (extensions not understood)
  kContentTypeInvalid,  ///< "cose.content_type_invalid": content type not uint or tstr
  kSignatureLength,     ///< "cose.signature_length": not 64 (ES256 r||s, EdDSA) or 32 (HMAC)
};

/// The stable reason code, e.g. "cose.wrong_tag".
std::string_view cose_error_name(CoseError e);

/// The two message kinds Assay reads.
enum class CoseKind : uint8_t {
  kSign1 = 18,  ///< COSE_Sign1 (tag 18)
  kMac0 = 17,   ///< COSE_Mac0 (tag 17)
};

/// Algorithms (COSE algorithm identifiers).
enum class CoseAlgorithm : int8_t {
  kES256 = -7,   ///< ECDSA P-256 with SHA-256; signature r||s, 64 bytes
  kEdDSA = -8,   ///< EdDSA (Ed25519 keys in Assay); 64 bytes
  kHmac256 = 5,  ///< HMAC-SHA256 with a 256-bit tag; 32 bytes
};

/// The COSE name, e.g. "ES256".
std::string_view cose_algorithm_name(CoseAlgorithm a);

/// Parser limits and policy.
struct CoseParseOptions {
  size_t max_message_bytes = 64 * 1024;  ///< whole message
  size_t max_header_entries = 32;        ///< entries of both headers together
  int max_header_depth = 8;              ///< nesting of a header value
  size_t max_kid_bytes = 256;            ///< kid length
  bool require_kid = true;               ///< refuse messages without kid
  bool accept_sign1 = true;              ///< accept COSE_Sign1
  bool accept_mac0 = true;               ///< accept COSE_Mac0
  /// False: untagged messages are read as `untagged_kind` (for applications whose context
  /// fixes the kind); true: they are refused (cose.untagged).
  bool require_tag = true;
  CoseKind untagged_kind = CoseKind::kSign1;  ///< kind of untagged messages
};

/// A decoded message; every view points into the input.
struct CoseMessage {
  CoseKind kind = CoseKind::kSign1;
  bool tagged = false;
  CoseAlgorithm algorithm = CoseAlgorithm::kES256;
  /// The protected header's bstr contents exactly as received (the encoded map).
  std::span<const uint8_t> protected_header;
  std::span<const uint8_t> kid;  ///< key identifier (empty if absent and not required)
  bool kid_protected = false;    ///< kid came from the protected header
  bool has_content_type = false;
  uint64_t content_format = 0;         ///< content type as a CoAP content format (uint form)
  std::string_view content_type;       ///< content type as a media type (tstr form)
  std::span<const uint8_t> payload;    ///< the payload bstr contents
  std::span<const uint8_t> signature;  ///< COSE_Sign1 signature or COSE_Mac0 tag
};

/// Decodes one message. On failure `out` is unspecified. Never throws, never allocates.
CoseError parse_cose(std::span<const uint8_t> input, const CoseParseOptions& options,
                     CoseMessage& out);

/// Size of the bytes cose_build_to_be_signed() writes for `m`.
size_t cose_to_be_signed_size(const CoseMessage& m);

/// Writes the bytes the signature or tag covers: for COSE_Sign1 the Sig_structure
/// ["Signature1", protected, h'', payload], for COSE_Mac0 the MAC_structure ["MAC0",
/// protected, h'', payload] (RFC 9052 §4.4, §6.3), with the protected header's bytes as
/// received. Returns the byte count, or 0 if `out` is shorter than cose_to_be_signed_size(m).
size_t cose_build_to_be_signed(const CoseMessage& m, std::span<uint8_t> out);

}  // namespace assay::formats
