#pragma once
/// \file ECDSA P-256 / SHA-256 signature verification (single and batch), key parsing,
/// strict DER signature conversion, and key generation / signing helpers for tests. (The
/// other curves and the generic API: crypto/ecdsa.hpp; key generation and signing for the
/// simulator and tools: crypto/signing.hpp.)
///
/// Semantics (see docs/verification-ecdsa-hmac.md): the signature is exactly 64 bytes r||s
/// (IEEE P1363, big-endian); r and s must lie in [1, n-1]; high S is accepted; e is the
/// leftmost 256 bits of SHA-256(message); the public key is a validated curve point.
/// Backends: kOpenSSL = OpenSSL EVP one signature at a time (the reference); kAvx512, and
/// kAuto where the CPU has AVX-512 IFMA = the multi-buffer engine (crypto/ec_engine.hpp: 8
/// signatures per vector, per-key comb tables for hot keys, doublings for cold ones);
/// kPortable, kAvx2, and kAuto elsewhere = Assay's scalar P-256 arithmetic with shared scalar
/// inversion and per-key precomputed tables, keys without a table going to OpenSSL. Every
/// backend gives the same verdict for the same job.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "crypto/cpu.hpp"

namespace assay::crypto {

/// Parsed, validated P-256 public key (point on curve, not infinity). Cheap to copy and to
/// share across threads (immutable after parse; lazily built precomputation is thread-safe).
class EcdsaP256PublicKey {
 public:
  /// Accepts a 65-byte uncompressed SEC1 point (04||X||Y), a 33-byte compressed point
  /// (02/03||X), a DER SubjectPublicKeyInfo (id-ecPublicKey, named curve prime256v1) or the
  /// same as PEM text ("-----BEGIN PUBLIC KEY-----"). Returns nullopt for anything else, for
  /// points not on the curve, and for other curves. Never throws.
  static std::optional<EcdsaP256PublicKey> parse(std::span<const uint8_t> bytes);

  /// The key as a 65-byte uncompressed SEC1 point.
  const std::array<uint8_t, 65>& uncompressed() const;

  struct Impl;  ///< private (crypto/ecdsa_p256.cpp)
  /// Internal state, for the verification code paths.
  const Impl& impl() const { return *impl_; }

 private:
  explicit EcdsaP256PublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// One ECDSA P-256/SHA-256 verification.
struct EcdsaP256Job {
  const EcdsaP256PublicKey* key;  ///< null gives an invalid verdict
  const uint8_t* signature;       ///< signature_len bytes
  size_t signature_len;           ///< must be 64: r||s big-endian (IEEE P1363)
  const uint8_t* message;         ///< may be null only if message_len == 0
  size_t message_len;             ///< bytes of message (hashed with SHA-256)
};

/// Verifies one signature. False for a wrong signature or a malformed job. Never throws.
/// An unsupported backend falls back to kAuto.
bool ecdsa_p256_verify(const EcdsaP256Job& job, Backend b = Backend::kAuto);

/// Verifies jobs[i] into verdicts[i] (1 valid, 0 invalid), always equal to ecdsa_p256_verify
/// on every backend. Shares one scalar inversion per chunk of signatures. Runs on the calling
/// thread. If verdicts is shorter than jobs, only the first verdicts.size() jobs are verified.
void ecdsa_p256_verify_batch(std::span<const EcdsaP256Job> jobs, std::span<uint8_t> verdicts,
                             Backend b = Backend::kAuto);

/// DER (X9.62 Ecdsa-Sig-Value) helper: strict DER SEQUENCE { INTEGER r, INTEGER s } ->
/// 64-byte r||s. Returns false on any non-DER encoding (long-form or indefinite lengths,
/// non-minimal or negative integers, trailing bytes, integers longer than 32 bytes).
/// Range checks on r and s are left to verification.
bool ecdsa_der_to_p1363(std::span<const uint8_t> der, uint8_t out[64]);

/// A freshly generated P-256 key pair (for tests and the simulator).
struct EcdsaP256KeyPair {
  std::vector<uint8_t> private_der;          ///< DER private key (SEC1 ECPrivateKey)
  std::vector<uint8_t> public_uncompressed;  ///< 65 bytes
};

/// Generates a key pair; nullopt only if OpenSSL fails.
std::optional<EcdsaP256KeyPair> ecdsa_p256_keypair();

/// Signs SHA-256(msg) with a DER private key (SEC1 or PKCS#8); writes r||s. False on error.
/// Each thread caches its 16 most recently used decoded keys (decoding costs ~15x a signature).
bool ecdsa_p256_sign(std::span<const uint8_t> private_der, const uint8_t* msg, size_t len,
                     uint8_t signature[64]);

}  // namespace assay::crypto
