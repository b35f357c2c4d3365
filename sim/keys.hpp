#pragma once
/// \file Signing keys of simulated sensors and labs. Key generation and signing belong to
/// assay::crypto (crypto/signing.hpp); the simulator makes its keys deterministically from seed
/// bytes with crypto::SigningKey::from_seed (same seed, same keys and signatures).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "crypto/signing.hpp"

namespace assay::sim {

/// Signature algorithm (crypto::SignatureAlgorithm: same numbering as assay::wire::SignatureAlg).
using Alg = crypto::SignatureAlgorithm;

/// A private signing key; immutable, sign() is safe to call from many threads.
using SigningKey = crypto::SigningKey;

/// Signature length in bytes (64 for Ed25519 and 256-bit ECDSA, 96 for 384-bit ECDSA, 32 HMAC).
using crypto::signature_size;

/// Registry name: "Ed25519", "EcdsaP256Sha256", "HmacSha256", ...
inline std::string_view alg_registry_name(Alg alg) {
  return crypto::signature_algorithm_name(alg);
}

/// Verifies a signature with OpenSSL against a raw public key (Ed25519 32 bytes, ECDSA an SEC1
/// point) or an HMAC secret. Reference check for tests and tools, not a fast path.
inline bool verify_signature(Alg alg, std::span<const uint8_t> key, std::span<const uint8_t> msg,
                             std::span<const uint8_t> sig) {
  return crypto::verify_with_public_key(alg, key, msg, sig);
}

}  // namespace assay::sim
