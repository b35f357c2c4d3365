#pragma once
/// \file The engine's own Ed25519 signing key: it signs checkpoints and the audit log so that
/// consumers and auditors can check them against a pinned public key. The private key comes
/// from a file (PKCS#8 PEM as written by `assay keygen --alg ed25519`, or a mounted Kubernetes
/// Secret); it is never logged or printed.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace assay::crypto {
class SigningKey;
}

namespace assay::engine {

/// An Ed25519 private key with its public key and key id. Immutable; sign() is thread-safe.
class EngineKey {
 public:
  /// Loads a PKCS#8 PEM Ed25519 private key from `path`. `key_id` empty = derived from the
  /// public key ("engine-" + first 16 hex digits of SHA-256(public key)). Throws ConfigError
  /// (naming the path, never the key material) if the file cannot be read or is not Ed25519.
  static std::shared_ptr<const EngineKey> load(const std::string& path, std::string key_id = {});
  /// A key from 32 private-key (seed) bytes (tests, tools). Returns null if OpenSSL fails.
  static std::shared_ptr<const EngineKey> from_seed(std::span<const uint8_t, 32> seed,
                                                    std::string key_id = {});
  ~EngineKey();
  EngineKey(const EngineKey&) = delete;
  EngineKey& operator=(const EngineKey&) = delete;

  /// The key id stamped on what this key signs.
  const std::string& key_id() const { return key_id_; }
  /// Raw 32-byte Ed25519 public key.
  const std::array<uint8_t, 32>& public_key() const { return public_; }
  /// RFC 8032 signature of `msg` (libsodium where it could be set up, else OpenSSL: the same
  /// bytes). All zero if signing failed, which no verifier accepts.
  std::array<uint8_t, 64> sign(std::span<const uint8_t> msg) const;

 private:
  EngineKey() = default;
  // Set up once: signing then costs one fixed-base scalar multiplication, not a key
  // derivation and an OpenSSL fetch per signature (an intent is signed for every batch).
  std::unique_ptr<const crypto::SigningKey> signer_;
  std::array<uint8_t, 32> public_{};
  std::string key_id_;
};

/// Checks an Ed25519 signature made by an EngineKey (the engine's verifier, cofactored).
bool verify_engine_signature(std::span<const uint8_t, 32> public_key, std::span<const uint8_t> msg,
                             std::span<const uint8_t> signature);

/// A pinned engine public key from text: 64 hex digits, or a file holding them or the
/// SubjectPublicKeyInfo PEM that `assay keygen --alg ed25519` writes as PREFIX.pub. False with a
/// message naming `arg` (never key material of a private key).
bool parse_engine_public_key(const std::string& arg, std::array<uint8_t, 32>* out,
                             std::string* error);

/// The derived key id for a public key ("engine-" + 16 hex digits of its SHA-256).
std::string derive_engine_key_id(std::span<const uint8_t, 32> public_key);

}  // namespace assay::engine
