#pragma once
/// \file Kafka publisher of the audit log (engine/audit_log.hpp): an idempotent producer
/// (acks=all) writing each AuditEvent to the audit topic, message key = the log id (so one
/// chain stays in one partition, in order). Every delivery is confirmed by a delivery report;
/// a failed or unconfirmed delivery is logged (with its seq) and counted, never silent.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <string>

#include "connectors/kafka_common.hpp"
#include "engine/audit_log.hpp"
#include "engine/operator.hpp"

namespace prometheus {
class Counter;
}

namespace assay::connectors {

/// Publishes audit events to one Kafka topic.
class KafkaAuditPublisher final : public engine::AuditPublisher {
 public:
  /// `failures_metric` may be null.
  KafkaAuditPublisher(KafkaClientSettings client, std::string topic, std::string pipeline,
                      prometheus::Counter* failures_metric);
  ~KafkaAuditPublisher() override;
  bool start(std::string* error) override;
  void publish(std::span<const uint8_t> record, std::string_view key, uint64_t seq) override;
  bool flush(int timeout_ms) override;
  void stop() override;
  uint64_t failures() const override { return failures_.load(); }
  uint64_t delivered() const override { return delivered_.load(); }
  std::string describe() const override { return "kafka:" + topic_; }

  /// Factory for Registries::audit_publisher: `kafka: {brokers, properties, ...}`.
  static std::unique_ptr<engine::AuditPublisher> from_config(const engine::ConfigNode& kafka,
                                                             const std::string& topic,
                                                             engine::BuildContext& ctx);

 private:
  static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  void fail(uint64_t n, uint64_t seq, const std::string& why);

  const KafkaClientSettings client_;
  const std::string topic_;
  const std::string pipeline_;
  prometheus::Counter* failures_metric_;
  KafkaProducer producer_;
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> delivered_{0};
};

}  // namespace assay::connectors
