#pragma once
/// \file Shared Kafka plumbing: client settings from YAML (librdkafka properties, secrets
/// from files or the environment, never logged), the embedded in-process cluster
/// (`brokers: embedded`, librdkafka's mock cluster, for the demo), and metadata checks.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/config.hpp"

struct rd_kafka_mock_cluster_s;

namespace assay::connectors {

/// Settings common to Kafka sources and sinks.
struct KafkaClientSettings {
  std::string brokers;  ///< bootstrap servers, or "embedded"
  /// librdkafka properties (`properties:` in YAML; `NAME_file: PATH` reads NAME's value from a
  /// file; `${VAR}` reads it from the environment). Values may be secrets: never log them.
  std::map<std::string, std::string> properties;
  int embedded_partitions = 4;  ///< partitions of topics created in the embedded cluster
};

/// Parses `brokers`, `properties` and `embedded_partitions` from a source/sink config node.
KafkaClientSettings parse_kafka_settings(const engine::ConfigNode& config);

/// True for property names whose values must never appear in logs or errors.
bool is_sensitive_property(const std::string& name);

/// Builds an rd_kafka_conf_t from settings plus defaults (defaults first, user properties
/// override). Returns nullptr and a message (naming the property, never its value) on error.
rd_kafka_conf_t* make_kafka_conf(const KafkaClientSettings& settings,
                                 const std::map<std::string, std::string>& defaults,
                                 std::string* error);

/// librdkafka's in-process mock cluster, shared by every client of this process.
class EmbeddedKafka {
 public:
  /// The process-wide instance (created on first use; logs its bootstrap address).
  static EmbeddedKafka& instance();
  /// Bootstrap servers of the embedded cluster ("127.0.0.1:port,...").
  const std::string& bootstrap() const { return bootstrap_; }
  /// Creates a topic if it does not exist yet.
  void create_topic(const std::string& topic, int partitions);
  ~EmbeddedKafka();

 private:
  EmbeddedKafka();
  rd_kafka_t* rk_ = nullptr;
  ::rd_kafka_mock_cluster_s* cluster_ = nullptr;
  std::string bootstrap_;
};

/// Resolves "embedded" to the embedded cluster's bootstrap (creating `topics` there).
std::string resolve_brokers(const KafkaClientSettings& settings,
                            const std::vector<std::string>& topics);

/// Result of checking that a topic exists.
enum class TopicCheck { kExists, kMissing, kUnreachable };

/// Asks the cluster for the topic's metadata (bounded by `timeout_ms`); `partitions` is set
/// when it exists.
TopicCheck check_topic(rd_kafka_t* rk, const std::string& topic, int timeout_ms, int* partitions);

/// True for errors that a Kafka request meets while the cluster changes under it (a broker
/// restarting, a partition leader being elected, metadata being refreshed) and that the same
/// request, repeated a little later, clears. Not for errors about the request itself
/// (authorisation, a topic that does not exist, bad configuration).
bool is_transient_kafka_error(rd_kafka_resp_err_t err);

/// rd_kafka_query_watermark_offsets, repeated on transient errors (is_transient_kafka_error)
/// until `timeout_ms` has passed in all; returns the last error (NO_ERROR once it succeeds).
rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                     int64_t* low, int64_t* high, int timeout_ms);

/// What differs between the producers (sink, audit publisher, simulator): their deliberate
/// settings, given to the one producer set-up (KafkaProducer::start).
struct ProducerOptions {
  /// librdkafka properties of this producer (acks, idempotence, linger, batching, client.id,
  /// log_level, ...). The user's `properties` override them; `bootstrap.servers` is always the
  /// resolved brokers.
  std::map<std::string, std::string> defaults;
  /// Delivery report callback (null = none); `opaque` is passed to both callbacks.
  void (*on_delivery)(rd_kafka_t*, const rd_kafka_message_t*, void*) = nullptr;
  /// Error callback (null = librdkafka's default logging).
  void (*on_error)(rd_kafka_t*, int, const char*, void*) = nullptr;
  void* opaque = nullptr;
  /// Check at start that the topic exists, waiting up to this long (0 = no check). A missing
  /// topic fails start(); an unreachable cluster does not (see topic_check()).
  int topic_check_timeout_ms = 5000;
  /// > 0: a thread of the producer serves delivery reports every this many ms; 0: the caller
  /// polls (rd_kafka_poll).
  int poll_interval_ms = 0;
  /// How long stop() waits for queued records to be delivered (0 = not at all).
  int stop_flush_ms = 0;
};

/// One librdkafka producer writing to one topic: the one place where producers are set up
/// (brokers resolved, configuration with the user's properties, callbacks, topic handle,
/// topic check, delivery-report poller) and torn down.
class KafkaProducer {
 public:
  KafkaProducer() = default;
  KafkaProducer(const KafkaProducer&) = delete;
  KafkaProducer& operator=(const KafkaProducer&) = delete;
  ~KafkaProducer() { stop(); }

  /// Creates the producer for `topic`; false and `error` (naming a bad property, never its
  /// value) if it cannot be created or the topic does not exist; then nothing is left open.
  bool start(const KafkaClientSettings& client, const std::string& topic,
             const ProducerOptions& options, std::string* error);
  /// Flushes (ProducerOptions::stop_flush_ms), stops the poller, destroys the handles.
  /// Idempotent.
  void stop();

  /// The producer handle (null before start() and after stop()).
  rd_kafka_t* handle() const { return rk_; }
  /// The topic handle.
  rd_kafka_topic_t* topic() const { return rkt_; }
  /// The result of the topic check at start (kExists when not checked).
  TopicCheck topic_check() const { return check_; }
  /// Partitions of the topic at start (0 = unknown).
  int partitions() const { return partitions_; }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_topic_t* rkt_ = nullptr;
  TopicCheck check_ = TopicCheck::kExists;
  int partitions_ = 0;
  int stop_flush_ms_ = 0;
  std::thread poller_;
  std::atomic<bool> stop_poller_{false};
};

}  // namespace assay::connectors
