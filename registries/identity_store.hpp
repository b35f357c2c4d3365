#pragma once
/// \file The live identity registry of a pipeline: one store per registry source (a file, a
/// compacted topic, or both), owned by the pipeline as a service and shared by every operator
/// that names it, so that verify_signature, calibration, anomaly and drift always agree about
/// the fleet. Operators read the current immutable snapshot; they hold no threads, clients
/// or paths. Every load, change and refused reload is an audit event.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/operator.hpp"
#include "engine/snapshot_cell.hpp"
#include "registries/identity_registry.hpp"
#include "registries/live_source.hpp"

namespace assay::registries {

/// Where an identity registry comes from.
struct IdentitySource {
  std::string file;                   ///< YAML or JSON file (may be empty with a topic)
  TopicSource topic;                  ///< compacted topic overlaying the file (empty topic = none)
  int64_t reload_interval_ms = 2000;  ///< poll the file for changes (0 = never)
  /// The service key: what the registry is, independent of who names it.
  std::string key() const { return "identity:" + file + "|" + topic.topic; }
};

/// The live identity registry (file + topic overlay), published atomically.
class IdentityStore final : public LiveSource {
 public:
  /// Loads the file (if any); throws engine::ConfigError if it cannot be read or parsed at all
  /// (entries with bad keys are refused alone and logged).
  IdentityStore(IdentitySource source, std::shared_ptr<engine::AuditLog> audit);
  ~IdentityStore() override;
  /// A store of one file (tests, tools); throws like the constructor.
  static std::shared_ptr<IdentityStore> open(std::string file, int64_t reload_interval_ms = 0,
                                             std::shared_ptr<engine::AuditLog> audit = nullptr) {
    IdentitySource s;
    s.file = std::move(file);
    s.reload_interval_ms = reload_interval_ms;
    return std::make_shared<IdentityStore>(std::move(s), std::move(audit));
  }

  std::string describe() const override;
  bool start(std::string* error) override;

  /// The current snapshot (never null). Lock-free.
  std::shared_ptr<const IdentityRegistry> current() const { return current_.load(); }
  const IdentitySource& source() const { return source_; }
  /// Replaces the file part now, as a reload of the file would (tests, tools).
  void set_file_registry(std::shared_ptr<const IdentityRegistry> registry);
  /// Calls `fn` after every publish (from the publishing thread), e.g. so that a registry
  /// derived from this one is published again. Register before start().
  void subscribe(std::function<void()> fn);
  /// Topic messages applied / refused so far.
  uint64_t topic_applied() const { return applied_.load(); }
  uint64_t topic_refused() const { return refused_.load(); }

 protected:
  void on_files_changed() override;
  void publish() override;

 private:
  void on_message(std::string_view key, std::optional<std::string_view> value,
                  const std::string& where);
  std::shared_ptr<const IdentityRegistry> load(RegistryLoadReport& report) const;
  engine::AuditDetails counts() const;

  const IdentitySource source_;
  engine::SnapshotCell<IdentityRegistry> current_;
  std::mutex mu_;  ///< guards file_ and overlay_
  std::shared_ptr<const IdentityRegistry> file_;
  std::map<std::string, std::optional<SensorEntry>, std::less<>> overlay_;
  std::atomic<uint64_t> applied_{0}, refused_{0};
  std::mutex subscribers_mu_;
  std::vector<std::function<void()>> subscribers_;
};

}  // namespace assay::registries
