#pragma once
/// \file ECDSA verification on P-256, P-384, brainpoolP256r1 and brainpoolP384r1 (the curves of
/// OCMF meter signatures, COSE ES256/ES384 and X.509-style producers), batched per curve.
///
/// A curve comes with its hash: SHA-256 for the 256-bit curves, SHA-384 for the 384-bit ones.
/// Public keys are parsed once into an immutable, shareable EcdsaPublicKey (SEC1 point raw or
/// in hex, DER or PEM SubjectPublicKeyInfo, hex DER); signatures are IEEE P1363 (r‖s) or strict
/// DER. Verdicts are identical on every backend and in every batch
/// (docs/verification-ecdsa-hmac.md): r and s must lie in [1, n-1], high S is accepted, e is the
/// digest (its leftmost bits, as many as the order has), the check is x(u1·G + u2·Q) mod n == r.
///
/// P-256 keys share the P-256 machinery of crypto/ecdsa_p256.hpp (per-key tables for hot keys);
/// ecdsa_p256_verify_batch stays the P-256-only entry point.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "crypto/cpu.hpp"

namespace assay::crypto {

class EcdsaP256PublicKey;

/// An ECDSA curve and the hash Assay verifies with it.
enum class EcdsaCurve : uint8_t {
  kP256 = 0,             ///< secp256r1 (prime256v1), SHA-256
  kP384 = 1,             ///< secp384r1, SHA-384
  kBrainpoolP256r1 = 2,  ///< brainpoolP256r1 (RFC 5639), SHA-256
  kBrainpoolP384r1 = 3,  ///< brainpoolP384r1 (RFC 5639), SHA-384
};

/// Every curve, in enum order.
inline constexpr EcdsaCurve kEcdsaCurves[] = {EcdsaCurve::kP256, EcdsaCurve::kP384,
                                              EcdsaCurve::kBrainpoolP256r1,
                                              EcdsaCurve::kBrainpoolP384r1};

/// "P-256", "P-384", "brainpoolP256r1", "brainpoolP384r1".
std::string_view ecdsa_curve_name(EcdsaCurve curve);

/// Parses a curve name: the names above, "secp256r1", "prime256v1", "secp384r1" (ASCII case
/// ignored). False if unknown.
bool parse_ecdsa_curve(std::string_view name, EcdsaCurve& out);

/// Bytes of a coordinate, of r and of s: 32 or 48.
size_t ecdsa_field_bytes(EcdsaCurve curve);

/// Signature encodings.
enum class EcdsaSignatureFormat : uint8_t {
  kP1363 = 0,  ///< r‖s, each exactly ecdsa_field_bytes() big-endian bytes (COSE, JWS, OCMF raw)
  kDer = 1,    ///< X9.62 Ecdsa-Sig-Value, strict DER (OCMF, X.509-style producers)
};

/// Why a public key was refused.
enum class EcdsaKeyError : uint8_t {
  kNone = 0,        ///< parsed
  kEmpty,           ///< no bytes
  kTooLong,         ///< more than 16 KiB
  kUnrecognized,    ///< neither a SEC1 point, a SubjectPublicKeyInfo (DER or PEM) nor hex of one
  kBadPoint,        ///< a SEC1 encoding, but not a point of the curve (or the point at infinity)
  kWrongCurve,      ///< a valid key of another curve
  kUnsupportedKey,  ///< a SubjectPublicKeyInfo that is not a named-curve EC key of these curves
};

/// A short English description of e ("not a point of the curve", ...).
std::string_view ecdsa_key_error_text(EcdsaKeyError e);

struct EcdsaKeyParse;
struct EcdsaKeyAccess;

/// A parsed, validated ECDSA public key (on its curve, not infinity). Immutable; cheap to copy
/// and to share across threads (per-key precomputation is built lazily and thread-safely).
class EcdsaPublicKey {
 public:
  /// Parses a key of `curve` from bytes: a SEC1 point (65/97 bytes 04‖X‖Y, 33/49 bytes 02|03‖X),
  /// a DER SubjectPublicKeyInfo (id-ecPublicKey with the named curve; explicit parameters are
  /// refused), PEM text of one ("-----BEGIN PUBLIC KEY-----"), or hex text of a SEC1 point or
  /// of a DER SubjectPublicKeyInfo (digits only, either case, optional surrounding whitespace).
  /// Never throws.
  static EcdsaKeyParse parse(EcdsaCurve curve, std::span<const uint8_t> bytes);

