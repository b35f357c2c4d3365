#pragma once
/// \file The provenance primitives shared by the `provenance` operator (producer side) and
/// `assay verify-stream` / `assay prove` (consumer side): record hashes of both chain formats,
/// RFC 9162 Merkle trees (roots, frontiers, inclusion and consistency proofs), v1 Checkpoint
/// records and v2 attestations (C2SP checkpoints, cosigned checkpoints, intents). The exact
/// byte-level definitions are in docs/provenance.md; the engine writes v2 only, v1 streams stay
/// verifiable.

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/sha256.hpp"

namespace assay::engine {

class Batch;

/// A SHA-256 digest.
using Hash32 = std::array<uint8_t, 32>;

/// Byte offsets of the chain fields inside one TrustedReading buffer, and its format.
struct ChainFields {
  size_t prev_hash = 0;    ///< first of the 32 bytes of provenance.prev_record_hash
  size_t record_hash = 0;  ///< first of the 32 bytes of provenance.record_hash
  size_t chain_index = 0;  ///< the 8 little-endian bytes of provenance.chain_index
  uint8_t version = 1;     ///< provenance.chain_version (absent = 1)
};

/// Locates the chain fields of a TrustedReading buffer (the FlatBuffers Verifier runs first).
/// False if the buffer is not a valid TrustedReading, has no provenance, its hash vectors are
/// not 32 bytes, chain_index is not stored, or the version is neither 1 nor 2. `verify` =
/// false skips the Verifier (only for buffers the engine encoded itself).
bool find_chain_fields(std::span<const uint8_t> record, ChainFields* out, bool verify = true);
/// Reads the 32-byte hash stored at an offset of `record`.
Hash32 hash_at(std::span<const uint8_t> record, size_t offset);
/// Reads the little-endian uint64 at `offset` of `record`.
uint64_t u64_at(std::span<const uint8_t> record, size_t offset);

// ---- chain v1 (verification of old streams) ------------------------------------------------

/// v1 record hash: SHA-256(prev || record) with the 32 record_hash bytes counting as zero.
Hash32 record_hash_v1(std::span<const uint8_t> record, const ChainFields& f);
/// RFC 9162 leaf hash SHA-256(0x00 || entry) (v1: the entry is the record as written).
Hash32 merkle_leaf(std::span<const uint8_t> entry);

// ---- chain v2 ------------------------------------------------------------------------------

/// Domain separation tag of the v2 record hash (14 ASCII bytes, no terminator).
inline constexpr std::string_view kChainV2Tag = "assay-chain-v2";
/// The v2 leaf of a record: SHA-256(0x00 || R0), R0 = the record with the 32 bytes of
/// prev_record_hash, the 32 bytes of record_hash and the 8 bytes of chain_index zeroed.
Hash32 record_leaf_v2(std::span<const uint8_t> record, const ChainFields& f);
/// Sets the three chain fields of `record` to zero (turns a stored record into R0).
void zero_chain_fields(std::span<uint8_t> record, const ChainFields& f);
/// The v2 record hash: SHA-256("assay-chain-v2" || u64 LE chain_index || prev || leaf).
Hash32 chain_hash_v2(uint64_t chain_index, const Hash32& prev, const Hash32& leaf);

/// Writable bytes the encoder leaves before each TrustedReading when a sealing operator runs:
/// prepare_chain_leaves() stores the record's leaf and chain field offsets there (parallel
/// encode stage), so that the serial seal step reads them instead of hashing the record.
inline constexpr size_t kChainHeadroom = 48;
/// For every trusted output of `batch` (encoded with chain fields, all zero): locates the
/// chain fields and computes the v2 leaf (multi-buffer), and stores both in the headroom.
void prepare_chain_leaves(Batch& batch);
/// What prepare_chain_leaves() stored before a record.
struct PreparedRecord {
  Hash32 leaf{};
  ChainFields f;
  bool ok = false;  ///< false if the record had no chain fields
};
/// Reads what prepare_chain_leaves() stored before `record` (which starts kChainHeadroom
/// bytes into writable memory).
PreparedRecord read_prepared(const uint8_t* record);
/// Patches a prepared record in place: prev_record_hash, chain_index, chain_version is
/// already 2, then record_hash = chain_hash_v2(index, prev, leaf). Returns the record hash.
Hash32 link_record_v2(uint8_t* record, const PreparedRecord& p, uint64_t index, const Hash32& prev);

// ---- Merkle trees (RFC 9162 section 2.1) ---------------------------------------------------

/// RFC 9162 interior node: SHA-256(0x01 || left || right).
Hash32 merkle_node(const Hash32& left, const Hash32& right);
/// RFC 9162 Merkle Tree Hash over leaf hashes (SHA-256 of nothing for an empty list).
Hash32 merkle_root(std::span<const Hash32> leaves);
/// RFC 9162 inclusion path (audit path) of leaf `index`, bottom-up.
std::vector<Hash32> merkle_audit_path(std::span<const Hash32> leaves, size_t index);
/// RFC 9162 section 2.1.3.2: does `path` prove that `leaf` is leaf `index` of a tree of
/// `size` leaves with root `root`?
bool merkle_verify_inclusion(const Hash32& leaf, uint64_t index, uint64_t size,
                             std::span<const Hash32> path, const Hash32& root);

/// The right edge of a Merkle tree: one complete subtree hash per set bit of its size. Holds
/// what is needed to append leaves and compute the root in O(log n) memory.
class MerkleFrontier {
 public:
  /// Number of leaves.
  uint64_t size() const { return size_; }
  /// Appends leaf hashes (each tree level hashed multi-buffer).
  void append(std::span<const Hash32> leaves);
  /// The RFC 9162 root (SHA-256 of nothing when empty).
  Hash32 root() const;
  /// The subtree hashes, largest (leftmost) first.
  std::vector<Hash32> nodes() const;
  /// The subtree hash covering leaves [start, end) if it is one of this frontier's nodes.
  bool node(uint64_t start, uint64_t end, Hash32* out) const;
  /// A frontier from its size and nodes (largest first); false if the count does not match.
  static bool from_nodes(uint64_t size, std::span<const Hash32> nodes, MerkleFrontier* out);

