#pragma once
/// \file Simulator output to a Kafka topic (librdkafka producer; key = sensor id, value = the
/// record). `brokers: embedded` writes into this process's embedded cluster.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <string>

#include "connectors/kafka_common.hpp"
#include "sim/frame_sink.hpp"

namespace assay::sim {

/// Produces each simulated record to one topic.
class KafkaFrameSink final : public FrameSink {
 public:
  KafkaFrameSink() = default;
  ~KafkaFrameSink() override;
  /// Connects (brokers "embedded" = the in-process cluster, topic created there); extra
  /// librdkafka properties may be given. False and error() on failure.
  bool open(const std::string& brokers, const std::string& topic,
            const std::map<std::string, std::string>& properties = {});
  bool write(std::span<const uint8_t> frame, std::string_view key) override;
  /// Waits until every record is acknowledged (or fails). False if any delivery failed.
  bool flush() override;
  std::string error() const override { return error_; }

 private:
  static void delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque);
  connectors::KafkaProducer producer_;
  std::atomic<uint64_t> failed_{0};
  std::string error_;
};

}  // namespace assay::sim
