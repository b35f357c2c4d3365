#pragma once
/// \file What every live registry has in common, written once: files polled for changes
/// (modification time; a file that cannot be loaded keeps the previous snapshot and is not
/// retried until it changes again), an optional compacted Kafka topic followed from its
/// beginning, readiness (the topic's initial content applied), and audit events. A subclass
/// loads, merges and publishes its own immutable snapshots.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "connectors/compacted_topic.hpp"
#include "connectors/kafka_common.hpp"
#include "engine/audit_log.hpp"
#include "engine/service.hpp"

namespace assay::registries {

/// A compacted topic that overlays a registry's file (empty topic = none).
struct TopicSource {
  connectors::KafkaClientSettings kafka;
  std::string topic;
};

/// Base of the live registries (engine::Service).
class LiveSource : public engine::Service {
 public:
  ~LiveSource() override;
  LiveSource(const LiveSource&) = delete;
  LiveSource& operator=(const LiveSource&) = delete;

  /// Starts the topic follower (if any) and the file watcher (if any file and interval).
  bool start(std::string* error) override;
  /// Stops them (idempotent).
  void stop() override;
  /// False until the topic's content at start is applied.
  bool ready() const override;
  /// Number of snapshots published so far (changes on every publish; starts at 1 after the
  /// initial load). Cheap: consumers compare it to refresh what they derived from a snapshot.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 protected:
  /// `name` ("identity", "calibration") prefixes audit events and log lines; `audit` may be null.
  LiveSource(std::string name, int64_t reload_interval_ms, std::shared_ptr<engine::AuditLog> audit);
  /// The files to poll (set by the subclass's constructor, after the initial load).
  void watch_files(std::vector<std::string> files);
  /// The topic to follow; `on_message` runs on the follower's thread for each message, then
  /// publish() after each run of messages.
  void follow_topic(TopicSource source, connectors::CompactedTopicFollower::OnMessage on_message);
  /// Reloads after a watched file changed (watcher thread). Must keep the previous snapshot
  /// if a file cannot be loaded at all.
  virtual void on_files_changed() = 0;
  /// What tells that a watched file changed (its modification time; 0 = cannot tell).
  virtual int64_t file_stamp(const std::string& file) const;
  /// Builds and publishes a snapshot from the file part and the topic overlay.
  virtual void publish() = 0;
  /// Counts a publish (call at the end of publish()).
  void published() { generation_.fetch_add(1, std::memory_order_acq_rel); }
  /// Records an audit event `registry.<name>_<what>` with `details` (no-op without audit log).
  void audit(std::string_view what, engine::AuditDetails details) const;
  /// The audit log (may be null).
  const std::shared_ptr<engine::AuditLog>& audit_log() const { return audit_; }
  const std::string& name() const { return name_; }

 private:
  void watch_loop();

  const std::string name_;
  const int64_t reload_interval_ms_;
  const std::shared_ptr<engine::AuditLog> audit_;
  std::vector<std::string> files_;
  std::vector<int64_t> mtimes_;  ///< of the last load attempt (watcher thread only)
  std::optional<TopicSource> topic_;
  connectors::CompactedTopicFollower::OnMessage on_message_;
  /// Set once by start() (the starting thread); read by ready() from any thread under
  /// follower_mu_.
  std::unique_ptr<connectors::CompactedTopicFollower> follower_;
  mutable std::mutex follower_mu_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
  std::thread watcher_;
};

}  // namespace assay::registries
