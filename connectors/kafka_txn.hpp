#pragma once
/// \file Exactly-once on Kafka (`processing.guarantee: exactly_once`, docs/state.md): one
/// transactional librdkafka producer per pipeline instance, shared by every Kafka route and
/// the state changelog, whose transactions also carry the input offsets
/// (send_offsets_to_transaction with the consumer's group metadata: fencing follows the
/// group generation, KIP-447). Delivery reports are handed to the writer of each topic.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "connectors/kafka_common.hpp"
#include "engine/io.hpp"

namespace assay::connectors {

/// The transactional producer of one pipeline instance.
class KafkaTransactions final : public engine::Transactions {
 public:
  /// Handles a delivery report of a record written to its topic.
  using DeliveryFn = std::function<void(const rd_kafka_message_t* msg)>;

  /// `transactional_id` must be unique among the live instances of the group.
  KafkaTransactions(KafkaClientSettings client, std::string input_topic,
                    std::string transactional_id, int transaction_timeout_ms);
  ~KafkaTransactions() override;
  std::string describe() const override { return "kafka transactions " + transactional_id_; }
  /// Creates the producer and initialises transactions (fences an older producer with the
  /// same transactional id). Idempotent.
  bool start(std::string* error) override;
  void stop() override;
  bool begin(std::string* error) override;
  engine::TxnStatus commit(const std::map<int32_t, engine::Offset>& offsets,
                           std::string* error) override;
  engine::TxnStatus abort(std::string* error) override;

  /// The producer (after start()).
  rd_kafka_t* handle() const { return producer_.handle(); }
  /// The cluster it writes to (routes must write to the same one).
  const KafkaClientSettings& client() const { return client_; }
  /// The consumer whose group metadata goes with each commit (the Kafka source calls this at
  /// its start, and with null at its stop).
  void set_consumer(rd_kafka_t* consumer);
  /// Routes delivery reports of records written to `topic` to `fn`.
  void on_delivery(const std::string& topic, DeliveryFn fn);

 private:
  static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  engine::TxnStatus classify(rd_kafka_error_t* e, const char* what, std::string* error);

  const KafkaClientSettings client_;
  const std::string input_topic_;
  const std::string transactional_id_;
  const int transaction_timeout_ms_;
  KafkaProducer producer_;
  std::mutex mu_;  // consumer_, handlers_
  rd_kafka_t* consumer_ = nullptr;
  std::map<std::string, DeliveryFn> handlers_;
};

}  // namespace assay::connectors
