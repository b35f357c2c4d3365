#pragma once
/// \file Decodes any Assay record (a FlatBuffers buffer with one of the wire contract's file
/// identifiers) to one line of JSON. The buffer is checked by the FlatBuffers Verifier for its
/// root type before any field is read; nested signed bodies are verified again on their own.
///
/// JSON conventions: byte vectors as lowercase hex strings; enums by name (the integer where
/// the value is outside the enum); `*_ns` times as integers plus a `<name>_utc` RFC 3339
/// string (e.g. `time_ns` -> `time_utc`); absent strings/vectors/tables as null; doubles in
/// shortest round-trip form, NaN/Inf as the strings "NaN", "Infinity", "-Infinity"; strings
/// escaped for JSON, bytes that are not valid UTF-8 written as \u00XX.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace assay::connectors {

/// Name of the root type named by the buffer's file identifier ("Reading", "SignedReading",
/// ...), or "" when the identifier is not one of Assay's (or the buffer is shorter than 8
/// bytes). Does not verify the buffer.
std::string_view root_type_name(std::span<const uint8_t> bytes);

/// Writes one JSON object (no trailing newline) describing `bytes` into `out` (cleared first;
/// pass the same string again to reuse its capacity). Returns true for a verified record;
/// false for an unknown identifier or a Verifier failure, in which case `out` is
/// {"type":"invalid","reason":"wire.unknown_root"|"wire.verifier_failed","size":N,"hex_prefix":"..."}.
bool record_to_json(std::span<const uint8_t> bytes, std::string& out);

/// As record_to_json, but appends to `out` without clearing it.
bool append_record_json(std::span<const uint8_t> bytes, std::string& out);

/// Appends `s` to `out` as a quoted, escaped JSON string.
void append_json_string(std::string& out, std::string_view s);

/// Appends a JSON number for `v` (shortest round-trip); NaN/Inf as quoted strings.
void append_json_double(std::string& out, double v);

/// Appends `bytes` as lowercase hex (no quotes).
void append_hex(std::string& out, std::span<const uint8_t> bytes);

}  // namespace assay::connectors
