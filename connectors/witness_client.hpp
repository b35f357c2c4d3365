#pragma once
/// \file A client of C2SP tlog-witness (c2sp.org/tlog-witness) over HTTP (libcurl): submits the
/// latest checkpoint of each log with a consistency proof from the size the witness last
/// cosigned, verifies the returned Ed25519 cosignatures (c2sp.org/tlog-cosignature) against the
/// witness's pinned key, and hands cosigned notes back to the provenance operator, which writes
/// them to the attestations route.
///
/// It owns one background thread per witness (start()/stop()); nothing a caller does on the
/// pipeline's threads blocks on the network: submit() and take() only touch a queue under a mutex.
/// A witness that is down or slow delays its cosignatures, never the stream. Memory is bounded: per
/// log only the latest checkpoint waits (older ones are superseded: the latest cosignature covers
/// the log's whole history), and the leaf hashes kept for consistency proofs are capped
/// (`max_backlog_records`); results not yet taken are capped too. Everything is counted in
/// metrics (WitnessProbe). It is the pipeline's engine::WitnessService.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/provenance_chain.hpp"
#include "engine/signed_note.hpp"
#include "engine/witness.hpp"

namespace prometheus {
class Counter;
class Gauge;
template <typename T>
class Family;
}  // namespace prometheus

namespace assay::engine {
class Metrics;
}

namespace assay::connectors {

using engine::CosignedCheckpoint;
using engine::WitnessConfig;
/// Options of a WitnessClient.
using WitnessClientOptions = engine::WitnessOptions;

/// Metrics of a WitnessClient (labels: pipeline, witness):
/// assay_witness_requests_total{result}, assay_witness_cosignatures_total,
/// assay_witness_pending (logs whose latest checkpoint it has not cosigned),
/// assay_witness_dropped_total{reason}, assay_witness_backlog_records.
class WitnessProbe {
 public:
  WitnessProbe(engine::Metrics* metrics, const std::string& pipeline);
  /// One add-checkpoint request ended with `result` (cosigned, conflict, refused, inconsistent,
  /// bad_response, unreachable, unprovable).
  void request(const std::string& witness, const std::string& result);
  /// Cosignatures accepted from `witness`.
  void cosigned(const std::string& witness);
  /// Sets the pending gauge of `witness`.
  void pending(const std::string& witness, double n);
  /// Something was given up (superseded, unprovable, results_full).
  void dropped(const std::string& reason);
  /// Sets the backlog gauge (leaf hashes kept for proofs, all logs).
  void backlog(double n);
  /// Requests per result so far (tests, summaries).
  uint64_t count(const std::string& result) const;

 private:
  engine::Metrics* metrics_;
  std::string pipeline_;
  mutable std::mutex mu_;
  std::map<std::string, uint64_t> counts_;
  prometheus::Gauge* backlog_ = nullptr;
};

/// Submits checkpoints to witnesses in the background (the pipeline's engine::WitnessService).
class WitnessClient final : public engine::WitnessService {
 public:
  /// `metrics` may be null.
  WitnessClient(WitnessClientOptions options, engine::Metrics* metrics);
  ~WitnessClient() override;
  WitnessClient(const WitnessClient&) = delete;
  WitnessClient& operator=(const WitnessClient&) = delete;

  /// Starts the background thread. Idempotent.
  bool start(std::string* error) override;
  /// Stops the thread (an in-flight request ends within its timeout). Idempotent.
  void stop() override;
  std::string describe() const override;

  /// The log `origin` (chain `partition`) as a (re)started chain knows it: `base`, the tree at
  /// some earlier size (for witnesses that lag behind), the leaves after it up to the last
  /// checkpoint, and that checkpoint (`note`, empty if none), which is submitted again so that
  /// a witness that missed it catches up. Replaces what the client knew about the log.
  void seed(int32_t partition, const std::string& origin, const engine::MerkleFrontier& base,
            std::span<const engine::Hash32> leaves = {}, const std::string& note = {},
            uint64_t size = 0, const engine::Hash32& root = {}) override;
  /// A new checkpoint of a seeded log: its signed note, size and root, and the leaf hashes
  /// appended since the previous checkpoint (or since the seed). Never blocks on the network.
  void submit(int32_t partition, const std::string& origin, const std::string& note, uint64_t size,
              const engine::Hash32& root, std::span<const engine::Hash32> leaves) override;
  /// Cosigned checkpoints of `partition` ready to be written (removed from the client).
  std::vector<CosignedCheckpoint> take(int32_t partition) override;
  /// Waits until every witness has answered (or given up on) the latest checkpoint of
  /// `partition`'s log, or until `deadline_mono_ns`; witnesses whose last request failed (down,
  /// refusing) are not waited for.
  void wait_idle(int32_t partition, int64_t deadline_mono_ns) override;
  /// The probe (for tests).
  const WitnessProbe& probe() const { return probe_; }
  /// The witnesses configured.
  const WitnessClientOptions& options() const override { return options_; }

 private:
  struct Impl;

  const WitnessClientOptions options_;
  WitnessProbe probe_;
  std::unique_ptr<Impl> impl_;  // the logs, what each witness holds, results, one thread each
  std::atomic<bool> running_{false};
};

}  // namespace assay::connectors
