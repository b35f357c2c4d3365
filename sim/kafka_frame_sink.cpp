#include "sim/kafka_frame_sink.hpp"

#include "connectors/kafka_common.hpp"

namespace assay::sim {

KafkaFrameSink::~KafkaFrameSink() {
  if (rk_ != nullptr) {
    rd_kafka_flush(rk_, 10000);
    if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
    rd_kafka_destroy(rk_);
  }
}

void KafkaFrameSink::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR) static_cast<KafkaFrameSink*>(opaque)->failed_++;
}

bool KafkaFrameSink::open(const std::string& brokers, const std::string& topic,
                          const std::map<std::string, std::string>& properties) {
  connectors::KafkaClientSettings s;
  s.brokers = brokers;
  s.properties = properties;
  const std::string bootstrap = connectors::resolve_brokers(s, {topic});
  rd_kafka_conf_t* conf = connectors::make_kafka_conf(
      s,
      {{"bootstrap.servers", bootstrap},
       {"enable.idempotence", "true"},
       {"linger.ms", "5"},
       {"batch.size", "1000000"},
       {"compression.type", "lz4"},
       {"log_level", "4"}},
      &error_);
  if (conf == nullptr) return false;
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaFrameSink::delivery_cb);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
    error_ = std::string("cannot create Kafka producer: ") + err;
    return false;
  }
  rkt_ = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  return true;
}

bool KafkaFrameSink::write(std::span<const uint8_t> frame, std::string_view key) {
  for (;;) {
    const int rc = rd_kafka_produce(rkt_, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
                                    const_cast<uint8_t*>(frame.data()), frame.size(), key.data(),
                                    key.size(), nullptr);
    if (rc == 0) {
      rd_kafka_poll(rk_, 0);
      return true;
    }
    if (rd_kafka_last_error() == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk_, 10);
      continue;
    }
    error_ = std::string("produce failed: ") + rd_kafka_err2str(rd_kafka_last_error());
    return false;
  }
}

bool KafkaFrameSink::flush() {
  if (rk_ == nullptr) return false;
  while (rd_kafka_outq_len(rk_) > 0) rd_kafka_flush(rk_, 1000);
  if (failed_.load() > 0) {
    error_ = std::to_string(failed_.load()) + " records were not delivered";
    return false;
  }
  return true;
}

}  // namespace assay::sim