  /// The same for text (hex or PEM).
  static EcdsaKeyParse parse(EcdsaCurve curve, std::string_view text);

  /// Parses a SubjectPublicKeyInfo (DER, PEM or hex of DER) of any of the four curves; the curve
  /// comes from the key (what meter makers publish).
  static EcdsaKeyParse parse_spki(std::span<const uint8_t> bytes);

  /// The key's curve.
  EcdsaCurve curve() const;

  /// The key as an uncompressed SEC1 point (65 or 97 bytes).
  std::span<const uint8_t> uncompressed() const;

  /// The P-256 key object (non-null iff curve() == kP256).
  const EcdsaP256PublicKey* p256() const;

  struct Impl;  ///< private (crypto/ecdsa.cpp)
  /// Internal state, for the verification code paths.
  const Impl& impl() const { return *impl_; }

 private:
  friend struct EcdsaKeyAccess;  ///< crypto/ecdsa.cpp builds keys
  explicit EcdsaPublicKey(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

/// Result of parsing a key: a key, or the reason there is none.
struct EcdsaKeyParse {
  std::optional<EcdsaPublicKey> key;                   ///< set iff error == kNone
  EcdsaKeyError error = EcdsaKeyError::kUnrecognized;  ///< why key is empty
  /// True if a key was parsed.
  explicit operator bool() const { return key.has_value(); }
};

/// The hash a job's message is digested with.
enum class EcdsaHash : uint8_t {
  kCurve = 0,   ///< the curve's own hash (SHA-256 for the 256-bit curves, SHA-384 otherwise)
  kSha256 = 1,  ///< SHA-256 on any curve (OCMF signs with SHA-256 on P-384 and brainpoolP384r1 too)
  kSha384 = 2,  ///< SHA-384 (384-bit curves only; a P-256/brainpoolP256r1 job is then invalid)
};

/// One ECDSA verification. The pointed-to bytes must stay valid for the duration of the call.
struct EcdsaJob {
  const EcdsaPublicKey* key;    ///< null gives an invalid verdict
  const uint8_t* signature;     ///< signature_len bytes
  size_t signature_len;         ///< P1363: exactly 2·ecdsa_field_bytes(); DER: the encoding
  EcdsaSignatureFormat format;  ///< how the signature is encoded
  const uint8_t* message;       ///< may be null only if message_len == 0
  size_t message_len;           ///< bytes of message (hashed with `hash`)
  /// The hash (default: the curve's). A hash shorter than the order gives e = the whole digest.
  EcdsaHash hash = EcdsaHash::kCurve;
};

/// Verifies one signature (the curve is the key's). False for a wrong signature or a malformed
/// job. Never throws. An unsupported backend falls back to kAuto.
bool ecdsa_verify(const EcdsaJob& job, Backend backend = Backend::kAuto);

/// Verifies jobs[i] into verdicts[i] (1 valid, 0 invalid) for signatures on `curve`; a job whose
/// key is of another curve is invalid. Equal to ecdsa_verify on every backend. Shares one
/// scalar inversion per chunk of signatures and, on AVX-512 IFMA, verifies 8 signatures per
/// vector. Runs on the calling thread. Writes min(jobs, verdicts) verdicts and sets any surplus
/// verdicts to 0.
/// Backends: kOpenSSL = OpenSSL EVP_DigestVerify one at a time (the reference); kAvx512 (and
/// kAuto where the CPU has IFMA) = the multi-buffer engine; kPortable, kAvx2 = the same engine
/// on one 64-bit lane (P-256: the per-key-table code of crypto/ecdsa_p256.hpp).
void ecdsa_verify_batch(EcdsaCurve curve, std::span<const EcdsaJob> jobs,
                        std::span<uint8_t> verdicts, Backend backend = Backend::kAuto);

/// Strict DER Ecdsa-Sig-Value -> r‖s of 2·field_bytes bytes (field_bytes 32 or 48). False on any
/// BER-only encoding (long-form or indefinite lengths where short form fits, non-minimal or
/// negative INTEGERs, trailing bytes) and on integers longer than field_bytes. Range checks on
/// r and s are left to verification.
bool ecdsa_der_to_rs(std::span<const uint8_t> der, size_t field_bytes, uint8_t* out);

}  // namespace assay::crypto
