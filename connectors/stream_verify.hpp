#pragma once
/// \file The consumer side of provenance (`assay verify-stream`, `assay prove`): checks a
/// stored trusted stream and its attestations without trusting Assay — recomputed record
/// hashes, chain continuity, chain indices, RFC 9162 Merkle roots of every checkpoint,
/// checkpoint signatures against a pinned engine public key, checkpoint ranges contiguous
/// and covering the stream — and names every place that is wrong. Also builds and checks
/// RFC 9162 inclusion proofs for single records. Byte-level definitions: docs/provenance.md.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/provenance_chain.hpp"

namespace assay::connectors {

/// One stored record with its position: (partition, offset) is the Kafka position, or
/// (0, frame index) in a record file.
struct StoredRecord {
  int32_t partition = 0;
  int64_t offset = 0;
  std::vector<uint8_t> bytes;
};

/// One thing that is wrong, at a place.
struct Finding {
  /// Stable kind: malformed, record_altered, chain_break, chain_start, missing, duplicate,
  /// inserted, offset_mismatch, checkpoint_malformed, checkpoint_signature, checkpoint_range,
  /// merkle_mismatch, checkpoint_head, checkpoint_orphan, unattested.
  std::string kind;
  std::string stream;     ///< "trusted" or "attestations"
  int32_t partition = 0;  ///< stored partition of the record named
  int64_t offset = -1;    ///< stored offset of the record named (-1: none)
  int32_t chain = -1;     ///< chain (source partition), -1 if unknown
  std::string detail;
  /// One JSON object (no newline).
  std::string json() const;
};

/// Options of a verification.
struct VerifyOptions {
  std::array<uint8_t, 32> public_key{};  ///< the pinned engine public key
  /// Records after the last checkpoint are not a finding (a live, still-open stream).
  bool allow_open_tail = false;
};

/// Result of a verification.
struct VerifyReport {
  uint64_t records = 0, checkpoints = 0, chains = 0;
  std::vector<Finding> findings;
  bool ok() const { return findings.empty(); }
};

/// Verifies `trusted` (in stored order per partition) against `attestations`.
VerifyReport verify_stream(const std::vector<StoredRecord>& trusted,
                           const std::vector<StoredRecord>& attestations,
                           const VerifyOptions& options);

/// Reads a record file as StoredRecords (partition 0, offset = frame index); false with a
/// message if it cannot be read or ends inside a frame.
bool read_stored_file(const std::string& path, std::vector<StoredRecord>* out, std::string* error);

/// An RFC 9162 inclusion proof of one trusted record under a signed checkpoint.
struct InclusionProof {
  int32_t partition = 0;  ///< stored position of the record
  int64_t offset = 0;
  std::vector<uint8_t> record;  ///< the record bytes as stored
  uint64_t leaf_index = 0;      ///< position in the checkpoint's range
  uint64_t tree_size = 0;
  std::vector<engine::Hash32> audit_path;
  std::vector<uint8_t> checkpoint;  ///< the Checkpoint buffer as stored
  /// As JSON (hex for bytes), one object.
  std::string json() const;
  /// Parses json(); false with a message on malformed input.
  static bool parse(const std::string& text, InclusionProof* out, std::string* error);
};

/// Builds the proof for the trusted record at (partition, offset); false with a message if
/// there is no such record or no checkpoint covers it.
bool make_inclusion_proof(const std::vector<StoredRecord>& trusted,
                          const std::vector<StoredRecord>& attestations, int32_t partition,
                          int64_t offset, InclusionProof* out, std::string* error);

/// Checks a proof alone: checkpoint signature, record hash, chain index inside the range,
/// audit path to the signed Merkle root. Empty result = valid; otherwise the reasons.
std::vector<std::string> verify_inclusion_proof(const InclusionProof& proof,
                                                const std::array<uint8_t, 32>& public_key);

}  // namespace assay::connectors
