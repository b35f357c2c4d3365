#include "connectors/kafka_sink.hpp"

#include <cstdlib>

#include "connectors/kafka_readback.hpp"
#include "connectors/kafka_txn.hpp"
#include "engine/log.hpp"

namespace assay::connectors {

KafkaSink::KafkaSink(KafkaSinkConfig config, engine::Route route, std::string pipeline)
    : config_(std::move(config)), route_(route), pipeline_(std::move(pipeline)) {}

KafkaSink::~KafkaSink() { stop(); }

rd_kafka_t* KafkaSink::handle() const {
  return txn_ ? txn_->handle() : producer_.handle();
}

void KafkaSink::set_error(const std::string& e) {
  std::lock_guard<std::mutex> lock(err_mu_);
  if (error_.empty()) error_ = e;
  failed_.store(true);
}

std::string KafkaSink::error() const {
  std::lock_guard<std::mutex> lock(err_mu_);
  return error_;
}

void KafkaSink::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  const uint64_t token = reinterpret_cast<uint64_t>(msg->_private);
  const bool ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!ok) {
    const std::string e = "delivery to topic '" + self->config_.topic +
                          "' failed: " + rd_kafka_err2str(msg->err);
    engine::log_error("kafka_sink", "delivery failed; input offsets will not be committed past it",
                      {{"topic", self->config_.topic}, {"error", rd_kafka_err2str(msg->err)}});
    self->set_error(e);
  }
  if (self->ack_) self->ack_(token, ok);
}

void KafkaSink::error_cb(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSink*>(opaque);
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    char buf[512];
    rd_kafka_fatal_error(rk, buf, sizeof buf);
    self->set_error(std::string("fatal producer error: ") + buf);
    engine::log_error("kafka_sink", "fatal producer error", {{"error", buf}});
    return;
  }
  engine::log_warn("kafka_sink", "kafka error",
                   {{"topic", self->config_.topic},
                    {"code", rd_kafka_err2name(static_cast<rd_kafka_resp_err_t>(err))},
                    {"error", reason}});
}

bool KafkaSink::start(std::string* error) {
  if (txn_) {
    // Exactly-once: the pipeline's transactional producer writes this route too.
    if (!txn_->start(error)) return false;
    rd_kafka_t* rk = txn_->handle();
    if (rkt_ == nullptr) rkt_ = rd_kafka_topic_new(rk, config_.topic.c_str(), nullptr);
    const TopicCheck check = check_topic(rk, config_.topic, 5000, &partitions_);
    if (check == TopicCheck::kMissing) {
      *error = "topic '" + config_.topic + "' does not exist";
      return false;
    }
    max_queue_ = 1000000;
    txn_->on_delivery(config_.topic, [this](const rd_kafka_message_t* msg) {
      // A failed delivery fails the transaction's commit, which aborts and rewinds: not an
      // error of the sink.
      if (msg->err != RD_KAFKA_RESP_ERR_NO_ERROR && msg->err != RD_KAFKA_RESP_ERR__PURGE_QUEUE &&
          msg->err != RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        engine::log_warn("kafka_sink", "delivery failed; the transaction will be aborted",
                         {{"topic", config_.topic}, {"error", rd_kafka_err2str(msg->err)}});
      if (ack_)
        ack_(reinterpret_cast<uint64_t>(msg->_private), msg->err == RD_KAFKA_RESP_ERR_NO_ERROR);
    });
    return true;
  }
  ProducerOptions o;
  // Throughput: idempotent, acks from every in-sync replica, small linger, large batches.
  o.defaults = {{"enable.idempotence", "true"},
                {"acks", "all"},
                {"linger.ms", "5"},
                {"batch.size", "1000000"},
                {"compression.type", "lz4"},
                {"queue.buffering.max.messages", "100000"},
                {"client.id", "assay-" + pipeline_},
                {"log_level", "4"}};
  o.on_delivery = &KafkaSink::delivery_cb;
  o.on_error = &KafkaSink::error_cb;
  o.opaque = this;
  o.topic_check_timeout_ms = 5000;
  o.poll_interval_ms = 20;  // delivery reports off the pipeline's serial sink stage
  o.stop_flush_ms = 10000;
  if (!producer_.start(config_.client, config_.topic, o, error)) return false;
  char buf[64];
  size_t sz = sizeof buf;
  if (rd_kafka_conf_get(rd_kafka_conf(producer_.handle()), "queue.buffering.max.messages", buf,
                        &sz) == RD_KAFKA_CONF_OK)
    max_queue_ = static_cast<size_t>(std::strtoull(buf, nullptr, 10));
  partitions_ = producer_.partitions();
  if (producer_.topic_check() == TopicCheck::kUnreachable)
    engine::log_warn("kafka_sink",
                     "broker unreachable at start; records are queued until it is back",
                     {{"topic", config_.topic}});
  return true;
}

bool KafkaSink::ready() const {
  rd_kafka_t* rk = handle();
  return rk != nullptr && static_cast<size_t>(rd_kafka_outq_len(rk)) < max_queue_ * 8 / 10;
}

bool KafkaSink::write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
                      uint64_t token) {
  if (failed_.load()) return false;
  int32_t partition = RD_KAFKA_PARTITION_UA;
  if (config_.partition_by_source) {
    partition = meta.partition;
    if (partition < 0 || (partitions_ > 0 && partition >= partitions_)) {
      set_error("partition: source: topic '" + config_.topic + "' has " +
                std::to_string(partitions_) + " partitions, no partition " +
                std::to_string(partition) +
                " (it needs at least as many partitions as the input topic)");
      return false;
    }
  }
  const std::string_view reason = engine::reject_code_name(meta.reason);
  rd_kafka_t* rk = handle();
  rd_kafka_topic_t* rkt = txn_ ? rkt_ : producer_.topic();
  for (;;) {
    // Headers cost an allocation each on the serial sink stage, so only what the topic does
    // not already say: the pipeline, the verdict summary and, for rejected records, the reason.
    rd_kafka_headers_t* h = rd_kafka_headers_new(3);
    rd_kafka_header_add(h, "assay-pipeline", -1, meta.pipeline.data(),
                        static_cast<ssize_t>(meta.pipeline.size()));
    if (!meta.verdict.empty())
      rd_kafka_header_add(h, "assay-verdict", -1, meta.verdict.data(),
                          static_cast<ssize_t>(meta.verdict.size()));
    if (meta.reason != engine::RejectCode::kNone)
      rd_kafka_header_add(h, "assay-reason", -1, reason.data(), static_cast<ssize_t>(reason.size()));
    const rd_kafka_resp_err_t err =
        rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                          RD_KAFKA_V_VALUE(const_cast<uint8_t*>(record.data()), record.size()),
                          RD_KAFKA_V_KEY(meta.key.data(), meta.key.size()), RD_KAFKA_V_HEADERS(h),
                          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(token)), RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;  // headers now owned by the message
    rd_kafka_headers_destroy(h);
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 10);  // backpressure: serve delivery reports, then retry
      if (failed_.load()) return false;
      continue;
    }
    set_error("produce to topic '" + config_.topic + "' failed: " + rd_kafka_err2str(err));
    return false;
  }
}

