#pragma once
/// \file The provenance primitives shared by the `provenance` operator (producer side) and
/// `assay verify-stream` / `assay prove` (consumer side): the per-chain record hash, RFC 9162
/// Merkle trees (roots, audit paths, inclusion checks) and Checkpoint records with their
/// canonical signing bytes. The exact byte-level definitions are in docs/provenance.md.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace assay::engine {

/// A SHA-256 digest.
using Hash32 = std::array<uint8_t, 32>;

/// Incremental SHA-256 (OpenSSL EVP); reusable, not thread-safe (one per thread).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  /// Starts a new digest.
  void init();
  /// Feeds bytes.
  void update(std::span<const uint8_t> bytes);
  /// Finishes the digest.
  Hash32 final();

 private:
  void* ctx_;
};

/// Byte offsets of the chain fields inside one TrustedReading buffer.
struct ChainFields {
  size_t prev_hash = 0;    ///< first of the 32 bytes of provenance.prev_record_hash
  size_t record_hash = 0;  ///< first of the 32 bytes of provenance.record_hash
  size_t chain_index = 0;  ///< the 8 little-endian bytes of provenance.chain_index
};

/// Locates the chain fields of a TrustedReading buffer (the FlatBuffers Verifier runs first).
/// False if the buffer is not a valid TrustedReading, has no provenance, its hash vectors are
/// not 32 bytes, or chain_index is not stored. `verify` = false skips the Verifier (only for
/// buffers the engine encoded itself).
bool find_chain_fields(std::span<const uint8_t> record, ChainFields* out, bool verify = true);

/// SHA-256(prev || record) where the 32 record_hash bytes of `record` count as zero.
Hash32 record_hash(Sha256& h, std::span<const uint8_t> record, const ChainFields& f);
/// Reads the 32-byte hash / chain index stored at an offset of `record`.
Hash32 hash_at(std::span<const uint8_t> record, size_t offset);
/// Reads the little-endian uint64 at `offset` of `record`.
uint64_t u64_at(std::span<const uint8_t> record, size_t offset);

/// Writable bytes the encoder leaves free before each record it hands to link_records(): the
/// hash inputs prev || record and 0x00 || record are laid out there without copying the record.
inline constexpr size_t kChainHeadroom = 32;

/// One record to link: its bytes (with kChainHeadroom writable bytes before them) and where
/// its chain fields are.
struct ChainSlot {
  std::span<uint8_t> record;
  ChainFields f;
};

/// How link_records() schedules its hashes; every mode gives the same bytes.
enum class LinkMode {
  kAuto,      ///< kPaired where sha256_two() is interleaved (SHA-NI), otherwise kSeparate
  kPaired,    ///< record i's chain hash together with record i-1's leaf (two-lane SHA-256)
  kSeparate,  ///< every chain hash (OpenSSL), then all leaves at once (multi-buffer)
};

/// Links `slots`, in order, to the chain whose last record_hash is `head` (zero for a new
/// chain) and whose next chain_index is `next_index`: writes each record's prev_record_hash,
/// chain_index and record_hash in place, sets heads[i] to record i's record_hash and leaves[i]
/// to its Merkle leaf (of the record as written), and advances `head` and `next_index`.
/// Requires heads.size() == leaves.size() == slots.size().
void link_records(std::span<const ChainSlot> slots, Hash32& head, uint64_t& next_index,
                  std::span<Hash32> heads, std::span<Hash32> leaves,
                  LinkMode mode = LinkMode::kAuto);

/// RFC 9162 leaf hash: SHA-256(0x00 || entry). Checkpoint trees have one entry per record:
/// the record's bytes exactly as written, record_hash included (docs/provenance.md).
Hash32 merkle_leaf(Sha256& h, std::span<const uint8_t> entry);
/// RFC 9162 interior node: SHA-256(0x01 || left || right).
Hash32 merkle_node(Sha256& h, const Hash32& left, const Hash32& right);
/// RFC 9162 Merkle Tree Hash over leaf hashes (SHA-256 of nothing for an empty list).
Hash32 merkle_root(std::span<const Hash32> leaves);
/// RFC 9162 inclusion path (audit path) of leaf `index`, bottom-up.
std::vector<Hash32> merkle_audit_path(std::span<const Hash32> leaves, size_t index);
/// RFC 9162 section 2.1.3.2: does `path` prove that `leaf` is leaf `index` of a tree of
/// `size` leaves with root `root`?
bool merkle_verify_inclusion(const Hash32& leaf, uint64_t index, uint64_t size,
                             std::span<const Hash32> path, const Hash32& root);

/// The fields of a Checkpoint record (schemas/checkpoint.fbs).
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

/// The canonical bytes the engine signs for a checkpoint (docs/provenance.md): never the
/// FlatBuffers encoding itself.
std::vector<uint8_t> checkpoint_signing_bytes(const CheckpointInfo& c);
/// Encodes a Checkpoint buffer (identifier "ACKP").
std::vector<uint8_t> encode_checkpoint(const CheckpointInfo& c);
/// Decodes a Checkpoint buffer after the FlatBuffers Verifier; false with a reason if it is
/// not a complete checkpoint (missing fields, hashes not 32 bytes).
bool decode_checkpoint(std::span<const uint8_t> bytes, CheckpointInfo* out, std::string* error);

}  // namespace assay::engine
