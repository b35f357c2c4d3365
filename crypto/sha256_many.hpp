#pragma once
/// \file SHA-256 of several independent messages at once with intel-ipsec-mb's multi-buffer
/// code (SHA-NI lanes where the CPU has SHA extensions, AVX-512's 16 vector lanes for 64 or more
/// messages, else AVX2 or SSE lanes; chosen at run time): many at once (Merkle tree
/// levels) or two at once (a hash chain's next record with the previous record's Merkle leaf).
/// A digest is exactly OpenSSL's SHA-256.

#include <array>
#include <cstdint>
#include <span>

namespace assay::crypto {

/// digests[i] = SHA-256(messages[i]). Requires digests.size() == messages.size() (otherwise
/// only the common prefix is computed). Thread-safe: one multi-buffer manager per thread.
/// Falls back to OpenSSL one message at a time if the library cannot be used.
void sha256_many(std::span<const std::span<const uint8_t>> messages,
                 std::span<std::array<uint8_t, 32>> digests);

/// True if sha256_two() hashes its two messages in one interleaved pass (intel-ipsec-mb's
/// two-lane SHA-NI code, where the CPU has SHA extensions), so that a pair costs about what one
/// message costs alone. Where false, sha256_two() is still correct but no faster than two
/// separate digests.
bool sha256_two_interleaved();

/// da = SHA-256(a) and db = SHA-256(b), computed together (for two independent digests that
/// become ready at the same time, such as the next record of a hash chain and the Merkle leaf
/// of the previous one). Thread-safe: one manager per thread. Falls back to OpenSSL.
void sha256_two(std::span<const uint8_t> a, std::span<const uint8_t> b,
                std::array<uint8_t, 32>& da, std::array<uint8_t, 32>& db);

}  // namespace assay::crypto
