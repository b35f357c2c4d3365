#pragma once
/// \file Signing keys of simulated sensors and labs, made deterministically from seed bytes,
/// and signing with OpenSSL: Ed25519 (EVP one-shot), ECDSA P-256/SHA-256 as 64-byte r||s,
/// HMAC-SHA256 (32 bytes).
///
/// ECDSA nonces: OpenSSL 3.0 only draws random nonces, which would make the simulator's output
/// differ from run to run. Simulated ECDSA signatures therefore use a deterministic nonce
/// k = SHA-256(d || SHA-256(msg) || counter) mod n (computed with OpenSSL's BIGNUM and EC_POINT
/// arithmetic); they are ordinary ECDSA signatures that any verifier accepts.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace assay::sim {

/// Signature algorithm (same numbering as assay::wire::SignatureAlg).
enum class Alg : uint8_t { kEd25519 = 0, kEcdsaP256 = 1, kHmac = 2 };

/// Registry name: "Ed25519", "EcdsaP256Sha256", "HmacSha256".
std::string_view alg_registry_name(Alg alg);

/// Signature length in bytes: 64, 64, 32.
size_t signature_size(Alg alg);

/// A private signing key. Immutable after creation; sign() is safe to call from many threads.
class SigningKey {
 public:
  /// Makes a key deterministically from 32 seed bytes (Ed25519: the private key; ECDSA: the
  /// scalar derived from it; HMAC: the secret). Returns null if OpenSSL fails.
  static std::unique_ptr<SigningKey> from_seed(Alg alg, std::span<const uint8_t, 32> seed);
  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  Alg alg() const { return alg_; }
  /// Raw public key: Ed25519 32 bytes; ECDSA 65-byte uncompressed SEC1; empty for HMAC.
  const std::vector<uint8_t>& public_key() const { return public_; }
  /// HMAC secret (32 bytes); empty for the asymmetric algorithms.
  const std::vector<uint8_t>& secret() const { return secret_; }
  /// Signs `msg`; writes signature_size(alg()) bytes to `sig`. False if OpenSSL fails.
  bool sign(std::span<const uint8_t> msg, std::vector<uint8_t>& sig) const;

 private:
  SigningKey() = default;
  struct Impl;
  Alg alg_ = Alg::kEd25519;
  std::vector<uint8_t> public_;
  std::vector<uint8_t> secret_;
  std::array<uint8_t, 32> priv_{};  // Ed25519 seed or ECDSA scalar (big-endian)
  Impl* impl_ = nullptr;
  uint64_t uid_ = 0;  // process-unique id (per-thread signing contexts are cached by it)
};

/// Converts a 64-byte ECDSA r||s signature to DER (for OpenSSL verification). False if malformed.
bool ecdsa_p1363_to_der(std::span<const uint8_t> rs, std::vector<uint8_t>& der);

/// Verifies a signature with OpenSSL against a raw public key (Ed25519 32 bytes, ECDSA 65
/// bytes) or an HMAC secret. Reference check for tests and tools, not a fast path.
bool verify_signature(Alg alg, std::span<const uint8_t> key, std::span<const uint8_t> msg,
                      std::span<const uint8_t> sig);

}  // namespace assay::sim
