#pragma once
/// \file Strict parser for OCMF records (Open Charge Metering Format of S.A.F.E. e.V., format
/// versions 1.0 to 1.4): `OCMF|{payload JSON}|{signature JSON}`. See docs/ocmf.md for the field
/// mapping, the reason codes and the limits.
///
/// The parser never verifies the signature. It exposes what a verifier needs: the exact
/// payload bytes (a view into the input: the signature covers these bytes, never a
/// re-serialisation), the signature algorithm, the signature bytes (DER as sent and as
/// fixed-width r||s), and the signer identity (ocmf_signer_id). Strings are views into the
/// record's own arena (valid until the record is parsed into again or destroyed); the payload
/// and signature section views point into the caller's input, which must outlive their use.

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "formats/text_arena.hpp"

namespace assay::formats {

/// Why an OCMF record could not be parsed. Stable string forms: ocmf_error_name().
enum class OcmfError : uint8_t {
  kNone = 0,
  kTooLarge,            ///< "ocmf.too_large": over OcmfParseOptions::max_record_bytes
  kNotOcmf,             ///< "ocmf.not_ocmf": does not start with the header "OCMF|"
  kMissingSection,      ///< "ocmf.missing_section": fewer than three '|'-separated sections
  kExtraSection,        ///< "ocmf.extra_section": a further '|' (not allowed inside a section)
  kPayloadJson,         ///< "ocmf.payload_invalid_json": not JSON (syntax, UTF-8, trailing data)
  kSignatureJson,       ///< "ocmf.signature_invalid_json"
  kNotObject,           ///< "ocmf.section_not_object": a section is not a JSON object
  kDuplicateKey,        ///< "ocmf.duplicate_key": a key twice in one object
  kWrongType,           ///< "ocmf.wrong_type": a known field with the wrong JSON type
  kNumberOutOfRange,    ///< "ocmf.number_out_of_range": overflows a double, or too long
  kTooDeep,             ///< "ocmf.too_deep": nesting over the limit
  kTooManyReadings,     ///< "ocmf.too_many_readings"
  kTooManyFields,       ///< "ocmf.too_many_fields": unknown fields or array entries over the limit
  kFieldTooLong,        ///< "ocmf.field_too_long": a string over the limit
  kUnsupportedVersion,  ///< "ocmf.unsupported_version": FV not "1.<minor>"
  kPaginationInvalid,   ///< "ocmf.pagination_invalid": PG missing or not T/F + number
  kMissingIdentity,     ///< "ocmf.missing_identity": none of GS, MS, CI is set
  kNoReadings,          ///< "ocmf.no_readings": RD missing or empty
  kReadingNotObject,    ///< "ocmf.reading_not_object"
  kTimeMissing,         ///< "ocmf.time_missing": first reading without TM
  kTimeInvalid,         ///< "ocmf.time_invalid": TM not `YYYY-MM-DDThh:mm:ss,fff+hhmm X`
  kTimeStatusInvalid,   ///< "ocmf.time_status_invalid": sync status not U/I/S/R
  kTxInvalid,           ///< "ocmf.tx_invalid": TX not one of B C X E L R A P S T
  kStatusMissing,       ///< "ocmf.status_missing": first reading without ST
  kStatusInvalid,       ///< "ocmf.status_invalid": ST not one of N G T D R M X I O S E F
  kUnitMissing,         ///< "ocmf.unit_missing": a reading value without RU
  kErrorFlagsInvalid,   ///< "ocmf.error_flags_invalid": EF with characters other than E, t
  kValueInvalid,        ///< "ocmf.value_invalid": a numeric field given as a non-numeric string
  kSignatureMissing,    ///< "ocmf.signature_missing": SD missing or empty
  kUnknownAlgorithm,    ///< "ocmf.unknown_algorithm": SA not in the specification's table
  kLegacyAlgorithm,     ///< "ocmf.legacy_algorithm": secp192r1/secp192k1, not allowed
  kUnknownEncoding,     ///< "ocmf.unknown_encoding": SE not "hex" or "base64"
  kUnknownMimeType,     ///< "ocmf.unknown_mime_type": SM not "application/x-der"
  kSignatureEncoding,   ///< "ocmf.signature_encoding_invalid": SD not strict hex/base64
  kSignatureDer,        ///< "ocmf.signature_der_invalid": SD not a strict DER ECDSA signature
  kInternalLimit,       ///< "ocmf.internal_limit": a parser buffer limit (should not happen)
};

/// The stable reason code, e.g. "ocmf.pagination_invalid".
std::string_view ocmf_error_name(OcmfError e);

/// Signature algorithms of OCMF (SA, table 22 of the specification). The hash is SHA-256 for
/// every one of them.
enum class OcmfAlgorithm : uint8_t {
  kUnknown = 0,
  kSecp192k1Sha256,        ///< "ECDSA-secp192k1-SHA256" (legacy)
  kSecp256k1Sha256,        ///< "ECDSA-secp256k1-SHA256"
  kSecp192r1Sha256,        ///< "ECDSA-secp192r1-SHA256" (legacy)
  kSecp256r1Sha256,        ///< "ECDSA-secp256r1-SHA256" (default when SA is absent)
  kBrainpoolP256r1Sha256,  ///< "ECDSA-brainpool256r1-SHA256" (also spelt brainpoolP256r1)
  kSecp384r1Sha256,        ///< "ECDSA-secp384r1-SHA256"
  kBrainpoolP384r1Sha256,  ///< "ECDSA-brainpool384r1-SHA256" (also spelt brainpoolP384r1)
};

/// The specification's identifier, e.g. "ECDSA-secp256r1-SHA256".
std::string_view ocmf_algorithm_name(OcmfAlgorithm a);
/// Byte width of r and of s (24, 32 or 48; 0 for kUnknown).
size_t ocmf_algorithm_field_bytes(OcmfAlgorithm a);
/// True for the 192-bit curves.
bool ocmf_algorithm_is_legacy(OcmfAlgorithm a);
/// OpenSSL's short curve name ("prime256v1", "secp384r1", "brainpoolP256r1", ...).
std::string_view ocmf_algorithm_curve(OcmfAlgorithm a);

/// Transaction reference of a reading (TX). kNone: no TX (fiscal metering).
enum class OcmfTx : char {
  kNone = 0,
  kBegin = 'B',
  kCharging = 'C',
  kException = 'X',
  kEnd = 'E',
  kEndLocal = 'L',
  kEndRemote = 'R',
  kEndAbort = 'A',
  kEndPowerFailure = 'P',
  kSuspended = 'S',
  kTariffChange = 'T',
};
/// True for E, L, R, A, P (the transaction ends with this reading).
bool ocmf_tx_ends(OcmfTx tx);

/// Time synchronisation status of TM.
enum class OcmfTimeStatus : char {
  kUnknown = 'U',       ///< unknown, unsynchronised
  kInformative = 'I',   ///< informative (info clock)
  kSynchronized = 'S',  ///< synchronised
  kRelative = 'R',      ///< relative time accounting, legally accurate durations
};

/// Meter status (ST): 'N','G','T','D','R','M','X','I','O','S','E','F' (G = OK).
using OcmfMeterStatus = char;

/// Field bits of OcmfReading::inherited (fields taken from the previous reading of the record,
/// as the specification allows when they are equal).
enum OcmfInherited : uint16_t {
  kInheritTime = 1u << 0,
  kInheritTx = 1u << 1,
  kInheritObis = 1u << 2,
  kInheritUnit = 1u << 3,
  kInheritCurrentType = 1u << 4,
  kInheritErrorFlags = 1u << 5,
  kInheritStatus = 1u << 6,
};

/// Bits of OcmfRecord::deviations: tolerated departures from the specification's JSON types,
/// seen in certified meters in the field (only with OcmfParseOptions::lenient_types).
enum OcmfDeviation : uint16_t {
  kNumberAsString = 1u << 0,  ///< a Number field (RV, CL, LI, LR) given as a decimal string
  kStringAsNumber = 1u << 1,  ///< a String field (FV, CT, ...) given as a JSON number
};

/// One RD entry, with the inherited fields filled in.
struct OcmfReading {
  int64_t time_ns = 0;        ///< TM as UTC nanoseconds since the epoch
  int16_t tz_offset_min = 0;  ///< TM's UTC offset as written, in minutes
  OcmfTimeStatus time_status = OcmfTimeStatus::kUnknown;
  std::string_view time_text;  ///< TM as written (with the status letter)
  OcmfTx tx = OcmfTx::kNone;
  bool has_value = false;           ///< RV present (absent: an error event only)
  double value = 0;                 ///< RV
  std::string_view value_text;      ///< RV exactly as written (the decimal digits are significant)
  std::string_view obis;            ///< RI (OBIS code), empty if none
  std::string_view unit;            ///< RU, e.g. "kWh"
  std::string_view current_type;    ///< RT ("AC", "DC"), empty if none
  bool has_cumulated_loss = false;  ///< CL present
  double cumulated_loss = 0;        ///< CL, in RU
  std::string_view cumulated_loss_text;  ///< CL as written
  std::string_view error_flags;          ///< EF ("", "E", "t", "Et")
  OcmfMeterStatus status = 0;            ///< ST
  uint16_t inherited = 0;                ///< OcmfInherited bits
};

/// Where an unknown field was found.
enum class OcmfSection : uint8_t { kPayload, kReading, kLossCompensation, kSignature };

/// A field the parser does not map (vendor extensions U..Z, reserved A..F in the signature
/// section, fields of newer minor versions): kept, never dropped.
struct OcmfExtra {
  OcmfSection section = OcmfSection::kPayload;
  uint32_t reading = 0;  ///< index in readings (section kReading)
  std::string_view key;  ///< field name
  /// The value: strings as their text, numbers as written, true/false/null, objects and
  /// arrays re-serialised compactly (the exact bytes remain in the signed payload).
  std::string_view value;
};

/// A parsed record. Move-only (its string views point into its own arena).
struct OcmfRecord {
  /// The payload section exactly as received: the signed bytes (view into the input).
  std::span<const uint8_t> payload;
  /// The signature section as received (view into the input).
  std::span<const uint8_t> signature_section;

