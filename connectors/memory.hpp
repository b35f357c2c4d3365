#pragma once
/// \file In-memory source and sink: records held in memory (benchmarks, config tests,
/// embedding). The sink acknowledges each record when it is stored.

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/io.hpp"

namespace assay::connectors {

/// Serves a fixed list of records (optionally `repeat` times), as partition 0.
class MemorySource final : public engine::Source {
 public:
  MemorySource(std::vector<std::vector<uint8_t>> records, size_t repeat = 1,
               std::string name = "memory");
  bool start(std::string*) override { return true; }
  engine::SourceStatus next(engine::Batch& batch, size_t max_frames) override;
  std::string describe() const override { return "memory:" + name_; }

 private:
  std::vector<std::vector<uint8_t>> records_;
  size_t repeat_, round_ = 0, pos_ = 0;
  int64_t offset_ = 0;
  std::string name_;
};

/// Serves records pushed by another thread (an embedding program, a test), as partition 0,
/// until close(); says "nothing yet" while the queue is empty.
class QueueSource final : public engine::Source {
 public:
  explicit QueueSource(std::string name = "queue") : name_(std::move(name)) {}
  bool start(std::string*) override { return true; }
  engine::SourceStatus next(engine::Batch& batch, size_t max_frames) override;
  std::string describe() const override { return "queue:" + name_; }
  /// Appends a record.
  void push(std::vector<uint8_t> record);
  /// No more records: the pipeline drains and stops once the queue is empty.
  void close();

 private:
  std::mutex mu_;
  std::vector<std::vector<uint8_t>> queue_;
  size_t pos_ = 0;
  bool closed_ = false;
  int64_t offset_ = 0;
  std::string name_;
};

/// Keeps (or only counts) the records written to it.
class MemorySink final : public engine::Sink {
 public:
  /// `keep` = false only counts (for benchmarks).
  explicit MemorySink(bool keep = true) : keep_(keep) {}
  bool start(std::string*) override { return true; }
  bool write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
             uint64_t token) override;
  bool flush(int) override { return true; }
  std::string describe() const override { return "memory"; }
  engine::SinkCapabilities capabilities() const override { return {keep_, true, false}; }
  /// Everything written so far (all partitions); a counting sink can only say "nothing yet".
  bool read_back(engine::Partition partition, size_t max_records,
                 std::vector<std::vector<uint8_t>>* out, std::string* error) override;

  /// Records written so far (copies).
  std::vector<std::vector<uint8_t>> records() const;
  /// Number of records written.
  size_t count() const;
  /// Bytes of the records written.
  size_t bytes() const;

 private:
  bool keep_;
  mutable std::mutex mu_;
  std::vector<std::vector<uint8_t>> records_;
  size_t count_ = 0;
  size_t bytes_ = 0;
};

}  // namespace assay::connectors
