#pragma once
/// \file The Runner executes a Pipeline on TBB: a bounded number of batches in flight
/// (backpressure), decode and stateless operators in parallel, stateful operators and the
/// sinks in input order (so per-partition order is preserved), offsets acknowledged only
/// when every output of a record is acknowledged, graceful drain on request_stop().

#include <array>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "engine/metrics.hpp"
#include "engine/offset_tracker.hpp"
#include "engine/pipeline.hpp"

namespace assay::engine {

/// The one account of what a pipeline wrote to its routes: records and readings per route
/// (Prometheus `assay_route_records_total`, the live progress and the run summary all read it),
/// rejected readings by reason, and outputs a sink confirmed or failed. (Operator probes count
/// rejections where they happen; this one counts what reached the routes.)
class RouteProbe {
 public:
  RouteProbe(Metrics& metrics, const std::string& pipeline);
  /// An output record was handed to its sink.
  void written(const OutputRecord& o);
  /// Its sink confirmed `n` records (ok; exactly-once: their transaction committed) or gave
  /// up on them.
  void acknowledged(Route route, bool ok, uint64_t n = 1);
  /// Readings written to `route` (for alerts and attestations: records).
  uint64_t readings(Route route) const;
  /// Records written to `route`.
  uint64_t records(Route route) const;
  /// Records of `route` its sink confirmed.
  uint64_t confirmed(Route route) const;
  /// Records written but not confirmed by their sink (yet), or failed.
  uint64_t unconfirmed() const;
  /// Rejected readings by reason code name.
  std::map<std::string, uint64_t> rejected_by_reason() const;

 private:
  std::array<prometheus::Counter*, kRouteCount> counters_{};
  std::array<std::atomic<uint64_t>, kRouteCount> records_{}, readings_{}, confirmed_{}, failed_{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(RejectCode::kCount_)> by_reason_{};
};

/// Live counters of a running pipeline's input (read by the progress line and tests; what it
/// wrote is in the RouteProbe).
struct RunStats {
  std::atomic<uint64_t> frames_in{0};  ///< input records (frames)
  std::atomic<uint64_t> rows_in{0};    ///< readings (+ undecodable frames)
  std::atomic<uint64_t> alerts_unrouted{0};  ///< alerts raised with no alerts route configured
  std::atomic<uint64_t> batches{0};
  /// Batches read from partitions that were revoked before they were written (re-read by
  /// the partition's next owner from its last committed offset).
  std::atomic<uint64_t> dropped_revoked{0};
  /// Durable state entries restored, and written (docs/state.md).
  std::atomic<uint64_t> state_restored{0}, state_written{0};
};

/// Final account of a run.
struct RunSummary {
  bool ok = true;
  std::string error;
  uint64_t frames_in = 0, rows_in = 0, trusted = 0, rejected = 0, alerts = 0;
  std::map<std::string, uint64_t> rejected_by_reason;
  /// Output records written but never confirmed by their sink (0 after a clean run).
  uint64_t unconfirmed = 0;
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
  /// Live counters of the input.
  const RunStats& stats() const { return stats_; }
  /// What was written, per route.
  const RouteProbe& routes() const;
  /// The offset tracker (the one place where input progress is tracked).
  OffsetTracker& offsets() { return tracker_; }

  // SourceHost
  std::map<int32_t, Offset> revoke(std::span<const Partition> partitions) override;
  bool assigned(std::span<const Partition> partitions) override;
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
  /// Partitions whose durable state is being restored (not ready meanwhile).
  std::atomic<int> restoring_{0};
};

}  // namespace assay::engine
