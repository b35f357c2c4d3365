#pragma once
/// \file Strict text-to-bytes decoders used by the format parsers (hex, base64, base64url) and
/// the strict DER ECDSA-Sig-Value to fixed-width r||s conversion for any curve size. All write
/// into caller-provided buffers and never allocate.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace assay::formats {

/// Hex (either case, even length, no separators) into `out`; returns the byte count, or -1
/// if the text is not strict hex or does not fit.
ptrdiff_t decode_hex(std::string_view text, std::span<uint8_t> out);

/// Base64 (RFC 4648 §4, standard alphabet) with the padding RFC 4648 requires and zero pad
/// bits; no whitespace. Returns the byte count, or -1.
ptrdiff_t decode_base64(std::string_view text, std::span<uint8_t> out);

/// Base64url (RFC 4648 §5) without padding, as SenML JSON uses for `vd`; zero pad bits.
/// Returns the byte count, or -1.
ptrdiff_t decode_base64url(std::string_view text, std::span<uint8_t> out);

/// Strict DER `SEQUENCE { INTEGER r, INTEGER s }` (X9.62 Ecdsa-Sig-Value) to r||s, each
/// big-endian and left-padded to `field_bytes` (24, 32, 48 or 66). Refuses long-form lengths
/// where short form fits, indefinite lengths, negative or non-minimal integers, integers wider
/// than `field_bytes`, trailing bytes and `out` shorter than 2 * field_bytes. Range checks of r
/// and s against the group order are left to verification.
bool ecdsa_der_to_raw(std::span<const uint8_t> der, size_t field_bytes, std::span<uint8_t> out);

}  // namespace assay::formats
