#include "connectors/kafka_txn.hpp"

#include "engine/log.hpp"

namespace assay::connectors {

KafkaTransactions::KafkaTransactions(KafkaClientSettings client, std::string input_topic,
                                     std::string transactional_id, int transaction_timeout_ms)
    : client_(std::move(client)),
      input_topic_(std::move(input_topic)),
      transactional_id_(std::move(transactional_id)),
      transaction_timeout_ms_(transaction_timeout_ms) {}

KafkaTransactions::~KafkaTransactions() {
  stop();
}

void KafkaTransactions::delivery_cb(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
  auto* self = static_cast<KafkaTransactions*>(opaque);
  DeliveryFn fn;
  {
    std::lock_guard<std::mutex> lock(self->mu_);
    auto it = self->handlers_.find(rd_kafka_topic_name(msg->rkt));
    if (it != self->handlers_.end()) fn = it->second;
  }
  if (fn) fn(msg);
}

void KafkaTransactions::on_delivery(const std::string& topic, DeliveryFn fn) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[topic] = std::move(fn);
}

void KafkaTransactions::set_consumer(rd_kafka_t* consumer) {
  std::lock_guard<std::mutex> lock(mu_);
  consumer_ = consumer;
}

bool KafkaTransactions::start(std::string* error) {
  if (producer_.handle() != nullptr) return true;
  ProducerOptions po;
  po.defaults = {{"transactional.id", transactional_id_},
                 {"transaction.timeout.ms", std::to_string(transaction_timeout_ms_)},
                 {"enable.idempotence", "true"},
                 {"acks", "all"},
                 {"linger.ms", "5"},
                 {"batch.size", "1000000"},
                 {"compression.type", "lz4"},
                 {"queue.buffering.max.messages", "1000000"},
                 {"client.id", "assay-txn"},
                 {"log_level", "4"}};
  po.opaque = this;
  po.on_delivery = &KafkaTransactions::delivery_cb;
  po.topic_check_timeout_ms = 0;
  po.poll_interval_ms = 20;
  po.stop_flush_ms = 0;  // an open transaction is aborted by the broker (timeout) or the next owner
  // The producer's own topic handle (the input's) is unused: records name their topic.
  if (!producer_.start(client_, input_topic_, po, error)) {
    *error = "transactional producer: " + *error;
    return false;
  }
  rd_kafka_error_t* e = rd_kafka_init_transactions(producer_.handle(), 60000);
  if (e != nullptr) {
    *error = std::string("transactional producer: init_transactions: ") + rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
    producer_.stop();
    return false;
  }
  engine::log_info("kafka_txn", "transactional producer ready",
                   {{"transactional_id", transactional_id_}});
  return true;
}

void KafkaTransactions::stop() {
  producer_.stop();
}

engine::TxnStatus KafkaTransactions::classify(rd_kafka_error_t* e, const char* what,
                                              std::string* error) {
  *error = std::string(what) + ": " + rd_kafka_error_string(e);
  const bool fatal = rd_kafka_error_is_fatal(e) != 0;
  const bool abortable = rd_kafka_error_txn_requires_abort(e) != 0;
  rd_kafka_error_destroy(e);
  if (fatal) return engine::TxnStatus::kFatal;
  if (abortable) {
    std::string abort_error;
    if (abort(&abort_error) != engine::TxnStatus::kOk) {
      *error += "; then " + abort_error;
      return engine::TxnStatus::kFatal;
    }
    return engine::TxnStatus::kAborted;
  }
  return engine::TxnStatus::kFatal;
}

bool KafkaTransactions::begin(std::string* error) {
  rd_kafka_error_t* e = rd_kafka_begin_transaction(producer_.handle());
  if (e == nullptr) return true;
  *error = std::string("begin_transaction: ") + rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return false;
}

engine::TxnStatus KafkaTransactions::commit(const std::map<int32_t, engine::Offset>& offsets,
                                            std::string* error) {
  rd_kafka_t* rk = producer_.handle();
  if (!offsets.empty()) {
    rd_kafka_consumer_group_metadata_t* cgmd = nullptr;
    rd_kafka_topic_partition_list_t* list = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (consumer_ == nullptr) {
        *error = "no consumer to commit offsets for";
        return engine::TxnStatus::kFatal;
      }
      cgmd = rd_kafka_consumer_group_metadata(consumer_);
      list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
      for (const auto& [p, off] : offsets)
        rd_kafka_topic_partition_list_add(list, input_topic_.c_str(), p)->offset = off.value();
    }
    // Retriable errors (a coordinator moving) are retried a few times.
    rd_kafka_error_t* e = nullptr;
    for (int attempt = 0; attempt < 5; ++attempt) {
      e = rd_kafka_send_offsets_to_transaction(rk, list, cgmd, 30000);
      if (e == nullptr || !rd_kafka_error_is_retriable(e)) break;
      rd_kafka_error_destroy(e);
      e = nullptr;
    }
    rd_kafka_topic_partition_list_destroy(list);
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    if (e != nullptr) return classify(e, "send_offsets_to_transaction", error);
  }
  rd_kafka_error_t* e = nullptr;
  for (int attempt = 0; attempt < 5; ++attempt) {
    e = rd_kafka_commit_transaction(rk, 60000);
    if (e == nullptr || !rd_kafka_error_is_retriable(e)) break;
    rd_kafka_error_destroy(e);
    e = nullptr;
  }
  if (e != nullptr) return classify(e, "commit_transaction", error);
  return engine::TxnStatus::kOk;
}

engine::TxnStatus KafkaTransactions::abort(std::string* error) {
  rd_kafka_error_t* e = nullptr;
  for (int attempt = 0; attempt < 5; ++attempt) {
    e = rd_kafka_abort_transaction(producer_.handle(), 60000);
    if (e == nullptr || !rd_kafka_error_is_retriable(e)) break;
    rd_kafka_error_destroy(e);
    e = nullptr;
  }
  if (e == nullptr) return engine::TxnStatus::kOk;
  *error = std::string("abort_transaction: ") + rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return engine::TxnStatus::kFatal;
}

}  // namespace assay::connectors
