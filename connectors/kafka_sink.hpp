#pragma once
/// \file Kafka sink: an idempotent librdkafka producer writing one route to one topic.
/// Message key = sensor id; headers carry the pipeline, the route, a verdict summary and
/// (for rejected records) the reason. Delivery reports drive offset commits (through the
/// runner's ack callback). QUEUE_FULL is backpressure: poll and retry, never drop.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/kafka_common.hpp"
#include "engine/io.hpp"

namespace assay::connectors {

class KafkaTransactions;

/// Configuration of a Kafka sink.
struct KafkaSinkConfig {
  KafkaClientSettings client;
  std::string topic;
  /// `partition: source`: write each record to the partition number of its source partition
  /// (chains per output partition, docs/provenance.md) instead of partitioning by key.
  bool partition_by_source = false;
};

/// Produces one route to one topic.
class KafkaSink final : public engine::Sink {
 public:
  KafkaSink(KafkaSinkConfig config, engine::Route route, std::string pipeline);
  ~KafkaSink() override;
  bool start(std::string* error) override;
  bool ready() const override;
  bool write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
             uint64_t token) override;
  /// Delivery reports are served by the sink's own poller thread; nothing to do here.
  void poll() override {}
  bool flush(int timeout_ms) override;
  void stop() override;
  std::string error() const override;
  std::string describe() const override { return "kafka:" + config_.topic; }
  /// Reads back and follows the source partition with `partition: source`.
  engine::SinkCapabilities capabilities() const override {
    return {config_.partition_by_source, config_.partition_by_source, txn_ != nullptr};
  }
  /// The last `max_records` records of output partition `partition` (after flushing what this
  /// sink still has in flight); needs `partition: source`.
  bool read_back(engine::Partition partition, size_t max_records,
                 std::vector<std::vector<uint8_t>>* out, std::string* error) override;

  /// Builds from `{type: kafka, brokers, topic, partition: source, properties,
  /// embedded_partitions}`.
  /// Throughput defaults (linger.ms=5, batch.size=1000000, compression.type=lz4,
  /// enable.idempotence=true, acks=all) can be overridden in `properties`.
  static std::unique_ptr<engine::Sink> from_config(const engine::ConfigNode& config,
                                                   engine::Route route, engine::BuildContext& ctx);

 private:
  static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  static void error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  void set_error(const std::string& e);

  const KafkaSinkConfig config_;
  const engine::Route route_;
  const std::string pipeline_;
  /// The producer (its own thread serves delivery reports off the serial sink stage).
  KafkaProducer producer_;
  /// Exactly-once: the pipeline's transactional producer (then producer_ is unused).
  std::shared_ptr<KafkaTransactions> txn_;
  rd_kafka_topic_t* rkt_ = nullptr;  ///< this topic on txn_'s producer
  /// The producer handle in use.
  rd_kafka_t* handle() const;
  size_t max_queue_ = 100000;
  int partitions_ = 0;  ///< partitions of the topic at start (0 = unknown)
  mutable std::mutex err_mu_;
  std::string error_;
  std::atomic<bool> failed_{false};
};

}  // namespace assay::connectors
