#pragma once
/// \file The `provenance` operator (chain format v2, docs/provenance.md): links the
/// TrustedReadings of each chain (one per source partition, which is also the output
/// partition: Kafka trusted routes use `partition: source`) into a hash chain whose serial step
/// covers a fixed-size digest per record, keeps each chain's RFC 9162 Merkle log, and writes to
/// the `attestations` route:
///  - an Intent before each batch's records (the range and the head the engine is about to
///    write, signed), so that after a crash it can prove which tail records it wrote;
///  - every N records or T milliseconds a C2SP tlog-checkpoint of the chain's log in a C2SP
///    signed note (written with the next batch of the partition, once the records it covers
///    were handed to the sink);
///  - the cosignatures C2SP witnesses return for those checkpoints (engine/witness.hpp, a pipeline service).
/// The work happens in seal() (serial, input order, after the parallel encode, which already
/// computed each record's leaf); process() does nothing. Chains continue across restarts from
/// what the outputs hold, and only over records the engine can prove it wrote.

#include <atomic>
#include <climits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/witness.hpp"
#include "engine/operator.hpp"
#include "engine/provenance_chain.hpp"
#include "engine/signing_key.hpp"

namespace prometheus {
class Counter;
}

namespace assay::operators {

/// Configuration of the provenance operator.
struct ProvenanceConfig {
  std::shared_ptr<const engine::EngineKey> key;  ///< signs checkpoints and intents
  uint64_t every_records = 10000;                ///< checkpoint after this many records
  int64_t every_ms = 1000;  ///< or when the open range is this old (checked per batch)
  /// Origin prefix of the chains' logs (origin = PREFIX/<partition>); empty: "assay/" + the
  /// pipeline name.
  std::string origin;
  /// Public keys of earlier engine keys whose signatures a restart accepts (key rotation).
  std::vector<std::array<uint8_t, 32>> previous_keys;
  /// Witnesses that cosign checkpoints (none: checkpoints are signed by the engine alone).
  engine::WitnessOptions witnesses;
  /// How long a clean stop waits for the cosignatures of the final checkpoints.
  int64_t final_wait_ms = 5000;
};

/// A checkpoint computed when its range closed, written with the partition's next batch.
struct PendingCheckpoint {
  uint64_t size = 0;
  engine::Hash32 root{};
  engine::Hash32 head{};
  std::vector<engine::Hash32> frontier;
  std::vector<engine::Hash32> leaves;  ///< leaves since the previous checkpoint (witness proofs)
};

/// Per-chain state: head of the chain, its Merkle log, the open range.
struct ProvenanceState final : engine::OperatorState {
  bool resumed = false;                    ///< the chain was continued from the outputs
  std::string origin;                      ///< the chain's log origin
  engine::Hash32 head{};                   ///< record_hash of the last record (zero = none)
  uint64_t next_index = 0;                 ///< chain_index of the next record
  engine::MerkleFrontier tree;             ///< the log up to the last checkpoint
  std::vector<engine::Hash32> leaves;      ///< leaves after it (the open range)
  int64_t range_start_mono = 0;            ///< when the open range got its first record
  std::vector<PendingCheckpoint> pending;  ///< computed, not yet written
  size_t memory_bytes() const override;
};

/// Hash chains, Merkle logs, signed checkpoints and intents over the trusted route.
class Provenance final : public engine::Operator {
 public:
  /// `metrics` may be null (no quarantine counter).
  /// `witness`: the pipeline's witness service (required when config.witnesses names any).
  explicit Provenance(ProvenanceConfig config, engine::Metrics* metrics = nullptr,
                      std::shared_ptr<engine::WitnessService> witness = nullptr);
  ~Provenance() override;
  std::string_view type() const override { return "provenance"; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override {
    return std::make_unique<ProvenanceState>();
  }
  /// Nothing to do per row: everything happens on the encoded outputs in seal().
  void process(engine::Batch&, engine::OperatorState*, engine::OperatorContext&) const override {}
  bool seals() const override { return true; }
  bool seal(engine::Batch& batch, engine::OperatorState* state, engine::OperatorContext& ctx,
            std::string* error) const override;
  void finish(engine::Batch& batch, engine::OperatorState* state,
              engine::OperatorContext& ctx) const override;
  /// Sets up its metrics.
  bool start(std::string* error) override;

  /// Builds from `{type: provenance, key: PEM, key_id: ID, origin: PREFIX, previous_keys:
  /// [HEX], checkpoint: {every_records, every_ms}, witnesses: [{url, key, timeout_ms}],
  /// witness_options: {final_wait_ms, max_backlog_records, retry_ms}}`.
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

  /// The origin prefix in use for a pipeline.
  std::string origin_prefix(const engine::PipelineInfo& pipeline) const;

 private:
  bool resume(engine::Batch& batch, ProvenanceState& st, engine::OperatorContext& ctx,
              std::string* error) const;
  // Closes the open range at the current head: computes the checkpoint, queues it.
  void close_range(ProvenanceState& st) const;
  // Writes the queued checkpoints and any cosignatures to `batch` (attestations outputs).
  void emit_pending(engine::Batch& batch, uint32_t frame, ProvenanceState& st,
                    engine::OperatorContext& ctx, std::vector<engine::OutputRecord>* out) const;
  void add_output(engine::Batch& batch, uint32_t frame, const std::vector<uint8_t>& bytes,
                  std::vector<engine::OutputRecord>* out) const;
  bool signed_by_engine(std::span<const uint8_t> msg, std::span<const uint8_t> sig) const;
  bool note_signed_by_engine(const std::string& note, const std::string& origin,
                             engine::CheckpointBody* body) const;

  const ProvenanceConfig config_;
  /// The pipeline's witness service (null: no witnesses).
  std::shared_ptr<engine::WitnessService> witness_;
  prometheus::Counter* quarantined_ = nullptr;
  engine::Metrics* metrics_ = nullptr;
  // The end of the wait for final cosignatures, shared by every partition of one stop.
  mutable std::atomic<int64_t> finish_deadline_{INT64_MIN / 2};
};

}  // namespace assay::operators
