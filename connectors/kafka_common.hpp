#pragma once
/// \file Shared Kafka plumbing: client settings from YAML (librdkafka properties, secrets
/// from files or the environment, never logged), the embedded in-process cluster
/// (`brokers: embedded`, librdkafka's mock cluster, for the demo), and metadata checks.

#include <librdkafka/rdkafka.h>

#include <map>
#include <memory>
#include <string>
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

}  // namespace assay::connectors
