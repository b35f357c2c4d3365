#pragma once
/// \file The `provenance` operator: links the TrustedReadings of each chain (one per source
/// partition, which is also the output partition: Kafka trusted routes use `partition:
/// source`) in a SHA-256 hash chain, and every N records or T milliseconds writes a signed
/// Checkpoint (RFC 9162 Merkle root over the range, chain head, range, engine key id) to the
/// `attestations` route. The work happens in seal() (serial, input order, after the parallel
/// encode); process() does nothing. Chains continue across restarts from what the trusted and
/// attestations routes already hold, never silently from zero. See docs/provenance.md.

#include <memory>
#include <string>

#include "engine/operator.hpp"
#include "engine/provenance_chain.hpp"
#include "engine/signing_key.hpp"

namespace assay::operators {

/// Configuration of the provenance operator.
struct ProvenanceConfig {
  std::shared_ptr<const engine::EngineKey> key;  ///< signs checkpoints
  uint64_t every_records = 10000;                ///< checkpoint after this many records
  int64_t every_ms = 1000;  ///< or when the open range is this old (checked per batch)
};

/// Per-chain state: head of the chain and the open checkpoint range.
struct ProvenanceState final : engine::OperatorState {
  bool resumed = false;                ///< the chain was continued from the outputs
  engine::Hash32 head{};               ///< record_hash of the last record (zero = none)
  uint64_t next_index = 0;             ///< chain_index of the next record
  uint64_t range_first = 0;            ///< chain_index of the open range's first record
  engine::Hash32 range_prev{};         ///< head before the open range
  std::vector<engine::Hash32> leaves;  ///< Merkle leaf hashes of the open range
  int64_t range_start_mono = 0;        ///< when the open range got its first record
  size_t memory_bytes() const override { return leaves.capacity() * sizeof(engine::Hash32); }
};

/// Hash chains and signed Merkle checkpoints over the trusted route.
class Provenance final : public engine::Operator {
 public:
  explicit Provenance(ProvenanceConfig config) : config_(std::move(config)) {}
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

  /// Builds from `{type: provenance, key: PEM, key_id: ID, checkpoint: {every_records,
  /// every_ms}}`.
  static std::unique_ptr<engine::Operator> from_config(const engine::ConfigNode& config,
                                                       engine::BuildContext& ctx);

  /// A trusted record read back from the output, with its chain fields.
  struct Linked {
    std::span<const uint8_t> bytes;
    engine::ChainFields f;
    uint64_t index = 0;
  };

 private:
  bool resume(engine::Partition partition, ProvenanceState& st, engine::OperatorContext& ctx,
              std::string* error) const;
  // The chain's records among the trusted route's last `max_records` (oldest first).
  bool read_chain(engine::Partition partition, size_t max_records, engine::OperatorContext& ctx,
                  std::vector<std::vector<uint8_t>>* recs, std::vector<Linked>* mine,
                  std::string* error) const;
  void checkpoint(engine::Batch& batch, uint32_t frame, ProvenanceState& st,
                  engine::OperatorContext& ctx) const;

  const ProvenanceConfig config_;
};

}  // namespace assay::operators
