#pragma once
/// \file Source and sink interfaces. Connectors (connectors/) implement them; the runner
/// drives them. Neither may block indefinitely: sources return "nothing yet", sinks report
/// backpressure through ready().

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/batch.hpp"
#include "engine/config.hpp"
#include "engine/metrics.hpp"
#include "engine/operator.hpp"

namespace assay::engine {

/// Result of asking a source for input.
enum class SourceStatus {
  kBatch,    ///< a batch was filled
  kIdle,     ///< nothing available right now; ask again later
  kEnd,      ///< the input is exhausted (files); the pipeline drains and stops
  kFailed,   ///< a fatal error (message in error())
};

/// Where input comes from.
class Source {
 public:
  virtual ~Source() = default;
  /// Opens the source; false with a message if it cannot start.
  virtual bool start(std::string* error) = 0;
  /// Fills `batch` (frames of one partition, at most `max_frames`) or says why not.
  virtual SourceStatus next(Batch& batch, size_t max_frames) = 0;
  /// True while the source is connected and can deliver (feeds /readyz).
  virtual bool healthy() const { return true; }
  /// Called for each input frame once every output derived from it is acknowledged.
  /// Sources commit progress from this (Kafka offsets); files ignore it.
  virtual void acknowledge(Partition, Offset) {}
  /// Stops the source (idempotent).
  virtual void stop() {}
  /// Last fatal error.
  virtual std::string error() const { return {}; }
  /// Human-readable name for logs ("file:fleet.asy").
  virtual std::string describe() const = 0;
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
  /// Writes one record. `key` is the sensor id (may be empty); `token` is passed back
  /// through the ack callback. Returns false on a fatal error.
  virtual bool write(std::span<const uint8_t> record, std::string_view key,
                     RejectCode reason, uint64_t token) = 0;
  /// Serves delivery callbacks; non-blocking.
  virtual void poll() {}
  /// Flushes everything written so far (blocking, bounded by `timeout_ms`).
  virtual bool flush(int timeout_ms) = 0;
  virtual void stop() {}
  virtual std::string error() const { return {}; }
  virtual std::string describe() const = 0;
  /// Installs the acknowledgement callback (before start()).
  void set_ack(AckFn fn) { ack_ = std::move(fn); }

 protected:
  AckFn ack_;
};

}  // namespace assay::engine
