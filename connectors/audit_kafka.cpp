#include "connectors/audit_kafka.hpp"

#include "engine/log.hpp"
#include "engine/metrics.hpp"

namespace assay::connectors {

KafkaAuditPublisher::KafkaAuditPublisher(KafkaClientSettings client, std::string topic,
                                         std::string pipeline, prometheus::Counter* failures_metric)
    : client_(std::move(client)),
      topic_(std::move(topic)),
      pipeline_(std::move(pipeline)),
      failures_metric_(failures_metric) {}

KafkaAuditPublisher::~KafkaAuditPublisher() {
  stop();
}

void KafkaAuditPublisher::fail(uint64_t n, uint64_t seq, const std::string& why) {
  failures_.fetch_add(n);
  if (failures_metric_ != nullptr) failures_metric_->Increment(static_cast<double>(n));
  engine::log_error("audit", "audit event not delivered to Kafka (the file keeps it)",
                    {{"topic", topic_}, {"seq", std::to_string(seq)}, {"error", why}});
}

void KafkaAuditPublisher::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaAuditPublisher*>(opaque);
  const uint64_t seq = reinterpret_cast<uint64_t>(msg->_private);
  if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR)
    self->delivered_.fetch_add(1);
  else
    self->fail(1, seq, rd_kafka_err2str(msg->err));
}

bool KafkaAuditPublisher::start(std::string* error) {
  ProducerOptions o;
  // Audit events are rare and each must be confirmed: idempotent, acks=all, no linger.
  o.defaults = {{"enable.idempotence", "true"},
                {"acks", "all"},
                {"linger.ms", "0"},
                {"client.id", "assay-audit-" + pipeline_},
                {"log_level", "4"}};
  o.on_delivery = &KafkaAuditPublisher::delivery_cb;
  o.opaque = this;
  o.topic_check_timeout_ms = 5000;
  o.poll_interval_ms = 50;
  o.stop_flush_ms = 0;  // the audit log flushes (with its own timeout) before it stops
  return producer_.start(client_, topic_, o, error);
}

void KafkaAuditPublisher::publish(std::span<const uint8_t> record, std::string_view key,
                                  uint64_t seq) {
  rd_kafka_t* rk = producer_.handle();
  if (rk == nullptr) return fail(1, seq, "publisher not started");
  for (int attempt = 0;; ++attempt) {
    const rd_kafka_resp_err_t err = rd_kafka_producev(
        rk, RD_KAFKA_V_RKT(producer_.topic()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<uint8_t*>(record.data()), record.size()),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(seq)),
        RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 50)
      return fail(1, seq, rd_kafka_err2str(err));
    rd_kafka_poll(rk, 10);  // audit events are rare: a full queue means a stuck broker
  }
}

bool KafkaAuditPublisher::flush(int timeout_ms) {
  rd_kafka_t* rk = producer_.handle();
  if (rk == nullptr) return failures_.load() == 0;
  if (rd_kafka_flush(rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const int left = rd_kafka_outq_len(rk);
    if (left > 0) fail(static_cast<uint64_t>(left), 0, "not confirmed before the flush timeout");
    return false;
  }
  return failures_.load() == 0;
}

void KafkaAuditPublisher::stop() {
  producer_.stop();
}

std::unique_ptr<engine::AuditPublisher> KafkaAuditPublisher::from_config(
    const engine::ConfigNode& kafka, const std::string& topic, engine::BuildContext& ctx) {
  KafkaClientSettings client = parse_kafka_settings(kafka);
  auto* failures =
      &ctx.metrics.counters("assay_audit_failures_total", "Audit events not written or delivered")
           .Add({{"pipeline", ctx.pipeline.name}, {"target", "kafka"}});
  return std::make_unique<KafkaAuditPublisher>(std::move(client), topic, ctx.pipeline.name,
                                               failures);
}

}  // namespace assay::connectors
