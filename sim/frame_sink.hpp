#pragma once
/// \file Where the simulator's records go. A FrameSink takes one finished FlatBuffers buffer
/// per call plus a partitioning key (the sensor id); the file sink writes it as a frame
/// (4-byte little-endian length + buffer, engine/framing.hpp). A Kafka sink can implement
/// the same interface (key = message key, frame = message value).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/framing.hpp"

namespace assay::sim {

/// Destination of simulated records.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  /// Writes one record (`frame` = the FlatBuffers buffer, without a length prefix); `key` is
  /// the sensor id. False on an error (see error()).
  virtual bool write(std::span<const uint8_t> frame, std::string_view key) = 0;
  /// Flushes buffered records. False on an error.
  virtual bool flush() { return true; }
  /// Last error text.
  virtual std::string error() const { return {}; }
};

/// Writes frames to a framed record file ("-" = stdout).
class FileFrameSink final : public FrameSink {
 public:
  bool open(const std::string& path) { return writer_.open(path); }
  bool write(std::span<const uint8_t> frame, std::string_view key) override;
  bool flush() override { return writer_.flush(); }
  std::string error() const override { return writer_.error(); }
  bool close() { return writer_.close(); }

 private:
  engine::FrameWriter writer_;
};

/// Keeps frames in memory (tests, embedding).
class MemoryFrameSink final : public FrameSink {
 public:
  bool write(std::span<const uint8_t> frame, std::string_view key) override {
    frames.emplace_back(frame.begin(), frame.end());
    keys.emplace_back(key);
    return true;
  }
  std::vector<std::vector<uint8_t>> frames;
  std::vector<std::string> keys;
};

}  // namespace assay::sim
