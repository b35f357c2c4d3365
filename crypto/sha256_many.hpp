#pragma once
/// \file SHA-256 of many independent messages at once with intel-ipsec-mb's multi-buffer code
/// (AVX-512, AVX2 or SSE/SHA-NI lanes, chosen at run time). Used where many digests are
/// needed together (Merkle leaves and tree levels); a digest is exactly OpenSSL's SHA-256.

#include <array>
#include <cstdint>
#include <span>

namespace assay::crypto {

/// digests[i] = SHA-256(messages[i]). Requires digests.size() == messages.size() (otherwise
/// only the common prefix is computed). Thread-safe: one multi-buffer manager per thread.
/// Falls back to OpenSSL one message at a time if the library cannot be used.
void sha256_many(std::span<const std::span<const uint8_t>> messages,
                 std::span<std::array<uint8_t, 32>> digests);

}  // namespace assay::crypto
