#pragma once
/// \file Private helpers shared by crypto/ecdsa.cpp and crypto/ecdsa_p256.cpp. Not installed.

#include <cstddef>
#include <cstdint>

namespace assay::crypto::detail {

/// Digests of n messages with SHA-256 (digest_bytes 32) or SHA-384 (48): out + i·digest_bytes.
/// Many SHA-256 messages go through intel-ipsec-mb's multi-buffer code (crypto/sha256_many.hpp);
/// everything else through OpenSSL EVP with a per-thread context. A null message with length 0
/// is the empty message.
void ecdsa_hash_messages(size_t digest_bytes, const uint8_t* const* messages, const size_t* lens,
                         size_t n, uint8_t* out);

}  // namespace assay::crypto::detail
