#pragma once
/// \file The operator interface. An Operator is an immutable object configured once from
/// YAML; everything that changes while records flow lives in a per-partition OperatorState
/// created by the operator and owned by the runner. Operators never block: backpressure is
/// expressed through ready(), which the runner consults before it admits more input.

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
#include "engine/service.hpp"
#include "engine/types.hpp"

namespace assay::engine {

class AuditLog;

/// Called with one durable state entry: the key it replaces (e.g. a sensor id) and its bytes.
using StateEntryFn = std::function<void(std::string_view key, std::span<const uint8_t> entry)>;

/// Per-partition mutable state of an operator (e.g. per-sensor statistics).
class OperatorState {
 public:
  virtual ~OperatorState() = default;
  /// True if the state is durable entry by entry (changed_entries() and merge_entry();
  /// docs/state.md). Other states start empty on every assignment of their partition.
  virtual bool durable() const { return false; }
  /// Calls `fn` once per key whose entry the rows `rows` of `batch` (the selection the
  /// operator was given) may have changed, with that key's current entry: a snapshot() of
  /// that key alone. Runs right after process(), in the operator's serial stage.
  virtual void changed_entries(const Batch& /*batch*/, std::span<const uint32_t> /*rows*/,
                               const StateEntryFn& /*fn*/) const {}
  /// Merges an entry changed_entries() produced (it replaces the key's earlier entry); false
  /// with the state unchanged if the bytes are not a valid entry of this state.
  virtual bool merge_entry(std::span<const uint8_t> /*entry*/) { return false; }
  /// Serialises the state (for changelog/checkpoint backing); empty if stateless.
  virtual std::vector<uint8_t> snapshot() const { return {}; }
  /// Restores from snapshot(); false if the bytes are not a valid snapshot.
  virtual bool restore(std::span<const uint8_t> bytes) { return bytes.empty(); }
  /// Approximate heap bytes held (for memory metrics).
  virtual size_t memory_bytes() const { return 0; }
};

/// Identity of the running pipeline, available to operators and the output stage.
struct PipelineInfo {
  std::string name;
  std::vector<uint8_t> config_sha256;  ///< SHA-256 of the configuration file bytes
  std::string instance_id;
  /// The audit log (`audit:` section; engine/audit_log.hpp), null when none is configured.
  std::shared_ptr<AuditLog> audit;
};

/// Read access to what the pipeline's sinks already hold, for operators that continue
/// per-partition chains across restarts (implemented by the Runner).
class OutputReader {
 public:
  virtual ~OutputReader() = default;
  /// Appends to `out` (oldest first) records already written to `route` that may belong to
  /// `partition`: at least its last `max_records` when it has that many; may hold more, and
  /// records of other partitions (a file sink holds every partition in one file). False
  /// with a message if the sink cannot read back.
  virtual bool read_back(Route route, Partition partition, size_t max_records,
                         std::vector<std::vector<uint8_t>>* out, std::string* error) const = 0;
  /// The sink's description of `route` ("file:out.asy", "kafka:topic"), empty if absent.
  virtual std::string describe(Route route) const = 0;
  /// Moves the last `records` records `route` holds out of the output, into a quarantine
  /// place kept next to it (`where` names it), for a sealing operator that cannot attest them
  /// (docs/provenance.md). Only at the start of a chain, before anything of it was written.
  /// Default: cannot (false with a message).
  virtual bool quarantine_tail(Route route, Partition partition, size_t records,
                               std::string* where, std::string* error) const {
    (void)route, (void)partition, (void)records, (void)where;
    *error = "this output cannot set records aside";
    return false;
  }
};

/// What an operator gets on each call.
struct OperatorContext {
  const PipelineInfo& pipeline;
  OperatorProbe& probe;
  uint8_t stage = 0;  ///< this operator's stage index (for Batch::reject_row)
  /// Wall-clock time at the start of the batch (UTC ns): for metrics and processing-time
  /// fields only, never for a verdict (verdicts take "now" from Frame::record_time_ns).
  int64_t now_ns = 0;
  /// Monotonic time at the start of the batch: for metrics and timers only, never a verdict.
  int64_t now_mono_ns = 0;
  /// The sinks' history; set only for seal() and finish().
  const OutputReader* outputs = nullptr;
};

/// A pipeline operator.
class Operator {
 public:
  virtual ~Operator() = default;
  /// Registered type name, e.g. "verify_signature".
  virtual std::string_view type() const = 0;
  /// True if process() needs the per-partition state; such operators see the batches of a
  /// partition one at a time and in order. Stateless operators run on batches in parallel.
  virtual bool stateful() const { return false; }
  /// Creates the state for one partition (nullptr for stateless operators).
  virtual std::unique_ptr<OperatorState> make_state(Partition) const { return nullptr; }
  /// Backpressure: false while the operator cannot take more input (e.g. a registry it needs
  /// is still loading). Must be cheap and never block.
  virtual bool ready() const { return true; }
  /// Processes the selected rows of `batch`: sets verdict columns, rejects rows
  /// (Batch::reject_row), raises alerts. Per-record failures are values, never exceptions.
  virtual void process(Batch& batch, OperatorState* state, OperatorContext& ctx) const = 0;
  /// True if the operator seals encoded outputs (seal()/finish()). Its per-partition state for
  /// sealing is created with make_state() and kept apart from process() state.
  virtual bool seals() const { return false; }
  /// Runs in the serial output stage, in input order per partition, after encoding and
  /// before the outputs are written: may patch Batch::out_arena in place and append outputs
  /// (e.g. checkpoints). False with a message is fatal: the batch is not written and the
  /// pipeline stops (e.g. a chain that cannot be continued).
  virtual bool seal(Batch& /*batch*/, OperatorState* /*state*/, OperatorContext& /*ctx*/,
                    std::string* /*error*/) const {
    return true;
  }
  /// Called for every sealing state when the pipeline stops after a clean drain: may append
  /// final outputs to `batch` (whose partition is set; it has no frames).
  virtual void finish(Batch& /*batch*/, OperatorState* /*state*/,
                      OperatorContext& /*ctx*/) const {}
  /// Called once when the pipeline starts (e.g. to start registry watchers); may fail with a
  /// message (the pipeline then does not start).
  virtual bool start(std::string* /*error*/) { return true; }
  /// Called once when the pipeline stops.
  virtual void stop() {}
};

/// Engine settings from the `engine:` section of a pipeline file.
struct EngineOptions {
  size_t batch_size = 1024;           ///< frames per batch
  size_t max_in_flight = 8;           ///< batches in flight (backpressure bound)
  int threads = 0;                    ///< worker threads (0 = one per core)
  uint32_t max_record_bytes = 1 << 20;///< larger input records are rejected (frame.too_large)
  /// Readings one input record may expand into (wire.too_many_readings beyond).
  uint32_t max_readings_per_record = 4096;
  /// Total bytes of the outputs of one input record (record.output_too_large beyond).
  uint64_t max_output_bytes_per_record = uint64_t{16} << 20;
  /// `engine.signed_bytes: once` (default): the signed bytes of an input record with several
  /// readings are written once per sensor on the trusted route (the first TrustedReading
  /// carries them, the others refer to it); `every`: in every TrustedReading (stream v1).
  bool signed_bytes_once = true;
  /// `engine.trusted_records: grouped`: the trusted readings of one sensor in one input record
  /// become one TrustedReading that stands for all of them (group_reading_indexes), carrying the
  /// signed bytes once; `per_reading` (default): one TrustedReading per reading.
  bool trusted_grouped = false;
  /// `processing.guarantee: exactly_once` (docs/state.md): outputs, state entries and input
  /// offsets are committed in one transaction every `commit_interval_ms`.
  bool exactly_once = false;
  int commit_interval_ms = 100;  ///< `processing.commit_interval_ms`
};

struct Registries;

/// Everything a factory may need while building an operator or connector from its config.
struct BuildContext {
  const PipelineInfo& pipeline;
  Metrics& metrics;
  const EngineOptions& engine;
  /// The pipeline's services (live registries, clients): an operator takes what it needs from
  /// here instead of owning threads, clients or files.
  ServiceSet& services;
  /// Located warnings ("file:line:column: key 'k': message") that `assay lint` prints and
  /// `assay run` logs; the pipeline still builds.
  std::vector<std::string>& warnings;
  /// The factories the pipeline is built with (for services an operator needs built by a
  /// layer above it, e.g. the witness client); may be null (operators built on their own).
  const Registries* factories = nullptr;
  /// Adds a warning located at `where`.
  void warn(const ConfigNode& where, const std::string& message) const {
    warnings.push_back(where.location() + ": key '" + where.path() + "': " + message);
  }
};

/// Builds an operator from its YAML node; throws ConfigError on a bad config.
using OperatorFactory =
    std::function<std::unique_ptr<Operator>(const ConfigNode& config, BuildContext& ctx)>;

/// Operator factories by type name.
class OperatorRegistry {
 public:
  /// Registers a factory (replaces an existing one with the same name).
  void add(std::string name, OperatorFactory factory);
  /// The factory for `name`, or nullptr.
  const OperatorFactory* find(std::string_view name) const;
  /// All registered names, sorted.
  std::vector<std::string> names() const;

 private:
  std::map<std::string, OperatorFactory, std::less<>> factories_;
};

}  // namespace assay::engine