bool KafkaSink::flush(int timeout_ms) {
  rd_kafka_t* rk = handle();
  if (rk == nullptr) return true;
  const rd_kafka_resp_err_t err = rd_kafka_flush(rk, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    set_error("flush of topic '" + config_.topic + "' timed out with " +
              std::to_string(rd_kafka_outq_len(rk)) + " records unacknowledged");
    return false;
  }
  return !failed_.load();
}

void KafkaSink::stop() {
  producer_.stop();
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  rkt_ = nullptr;
}

bool KafkaSink::read_back(engine::Partition partition, size_t max_records,
                          std::vector<std::vector<uint8_t>>* out, std::string* error) {
  if (!config_.partition_by_source) {
    *error = "reading back topic '" + config_.topic + "' needs 'partition: source'";
    return false;
  }
  if (partitions_ > 0 && partition.value() >= partitions_) {
    *error = "topic '" + config_.topic + "' has " + std::to_string(partitions_) +
             " partitions, none for source partition " + std::to_string(partition.value()) +
             " (partition: source needs at least as many partitions as the input topic)";
    return false;
  }
  if (handle() != nullptr && rd_kafka_flush(handle(), 30000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = "records still in flight to topic '" + config_.topic + "'";
    return false;
  }
  std::vector<StoredRecord> recs;
  if (!read_kafka_partition(config_.client, config_.topic, partition.value(), max_records, &recs,
                            error))
    return false;
  for (auto& r : recs) out->push_back(std::move(r.bytes));
  return true;
}

std::unique_ptr<engine::Sink> KafkaSink::from_config(const engine::ConfigNode& c, engine::Route route,
                                                     engine::BuildContext& ctx) {
  KafkaSinkConfig cfg;
  cfg.client = parse_kafka_settings(c);
  cfg.topic = c.get("topic").as_string();
  if (cfg.topic.empty()) c.get("topic").fail("must name the output topic");
  if (auto p = c.maybe("partition")) {
    if (p->as_string() != "source") p->fail("the only partitioning option is 'source'");
    cfg.partition_by_source = true;
  }
  auto sink = std::make_unique<KafkaSink>(std::move(cfg), route, ctx.pipeline.name);
  if (ctx.engine.exactly_once) {
    // Written in the input's transactions when on the same cluster (otherwise the pipeline
    // refuses the route: it is not transactional).
    auto txn = ctx.services.find<KafkaTransactions>("kafka-transactions");
    if (txn && txn->client().brokers == sink->config_.client.brokers) sink->txn_ = txn;
  }
  return sink;
}

}  // namespace assay::connectors
