#pragma once
/// \file Follows a compacted Kafka topic of identity-registry entries and keeps an overlay of
/// them: message key = sensor_id, value = one sensor entry (the YAML/JSON of an item of
/// `sensors:`), empty value = tombstone (the sensor is removed). The topic is read from the
/// beginning on start; `caught_up()` turns true once everything that was in the topic at
/// start is applied. Later messages are applied live.

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/compacted_topic.hpp"
#include "registries/identity_registry.hpp"
#include "connectors/kafka_common.hpp"

namespace assay::registries {

/// Consumer of a registry topic.
class RegistryTopicFollower {
 public:
  /// `on_change` is called (from the follower's thread) after entries were applied.
  RegistryTopicFollower(connectors::KafkaClientSettings client, std::string topic,
                        std::function<void()> on_change);
  RegistryTopicFollower(const RegistryTopicFollower&) = delete;
  RegistryTopicFollower& operator=(const RegistryTopicFollower&) = delete;

  /// Connects, assigns every partition from the beginning and starts following.
  bool start(std::string* error) { return follower_.start(error); }
  /// Stops following (idempotent).
  void stop() { follower_.stop(); }
  /// True once the topic's content at start time has been applied.
  bool caught_up() const { return follower_.caught_up(); }
  /// Applies the overlay (entries and tombstones) on top of `registry`.
  void apply_to(IdentityRegistry& registry) const;
  /// Messages applied so far (refused ones excluded).
  uint64_t applied() const { return applied_.load(); }
  /// Messages refused (bad entry, key not matching the entry's sensor_id).
  uint64_t refused() const { return refused_.load(); }

 private:
  void apply(std::string_view key, std::optional<std::string_view> value, const std::string& where);

  std::atomic<uint64_t> applied_{0}, refused_{0};
  mutable std::mutex mu_;
  std::map<std::string, std::optional<SensorEntry>> overlay_;
  connectors::CompactedTopicFollower follower_;  ///< last: its thread stops before the overlay goes
};

}  // namespace assay::registries
