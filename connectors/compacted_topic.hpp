#pragma once
/// \file Follows a compacted Kafka topic from the beginning and hands every message to a
/// callback: key, value (nullopt = tombstone) and where it came from
/// ("kafka:topic/partition@offset"). `caught_up()` turns true once everything that was in the
/// topic at start has been handed over; later messages follow live. The message handling is
/// the owner's (the identity registry topic and the calibration certificate topic use it).

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "connectors/kafka_common.hpp"

namespace assay::connectors {

/// Reader of every partition of a compacted topic (no consumer-group membership).
class CompactedTopicFollower {
 public:
  /// Called for each message (from the follower's thread).
  using OnMessage = std::function<void(std::string_view key, std::optional<std::string_view> value,
                                       const std::string& where)>;
  /// `on_change` is called after a run of messages was handed over (to publish once).
  CompactedTopicFollower(KafkaClientSettings client, std::string topic, OnMessage on_message,
                         std::function<void()> on_change);
  ~CompactedTopicFollower();
  CompactedTopicFollower(const CompactedTopicFollower&) = delete;
  CompactedTopicFollower& operator=(const CompactedTopicFollower&) = delete;

  /// Connects, assigns every partition from the beginning and starts following.
  bool start(std::string* error);
  /// Stops following (idempotent).
  void stop();
  /// True once the topic's content at start time has been handed over.
  bool caught_up() const { return caught_up_.load(); }

 private:
  void loop();

  const KafkaClientSettings client_;
  const std::string topic_;
  const OnMessage on_message_;
  const std::function<void()> on_change_;
  rd_kafka_t* rk_ = nullptr;
  std::map<int32_t, int64_t> start_high_;  ///< high watermarks when we started
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> caught_up_{false};
};

}  // namespace assay::connectors
