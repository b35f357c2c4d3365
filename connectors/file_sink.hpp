#pragma once
/// \file Sinks writing a route to a file: framed Assay records (`type: file`) or JSON lines
/// for people to read (`type: jsonl`). A record is acknowledged once it is handed to the
/// operating system; flush() makes it durable (fsync) when `fsync: true`.

#include <memory>
#include <string>

#include "connectors/framing.hpp"
#include "engine/io.hpp"

namespace assay::connectors {

/// Output format of a FileSink.
enum class FileFormat { kFramed, kJsonLines };

/// Writes one route to one file.
class FileSink final : public engine::Sink {
 public:
  /// `append`: keep what the file holds and write after it (framed files must end on a
  /// frame boundary); otherwise the file is truncated.
  FileSink(std::string path, FileFormat format, bool fsync, bool append = false);
  bool start(std::string* error) override;
  bool write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
             uint64_t token) override;
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

  /// Builds from `{type: file|jsonl, path: P, fsync: false, append: false}`.
  static std::unique_ptr<engine::Sink> from_config(const engine::ConfigNode& config,
                                                   engine::Route route, engine::BuildContext& ctx);

 private:
  std::string path_;
  FileFormat format_;
  bool fsync_;
  bool append_;
  FrameWriter writer_;
  std::string line_;
};

}  // namespace assay::connectors
