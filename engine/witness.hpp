#pragma once
/// \file Witnesses of the provenance logs, as a pipeline service: what the provenance
/// operator hands over (checkpoints with the leaves since the last one) and takes back
/// (cosigned checkpoints). The client that speaks C2SP tlog-witness over HTTP lives in
/// connectors/witness_client.hpp and is built through Registries::witness, so that the
/// operator holds no thread or network client (docs/provenance.md).

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/provenance_chain.hpp"
#include "engine/service.hpp"
#include "engine/signed_note.hpp"

namespace assay::engine {

class Metrics;

/// One witness: its submission prefix and its verifier key (a cosigner vkey, type 0x04).
struct WitnessConfig {
  std::string url;  ///< submission prefix, e.g. http://witness.example:7380
  NoteKey key;      ///< its cosignature key
  int timeout_ms = 5000;
};

/// Options of the witness service.
struct WitnessOptions {
  std::vector<WitnessConfig> witnesses;
  size_t max_backlog_records = size_t{1} << 20;  ///< leaf hashes kept per log for proofs
  size_t max_results = 4096;                     ///< cosigned notes waiting to be taken
  int retry_ms = 1000;                           ///< first back-off after a failure (doubles)
  int max_retry_ms = 60000;                      ///< longest back-off
  std::string pipeline;                          ///< metrics label
};

/// A checkpoint with one witness's valid cosignature(s), to be stored on the attestations route.
struct CosignedCheckpoint {
  int32_t partition = 0;
  std::string origin;
  uint64_t size = 0;
  Hash32 root{};
  std::string note;     ///< the checkpoint note with the engine's and the witness's signatures
  std::string witness;  ///< the witness's key name
};

/// Submits checkpoints to witnesses in the background; nothing blocks on the network.
class WitnessService : public Service {
 public:
  /// The log `origin` (chain `partition`) as a (re)started chain knows it: `base`, the tree at
  /// some earlier size (for witnesses that lag behind), the leaves after it up to the last
  /// checkpoint, and that checkpoint (`note`, empty if none), which is submitted again so that
  /// a witness that missed it catches up. Replaces what the service knew about the log.
  virtual void seed(int32_t partition, const std::string& origin, const MerkleFrontier& base,
                    std::span<const Hash32> leaves = {}, const std::string& note = {},
                    uint64_t size = 0, const Hash32& root = {}) = 0;
  /// A new checkpoint of a seeded log: its signed note, size and root, and the leaf hashes
  /// appended since the previous checkpoint (or since the seed).
  virtual void submit(int32_t partition, const std::string& origin, const std::string& note,
                      uint64_t size, const Hash32& root, std::span<const Hash32> leaves) = 0;
  /// Cosigned checkpoints of `partition` ready to be written (removed from the service).
  virtual std::vector<CosignedCheckpoint> take(int32_t partition) = 0;
  /// Waits until every witness has answered (or given up on) the latest checkpoint of
  /// `partition`'s log, or until `deadline_mono_ns`; witnesses whose last request failed are
  /// not waited for.
  virtual void wait_idle(int32_t partition, int64_t deadline_mono_ns) = 0;
  /// The witnesses configured.
  virtual const WitnessOptions& options() const = 0;
};

/// Builds the witness service of a pipeline (registered by the connectors).
using WitnessFactory =
    std::function<std::shared_ptr<WitnessService>(WitnessOptions options, Metrics* metrics)>;

}  // namespace assay::engine
