#pragma once
/// \file The consumer side of provenance (`assay verify-stream`, `assay prove`): checks a
/// stored trusted stream and its attestations without trusting Assay — recomputed record
/// hashes, chain continuity, chain indices, every checkpoint's signature against a pinned engine
/// public key and its Merkle root against the records, forks (two signed checkpoints of one log
/// and size with different roots), witness cosignatures against pinned witness keys, and that
/// the checkpoints cover the stream — and names every place that is wrong. Also builds and
/// checks RFC 9162 inclusion proofs for single records. Byte-level definitions:
/// docs/provenance.md.
///
/// Streams of chain format v2 are verified in bounded memory: attestations first (kept as one
/// small entry per checkpoint), then the trusted records in stored order, a few thousand at a
/// time (leaves hashed multi-buffer, in parallel); per chain only its head and Merkle frontier
/// are kept. Chains of format v1 (written by earlier engines) are collected and verified in
/// memory as before.

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/provenance_chain.hpp"
#include "engine/signed_note.hpp"

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
  /// inserted, offset_mismatch, version_mixed, checkpoint_malformed, checkpoint_signature,
  /// intent_signature, checkpoint_range, merkle_mismatch, checkpoint_head, checkpoint_orphan,
  /// checkpoint_beyond_stream, fork, unattested, unwitnessed.
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
  /// Records after the last checkpoint (and, with witnesses, after the last witnessed one) are
  /// counted but not a finding (a live, still-open stream). A chain without any checkpoint is
  /// still a finding.
  bool allow_open_tail = false;
  /// Pinned witness cosigner keys (vkeys of type 0x04).
  std::vector<engine::NoteKey> witnesses;
  /// Every record must be covered by a checkpoint with at least this many valid cosignatures
  /// from distinct pinned witnesses (0: witnesses are not required).
  size_t min_witnesses = 0;
  /// The stored positions are Kafka offsets: they may skip forward (transaction markers and
  /// records of aborted transactions of exactly-once writers occupy offsets that a
  /// read_committed reader never returns, and Kafka cannot remove a record from the middle of
  /// a partition), so only an offset that falls behind its chain index is an offset_mismatch.
  bool offsets_may_skip = false;
};

/// Result of a verification.
struct VerifyReport {
  uint64_t records = 0, checkpoints = 0, chains = 0;
  uint64_t intents = 0;       ///< v2 intents seen
  uint64_t cosignatures = 0;  ///< valid cosignatures by pinned witnesses
  uint64_t unattested = 0;    ///< records not covered by any valid checkpoint
  uint64_t unwitnessed = 0;   ///< records not covered by a checkpoint with min_witnesses
  uint64_t v1_records = 0;    ///< records of format-v1 chains
  /// Trusted records per engine software that wrote them, "VERSION (build BUILD)" from each
  /// record's provenance engine_version and engine_build (fields its chain covers), for the
  /// auditor's software identification (docs/operations.md "Build identity"). At most
  /// kMaxEngineIdentities entries; records of further identities count under "(other)".
  /// Characters outside printable ASCII are shown as '?', each field cut at 64 characters.
  std::map<std::string, uint64_t> engines;
  /// Bound of `engines` (a stream has a few builds; a hostile one must not grow the report).
  static constexpr size_t kMaxEngineIdentities = 32;
  std::vector<Finding> findings;
  bool ok() const { return findings.empty(); }
};