  // General information and pagination.
  std::string_view format_version;   ///< FV as written ("" if absent: treated as 1.0)
  uint8_t version_minor = 0;         ///< minor of FV (major is always 1)
  std::string_view gateway_id;       ///< GI
  std::string_view gateway_serial;   ///< GS
  std::string_view gateway_version;  ///< GV
  char pagination_context = 0;       ///< 'T' (transaction) or 'F' (fiscal)
  uint64_t pagination = 0;           ///< PG counter
  // Meter.
  std::string_view meter_vendor;    ///< MV
  std::string_view meter_model;     ///< MM
  std::string_view meter_serial;    ///< MS
  std::string_view meter_firmware;  ///< MF
  // User assignment (present with a transaction reference).
  bool has_identification_status = false;              ///< IS present
  bool identification_status = false;                  ///< IS
  std::string_view identification_level;               ///< IL
  std::vector<std::string_view> identification_flags;  ///< IF
  std::string_view identification_type;                ///< IT
  std::string_view identification_data;                ///< ID (personal data: see docs/privacy.md)
  std::string_view tariff_text;                        ///< TT
  // EVSE metrologic parameters.
  std::string_view charge_controller_firmware;  ///< CF
  bool has_loss_compensation = false;           ///< LC present
  std::string_view loss_name;                   ///< LC.LN
  std::string_view loss_id;                     ///< LC.LI as written
  double loss_resistance = 0;                   ///< LC.LR
  std::string_view loss_resistance_text;        ///< LC.LR as written
  std::string_view loss_unit;                   ///< LC.LU
  // Charge point.
  std::string_view charge_point_id_type;  ///< CT
  std::string_view charge_point_id;       ///< CI

