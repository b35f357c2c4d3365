#pragma once
/// \file Source and sink interfaces. Connectors (connectors/) implement them; the runner
/// drives them. Neither may block indefinitely: sources return "nothing yet", sinks report
/// backpressure through ready().

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/batch.hpp"
#include "engine/config.hpp"
#include "engine/metrics.hpp"
#include "engine/operator.hpp"
#include "engine/service.hpp"
#include "engine/types.hpp"

namespace assay::engine {

/// Result of asking a source for input.
enum class SourceStatus {
  kBatch,    ///< a batch was filled
  kIdle,     ///< nothing available right now; ask again later
  kEnd,      ///< the input is exhausted (files); the pipeline drains and stops
  kFailed,   ///< a fatal error (message in error())
};

/// Services of the runner that a source uses when its partitions move (consumer-group
/// rebalances). Implemented by the Runner.
class SourceHost {
 public:
  virtual ~SourceHost() = default;
  /// The partitions are being taken away. Blocks only until no batch of them is being
  /// written (never on pipeline progress), makes every in-flight batch of them be dropped
  /// instead of written, forgets their pending frames, and returns the offsets that are
  /// safe to commit for them now (one past the last fully acknowledged record).
  virtual std::map<int32_t, Offset> revoke(std::span<const Partition> partitions) = 0;
  /// The partitions were assigned to this instance; called before any of their records is
  /// read (blocks while their durable operator state is restored). False if the pipeline
  /// cannot continue (the host then fails the run with the reason).
  virtual bool assigned(std::span<const Partition> /*partitions*/) { return true; }
  /// Fatal source error detected outside next() (e.g. in a callback).
  virtual void source_failed(const std::string& message) = 0;
};

/// Outcome of committing or aborting a transaction.
enum class TxnStatus {
  kOk,       ///< done
  kAborted,  ///< the transaction was aborted (abortable error): rewind, restore, continue
  kFatal,    ///< the instance cannot go on (e.g. fenced by a newer member): stop
};

/// Exactly-once output (`processing.guarantee: exactly_once`, docs/state.md): every output,
/// state entry and input offset written between begin() and commit() becomes visible to
/// read_committed consumers together, or not at all. A Service (started with the pipeline's
/// services); implemented by connectors/kafka_txn.*.
class Transactions : public Service {
 public:
  /// Opens a transaction; false with a message (fatal).
  virtual bool begin(std::string* error) = 0;
  /// Commits the open transaction with the input positions `offsets` (next offset to read,
  /// per input partition).
  virtual TxnStatus commit(const std::map<int32_t, Offset>& offsets, std::string* error) = 0;
  /// Aborts the open transaction (its records are never visible to read_committed readers).
  virtual TxnStatus abort(std::string* error) = 0;
};

/// Where input comes from.
class Source {
 public:
  virtual ~Source() = default;
  /// Installs the runner's services (before start()).
  void set_host(SourceHost* host) { host_ = host; }
  /// Checks, before any output is touched, that the source can start (e.g. its file exists);
  /// false with a located message if not.
  virtual bool check(std::string* /*error*/) { return true; }
  /// Opens the source; false with a message if it cannot start.
  virtual bool start(std::string* error) = 0;
  /// Fills `batch` (frames of one partition, at most `max_frames`) or says why not.
  virtual SourceStatus next(Batch& batch, size_t max_frames) = 0;
  /// True while the source is connected and can deliver (feeds /readyz).
  virtual bool healthy() const { return true; }
  /// Called for each input frame once every output derived from it is acknowledged.
  /// Sources commit progress from this (Kafka offsets); files ignore it.
  virtual void acknowledge(Partition, Offset) {}
  /// Exactly-once: after an aborted transaction, the next next() first moves every assigned
  /// partition back to its committed offset (and forgets what it read beyond). Thread-safe:
  /// only sets a flag.
  virtual void rewind() {}
  /// Stops the source (idempotent).
  virtual void stop() {}
  /// Last fatal error.
  virtual std::string error() const { return {}; }
  /// Human-readable name for logs ("file:fleet.asy").
  virtual std::string describe() const = 0;
  /// Files this source reads (absolute paths), so that no output can overwrite them.
  virtual std::vector<std::string> files() const { return {}; }

 protected:
  SourceHost* host_ = nullptr;
};

/// What a sink learns about each record besides its bytes.
struct OutputMeta {
  std::string_view key;            ///< sensor id (may be empty)
  RejectCode reason = RejectCode::kNone;
  std::string_view verdict;        ///< short verdict summary, e.g. "signature=Valid"
  std::string_view pipeline;       ///< pipeline name
  int32_t partition = -1;          ///< source partition of the record (-1 = unknown)
};

/// What a sink can do. The pipeline asks for capabilities (a feature that needs one refuses a
/// sink without it), never for sink type names.
struct SinkCapabilities {
  /// Can read back what it wrote (read_back()): chains continue across restarts.
  bool read_back = false;
  /// Writes each record to an output partition named by its source partition (or holds every
  /// partition in one place), so that per-partition chains stay per partition.
  bool follows_source_partition = false;
  /// Can commit its outputs atomically with the input offsets (exactly-once).
  bool transactional = false;
};

/// Where records of one route go.
class Sink {
 public:
  /// Called with the frame token when a written record is durably acknowledged.
  using AckFn = std::function<void(uint64_t token, bool ok)>;
  virtual ~Sink() = default;
  virtual bool start(std::string* error) = 0;
  /// Backpressure: false while the sink cannot take more records.
  virtual bool ready() const { return true; }
  /// Writes one record; `token` is passed back through the ack callback. Returns false on a
  /// fatal error. May wait (bounded) for room when the sink is full (backpressure).
  virtual bool write(std::span<const uint8_t> record, const OutputMeta& meta, uint64_t token) = 0;
  /// Serves delivery callbacks; non-blocking.
  virtual void poll() {}
  /// Flushes everything written so far (blocking, bounded by `timeout_ms`).
  virtual bool flush(int timeout_ms) = 0;
  virtual void stop() {}
  virtual std::string error() const { return {}; }
  virtual std::string describe() const = 0;
  /// Reads back records this sink already holds (restarts; see OutputReader::read_back).
  /// Default: cannot.
  virtual bool read_back(Partition /*partition*/, size_t /*max_records*/,
                         std::vector<std::vector<uint8_t>>* /*out*/, std::string* error) {
    *error = "sink " + describe() + " cannot read back what it wrote";
    return false;
  }
  /// What it can do.
  virtual SinkCapabilities capabilities() const { return {}; }
  /// Files this sink writes (absolute paths), for collision checks.
  virtual std::vector<std::string> files() const { return {}; }
  /// Moves this sink's last `records` records into a quarantine place next to the output
  /// (see OutputReader::quarantine_tail); `where` names it. Default: cannot.
  virtual bool quarantine_tail(Partition /*partition*/, size_t /*records*/, std::string* /*where*/,
                               std::string* error) {
    *error = "sink " + describe() + " cannot set records aside (only a file sink can)";
    return false;
  }
  /// Installs the acknowledgement callback (before start()).
  void set_ack(AckFn fn) { ack_ = std::move(fn); }

 protected:
  AckFn ack_;
};

}  // namespace assay::engine
