#pragma once
/// \file HMAC-SHA256 (RFC 2104) tag computation and verification, single and batch.
///
/// Backends: Backend::kOpenSSL (EVP_MAC, one message at a time; the reference), and the
/// intel-ipsec-mb multi-buffer managers: kPortable = SSE manager (uses SHA-NI when the CPU
/// has it), kAvx2 = AVX2 manager, kAvx512 = AVX-512 manager. kAuto picks the fastest supported
/// one. Every backend gives the same verdict for the same job. Verification compares tags in
/// constant time (CRYPTO_memcmp) and never throws.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/cpu.hpp"

namespace assay::crypto {

/// HMAC-SHA256 key with precomputed inner/outer hash states (keys of any length; keys longer
/// than 64 bytes are hashed first per RFC 2104). Immutable after construction; safe to share
/// across threads. The destructor wipes the key material.
class HmacSha256Key {
 public:
  /// Builds a key from a secret of any length (including empty).
  static HmacSha256Key from_secret(std::span<const uint8_t> secret);

  HmacSha256Key(const HmacSha256Key&) = default;
  HmacSha256Key& operator=(const HmacSha256Key&) = default;
  ~HmacSha256Key();

  /// The 64-byte key block K0 (secret zero-padded, or SHA-256(secret) zero-padded).
  const std::array<uint8_t, 64>& block() const { return block_; }
  /// SHA-256 state after compressing K0 ^ ipad (intel-ipsec-mb layout).
  const uint8_t* ipad_state() const { return ipad_state_.data(); }
  /// SHA-256 state after compressing K0 ^ opad (intel-ipsec-mb layout).
  const uint8_t* opad_state() const { return opad_state_.data(); }

 private:
  HmacSha256Key() = default;
  std::array<uint8_t, 64> block_{};
  alignas(16) std::array<uint8_t, 32> ipad_state_{};
  alignas(16) std::array<uint8_t, 32> opad_state_{};
};

/// One HMAC verification: tag must equal the first tag_len bytes of HMAC-SHA256(key, message).
struct HmacSha256Job {
  const HmacSha256Key* key;  ///< must not be null (a null key gives an invalid verdict)
  const uint8_t* tag;        ///< tag_len bytes
  size_t tag_len;            ///< 1..32: compare the first tag_len bytes (Assay's wire uses 32)
  const uint8_t* message;    ///< may be null only if message_len == 0
  size_t message_len;        ///< bytes of message
};

/// Verifies one tag. Returns false for a wrong tag or malformed job (tag_len 0 or > 32, null
/// pointers). An unsupported backend falls back to kAuto. Never throws.
bool hmac_sha256_verify(const HmacSha256Job& job, Backend b = Backend::kAuto);

/// Verifies jobs[i] into verdicts[i] (1 valid, 0 invalid), identical to hmac_sha256_verify for
/// every job and backend. Runs on the calling thread. If verdicts is shorter than jobs, only the
/// first verdicts.size() jobs are verified.
void hmac_sha256_verify_batch(std::span<const HmacSha256Job> jobs, std::span<uint8_t> verdicts,
                              Backend b = Backend::kAuto);

/// Computes the full 32-byte HMAC-SHA256 tag of msg (for signing, e.g. in the simulator).
void hmac_sha256(const HmacSha256Key& key, const uint8_t* msg, size_t len, uint8_t out[32]);

}  // namespace assay::crypto
