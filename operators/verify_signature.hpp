#pragma once
/// \file Operator `verify_signature`: verifies every SignedReading and SignedBatch over its
/// exact body bytes with the sensor's registered key, in batches per algorithm (Ed25519,
/// ECDSA P-256, HMAC-SHA256), spread over cores with TBB. Verdicts per row: valid, bad
/// signature, unknown sensor, unknown key, key revoked, key not valid at the reading's time,
/// algorithm not allowed, malformed, unsigned. Every reading of a SignedBatch carries the
/// batch's verdict.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "registries/identity_registry.hpp"
#include "registries/registry_topic.hpp"
#include "crypto/cpu.hpp"
#include "engine/audit_log.hpp"
#include "engine/operator.hpp"

namespace assay::operators {

/// Configuration of verify_signature.
struct VerifySignatureConfig {
  std::string registry_path;      ///< identity registry file (YAML or JSON); may be empty with a topic
  /// Compacted registry topic (entries override the file's); empty topic = none.
  connectors::KafkaClientSettings registry_kafka;
  std::string registry_topic;
  int64_t reload_interval_ms = 2000;  ///< poll the registry file for changes (0 = never)
  crypto::Backend backend = crypto::Backend::kAuto;
  bool allow_unsigned = false;    ///< pass unsigned Reading/ReadingBatch input (verdict Unsigned)
  size_t chunk = 256;             ///< signatures per crypto batch / parallel task
  /// One-at-a-time verifications per second allowed for a suspect key (one that recently
  /// produced bad signatures); its records beyond that are rejected as signature.throttled
  /// without being verified, so a forgery flood cannot starve honest sensors. 0 = no limit.
  double suspect_key_rate = 100;
  /// Burst of such verifications allowed at once.
  double suspect_key_burst = 50;
  /// Audit log that records registry loads and changes (null = none).
  std::shared_ptr<engine::AuditLog> audit;
};

/// The verify_signature operator (stateless: runs on batches in parallel).
class VerifySignature final : public engine::Operator {
 public:
  /// Loads the registry; throws engine::ConfigError if it cannot be read at all.
  explicit VerifySignature(VerifySignatureConfig config);
  ~VerifySignature() override;

  std::string_view type() const override { return "verify_signature"; }
  void process(engine::Batch& batch, engine::OperatorState* state,
               engine::OperatorContext& ctx) const override;
  bool start(std::string* error) override;
  void stop() override;
  /// Not ready until the registry topic's initial content is applied (backpressure).
  bool ready() const override;

  /// Replaces the file part of the registry (live update) and republishes the merged view.
  void set_registry(std::shared_ptr<const registries::IdentityRegistry> registry);
  /// The current registry snapshot.
  std::shared_ptr<const registries::IdentityRegistry> registry() const { return registry_.load(); }

  /// Builds from YAML: `{type: verify_signature, registry: PATH, reload_interval_ms, backend,
  /// allow_unsigned, chunk}`.
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

 private:
  void watch_loop();
  /// Records a registry event in the audit log (counts, file SHA-256, `extra`).
  void audit(std::string_view type, const std::string& source,
             engine::AuditDetails extra = {}) const;
  void publish();
  bool within_budget(registries::KeyHealth& health, int64_t now_mono_ns) const;
  const VerifySignatureConfig config_;
  /// What the operator verifies against: file entries with the topic overlay applied.
  std::atomic<std::shared_ptr<const registries::IdentityRegistry>> registry_;
  std::mutex publish_mu_;
  std::shared_ptr<const registries::IdentityRegistry> file_registry_;
  std::unique_ptr<registries::RegistryTopicFollower> follower_;
  std::atomic<bool> stop_{false};
  std::thread watcher_;
  int64_t mtime_ns_ = 0;
};

}  // namespace assay::operators
