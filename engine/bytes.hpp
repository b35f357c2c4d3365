#pragma once
/// \file Byte helpers, one place for each: hex, standard base64 (RFC 4648 section 4),
/// little-endian integers for canonical signing bytes, and SHA-256 of a string
/// (crypto/sha256.hpp is the one implementation).

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace assay::engine {

/// Lowercase hex of `bytes`.
std::string to_hex(std::span<const uint8_t> bytes);
/// Decodes hex (upper or lower case, no separators); nullopt if malformed.
std::optional<std::vector<uint8_t>> from_hex(std::string_view hex);
/// Standard base64 with padding (RFC 4648 section 4).
std::string to_base64(std::span<const uint8_t> bytes);
/// Decodes canonical standard base64 (padding required, no whitespace, unused bits zero);
/// nullopt otherwise.
std::optional<std::vector<uint8_t>> from_base64(std::string_view text);
/// SHA-256 of `bytes` (crypto::sha256) as a vector.
std::vector<uint8_t> sha256(std::string_view bytes);

/// Appends `v` as 4 little-endian bytes.
void put_u32(std::vector<uint8_t>& out, uint32_t v);
/// Appends `v` as 8 little-endian bytes.
void put_u64(std::vector<uint8_t>& out, uint64_t v);
/// Appends a u32 little-endian length and the bytes of `s`.
void put_str(std::vector<uint8_t>& out, std::string_view s);
/// Appends raw bytes.
void put_bytes(std::vector<uint8_t>& out, std::span<const uint8_t> bytes);
/// Writes `v` as 8 little-endian bytes at `p`.
void store_u64(uint8_t* p, uint64_t v);
/// The little-endian uint32 at `p`.
uint32_t load_u32(const uint8_t* p);
/// The little-endian uint64 at `p`.
uint64_t load_u64(const uint8_t* p);

}  // namespace assay::engine
