#pragma once
/// \file SenML packs (RFC 8428) in the CBOR representation (integer labels) and the JSON
/// representation, resolved per RFC 8428 §4.6: base name + name, base time + time, unit or
/// base unit, base value + value, base sum + sum. Each resolved record is one reading. See
/// docs/senml-cose.md for the mapping, the reason codes and the limits.
///
/// Choices where RFC 8428 leaves room: relative times (resolved time < 2^28 s) are refused,
/// because their meaning depends on the time of arrival and verdicts must not; definite
/// lengths only (RFC 8428 §6 requires them outside SensML streams); CBOR decimal fractions
/// (tag 4) are refused; unknown fields are ignored as the RFC requires, except labels ending
/// in '_', which are refused; records with a string (vs) or data (vd) value are refused unless
/// SenmlParseOptions::accept_non_numeric. Views point into the input (CBOR) or into the
/// pack's own arenas (JSON strings, resolved names), valid while the pack lives and is not
/// parsed into again; the pack is move-only.

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "formats/cose.hpp"
#include "formats/text_arena.hpp"

namespace assay::formats {

/// Why a SenML pack could not be parsed. Stable string forms: senml_error_name().
enum class SenmlError : uint8_t {
  kNone = 0,
  kTooLarge,               ///< "senml.too_large": over SenmlParseOptions::max_pack_bytes
  kTruncated,              ///< "senml.truncated": CBOR ends inside an item
  kMalformed,              ///< "senml.cbor_malformed": reserved/unassigned CBOR encodings
  kInvalidJson,            ///< "senml.invalid_json": JSON syntax, UTF-8 or trailing data
  kIndefiniteLength,       ///< "senml.indefinite_length": an indefinite-length CBOR item
  kTooDeep,                ///< "senml.too_deep": nesting over the limit (unknown fields)
  kTrailingBytes,          ///< "senml.trailing_bytes": bytes after the pack (CBOR)
  kNotArray,               ///< "senml.not_array": the pack is not an array
  kEmptyPack,              ///< "senml.empty_pack"
  kTooManyRecords,         ///< "senml.too_many_records"
  kRecordNotMap,           ///< "senml.record_not_map": a record is not a map/object
  kLabelInvalid,           ///< "senml.label_invalid": a CBOR label that is not an int or tstr
  kDuplicateField,         ///< "senml.duplicate_field": a label twice in one record
  kTooManyFields,          ///< "senml.too_many_fields": a record with more fields than the limit
  kWrongType,              ///< "senml.wrong_type": a field of the wrong type (incl. tag 4)
  kInvalidUtf8,            ///< "senml.invalid_utf8": a CBOR text string that is not UTF-8
  kFieldTooLong,           ///< "senml.field_too_long": a string or resolved name over the limit
  kUnknownMandatoryField,  ///< "senml.unknown_mandatory_field": unknown label ending in '_'
  kUnsupportedVersion,     ///< "senml.unsupported_version": bver above 10 (or not positive)
  kVersionMismatch,        ///< "senml.version_mismatch": records with different versions
  kInvalidName,            ///< "senml.invalid_name": resolved name empty or outside the charset
  kNoValue,                ///< "senml.no_value": no v/vs/vb/vd and no sum
  kMultipleValues,         ///< "senml.multiple_values": more than one of v, vs, vb, vd
  kNonNumericValue,        ///< "senml.non_numeric_value": vs/vd where not accepted
  kValueNotFinite,         ///< "senml.value_not_finite": NaN or infinite number
  kRelativeTime,           ///< "senml.relative_time": resolved time below 2^28 s
  kTimeOutOfRange,         ///< "senml.time_out_of_range": time not representable in int64 ns
  kDataInvalid,            ///< "senml.data_invalid": JSON vd not strict unpadded base64url
};

/// The stable reason code, e.g. "senml.relative_time".
std::string_view senml_error_name(SenmlError e);

/// Which value field a record carries.
enum class SenmlValueKind : uint8_t {
  kNumber,   ///< v (with bv added)
  kBool,     ///< vb; `value` = 1 or 0
  kString,   ///< vs; `value` = NaN
  kData,     ///< vd; `value` = NaN
  kSumOnly,  ///< no value field, only a sum; `value` = the sum
};

/// One resolved record.
struct SenmlRecord {
  std::string_view name;  ///< resolved name (bn + n)
  /// Length of the base name in effect, a prefix of `name` (the rest is the record's `n`).
  uint32_t base_name_size = 0;
  int64_t time_ns = 0;    ///< resolved time (bt + t), UTC ns since the epoch (absolute)
  std::string_view unit;  ///< u, else bu; empty if neither
  SenmlValueKind kind = SenmlValueKind::kNumber;
  double value = 0;                     ///< see SenmlValueKind
  bool bool_value = false;              ///< vb
  std::string_view string_value;        ///< vs
  std::span<const uint8_t> data_value;  ///< vd (decoded bytes)
  bool has_sum = false;                 ///< s or bs present
  double sum = 0;                       ///< bs + s
  bool has_update_time = false;         ///< ut present
  double update_time = 0;               ///< ut, seconds
};

/// A parsed pack. Move-only (views into its own arenas).
struct SenmlPack {
  std::vector<SenmlRecord> records;  ///< in input order
  uint32_t version = 10;             ///< bver in effect (default 10)

