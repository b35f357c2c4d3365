#pragma once
/// \file Byte helpers: hex encoding and SHA-256.

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
/// SHA-256 of `bytes`.
std::vector<uint8_t> sha256(std::string_view bytes);

}  // namespace assay::engine
