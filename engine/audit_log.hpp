#pragma once
/// \file The engine's audit log (WELMEC 7.2 event log): engine start/stop, config loads and
/// reloads, registry and key changes, as a hash chain of AuditEvent records
/// (schemas/audit_event.fbs), each signed by the engine key. Written to a framed record file
/// (4-byte little-endian length + one AuditEvent buffer, fsynced per event) and optionally
/// published to a Kafka topic. The chain continues across restarts: open() reads the last
/// event of the file and continues its seq and hash; a corrupt tail is refused, never
/// silently restarted. Details never carry secret values. See docs/audit-log.md.

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/signing_key.hpp"

namespace prometheus {
class Counter;
}

namespace assay::wire {
struct AuditEvent;
}

namespace assay::engine {

class Metrics;

/// Key/value details of an audit event, in the order given (the order is part of the hash).
using AuditDetails = std::vector<std::pair<std::string, std::string>>;

/// Publishes encoded audit events somewhere besides the file (a Kafka topic). Implemented in
/// connectors/; delivery failures are logged and counted by the publisher, never thrown.
class AuditPublisher {
 public:
  virtual ~AuditPublisher() = default;
  /// Connects; false with a message if it cannot start.
  virtual bool start(std::string* error) = 0;
  /// Queues one encoded AuditEvent (`key` = the log id). Never blocks for long.
  virtual void publish(std::span<const uint8_t> record, std::string_view key, uint64_t seq) = 0;
  /// Waits (bounded) until every queued event is confirmed; false if some were not.
  virtual bool flush(int timeout_ms) = 0;
  /// Flushes and disconnects (idempotent).
  virtual void stop() = 0;
  /// Events whose delivery failed (or was never confirmed) so far.
  virtual uint64_t failures() const = 0;
  /// Events whose delivery was confirmed so far.
  virtual uint64_t delivered() const = 0;
  /// For logs, e.g. "kafka:assay.audit".
  virtual std::string describe() const = 0;
};

/// Settings of an audit log (the `audit:` section of a pipeline file).
struct AuditOptions {
  std::string file;           ///< framed record file, appended to
  std::string pipeline_name;  ///< stamped on every event
  std::string instance_id;    ///< stamped on every event
  bool fsync = true;          ///< fdatasync after each event
};

/// The canonical bytes of an event that its record_hash covers (docs/audit-log.md):
/// "assay.audit.v1\n", seq (u64 LE), time_ns (i64 LE), then type, log_id, instance_id,
/// pipeline_name, engine_key_id as (u32 LE length, bytes), the detail count (u32 LE) and
/// each detail's key and value as (u32 LE length, bytes).
std::vector<uint8_t> audit_canonical_bytes(uint64_t seq, int64_t time_ns, std::string_view type,
                                           std::string_view log_id, std::string_view instance_id,
                                           std::string_view pipeline_name,
                                           std::string_view engine_key_id,
                                           const AuditDetails& details);
/// The canonical bytes of a decoded event (same layout; missing strings count as empty).
std::vector<uint8_t> audit_canonical_bytes(const wire::AuditEvent& event);
/// SHA-256(prev_hash || canonical).
std::array<uint8_t, 32> audit_record_hash(std::span<const uint8_t> prev_hash,
                                          std::span<const uint8_t> canonical);

/// SHA-256 (hex) of a file's bytes; empty if it cannot be read.
std::string file_sha256_hex(const std::string& path);
/// SHA-256 (hex) of the running binary (/proc/self/exe); empty if it cannot be read.
std::string binary_sha256_hex();

/// A hash-chained, signed event log. Thread-safe: any component may call record().
class AuditLog {
 public:
  /// `key` signs every event (required); `publisher` may be null; `metrics` may be null
  /// (otherwise assay_audit_events_total and assay_audit_failures_total are kept there).
  AuditLog(AuditOptions options, std::shared_ptr<const EngineKey> key,
           std::unique_ptr<AuditPublisher> publisher = nullptr, Metrics* metrics = nullptr);
  ~AuditLog();
  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

  /// Opens the file (creating it), continues the chain from its last event (a new log id
  /// for an empty file), starts the publisher, then writes the events recorded before.
  /// False with a message naming the file and byte position if the tail is corrupt (a
  /// truncated frame, a buffer that fails the Verifier, a wrong record hash, or a signature
  /// of this key that does not verify). A tail signed by another key id is accepted and a
  /// "key.changed" event records the change. Idempotent.
  bool open(std::string* error);
  /// Appends one event (time = now). Before open() events are queued and written by open().
  /// False if the event could not be written to the file (logged and counted; after a file
  /// failure the log refuses further events so the chain never gets a hole).
  bool record(std::string_view type, AuditDetails details = {});
  /// Records "config.reload" (ok) or "config.reload_failed" with the new config's SHA-256
  /// and, for a failure, the error message (for the hot reload).
  bool record_config_reload(bool ok, std::span<const uint8_t> config_sha256,
                            std::string_view error = {});
  /// Flushes the publisher (bounded) and closes the file. Idempotent.
  void close();

  /// Sequence number the next event will get.
  uint64_t next_seq() const;
  /// record_hash of the last event (zeros before the first).
  std::array<uint8_t, 32> head() const;
  /// Id of the chain (empty before open()).
  std::string log_id() const;
  /// The file written.
  const std::string& file() const { return options_.file; }
  /// Id of the signing key.
  const std::string& key_id() const { return key_->key_id(); }
  /// Events written to the file so far by this process.
  uint64_t events_written() const;
  /// Events that could not be written to the file, plus publisher failures.
  uint64_t failures() const;

 private:
  struct Pending {
    int64_t time_ns;
    std::string type;
    AuditDetails details;
  };
  bool append_locked(int64_t time_ns, std::string_view type, const AuditDetails& details);
  bool restore_locked(std::string* error, std::string* previous_key_id);
  void fail_locked(const std::string& what);

  const AuditOptions options_;
  const std::shared_ptr<const EngineKey> key_;
  std::unique_ptr<AuditPublisher> publisher_;
  mutable std::mutex mu_;
  int fd_ = -1;
  bool open_ = false;
  bool failed_ = false;
  bool closed_ = false;
  uint64_t next_seq_ = 0;
  std::array<uint8_t, 32> head_{};
  std::string log_id_;
  std::vector<Pending> pending_;
  AuditDetails recovered_;  // a torn last frame set aside by restore_locked(), recorded by open()
  uint64_t written_ = 0;
  uint64_t file_failures_ = 0;
  prometheus::Counter* events_metric_ = nullptr;
  prometheus::Counter* failures_metric_ = nullptr;
};

}  // namespace assay::engine
