#pragma once
/// \file SHA-256, one owner: a one-shot digest and an incremental hasher (OpenSSL EVP, SHA-NI
/// where the CPU has it). Every part of Assay that hashes one message at a time uses these;
/// several independent messages at once go through crypto/sha256_many.hpp (multi-buffer).

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace assay::crypto {

/// A SHA-256 digest.
using Sha256Digest = std::array<uint8_t, 32>;

/// SHA-256 of `bytes`.
Sha256Digest sha256(std::span<const uint8_t> bytes);
/// SHA-256 of the bytes of `text`.
Sha256Digest sha256(std::string_view text);

/// Incremental SHA-256; reusable after final() (call init() again), not thread-safe (one per
/// thread).
class Sha256 {
 public:
  /// A hasher ready for update() (init() is implied).
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  /// Starts a new digest.
  void init();
  /// Feeds bytes.
  void update(std::span<const uint8_t> bytes);
  /// Feeds the bytes of `text`.
  void update(std::string_view text);
  /// Finishes the digest (init() before reusing the hasher).
  Sha256Digest final();

 private:
  void* ctx_;
};

}  // namespace assay::crypto
