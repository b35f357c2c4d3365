#include "sim/kafka_frame_sink.hpp"

#include "connectors/kafka_common.hpp"

namespace assay::sim {

// Flushes (10 s) while the members the delivery reports touch are still alive.
KafkaFrameSink::~KafkaFrameSink() {
  producer_.stop();
}

void KafkaFrameSink::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) static_cast<KafkaFrameSink*>(opaque)->failed_++;
}

bool KafkaFrameSink::open(const std::string& brokers, const std::string& topic,
                          const std::map<std::string, std::string>& properties) {
  connectors::KafkaClientSettings s;
  s.brokers = brokers;
  s.properties = properties;
  connectors::ProducerOptions o;
  o.defaults = {{"enable.idempotence", "true"},
                {"linger.ms", "5"},
                {"batch.size", "1000000"},
                {"compression.type", "lz4"},
                {"log_level", "4"}};
  o.on_delivery = &KafkaFrameSink::delivery_cb;
  o.opaque = this;
  o.topic_check_timeout_ms = 0;  // as before: no check (the first delivery fails instead)
  o.poll_interval_ms = 0;        // write() and flush() poll
  o.stop_flush_ms = 10000;
  return producer_.start(s, topic, o, &error_);
}

bool KafkaFrameSink::write(std::span<const uint8_t> frame, std::string_view key) {
  for (;;) {
    const int rc = rd_kafka_produce(producer_.topic(), RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                    const_cast<uint8_t*>(frame.data()), frame.size(), key.data(),
                                    key.size(), nullptr);
    if (rc == 0) {
      rd_kafka_poll(producer_.handle(), 0);
      return true;
    }
    if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(producer_.handle(), 10);
      continue;
    }
    error_ = std::string("produce failed: ") + rd_kafka_err2str(rd_kafka_last_error());
    return false;
  }
}

bool KafkaFrameSink::flush() {
  rd_kafka_t* rk = producer_.handle();
  if (rk == nullptr) return false;
  while (rd_kafka_outq_len(rk) > 0) rd_kafka_flush(rk, 1000);
  if (failed_.load() > 0) {
    error_ = std::to_string(failed_.load()) + " records were not delivered";
    return false;
  }
  return true;
}

}  // namespace assay::sim