/// A streaming verifier: give it every attestation first, then the trusted records in stored
/// order (per partition), then call finish(). Memory: one entry per checkpoint, a chain head
/// and Merkle frontier per v2 chain, a bounded window of records (and all v1 records).
class StreamVerifier {
 public:
  explicit StreamVerifier(VerifyOptions options);
  ~StreamVerifier();
  StreamVerifier(const StreamVerifier&) = delete;
  StreamVerifier& operator=(const StreamVerifier&) = delete;
  /// One record of the attestations stream.
  void add_attestation(int32_t partition, int64_t offset, std::span<const uint8_t> bytes);
  /// One record of the trusted stream (after every attestation).
  void add_trusted(int32_t partition, int64_t offset, std::span<const uint8_t> bytes);
  /// Ends the streams and returns the report.
  VerifyReport finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Verifies `trusted` (in stored order per partition) against `attestations` (in memory).
VerifyReport verify_stream(const std::vector<StoredRecord>& trusted,
                           const std::vector<StoredRecord>& attestations,
                           const VerifyOptions& options);

/// Calls `fn(partition 0, frame index, bytes)` for every frame of a record file, one at a time;
/// false with a message if it cannot be read or ends inside a frame (naming the byte).
bool for_each_stored_frame(
    const std::string& path,
    const std::function<void(int32_t, int64_t, std::span<const uint8_t>)>& fn, std::string* error);
/// Reads a record file as StoredRecords (partition 0, offset = frame index); false with a
/// message if it cannot be read or ends inside a frame.
bool read_stored_file(const std::string& path, std::vector<StoredRecord>* out, std::string* error);

/// An RFC 9162 inclusion proof of one trusted record under a signed checkpoint.
struct InclusionProof {
  int32_t partition = 0;        ///< the record's chain (its source partition)
  int64_t offset = 0;           ///< the record's chain_index
  std::vector<uint8_t> record;  ///< the record bytes as stored
  uint64_t leaf_index = 0;      ///< position in the checkpoint's tree
  uint64_t tree_size = 0;
  std::vector<engine::Hash32> audit_path;
  std::vector<uint8_t> checkpoint;  ///< the Checkpoint buffer as stored
  /// For a record whose signed bytes are carried by another one (trusted stream v2,
  /// SignedBytesAt::Carrier): the proof of that carrier record (one entry; none otherwise), so
  /// the proof alone lets the reading's signature be re-verified.
  std::vector<InclusionProof> carrier;
  /// The reading the proof is about when it was asked for by sensor and seq (`assay prove
  /// --sensor ID --seq N`): its index in the input record, -1 for a proof of the record alone.
  /// The record must stand for that reading (its own, or one of a grouped record's) and give it
  /// `reading_seq`.
  int64_t reading_index = -1;
  uint64_t reading_seq = 0;  ///< the seq of that reading
  /// As JSON (hex for bytes), one object (the carrier's proof nested as "carrier").
  std::string json() const;
  /// Parses json(); false with a message on malformed input.
  static bool parse(const std::string& text, InclusionProof* out, std::string* error);
};

/// Builds the proof for the trusted record stored at (partition, offset); false with a message
/// if there is no such record or no checkpoint covers it. The proof names the record by its
/// chain and chain_index (which is its Kafka position with `partition: source`). A record that
/// refers to a carrier gets the carrier's proof too (InclusionProof::carrier).
bool make_inclusion_proof(const std::vector<StoredRecord>& trusted,
                          const std::vector<StoredRecord>& attestations, int32_t partition,
                          int64_t offset, InclusionProof* out, std::string* error);

/// Where one reading is in a trusted stream: the record standing for it, and its index in its
/// input record.
struct ReadingLocation {
  int32_t partition = 0;  ///< stored position of the record
  int64_t offset = 0;
  uint32_t reading_index = 0;
};

/// The trusted records of `trusted` (stored order) that stand for the reading of `sensor_id`
/// with `seq`: a per-reading record with that seq, or a grouped record one of whose readings has
/// it (the readings after a group's first are read from its signed bytes, which needs Assay's
/// own formats: SignedReading, SignedBatch). Records that fail the FlatBuffers Verifier, or
/// whose group fields do not fit together, are passed over.
std::vector<ReadingLocation> find_reading(const std::vector<StoredRecord>& trusted,
                                          std::string_view sensor_id, uint64_t seq);

/// Checks a proof alone: checkpoint signature, record hash, that the record is the one the
/// proof names (chain = partition, chain_index = offset) at the leaf it claims, and the audit
/// path to the signed Merkle root; for a record that refers to a carrier, the carrier's proof
/// the same way, and that the carrier is an earlier record of the same chain, input record and
/// sensor whose signed bytes hash to the reference; for a proof of one reading (reading_index
/// >= 0), that the record stands for that reading and gives it reading_seq. Empty result =
/// valid; otherwise the reasons.
std::vector<std::string> verify_inclusion_proof(const InclusionProof& proof,
                                                const std::array<uint8_t, 32>& public_key);

}  // namespace assay::connectors
