#pragma once
/// \file Kafka source: a consumer-group member on librdkafka with cooperative-sticky
/// assignment (incremental assign/unassign in the rebalance callback), batched consumption,
/// one partition per batch (order preserved), offsets stored only when the runner says every
/// output of a record is acknowledged and committed by librdkafka's auto-commit of stored
/// offsets (plus a synchronous commit on revocation and close).

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/kafka_common.hpp"
#include "engine/io.hpp"

namespace assay::connectors {

class KafkaTransactions;

/// Configuration of a Kafka source.
struct KafkaSourceConfig {
  KafkaClientSettings client;
  std::string topic;
  std::string group_id;
  int poll_timeout_ms = 100;
  /// Stop (and drain) after this long without a new record (0 = run until stopped).
  int idle_timeout_ms = 0;
  /// engine.max_record_bytes: a larger record becomes a pre-rejected `frame.too_large` frame
  /// holding its first max_record_bytes bytes. librdkafka's fetch sizes are derived from it
  /// (kafka_fetch_defaults).
  uint32_t max_record_bytes = 1 << 20;
};

/// librdkafka consumer settings consistent with `max_record_bytes`: a record of that size is
/// fetched in one request (`max.partition.fetch.bytes`, `fetch.max.bytes`) and fits the local
/// queue (`queued.max.messages.kbytes`); never below librdkafka's defaults (64 MiB for the
/// queue). librdkafka raises `receive.message.max.bytes` to fetch.max.bytes + 512 by itself;
/// a user-set `receive.message.max.bytes` too small for such a record is refused (from_config).
std::map<std::string, std::string> kafka_fetch_defaults(uint32_t max_record_bytes);

/// The smallest `receive.message.max.bytes` that admits a record of `max_record_bytes` (the
/// record, its batch and fetch response framing).
uint64_t min_receive_message_max_bytes(uint32_t max_record_bytes);

/// Consumes one topic in a consumer group.
class KafkaSource final : public engine::Source {
 public:
  KafkaSource(KafkaSourceConfig config, engine::Metrics& metrics, std::string pipeline);
  ~KafkaSource() override;
  bool start(std::string* error) override;
  engine::SourceStatus next(engine::Batch& batch, size_t max_frames) override;
  bool healthy() const override;
  void acknowledge(engine::Partition partition, engine::Offset next_offset) override;
  void rewind() override;
  void stop() override;
  std::string error() const override;
  std::string describe() const override { return "kafka:" + config_.topic; }

  /// Builds from `{type: kafka, brokers, topic, group_id, properties, poll_timeout_ms,
  /// idle_timeout_ms, embedded_partitions}`.
  static std::unique_ptr<engine::Source> from_config(const engine::ConfigNode& config,
                                                     engine::BuildContext& ctx);

 private:
  static void rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                           rd_kafka_topic_partition_list_t* partitions, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions);
  void update_lag();
  bool do_rewind();
  void set_error(const std::string& e);

  const KafkaSourceConfig config_;
  engine::Metrics& metrics_;
  const std::string pipeline_;
  rd_kafka_t* rk_ = nullptr;
  bool topic_checked_ = false;
  int64_t next_check_ns_ = 0;
  int backoff_ms_ = 250;
  // Messages polled but not yet handed out, per partition (source thread only).
  std::map<int32_t, std::deque<rd_kafka_message_t*>> staged_;
  std::mutex assigned_mu_;
  std::map<int32_t, bool> assigned_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> rebalancing_{true};
  int64_t last_message_ns_ = 0;  ///< idle clock: last record, or last time the source was unhealthy
  /// When partitions were last assigned (after their state was restored, inside the rebalance
  /// callback): the idle clock never counts from before it.
  std::atomic<int64_t> assigned_ns_{0};
  int64_t started_ns_ = 0;
  std::string last_conn_error_;  ///< last connection/TLS error from librdkafka (under err_mu_)
  int64_t last_lag_ns_ = 0;
  mutable std::mutex err_mu_;
  std::string error_;
  std::atomic<bool> fatal_{false};
  std::map<int32_t, prometheus::Gauge*> lag_gauges_;
  /// Exactly-once: the pipeline's transactions (null with at-least-once).
  std::shared_ptr<KafkaTransactions> txn_;
  std::atomic<bool> rewind_{false};
  /// The group has given this source an assignment (possibly empty) at least once: librdkafka's
  /// assignor state exists (stop()).
  std::atomic<bool> ever_assigned_{false};
  /// stop() waits for the first assignment: one that arrives then is not the pipeline's.
  std::atomic<bool> stopping_{false};
};

}  // namespace assay::connectors
