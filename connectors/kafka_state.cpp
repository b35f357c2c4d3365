#include "connectors/kafka_state.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "connectors/kafka_readback.hpp"
#include "connectors/kafka_txn.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"

namespace assay::connectors {

namespace {

bool topic_char_ok(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

// Waits until the cluster's metadata shows `topic` with at least `partitions` partitions.
bool wait_for_topic(rd_kafka_t* rk, const std::string& topic, int partitions, int timeout_ms) {
  const int64_t deadline = engine::monotonic_ns() + int64_t{timeout_ms} * 1'000'000;
  for (;;) {
    int n = 0;
    if (check_topic(rk, topic, 5000, &n) == TopicCheck::kExists && n >= partitions) return true;
    if (engine::monotonic_ns() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// Runs one admin request on `rk` and returns its event (null on timeout).
template <class Submit>
rd_kafka_event_t* admin_call(rd_kafka_t* rk, Submit submit, int timeout_ms) {
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  submit(q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, timeout_ms);
  rd_kafka_queue_destroy(q);
  return ev;
}

// Why a CreateTopics / DeleteTopics request on one topic failed ("" if it did not; `ignore` is
// the per-topic error that counts as success, e.g. "already exists"); destroys `ev`.
template <class ResultOf, class TopicsOf>
std::string admin_failure(rd_kafka_event_t* ev, ResultOf result_of, TopicsOf topics_of,
                          rd_kafka_resp_err_t ignore) {
  if (ev == nullptr) return "timed out";
  std::string why;
  if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    why = rd_kafka_event_error_string(ev);
  } else {
    size_t cnt = 0;
    const rd_kafka_topic_result_t** tr = topics_of(result_of(ev), &cnt);
    for (size_t i = 0; i < cnt; ++i) {
      const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(tr[i]);
      if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != ignore)
        why = rd_kafka_topic_result_error_string(tr[i]) ? rd_kafka_topic_result_error_string(tr[i])
                                                        : rd_kafka_err2str(e);
    }
  }
  rd_kafka_event_destroy(ev);
  return why;
}

}  // namespace

std::string changelog_topic(const std::string& prefix, const std::string& stage) {
  std::string t = prefix + "-" + stage + "-changelog";
  for (char& c : t)
    if (!topic_char_ok(c)) c = '_';
  return t;
}

KafkaStateStore::KafkaStateStore(KafkaStateConfig config) : config_(std::move(config)) {}

KafkaStateStore::~KafkaStateStore() {
  stop();
}

rd_kafka_t* KafkaStateStore::handle() const {
  return txn_ ? txn_->handle() : producer_.handle();
}

void KafkaStateStore::set_error(const std::string& e) {
  std::lock_guard<std::mutex> lock(err_mu_);
  if (error_.empty()) error_ = e;
}

std::string KafkaStateStore::error() const {
  std::lock_guard<std::mutex> lock(err_mu_);
  return error_;
}

std::string KafkaStateStore::describe(size_t op, int32_t partition) const {
  const std::string topic = op < topics_.size() ? topics_[op] : std::string("?");
  return "changelog topic '" + topic + "'" +
         (partition >= 0 ? " partition " + std::to_string(partition) : std::string());
}

void KafkaStateStore::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaStateStore*>(opaque);
  const bool ok = msg->err == RD_KAFKA_RESP_ERR_NO_ERROR;
  // Exactly-once: a failed delivery fails the transaction's commit (abort, rewind, restore).
  if (!ok && !self->txn_)
    self->set_error("changelog write to partition " + std::to_string(msg->partition) +
                    " failed: " + rd_kafka_err2str(msg->err));
  if (self->ack_) self->ack_(reinterpret_cast<uint64_t>(msg->_private), ok);
}

bool KafkaStateStore::start(const std::vector<engine::StateOperator>& ops, std::string* error) {
  topics_.clear();
  for (const auto& op : ops) topics_.push_back(changelog_topic(config_.topic_prefix, op.stage));
  if (handle() != nullptr && partitions_ > 0) return true;
  if (txn_) {
    // Exactly-once: the changelog is written in the pipeline's transactions.
    if (!txn_->start(error)) return false;
  } else {
    ProducerOptions po;
    po.defaults = {{"enable.idempotence", "true"},
                   {"acks", "all"},
                   {"linger.ms", "5"},
                   {"batch.size", "1000000"},
                   {"compression.type", "lz4"},
                   {"queue.buffering.max.messages", "1000000"},
                   {"client.id", "assay-state"},
                   {"log_level", "3"}};
    po.opaque = this;
    po.on_delivery = &KafkaStateStore::delivery_cb;
    po.poll_interval_ms = 20;
    po.stop_flush_ms = 30000;
    po.topic_check_timeout_ms = 0;  // the changelog topics are checked (and created) below
    // The producer's own topic handle is the first changelog topic's (not checked: it may not
    // exist yet); the changelog topics get the input topic's partition count.
    if (!producer_.start(config_.client, topics_.front(), po, error)) {
      *error = "state store: " + *error;
      return false;
    }
  }
  partitions_ = config_.partitions;
  if (!config_.input_topic.empty()) {
    int n = 0;
    if (check_topic(handle(), config_.input_topic, 30000, &n) != TopicCheck::kExists) {
      *error = "state store: cannot read the partition count of input topic '" +
               config_.input_topic + "'";
      producer_.stop();
      return false;
    }
    partitions_ = n;
  }
  if (!ensure_topics(error)) {
    producer_.stop();
    return false;
  }
  if (txn_)
    for (const std::string& topic : topics_)
      txn_->on_delivery(topic,
                        [this](const rd_kafka_message_t* msg) { delivery_cb(nullptr, msg, this); });
  engine::log_info("state", "durable state in changelog topics",
                   {{"topics",
                     [&] {
                       std::string s;
                       for (const auto& t : topics_) s += (s.empty() ? "" : ",") + t;
                       return s;
                     }()},
                    {"partitions", std::to_string(partitions_)}});
  return true;
}

// Creates the changelog topics that do not exist yet (compacted, one partition per input
// partition); an existing one must have at least as many partitions as the input.
bool KafkaStateStore::ensure_topics(std::string* error) {
  rd_kafka_t* rk = handle();
  for (const std::string& topic : topics_) {
    int n = 0;
    const TopicCheck check = check_topic(rk, topic, 10000, &n);
    if (check == TopicCheck::kExists) {
      if (n < partitions_) {
        *error = "changelog topic '" + topic + "' has " + std::to_string(n) +
                 " partitions, the input topic '" + config_.input_topic + "' has " +
                 std::to_string(partitions_) + ": it needs at least as many";
        return false;
      }
      continue;
    }
    if (check == TopicCheck::kUnreachable) {
      *error = "cannot reach the Kafka cluster to check changelog topic '" + topic + "'";
      return false;
    }
    if (config_.client.brokers == "embedded") {
      EmbeddedKafka::instance().create_topic(topic, partitions_);
      continue;
    }
    char err[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions_,
                                                    config_.replication_factor, err, sizeof err);
    if (nt == nullptr) {
      *error = "changelog topic '" + topic + "': " + err;
      return false;
    }
    rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact");
    rd_kafka_event_t* ev = admin_call(
        rk, [&](rd_kafka_queue_t* q) { rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q); }, 30000);
    rd_kafka_NewTopic_destroy(nt);
    const std::string why =
        admin_failure(ev, &rd_kafka_event_CreateTopics_result, &rd_kafka_CreateTopics_result_topics,
                      RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
    if (!why.empty()) {
      *error = "cannot create changelog topic '" + topic + "' (" + why +
               "); create it yourself: cleanup.policy=compact, " + std::to_string(partitions_) +
               " partitions";
      return false;
    }
    if (!wait_for_topic(rk, topic, partitions_, 30000)) {
      *error = "changelog topic '" + topic + "' was created but is not served yet";
      return false;
    }
    engine::log_info("state", "changelog topic created",
                     {{"topic", topic}, {"partitions", std::to_string(partitions_)}});
  }
  return true;
}

bool KafkaStateStore::restore(size_t op, std::span<const engine::Partition> partitions,
                              const engine::StateRecordFn& fn, std::string* error) {
  if (op >= topics_.size()) {
    *error = "no such state operator";
    return false;
  }
  std::vector<int32_t> parts;
  for (engine::Partition p : partitions) parts.push_back(p.value());
  std::string where;
  for (int32_t p : parts) where += (where.empty() ? "" : ",") + std::to_string(p);
  // A just-created topic may not have a leader yet, and a broker may be restarting: errors
  // before the first record are retried for a while (the partitions are not ready meanwhile).
  const int64_t deadline = engine::monotonic_ns() + 60'000'000'000LL;
  for (int attempt = 1;; ++attempt) {
    bool any = false, stopped = false;
    const bool ok = for_each_kafka_record_in(
        config_.client, topics_[op], parts,
        [&](int32_t p, int64_t offset, std::span<const uint8_t> bytes) {
          any = true;
          if (!stopped && !fn(engine::Partition(p), bytes, offset)) stopped = true;
        },
        error, 60000);
    if (ok || stopped) return true;  // a stop: the caller says why
    if (any || engine::monotonic_ns() > deadline) {
      *error = "changelog topic '" + topics_[op] + "' partitions " + where + ": " + *error;
      return false;
    }
    engine::log_warn("state", "changelog not readable yet; retrying",
                     {{"topic", topics_[op]},
                      {"partitions", where},
                      {"attempt", std::to_string(attempt)},
                      {"error", *error}});
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * attempt, 1000)));
  }
}

