#pragma once
/// \file Sinks writing a route to a file: framed Assay records (`type: file`) or JSON lines
/// for people to read (`type: jsonl`).
///
/// Records are buffered and handed to the operating system in whole frames (never a partial
/// frame, whatever the buffer size), when the buffer is full and at every poll() (once per
/// batch); a record is acknowledged only then, and as failed if that write fails, so an input
/// offset is never committed for a record that was not written. The attestations route writes
/// through (each record reaches the operating system when it is written: an intent is always
/// there before the records it announces). flush() makes everything durable (fsync) when
/// `fsync: true`. With `append: true` a framed file whose last frame is torn (a crash inside a
/// write) is recovered at start: the torn bytes are moved to `PATH.torn-<ns>`, logged, counted
/// and recorded in the audit log (docs/operations.md).

#include <deque>
#include <memory>
#include <string>

#include "engine/framing.hpp"
#include "engine/io.hpp"

namespace prometheus {
class Counter;
}

namespace assay::engine {
class AuditLog;
}

namespace assay::connectors {

/// Output format of a FileSink.
enum class FileFormat { kFramed, kJsonLines };

/// Writes one route to one file.
class FileSink final : public engine::Sink {
 public:
  /// `append`: keep what the file holds and write after it (a torn last frame is recovered);
  /// otherwise the file is truncated. `write_through`: hand every record to the operating
  /// system when it is written. `audit` (may be null) records recoveries; `recovered` (may be
  /// null) counts them.
  FileSink(std::string path, FileFormat format, bool fsync, bool append = false,
           bool write_through = false, std::shared_ptr<engine::AuditLog> audit = nullptr,
           prometheus::Counter* recovered = nullptr);
  bool start(std::string* error) override;
  bool write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
             uint64_t token) override;
  /// Hands buffered records to the operating system and acknowledges them.
  void poll() override;
  bool flush(int timeout_ms) override;
  void stop() override;
  std::string error() const override { return writer_.error(); }
  std::string describe() const override;
  /// A framed file can be read back (and holds every partition); a JSON-lines file cannot.
  engine::SinkCapabilities capabilities() const override {
    return {format_ == FileFormat::kFramed, true, false};
  }
  std::vector<std::string> files() const override { return {path_}; }
  /// Every record the (framed) file holds, whatever `partition`: one file holds them all.
  bool read_back(engine::Partition partition, size_t max_records,
                 std::vector<std::vector<uint8_t>>* out, std::string* error) override;
  /// Moves the file's last `records` frames to `PATH.quarantine-<ns>` (framed files only).
  bool quarantine_tail(engine::Partition partition, size_t records, std::string* where,
                       std::string* error) override;

  /// Builds from `{type: file|jsonl, path: P, fsync: false, append: false}` (`append` only for
  /// `file`).
  static std::unique_ptr<engine::Sink> from_config(const engine::ConfigNode& config,
                                                   engine::Route route, engine::BuildContext& ctx);

 private:
  bool hand_over();  // drain the writer, acknowledge what it handed over

  std::string path_;
  FileFormat format_;
  bool fsync_;
  bool append_;
  std::shared_ptr<engine::AuditLog> audit_;
  prometheus::Counter* recovered_;
  engine::FrameWriter writer_;
  std::deque<uint64_t> unacked_;  // tokens of records buffered, oldest first
  std::string line_;
};

}  // namespace assay::connectors
