#pragma once
/// \file Key generation and signing for every signature algorithm Assay verifies: the one place
/// where Assay holds private keys (the simulator, `assay keygen` and the config tests use it).
///
/// Two kinds of key:
///  - generated (SigningKey::generate) or read from PKCS#8 PEM (SigningKey::from_pem): OpenSSL
///    holds the key and signs (EVP, random ECDSA nonces, OpenSSL's constant-time code), except
///    that Ed25519 signatures are computed by libsodium (2.4x faster; the same bytes, Ed25519
///    being deterministic);
///  - derived from 32 seed bytes (SigningKey::from_seed): deterministic keys and signatures for
///    the simulator and config tests (same seed, same bytes). ECDSA signatures of these keys use
///    a deterministic nonce, k = 1 + (HMAC-SHA-512(d, e ‖ counter) mod (n - 1)), computed with
///    OpenSSL's BIGNUM/EC_POINT arithmetic; they are ordinary signatures any verifier accepts.
///    Not for production keys.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/ecdsa.hpp"

namespace assay::crypto {

/// Signature algorithms (same numbering as the wire contract's assay.wire.SignatureAlg).
enum class SignatureAlgorithm : uint8_t {
  kEd25519 = 0,               ///< Ed25519 (RFC 8032)
  kEcdsaP256 = 1,             ///< ECDSA P-256 / SHA-256
  kHmac = 2,                  ///< HMAC-SHA256 (a shared secret)
  kEcdsaP384 = 3,             ///< ECDSA P-384 / SHA-384
  kEcdsaBrainpoolP256r1 = 4,  ///< ECDSA brainpoolP256r1 / SHA-256
  kEcdsaBrainpoolP384r1 = 5,  ///< ECDSA brainpoolP384r1 / SHA-384
};

/// Every algorithm, in enum order.
inline constexpr SignatureAlgorithm kSignatureAlgorithms[] = {
    SignatureAlgorithm::kEd25519,
    SignatureAlgorithm::kEcdsaP256,
    SignatureAlgorithm::kHmac,
    SignatureAlgorithm::kEcdsaP384,
    SignatureAlgorithm::kEcdsaBrainpoolP256r1,
    SignatureAlgorithm::kEcdsaBrainpoolP384r1};

/// The wire/registry name: "Ed25519", "EcdsaP256Sha256", "HmacSha256", "EcdsaP384Sha384",
/// "EcdsaBrainpoolP256r1Sha256", "EcdsaBrainpoolP384r1Sha384".
std::string_view signature_algorithm_name(SignatureAlgorithm alg);

/// Parses a wire/registry name (exact). False if unknown.
bool parse_signature_algorithm(std::string_view name, SignatureAlgorithm& out);

/// Bytes of a signature: 64 (Ed25519, 256-bit ECDSA as r‖s), 96 (384-bit ECDSA as r‖s), 32 (HMAC).
size_t signature_size(SignatureAlgorithm alg);

/// The ECDSA curve of an ECDSA algorithm; nullopt for Ed25519 and HMAC.
std::optional<EcdsaCurve> ecdsa_curve_of(SignatureAlgorithm alg);

/// A private signing key or HMAC secret. Immutable after creation; sign() is safe to call from
/// many threads at once. Private material is wiped when the key is destroyed.
class SigningKey {
 public:
  /// A fresh key from OpenSSL's CSPRNG (HMAC: 32 random bytes). Null if OpenSSL fails.
  static std::unique_ptr<SigningKey> generate(SignatureAlgorithm alg);

  /// A deterministic key from 32 seed bytes (Ed25519: the seed is the private key; ECDSA:
  /// d = 1 + (SHA-512(seed) mod (n - 1)); HMAC: the seed is the secret). Null if OpenSSL fails.
  static std::unique_ptr<SigningKey> from_seed(SignatureAlgorithm alg,
                                               std::span<const uint8_t, 32> seed);

  /// A PKCS#8 PEM private key ("-----BEGIN PRIVATE KEY-----", as `assay keygen` writes) of
  /// Ed25519 or of one of the ECDSA curves; the algorithm comes from the key. Null otherwise.
  static std::unique_ptr<SigningKey> from_pem(std::string_view pem);

  ~SigningKey();
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  /// The key's algorithm.
  SignatureAlgorithm alg() const { return alg_; }

  /// Raw public key: Ed25519 32 bytes; ECDSA the uncompressed SEC1 point (65 or 97 bytes);
  /// empty for HMAC.
  const std::vector<uint8_t>& public_key() const { return public_; }

  /// HMAC secret (32 bytes); empty for the asymmetric algorithms.
  const std::vector<uint8_t>& secret() const { return secret_; }

  /// Signs msg into sig (resized to signature_size(alg())): Ed25519 R‖S, ECDSA r‖s (P1363),
  /// HMAC the 32-byte tag. False if OpenSSL fails.
  bool sign(std::span<const uint8_t> msg, std::vector<uint8_t>& sig) const;

  /// The library that signs: "libsodium" (Ed25519 keys, where libsodium could be set up) or
  /// "openssl". The signatures are the same either way (Ed25519 is deterministic).
  std::string_view signer() const;

  /// The private key as PKCS#8 PEM (empty for HMAC or on failure). Handle as a secret.
  std::string private_key_pem() const;

  /// The public key as SubjectPublicKeyInfo PEM (empty for HMAC or on failure).
  std::string public_key_pem() const;

  struct Impl;  ///< private (crypto/signing.cpp)

 private:
  SigningKey() = default;
  SignatureAlgorithm alg_ = SignatureAlgorithm::kEd25519;
  std::vector<uint8_t> public_;
  std::vector<uint8_t> secret_;
  std::unique_ptr<Impl> impl_;
};

/// Verifies sig over msg under a raw public key (Ed25519 32 bytes, ECDSA an SEC1 point) or an
/// HMAC secret, with OpenSSL one at a time (Backend::kOpenSSL): a reference check for tests and
/// tools, not a fast path. False for anything malformed.
bool verify_with_public_key(SignatureAlgorithm alg, std::span<const uint8_t> key,
                            std::span<const uint8_t> msg, std::span<const uint8_t> sig);

}  // namespace assay::crypto