  SenmlPack() = default;
  SenmlPack(const SenmlPack&) = delete;
  SenmlPack& operator=(const SenmlPack&) = delete;
  SenmlPack(SenmlPack&&) noexcept = default;
  SenmlPack& operator=(SenmlPack&&) noexcept = default;

  /// A number as sent: exact integers are kept as integers (times stay exact).
  struct Number {
    bool is_int = false;  ///< `i` holds the value
    int64_t i = 0;        ///< integer value
    double d = 0;         ///< floating-point value (when !is_int)
  };
  /// The fields of one record as sent, before resolution (scratch, reused between parses).
  struct Raw {
    uint32_t present = 0;  ///< bit per field (internal field numbering)
    std::string_view bn, bu, n, u, vs;
    std::span<const uint8_t> vd;
    Number bt, bv, bs, v, s, t, ut;
    bool vb = false;
    uint64_t bver = 0;
  };

  // ---- storage (filled by the parsers) ----
  TextArena strings;     ///< JSON strings and decoded data values
  TextArena names;       ///< concatenated names
  std::vector<Raw> raw;  ///< unresolved records (scratch)
};

/// Parser limits and policy.
struct SenmlParseOptions {
  size_t max_pack_bytes = 64 * 1024;  ///< whole pack
  size_t max_records = 1024;          ///< records per pack
  size_t max_fields = 32;             ///< fields per record (known and unknown)
  size_t max_name_bytes = 512;        ///< resolved name
  size_t max_string_bytes = 4096;     ///< any string or data value
  int max_depth = 8;                  ///< nesting inside unknown fields
  /// Accept records with string (vs) or data (vd) values; refused (senml.non_numeric_value)
  /// by default because a reading's value is a number.
  bool accept_non_numeric = false;
};

/// Parses a CBOR SenML pack (application/senml+cbor). On failure `out` is unspecified.
/// Never throws; time and memory are linear in the input.
SenmlError parse_senml_cbor(std::span<const uint8_t> input, const SenmlParseOptions& options,
                            SenmlPack& out);

/// Parses a JSON SenML pack (application/senml+json). Same contract.
SenmlError parse_senml_json(std::span<const uint8_t> input, const SenmlParseOptions& options,
                            SenmlPack& out);

/// Content formats of the SenML media types (RFC 8428 §12.3), for COSE content type checks.
inline constexpr uint64_t kSenmlJsonContentFormat = 110;  ///< application/senml+json
inline constexpr uint64_t kSenmlCborContentFormat = 112;  ///< application/senml+cbor

/// True if a COSE message's content type names SenML, with the payload's representation in
/// `json`: content type absent (then JSON if the payload starts with '[' after JSON
/// whitespace, else CBOR), 112 or "application/senml+cbor" (CBOR), 110 or
/// "application/senml+json" (JSON). False for any other content type.
bool senml_payload_is_json(const CoseMessage& m, bool& json);

}  // namespace assay::formats
