#pragma once
/// \file Durable operator state in Kafka (docs/state.md): one compacted changelog topic per
/// stateful operator, `<prefix>-<stage>-changelog` (prefix: the input's consumer group), with
/// as many partitions as the input topic; changelog partition N holds the state of input
/// partition N, one record per changed key (the sensor id), so compaction keeps each sensor's
/// latest entry. Written by an idempotent producer (acks=all); read back from the beginning to
/// the high watermark when a partition is assigned.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connectors/kafka_common.hpp"
#include "engine/state_store.hpp"

namespace assay::connectors {

class KafkaTransactions;

/// Configuration of the Kafka state store.
struct KafkaStateConfig {
  KafkaClientSettings client;   ///< the cluster (the input's unless `state:` names one)
  std::string input_topic;      ///< the changelog topics get its partition count
  int partitions = 1;           ///< partition count when there is no input topic
  std::string topic_prefix;     ///< changelog topic names: <prefix>-<stage>-changelog
  int replication_factor = -1;  ///< of created changelog topics (-1: the broker's default)
};

/// The changelog topic name of a stage ("assay-fleet-anomaly-changelog"): characters Kafka
/// does not allow in topic names become '_'.
std::string changelog_topic(const std::string& prefix, const std::string& stage);

/// Keeps operator state in compacted changelog topics.
class KafkaStateStore final : public engine::StateStore {
 public:
  explicit KafkaStateStore(KafkaStateConfig config);
  ~KafkaStateStore() override;
  bool start(const std::vector<engine::StateOperator>& ops, std::string* error) override;
  bool restore(size_t op, std::span<const engine::Partition> partitions,
               const engine::StateRecordFn& fn, std::string* error) override;
  bool write(size_t op, engine::Partition partition, std::string_view key,
             std::span<const uint8_t> record, uint64_t token) override;
  bool flush(int timeout_ms) override;
  bool reset(const std::vector<engine::StateOperator>& ops, std::string* error) override;
  void stop() override;
  std::string error() const override;
  std::string describe(size_t op, int32_t partition) const override;

  /// Builds from the `state:` section (null: defaults) for a pipeline whose input is
  /// `input`; null when state is not kept (`type: none`, or a non-Kafka input without a
  /// `state:` section).
  static std::unique_ptr<engine::StateStore> from_config(const engine::ConfigNode* state,
                                                         const engine::ConfigNode& input,
                                                         engine::BuildContext& ctx);

 private:
  static void delivery_cb(rd_kafka_t* rk, const rd_kafka_message_t* msg, void* opaque);
  bool ensure_topics(std::string* error);
  void set_error(const std::string& e);

  const KafkaStateConfig config_;
  std::vector<std::string> topics_;  ///< per state operator
  KafkaProducer producer_;
  /// Exactly-once: the pipeline's transactional producer (then producer_ is unused).
  std::shared_ptr<KafkaTransactions> txn_;
  /// The producer handle in use.
  rd_kafka_t* handle() const;
  int partitions_ = 0;
  mutable std::mutex err_mu_;
  std::string error_;
};

}  // namespace assay::connectors