bool KafkaStateStore::write(size_t op, engine::Partition partition, std::string_view key,
                            std::span<const uint8_t> record, uint64_t token) {
  rd_kafka_t* rk = handle();
  if (rk == nullptr || op >= topics_.size()) {
    set_error("state store is not started");
    return false;
  }
  const int64_t deadline = engine::monotonic_ns() + 60'000'000'000LL;
  for (;;) {
    const rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topics_[op].c_str()), RD_KAFKA_V_PARTITION(partition.value()),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(const_cast<uint8_t*>(record.data()), record.size()),
        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(token)),
        RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL && engine::monotonic_ns() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the poller drains
      continue;
    }
    set_error(describe(op, partition.value()) + ": " + rd_kafka_err2str(e));
    return false;
  }
}

bool KafkaStateStore::flush(int timeout_ms) {
  rd_kafka_t* rk = handle();
  if (rk == nullptr) return true;
  return rd_kafka_flush(rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR && error().empty();
}

bool KafkaStateStore::reset(const std::vector<engine::StateOperator>& ops, std::string* error) {
  std::vector<std::string> topics;
  for (const auto& op : ops) topics.push_back(changelog_topic(config_.topic_prefix, op.stage));
  if (topics_.empty()) topics_ = topics;  // for describe()
  const std::string brokers = resolve_brokers(config_.client, {});
  rd_kafka_conf_t* conf = make_kafka_conf(config_.client, {{"bootstrap.servers", brokers}}, error);
  if (conf == nullptr) return false;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    *error = std::string("cannot create Kafka client: ") + err;
    return false;
  }
  bool ok = true;
  for (const std::string& topic : topics) {
    rd_kafka_DeleteTopic_t* dt = rd_kafka_DeleteTopic_new(topic.c_str());
    rd_kafka_event_t* ev = admin_call(
        rk, [&](rd_kafka_queue_t* q) { rd_kafka_DeleteTopics(rk, &dt, 1, nullptr, q); }, 30000);
    rd_kafka_DeleteTopic_destroy(dt);
    const std::string why =
        admin_failure(ev, &rd_kafka_event_DeleteTopics_result, &rd_kafka_DeleteTopics_result_topics,
                      RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    if (!why.empty()) {
      *error = "cannot delete changelog topic '" + topic + "': " + why;
      ok = false;
      break;
    }
    // Deletion is asynchronous on the broker: wait until the topic is gone.
    const int64_t deadline = engine::monotonic_ns() + 30'000'000'000LL;
    while (check_topic(rk, topic, 5000, nullptr) == TopicCheck::kExists &&
           engine::monotonic_ns() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    engine::log_info("state", "changelog topic deleted (state reset)", {{"topic", topic}});
  }
  rd_kafka_destroy(rk);
  return ok;
}

void KafkaStateStore::stop() {
  producer_.stop();
}

std::unique_ptr<engine::StateStore> KafkaStateStore::from_config(const engine::ConfigNode* state,
                                                                 const engine::ConfigNode& input,
                                                                 engine::BuildContext& ctx) {
  const bool kafka_input = input.get_string("type", "") == "kafka";
  std::string type = kafka_input ? "kafka" : "none";
  if (state != nullptr) type = state->get_string("type", type);
  if (type == "none") {
    if (state != nullptr) state->finish();
    return nullptr;
  }
  if (type != "kafka") state->get("type").fail("must be kafka, file or none");
  KafkaStateConfig cfg;
  const bool own_cluster = state != nullptr && state->has("brokers");
  if (!own_cluster && !kafka_input)
    state->fail("state in Kafka needs `brokers` here (the input is not Kafka)");
  cfg.client = parse_kafka_settings(own_cluster ? *state : input);
  std::string group = "assay-" + ctx.pipeline.name;
  if (kafka_input) {
    cfg.input_topic = input.get("topic").as_string();
    group = input.get_string("group_id", group);
  } else {
    cfg.partitions = static_cast<int>(state->get_int("partitions", 1, 1, 100000));
  }
  cfg.topic_prefix = group;
  if (state != nullptr) {
    cfg.topic_prefix = state->get_string("topic_prefix", group);
    if (cfg.topic_prefix.empty()) state->get("topic_prefix").fail("must not be empty");
    cfg.replication_factor = static_cast<int>(state->get_int("replication_factor", -1, -1, 32767));
    if (cfg.replication_factor == 0) state->get("replication_factor").fail("must be -1 or >= 1");
    state->finish();
  }
  auto store = std::make_unique<KafkaStateStore>(std::move(cfg));
  if (ctx.engine.exactly_once) {
    auto txn = ctx.services.find<KafkaTransactions>("kafka-transactions");
    if (!txn || txn->client().brokers != store->config_.client.brokers) {
      if (state != nullptr)
        state->fail(
            "with processing.guarantee: exactly_once the state must be kept on the "
            "input's Kafka cluster (written in its transactions)");
    } else {
      store->txn_ = std::move(txn);
    }
  }
  return store;
}

}  // namespace assay::connectors
