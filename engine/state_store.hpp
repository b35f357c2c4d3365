#pragma once
/// \file Durable per-partition operator state (docs/state.md). A StateStore keeps, per stateful
/// operator and input partition, the latest entry of every key (e.g. a sensor's anomaly
/// state): the runner writes the entries a batch changed together with the batch's outputs
/// (their acknowledgements gate the input offsets like the outputs'), and restores a
/// partition's entries when the partition is assigned, before any of its records is
/// processed. Implementations: a compacted Kafka changelog topic per operator
/// (connectors/kafka_state.*). Each stored record is a versioned, checksummed envelope
/// (encode_state_record / decode_state_record); a record that fails it stops the pipeline
/// with the topic, partition and offset, never silently empty state.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/io.hpp"
#include "engine/types.hpp"

namespace assay::engine {

/// A stateful operator whose state is made durable.
struct StateOperator {
  size_t op = 0;      ///< index in Pipeline::operators
  std::string stage;  ///< its stage name (`name:` or the type)
  std::string type;   ///< its operator type ("anomaly")
};

/// Called with each stored record, oldest first per partition: its partition, its bytes and
/// its position (e.g. the Kafka offset) for messages. Returns false to stop.
using StateRecordFn =
    std::function<bool(Partition partition, std::span<const uint8_t> record, int64_t position)>;

/// Where durable operator state is kept.
class StateStore {
 public:
  /// Acknowledgement of a write (token as given to write(), ok = durable).
  using AckFn = Sink::AckFn;
  virtual ~StateStore() = default;
  /// Prepares storage for `ops` (e.g. creates the changelog topics with one partition per
  /// input partition); false with a message naming the place.
  virtual bool start(const std::vector<StateOperator>& ops, std::string* error) = 0;
  /// Calls `fn` with every record stored for `ops[op]` and `partitions` (read together),
  /// oldest first per partition. False with a message naming the place if it cannot be read.
  virtual bool restore(size_t op, std::span<const Partition> partitions, const StateRecordFn& fn,
                       std::string* error) = 0;
  /// Queues one record (latest entry of `key`) for `ops[op]` and `partition`; the ack
  /// callback reports `token` when it is durable. False on a fatal error (error()).
  virtual bool write(size_t op, Partition partition, std::string_view key,
                     std::span<const uint8_t> record, uint64_t token) = 0;
  /// Serves delivery reports (non-blocking).
  virtual void poll() {}
  /// Waits (bounded) until everything written is durable.
  virtual bool flush(int timeout_ms) = 0;
  /// Deletes everything stored for `ops` (`assay state reset`); false with a message.
  virtual bool reset(const std::vector<StateOperator>& ops, std::string* error) = 0;
  /// Stops (idempotent).
  virtual void stop() {}
  /// Last fatal error.
  virtual std::string error() const { return {}; }
  /// Where `ops[op]`'s state of `partition` lives, for messages ("kafka topic 'x' partition
  /// 3"); partition < 0: the whole store of that operator.
  virtual std::string describe(size_t op, int32_t partition) const = 0;
  /// Installs the acknowledgement callback (before start()).
  void set_ack(AckFn fn) { ack_ = std::move(fn); }

 protected:
  AckFn ack_;
};

/// Version of the state record envelope written now.
inline constexpr uint16_t kStateRecordVersion = 1;

/// A decoded state record (views into the record's bytes).
struct StateRecord {
  std::string_view op_type;        ///< operator type that wrote it
  std::string_view key;            ///< the key it replaces
  int64_t input_offset = -1;       ///< input position after the batch that wrote it
  std::span<const uint8_t> entry;  ///< the operator's entry (OperatorState::merge_entry)
};

/// Appends a state record to `out`:
///   "ASST" | u16 version | u8 op type length | op type | u64 input offset |
///   u32 key length | key | u32 entry length | entry | u64 FNV-1a-64 of everything before
/// (little-endian).
void encode_state_record(std::string_view op_type, std::string_view key, int64_t input_offset,
                         std::span<const uint8_t> entry, std::vector<uint8_t>& out);

/// Decodes a state record; false with a reason ("checksum mismatch", "version 7 is not
/// supported", ...) if it is not a valid record of version <= kStateRecordVersion.
bool decode_state_record(std::span<const uint8_t> bytes, StateRecord* out, std::string* reason);

/// Builds the state store of a pipeline from its `state:` section (null when absent) and its
/// `input:` section; returns null when state is not kept durably. Throws ConfigError.
using StateStoreFactory = std::function<std::unique_ptr<StateStore>(
    const ConfigNode* state, const ConfigNode& input, BuildContext& ctx)>;

}  // namespace assay::engine
