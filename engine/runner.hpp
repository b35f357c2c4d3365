#pragma once
/// \file The Runner executes a Pipeline on TBB: a bounded number of batches in flight
/// (backpressure), decode and stateless operators in parallel, stateful operators and the
/// sinks in input order (so per-partition order is preserved), offsets acknowledged only
/// when every output of a record is acknowledged, graceful drain on request_stop().

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/metrics.hpp"
#include "engine/offset_tracker.hpp"
#include "engine/pipeline.hpp"

namespace assay::engine {

/// Live counters of a running pipeline (read by the progress line and tests).
struct RunStats {
  std::atomic<uint64_t> frames_in{0};  ///< input records (frames)
  std::atomic<uint64_t> rows_in{0};    ///< readings (+ undecodable frames)
  std::atomic<uint64_t> trusted{0};
  std::atomic<uint64_t> rejected{0};
  std::atomic<uint64_t> alerts{0};
  std::atomic<uint64_t> alerts_unrouted{0};  ///< alerts raised with no alerts route configured
  std::atomic<uint64_t> batches{0};
  /// Batches read from partitions that were revoked before they were written (re-read by
  /// the partition's next owner from its last committed offset).
  std::atomic<uint64_t> dropped_revoked{0};
};

/// Final account of a run.
struct RunSummary {
  bool ok = true;
  std::string error;
  uint64_t frames_in = 0, rows_in = 0, trusted = 0, rejected = 0, alerts = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
  double seconds = 0;
};

/// Runs one pipeline.
class Runner final : public SourceHost {
 public:
  Runner(Pipeline& pipeline, Metrics& metrics);
  ~Runner() override;
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  /// Starts the source, sinks and operators, runs until the input ends, a fatal error, or
  /// request_stop(); then drains in-flight batches and flushes the sinks.
  RunSummary run();
  /// Asks the run to stop (async-signal-safe: only sets a flag).
  void request_stop() { stop_.store(true, std::memory_order_relaxed); }
  /// True while the pipeline runs and its source is healthy (feeds /readyz).
  bool ready() const;
  /// Live counters.
  const RunStats& stats() const { return stats_; }
  /// The offset tracker (the one place where input progress is tracked).
  OffsetTracker& offsets() { return tracker_; }

  // SourceHost
  std::map<int32_t, Offset> revoke(std::span<const Partition> partitions) override;
  void source_failed(const std::string& message) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Pipeline& pipeline_;
  Metrics& metrics_;
  RunStats stats_;
  OffsetTracker tracker_;
  std::atomic<bool> stop_{false};
  /// Serialises partition hand-over (SourceHost::revoke) with the sink stage: sealing and
  /// writing a batch, and closing a partition's chains, never interleave.
  std::mutex own_mu_;
  /// Guards epochs_ alone, held only for a lookup, so that the source stage can stamp a new
  /// batch while the sink stage holds own_mu_. Changed only with own_mu_ held too (lock
  /// order: own_mu_, then epoch_mu_).
  std::mutex epoch_mu_;
  std::map<int32_t, uint64_t> epochs_;
  std::atomic<bool> running_{false};
};

}  // namespace assay::engine
