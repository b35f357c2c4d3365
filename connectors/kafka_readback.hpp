#pragma once
/// \file Reading back what a Kafka topic holds, without a consumer group: one partition's
/// tail (chains continued after a restart, connectors/kafka_sink.*) or every partition from
/// the beginning to the end (`assay verify-stream --brokers`). Bounded waits; never commits.

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "connectors/kafka_common.hpp"
#include "connectors/stream_verify.hpp"

namespace assay::connectors {

/// Appends the last `max_records` records of topic/partition (all when 0), oldest first,
/// up to the high watermark (read_committed: the last stable offset) at the time of the call;
/// transaction markers and aborted records at the end do not count (the window of offsets
/// read widens past them). First waits (within `timeout_ms`) until no transaction is open on
/// the partition: records committed after a dead instance's open transaction are invisible to
/// read_committed readers until the broker aborts it. For partitions this instance owns.
/// False with a message on an error, if a transaction stays open, or if the partition cannot
/// be read within `timeout_ms`.
bool read_kafka_partition(const KafkaClientSettings& settings, const std::string& topic,
                          int32_t partition, size_t max_records, std::vector<StoredRecord>* out,
                          std::string* error, int timeout_ms = 30000);

/// Called with each record read: partition, offset, bytes (valid during the call only).
using KafkaRecordFn = std::function<void(int32_t, int64_t, std::span<const uint8_t>)>;

/// Calls `fn` for every record of every partition of `topic`, partition by partition, in offset
/// order, up to the high watermarks at the time of the call; holds one record at a time.
bool for_each_kafka_record(const KafkaClientSettings& settings, const std::string& topic,
                           const KafkaRecordFn& fn, std::string* error);

/// Calls `fn` for every record of the given partitions of `topic` (read together, in offset
/// order per partition) up to their ends at the time of the call; holds one record at a time.
/// Like read_kafka_partition, first waits until no transaction is open on them.
bool for_each_kafka_record_in(const KafkaClientSettings& settings, const std::string& topic,
                              const std::vector<int32_t>& partitions, const KafkaRecordFn& fn,
                              std::string* error, int timeout_ms = 60000);

/// Appends every record of every partition of `topic` (partition by partition, in offset
/// order) up to the high watermarks at the time of the call.
bool read_kafka_topic(const KafkaClientSettings& settings, const std::string& topic,
                      std::vector<StoredRecord>* out, std::string* error);

/// The number of partitions of `topic`; 0 with a message if it does not exist or the
/// cluster cannot be reached.
int kafka_partition_count(const KafkaClientSettings& settings, const std::string& topic,
                          std::string* error);

/// The message of a read that ran out of time: every partition not read to its end, with the
/// next offset it expected and the end it was reading to (`high`: partition -> end, `next`:
/// partition -> next offset), and the last error the consumer was recovering from (empty:
/// none), so that an operator sees which partitions stalled and why.
std::string unfinished_read(const std::string& topic, int timeout_ms,
                            const std::map<int32_t, int64_t>& high,
                            const std::map<int32_t, int64_t>& next,
                            const std::string& last_transient);

}  // namespace assay::connectors