 private:
  uint64_t size_ = 0;
  std::array<Hash32, 64> by_level_{};  // level h is present iff bit h of size_ is set
};

/// The hash of the subtree over leaves [start, end) of a tree, as a proof builder needs it.
using SubtreeHash = std::function<bool(uint64_t start, uint64_t end, Hash32* out)>;
/// RFC 9162 section 2.1.4.1 consistency proof from size `m` to size `n` (0 < m <= n), built
/// from `subtree`. False if `subtree` cannot provide a hash the proof needs.
bool merkle_consistency_proof(uint64_t m, uint64_t n, const SubtreeHash& subtree,
                              std::vector<Hash32>* proof);
/// RFC 9162 section 2.1.4.2: does `proof` show that the tree of size `m` with root
/// `old_root` is a prefix of the tree of size `n` with root `new_root`?
bool merkle_verify_consistency(uint64_t m, uint64_t n, const Hash32& old_root,
                               const Hash32& new_root, std::span<const Hash32> proof);

// ---- v1 Checkpoint records (verification of old streams) -----------------------------------

/// The fields of a v1 Checkpoint record (schemas/checkpoint.fbs).
struct CheckpointInfo {
  std::string topic;      ///< the trusted output (sink description)
  int32_t partition = 0;  ///< the chain
  int64_t first = 0;      ///< first chain_index of the range (first_offset)
  int64_t last = 0;       ///< last chain_index of the range, inclusive (last_offset)
  uint64_t count = 0;     ///< last - first + 1
  Hash32 merkle_root{};
  Hash32 chain_head{};       ///< record_hash of the record at `last`
  Hash32 prev_chain_head{};  ///< record_hash of the record before `first` (zero at the start)
  std::string key_id;
  std::string pipeline;
  std::string instance;
  int64_t time_ns = 0;
  std::vector<uint8_t> signature;  ///< Ed25519 over signing_bytes()
};

/// The canonical bytes the engine signed for a v1 checkpoint (docs/provenance.md).
std::vector<uint8_t> checkpoint_signing_bytes(const CheckpointInfo& c);
/// Encodes a v1 Checkpoint buffer (identifier "ACKP"; tests of the v1 verifier).
std::vector<uint8_t> encode_checkpoint(const CheckpointInfo& c);
/// Decodes a v1 Checkpoint buffer after the FlatBuffers Verifier; false with a reason if it is
/// not a complete v1 checkpoint (a v2 record, missing fields, hashes not 32 bytes).
bool decode_checkpoint(std::span<const uint8_t> bytes, CheckpointInfo* out, std::string* error);

// ---- v2 attestations -----------------------------------------------------------------------

/// What a v2 attestation record is (schemas/checkpoint.fbs AttestationKind).
enum class AttestationKind : uint8_t { kCheckpoint = 0, kCosigned = 1, kIntent = 2 };

/// A v2 record of the attestations route (schemas/checkpoint.fbs, version 2).
struct Attestation {
  AttestationKind kind = AttestationKind::kCheckpoint;
  int32_t partition = 0;  ///< the chain
  std::string origin;     ///< the chain's log origin (PREFIX/<partition>)
  /// Checkpoint, Cosigned: the tree size. Intent: the number of records announced.
  uint64_t size = 0;
  /// Intent: chain_index of the first record announced (Checkpoint: 0).
  uint64_t first = 0;
  Hash32 root{};                   ///< Checkpoint, Cosigned: the Merkle root (also in the note)
  Hash32 head{};                   ///< record_hash of the last record covered (Intent: signed)
  Hash32 prev_head{};              ///< Intent: record_hash of the record before `first` (signed)
  std::string note;                ///< Checkpoint, Cosigned: the signed note
  std::vector<Hash32> frontier;    ///< Checkpoint: the Merkle frontier at `size`
  std::string key_id;              ///< engine key id
  std::vector<uint8_t> signature;  ///< Intent: Ed25519 over intent_signing_bytes()
  std::string topic;               ///< the trusted output (sink description)
  std::string pipeline, instance;
  int64_t time_ns = 0;
};

/// Format version of an attestations-route record (1 or 2; 0 if it is not a Checkpoint
/// buffer at all).
int attestation_version(std::span<const uint8_t> bytes);
/// Encodes a v2 attestation (identifier "ACKP", version 2).
std::vector<uint8_t> encode_attestation(const Attestation& a);
/// Decodes a v2 attestation after the FlatBuffers Verifier; false with a reason (not v2,
/// unknown kind, hashes not 32 bytes, frontier not a multiple of 32 bytes).
bool decode_attestation(std::span<const uint8_t> bytes, Attestation* out, std::string* error);
/// Domain separation tag of intents (16 ASCII bytes).
inline constexpr std::string_view kIntentV2Tag = "assay-intent-v2\n";
/// The bytes an intent's signature covers: tag, u32 LE length + origin, u64 LE first,
/// u64 LE count, prev head (32), end head (32).
std::vector<uint8_t> intent_signing_bytes(const Attestation& a);

/// The origin of a chain's log: "PREFIX/<partition>".
std::string chain_origin(std::string_view prefix, int32_t partition);
/// The partition an origin names (the decimal after its last '/'); false if none.
bool origin_partition(std::string_view origin, int32_t* partition);

}  // namespace assay::engine
