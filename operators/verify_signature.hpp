#pragma once
/// \file Operator `verify_signature`: verifies every SignedReading and SignedBatch (and every
/// record of another input format, over the bytes its envelope names) over its exact signed
/// bytes with the sensor's registered key, in batches per algorithm (Ed25519, ECDSA P-256,
/// HMAC-SHA256, ECDSA P-384 and brainpoolP256r1/P384r1 with SHA-256 or SHA-384), spread over
/// cores with TBB. Verdicts per row: valid, bad
/// signature, unknown sensor, unknown key, key revoked, key not valid at the reading's time,
/// algorithm not allowed, malformed, unsigned. Every reading of a SignedBatch carries the
/// batch's verdict. Every record is verified: verdicts depend on the input alone (never on
/// time, thread count or batch size); a key that produced bad signatures ("suspect") has its
/// Ed25519 signatures verified independently (crypto::ed25519_verify_each), outside the shared
/// batches.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "crypto/cpu.hpp"
#include "registries/identity_store.hpp"
#include "engine/audit_log.hpp"
#include "engine/operator.hpp"

namespace assay::operators {

/// Configuration of verify_signature.
struct VerifySignatureConfig {
  /// The pipeline's live identity registry (required).
  std::shared_ptr<const registries::IdentityStore> identity;
  crypto::Backend backend = crypto::Backend::kAuto;
  bool allow_unsigned = false;    ///< pass unsigned Reading/ReadingBatch input (verdict Unsigned)
  size_t chunk = 256;             ///< signatures per crypto batch / parallel task
  /// Deprecated and ignored: every record is verified, none is rejected as
  /// signature.throttled (docs/verification-ed25519.md, "Forgery floods"). Kept so that
  /// existing configs and callers still build and load.
  double suspect_key_rate = 0;
  /// Deprecated and ignored (see suspect_key_rate).
  double suspect_key_burst = 50;
};

/// The verify_signature operator (stateless: runs on batches in parallel).
class VerifySignature final : public engine::Operator {
 public:
  /// Throws std::invalid_argument without an identity registry.
  explicit VerifySignature(VerifySignatureConfig config);

  std::string_view type() const override { return "verify_signature"; }
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;

  /// The current registry snapshot.
  std::shared_ptr<const registries::IdentityRegistry> registry() const {
    return config_.identity->current();
  }

  /// Builds from YAML: `{type: verify_signature, registry: PATH, registry_topic: {...},
  /// reload_interval_ms, backend, allow_unsigned, chunk, suspect_key_rate, suspect_key_burst}`;
  /// the registry keys may be left out when the pipeline's `registries.identity` is set.
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  const VerifySignatureConfig config_;
};

}  // namespace assay::operators
