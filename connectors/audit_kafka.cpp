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
  if (rk_ != nullptr) return true;
  const std::string brokers = resolve_brokers(client_, {topic_});
  rd_kafka_conf_t* conf = make_kafka_conf(client_,
                                          {{"bootstrap.servers", brokers},
                                           {"enable.idempotence", "true"},
                                           {"acks", "all"},
                                           {"linger.ms", "0"},
                                           {"client.id", "assay-audit-" + pipeline_},
                                           {"log_level", "4"}},
                                          error);
  if (conf == nullptr) return false;
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &KafkaAuditPublisher::delivery_cb);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    *error = std::string("cannot create Kafka producer: ") + err;
    return false;
  }
  rkt_ = rd_kafka_topic_new(rk_, topic_.c_str(), nullptr);
  if (check_topic(rk_, topic_, 5000, nullptr) == TopicCheck::kMissing) {
    *error = "topic '" + topic_ + "' does not exist";
    stop();
    return false;
  }
  poller_ = std::thread([this] {
    while (!stop_poller_.load(std::memory_order_relaxed)) rd_kafka_poll(rk_, 50);
  });
  return true;
}

void KafkaAuditPublisher::publish(std::span<const uint8_t> record, std::string_view key,
                                  uint64_t seq) {
  if (rk_ == nullptr) return fail(1, seq, "publisher not started");
  for (int attempt = 0;; ++attempt) {
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk_, RD_KAFKA_V_RKT(rkt_), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<uint8_t*>(record.data()), record.size()),
                          RD_KAFKA_V_KEY(key.data(), key.size()),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(seq)), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || attempt >= 50)
      return fail(1, seq, rd_kafka_err2str(err));
    rd_kafka_poll(rk_, 10);  // audit events are rare: a full queue means a stuck broker
  }
}

bool KafkaAuditPublisher::flush(int timeout_ms) {
  if (rk_ == nullptr) return failures_.load() == 0;
  if (rd_kafka_flush(rk_, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const int left = rd_kafka_outq_len(rk_);
    if (left > 0) fail(static_cast<uint64_t>(left), 0, "not confirmed before the flush timeout");
    return false;
  }
  return failures_.load() == 0;
}

void KafkaAuditPublisher::stop() {
  if (rk_ == nullptr) return;
  stop_poller_.store(true);
  if (poller_.joinable()) poller_.join();
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  rkt_ = nullptr;
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
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