  std::vector<OcmfReading> readings;  ///< RD, in order
  std::vector<OcmfExtra> extras;      ///< unmapped fields, in input order

  // Signature section.
  OcmfAlgorithm algorithm = OcmfAlgorithm::kUnknown;  ///< SA (default secp256r1 if absent)
  bool algorithm_explicit = false;                    ///< SA was present
  bool base64 = false;                                ///< SE = "base64" (default hex)
  std::string_view signature_text;                    ///< SD as written
  /// SD decoded: the DER ECDSA-Sig-Value as sent.
  std::span<const uint8_t> signature_der() const { return {der_.data(), der_len_}; }
  /// r||s, each left-padded to ocmf_algorithm_field_bytes(algorithm) (48, 64 or 96 bytes).
  std::span<const uint8_t> signature_raw() const { return {raw_.data(), raw_len_}; }

  uint16_t deviations = 0;  ///< OcmfDeviation bits

  OcmfRecord() = default;
  OcmfRecord(const OcmfRecord&) = delete;
  OcmfRecord& operator=(const OcmfRecord&) = delete;
  OcmfRecord(OcmfRecord&&) noexcept = default;
  OcmfRecord& operator=(OcmfRecord&&) noexcept = default;

  // ---- storage (filled by parse_ocmf) ----
  TextArena arena;                  ///< backing store of the string views
  std::array<uint8_t, 160> der_{};  ///< decoded SD
  size_t der_len_ = 0;
  std::array<uint8_t, 96> raw_{};  ///< r||s
  size_t raw_len_ = 0;
};

/// Parser limits and policy.
struct OcmfParseOptions {
  size_t max_record_bytes = 64 * 1024;  ///< whole record
  size_t max_readings = 256;            ///< RD entries
  size_t max_extras = 256;              ///< unmapped fields (incl. nested values' entries)
  size_t max_string_bytes = 8192;       ///< any one string value
  size_t max_depth = 8;                 ///< JSON nesting (top-level object = 1)
  /// Accept secp192r1/secp192k1 (refused by default: 96-bit security).
  bool allow_legacy_curves = false;
  /// Tolerate the JSON type departures certified meters emit (numbers as decimal strings
  /// with surrounding spaces, string fields as numbers); each sets a bit in `deviations`.
  /// False: they are refused as ocmf.wrong_type.
  bool lenient_types = true;
};

/// Parses one record. On success returns kNone and fills `out` (all previous content is
/// replaced; reusing one OcmfRecord across calls avoids reallocations). On failure `out` is
/// unspecified. Never throws; bounded time and memory (linear in the input size).
OcmfError parse_ocmf(std::span<const uint8_t> input, const OcmfParseOptions& options,
                     OcmfRecord& out);

/// The signer identity (key reference) of a record, built into `buf` (see docs/ocmf.md):
/// MS if GS is empty or equal to MS; GS if MS is empty; "GS/MS" if both differ; CI if neither
/// serial is set. Returns a view of `buf`.
std::string_view ocmf_signer_id(const OcmfRecord& r, std::string& buf);

/// OCMF unit (RU) to UCUM: "kWh" -> "kW.h", "Wh" -> "W.h", "mOhm" -> "mOhm", "uOhm" ->
/// "uOhm"; any other unit is returned as written.
std::string_view ocmf_unit_to_ucum(std::string_view unit);

}  // namespace assay::formats
