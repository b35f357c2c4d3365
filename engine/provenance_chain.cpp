#include "engine/provenance_chain.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "crypto/sha256_many.hpp"
#include "engine/batch.hpp"
#include "engine/bytes.hpp"
#include "schemas/checkpoint_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::engine {
namespace {

// Largest power of two strictly smaller than n (n >= 2).
uint64_t split_point(uint64_t n) {
  uint64_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash32 mth(std::span<const Hash32> leaves) {
  if (leaves.size() == 1) return leaves[0];
  const size_t k = static_cast<size_t>(split_point(leaves.size()));
  return merkle_node(mth(leaves.subspan(0, k)), mth(leaves.subspan(k)));
}

void path(std::span<const Hash32> leaves, size_t m, std::vector<Hash32>& out) {
  if (leaves.size() <= 1) return;
  const size_t k = static_cast<size_t>(split_point(leaves.size()));
  if (m < k) {
    path(leaves.subspan(0, k), m, out);
    out.push_back(mth(leaves.subspan(k)));
  } else {
    path(leaves.subspan(k), m - k, out);
    out.push_back(mth(leaves.subspan(0, k)));
  }
}

bool copy_hash(const flatbuffers::Vector<uint8_t>* v, Hash32& out) {
  if (v == nullptr || v->size() != 32) return false;
  std::memcpy(out.data(), v->data(), 32);
  return true;
}

// Pairs `items` left to right into `out` (node hashes, multi-buffer); an odd last item is not
// paired and is returned through `left_over`.
void pair_level(std::span<const Hash32> items, std::vector<Hash32>& out, bool* has_left_over,
                Hash32* left_over) {
  const size_t pairs = items.size() / 2;
  thread_local std::vector<std::array<uint8_t, 65>> bufs;
  thread_local std::vector<std::span<const uint8_t>> msgs;
  bufs.resize(pairs);
  msgs.clear();
  for (size_t i = 0; i < pairs; ++i) {
    bufs[i][0] = 0x01;
    std::memcpy(bufs[i].data() + 1, items[2 * i].data(), 32);
    std::memcpy(bufs[i].data() + 33, items[2 * i + 1].data(), 32);
    msgs.emplace_back(bufs[i].data(), bufs[i].size());
  }
  out.resize(pairs);
  if (pairs == 1) {
    out[0] = crypto::sha256(msgs[0]);
  } else if (pairs > 1) {
    crypto::sha256_many(msgs, out);
  }
  *has_left_over = items.size() % 2 == 1;
  if (*has_left_over) *left_over = items.back();
}

// SUBPROOF(m, D[offset : offset + n], b) of RFC 9162 section 2.1.4.1.
bool subproof(uint64_t m, uint64_t offset, uint64_t n, bool b, const SubtreeHash& subtree,
              std::vector<Hash32>& out) {
  if (m == n) {
    if (b) return true;
    Hash32 h;
    if (!subtree(offset, offset + n, &h)) return false;
    out.push_back(h);
    return true;
  }
  const uint64_t k = split_point(n);
  Hash32 h;
  if (m <= k) {
    if (!subproof(m, offset, k, b, subtree, out)) return false;
    if (!subtree(offset + k, offset + n, &h)) return false;
  } else {
    if (!subproof(m - k, offset + k, n - k, false, subtree, out)) return false;
    if (!subtree(offset, offset + k, &h)) return false;
  }
  out.push_back(h);
  return true;
}

}  // namespace

// ---- records ---------------------------------------------------------------------------------

bool find_chain_fields(std::span<const uint8_t> record, ChainFields* out, bool verify) {
  if (verify) {
    flatbuffers::Verifier v(record.data(), record.size());
    if (!wire::VerifyTrustedReadingBuffer(v)) return false;
  }
  const auto* prov = wire::GetTrustedReading(record.data())->provenance();
  if (prov == nullptr) return false;
  const auto* prev = prov->prev_record_hash();
  const auto* rh = prov->record_hash();
  // Provenance derives privately from flatbuffers::Table (same address).
  const uint8_t* idx = reinterpret_cast<const flatbuffers::Table*>(prov)->GetAddressOf(
      wire::Provenance::VT_CHAIN_INDEX);
  if (prev == nullptr || rh == nullptr || idx == nullptr || prev->size() != 32 || rh->size() != 32)
    return false;
  const uint8_t version = prov->chain_version() == 0 ? 1 : prov->chain_version();
  if (version != 1 && version != 2) return false;
  out->prev_hash = static_cast<size_t>(prev->data() - record.data());
  out->record_hash = static_cast<size_t>(rh->data() - record.data());
  out->chain_index = static_cast<size_t>(idx - record.data());
  out->version = version;
  // The three fields must not overlap (a crafted buffer could alias them).
  const size_t a = out->prev_hash, r = out->record_hash, c = out->chain_index;
  const bool apart =
      (a + 32 <= r || r + 32 <= a) && (a + 32 <= c || c + 8 <= a) && (r + 32 <= c || c + 8 <= r);
  return apart;
}

Hash32 hash_at(std::span<const uint8_t> record, size_t offset) {
  Hash32 out{};
  std::memcpy(out.data(), record.data() + offset, 32);
  return out;
}

uint64_t u64_at(std::span<const uint8_t> record, size_t offset) {
  return load_u64(record.data() + offset);
}

Hash32 record_hash_v1(std::span<const uint8_t> record, const ChainFields& f) {
  static constexpr uint8_t kZero[32] = {};
  thread_local crypto::Sha256 h;
  h.init();
  h.update(record.subspan(f.prev_hash, 32));
  h.update(record.subspan(0, f.record_hash));
  h.update(kZero);
  h.update(record.subspan(f.record_hash + 32));
  return h.final();
}

Hash32 merkle_leaf(std::span<const uint8_t> entry) {
  static constexpr uint8_t kLeaf[1] = {0x00};
  thread_local crypto::Sha256 h;
  h.init();
  h.update(kLeaf);
  h.update(entry);
  return h.final();
}

Hash32 record_leaf_v2(std::span<const uint8_t> record, const ChainFields& f) {
  // 0x00, then the record with the three fields as zeros: hashed in pieces, field by field.
  static constexpr uint8_t kZero[32] = {};
  std::array<std::pair<size_t, size_t>, 3> fields = {
      {{f.prev_hash, 32}, {f.record_hash, 32}, {f.chain_index, 8}}};
  std::sort(fields.begin(), fields.end());
  thread_local crypto::Sha256 h;
  h.init();
  static constexpr uint8_t kLeaf[1] = {0x00};
  h.update(kLeaf);
  size_t at = 0;
  for (const auto& [off, len] : fields) {
    h.update(record.subspan(at, off - at));
    h.update(std::span<const uint8_t>(kZero, len));
    at = off + len;
  }
  h.update(record.subspan(at));
  return h.final();
}

void zero_chain_fields(std::span<uint8_t> record, const ChainFields& f) {
  std::memset(record.data() + f.prev_hash, 0, 32);
  std::memset(record.data() + f.record_hash, 0, 32);
  std::memset(record.data() + f.chain_index, 0, 8);
}

Hash32 chain_hash_v2(uint64_t chain_index, const Hash32& prev, const Hash32& leaf) {
  uint8_t msg[kChainV2Tag.size() + 8 + 64];
  std::memcpy(msg, kChainV2Tag.data(), kChainV2Tag.size());
  store_u64(msg + kChainV2Tag.size(), chain_index);
  std::memcpy(msg + kChainV2Tag.size() + 8, prev.data(), 32);
  std::memcpy(msg + kChainV2Tag.size() + 40, leaf.data(), 32);
  return crypto::sha256(std::span<const uint8_t>(msg, sizeof msg));
}

// Headroom layout before a record (kChainHeadroom = 48 bytes):
//   [-48, -16) leaf   [-16, -12) prev offset   [-12, -8) record_hash offset
//   [-8, -4) chain_index offset   [-4, -2) unused   [-2] 1 = prepared   [-1] 0x00 leaf prefix
void prepare_chain_leaves(Batch& b) {
  thread_local std::vector<std::span<const uint8_t>> msgs;
  thread_local std::vector<Hash32> digests;
  thread_local std::vector<uint8_t*> recs;
  msgs.clear();
  recs.clear();
  for (const OutputRecord& o : b.outputs) {
    if (o.route != Route::kTrusted || o.offset < kChainHeadroom) continue;
    uint8_t* rec = b.out_arena.data() + o.offset;
    ChainFields f;
    const bool ok = find_chain_fields({rec, o.size}, &f, false) && f.version == 2;
    uint8_t* head = rec - kChainHeadroom;
    std::memset(head, 0, kChainHeadroom);
    if (!ok) continue;  // seal() refuses the record (no chain fields)
    const uint32_t offs[3] = {static_cast<uint32_t>(f.prev_hash),
                              static_cast<uint32_t>(f.record_hash),
                              static_cast<uint32_t>(f.chain_index)};
    std::memcpy(head + 32, offs, sizeof offs);
    head[kChainHeadroom - 2] = 1;
    rec[-1] = 0x00;
    msgs.emplace_back(rec - 1, static_cast<size_t>(o.size) + 1);
    recs.push_back(rec);
  }
  digests.resize(msgs.size());
  crypto::sha256_many(msgs, digests);
  for (size_t i = 0; i < recs.size(); ++i)
    std::memcpy(recs[i] - kChainHeadroom, digests[i].data(), 32);
}

PreparedRecord read_prepared(const uint8_t* record) {
  PreparedRecord p;
  const uint8_t* head = record - kChainHeadroom;
  if (head[kChainHeadroom - 2] != 1) return p;
  std::memcpy(p.leaf.data(), head, 32);
  uint32_t offs[3];
  std::memcpy(offs, head + 32, sizeof offs);
  p.f.prev_hash = offs[0];
  p.f.record_hash = offs[1];
  p.f.chain_index = offs[2];
  p.f.version = 2;
  p.ok = true;
  return p;
}

Hash32 link_record_v2(uint8_t* record, const PreparedRecord& p, uint64_t index,
                      const Hash32& prev) {
  const Hash32 h = chain_hash_v2(index, prev, p.leaf);
  std::memcpy(record + p.f.prev_hash, prev.data(), 32);
  store_u64(record + p.f.chain_index, index);
  std::memcpy(record + p.f.record_hash, h.data(), 32);
  return h;
}

// ---- Merkle ----------------------------------------------------------------------------------

Hash32 merkle_node(const Hash32& left, const Hash32& right) {
  uint8_t buf[65];
  buf[0] = 0x01;
  std::memcpy(buf + 1, left.data(), 32);
  std::memcpy(buf + 33, right.data(), 32);
  return crypto::sha256(std::span<const uint8_t>(buf, sizeof buf));
}

Hash32 merkle_root(std::span<const Hash32> leaves) {
  if (leaves.empty()) return crypto::sha256(std::span<const uint8_t>());
  if (leaves.size() < 16) return mth(leaves);
  // Level by level, pairing left to right and carrying an odd last node up unchanged: the same
  // tree as RFC 9162's recursive split at the largest power of two, with each level's nodes
  // hashed together (multi-buffer SHA-256).
  std::vector<Hash32> level(leaves.begin(), leaves.end()), next;
  while (level.size() > 1) {
    bool odd = false;
    Hash32 last{};
    pair_level(level, next, &odd, &last);
    if (odd) next.push_back(last);
    level.swap(next);
  }
  return level[0];
}

std::vector<Hash32> merkle_audit_path(std::span<const Hash32> leaves, size_t index) {
  std::vector<Hash32> out;
  if (index < leaves.size()) path(leaves, index, out);
  return out;
}

bool merkle_verify_inclusion(const Hash32& leaf, uint64_t index, uint64_t size,
                             std::span<const Hash32> proof, const Hash32& root) {
  if (index >= size) return false;
  uint64_t fn = index, sn = size - 1;
  Hash32 r = leaf;
  for (const Hash32& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = merkle_node(p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = merkle_node(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

void MerkleFrontier::append(std::span<const Hash32> leaves) {
  if (leaves.empty()) return;
  const uint64_t old = size_;
  std::vector<Hash32> cur(leaves.begin(), leaves.end()), items, next;
  for (int h = 0; h < 64 && !cur.empty(); ++h) {
    items.clear();
    if ((old >> h) & 1) items.push_back(by_level_[static_cast<size_t>(h)]);
    items.insert(items.end(), cur.begin(), cur.end());
    bool odd = false;
    Hash32 last{};
    pair_level(items, next, &odd, &last);
    if (odd) by_level_[static_cast<size_t>(h)] = last;
    cur.swap(next);
  }
  size_ = old + leaves.size();
}

Hash32 MerkleFrontier::root() const {
  if (size_ == 0) return crypto::sha256(std::span<const uint8_t>());
  bool have = false;
  Hash32 acc{};
  for (int h = 0; h < 64; ++h) {
    if (((size_ >> h) & 1) == 0) continue;
    acc = have ? merkle_node(by_level_[static_cast<size_t>(h)], acc)
               : by_level_[static_cast<size_t>(h)];
    have = true;
  }
  return acc;
}

std::vector<Hash32> MerkleFrontier::nodes() const {
  std::vector<Hash32> out;
  for (int h = 63; h >= 0; --h)
    if ((size_ >> h) & 1) out.push_back(by_level_[static_cast<size_t>(h)]);
  return out;
}

bool MerkleFrontier::node(uint64_t start, uint64_t end, Hash32* out) const {
  uint64_t at = 0;
  for (int h = 63; h >= 0; --h) {
    if (((size_ >> h) & 1) == 0) continue;
    const uint64_t len = uint64_t{1} << h;
    if (at == start && at + len == end) {
      *out = by_level_[static_cast<size_t>(h)];
      return true;
    }
    at += len;
  }
  return false;
}

bool MerkleFrontier::from_nodes(uint64_t size, std::span<const Hash32> nodes, MerkleFrontier* out) {
  if (static_cast<size_t>(std::popcount(size)) != nodes.size()) return false;
  MerkleFrontier f;
  f.size_ = size;
  size_t i = 0;
  for (int h = 63; h >= 0; --h)
    if ((size >> h) & 1) f.by_level_[static_cast<size_t>(h)] = nodes[i++];
  *out = f;
  return true;
}

bool merkle_consistency_proof(uint64_t m, uint64_t n, const SubtreeHash& subtree,
                              std::vector<Hash32>* proof) {
  proof->clear();
  if (m == 0 || m > n) return false;
  if (m == n) return true;
  return subproof(m, 0, n, true, subtree, *proof);
}

bool merkle_verify_consistency(uint64_t m, uint64_t n, const Hash32& old_root,
                               const Hash32& new_root, std::span<const Hash32> proof) {
  if (m == 0 || m > n) return false;
  if (m == n) return proof.empty() && old_root == new_root;
  if (proof.empty()) return false;
  // RFC 9162 section 2.1.4.2.
  std::vector<Hash32> p(proof.begin(), proof.end());
  if (std::has_single_bit(m)) p.insert(p.begin(), old_root);
  uint64_t fn = m - 1, sn = n - 1;
  while ((fn & 1) != 0) {
    fn >>= 1;
    sn >>= 1;
  }
  Hash32 fr = p[0], sr = p[0];
  for (size_t i = 1; i < p.size(); ++i) {
    if (sn == 0) return false;
    const Hash32& c = p[i];
    if ((fn & 1) != 0 || fn == sn) {
      fr = merkle_node(c, fr);
      sr = merkle_node(c, sr);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = merkle_node(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return fr == old_root && sr == new_root && sn == 0;
}

// ---- v1 checkpoints --------------------------------------------------------------------------

std::vector<uint8_t> checkpoint_signing_bytes(const CheckpointInfo& c) {
  static constexpr char kDomain[] = "assay-checkpoint-v1";
  std::vector<uint8_t> out(kDomain, kDomain + sizeof kDomain - 1);
  put_str(out, c.topic);
  put_u32(out, static_cast<uint32_t>(c.partition));
  put_u64(out, static_cast<uint64_t>(c.first));
  put_u64(out, static_cast<uint64_t>(c.last));
  put_u64(out, c.count);
  put_bytes(out, c.merkle_root);
  put_bytes(out, c.chain_head);
  put_bytes(out, c.prev_chain_head);
  put_str(out, c.key_id);
  put_str(out, c.pipeline);
  put_str(out, c.instance);
  put_u64(out, static_cast<uint64_t>(c.time_ns));
  return out;
}

std::vector<uint8_t> encode_checkpoint(const CheckpointInfo& c) {
  flatbuffers::FlatBufferBuilder fbb(512);
  const auto topic = fbb.CreateString(c.topic);
  const auto root = fbb.CreateVector(c.merkle_root.data(), 32);
  const auto head = fbb.CreateVector(c.chain_head.data(), 32);
  const auto key = fbb.CreateString(c.key_id);
  const auto sig = fbb.CreateVector(c.signature);
  const auto pipeline = fbb.CreateString(c.pipeline);
  const auto instance = fbb.CreateString(c.instance);
  const auto prev = fbb.CreateVector(c.prev_chain_head.data(), 32);
  wire::CheckpointBuilder b(fbb);
  b.add_topic(topic);
  b.add_partition(c.partition);
  b.add_first_offset(c.first);
  b.add_last_offset(c.last);
  b.add_record_count(c.count);
  b.add_merkle_root(root);
  b.add_chain_head(head);
  b.add_engine_key_id(key);
  b.add_signature(sig);
  b.add_pipeline_name(pipeline);
  b.add_instance_id(instance);
  b.add_time_ns(c.time_ns);
  b.add_prev_chain_head(prev);
  wire::FinishCheckpointBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

bool decode_checkpoint(std::span<const uint8_t> bytes, CheckpointInfo* out, std::string* error) {
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (!wire::VerifyCheckpointBuffer(v)) {
    *error = "not a valid Checkpoint buffer";
    return false;
  }
  const auto* c = wire::GetCheckpoint(bytes.data());
  if (c->version() > 1) {
    *error = "a provenance v" + std::to_string(c->version()) + " attestation, not a v1 checkpoint";
    return false;
  }
  if (!copy_hash(c->merkle_root(), out->merkle_root) ||
      !copy_hash(c->chain_head(), out->chain_head) ||
      !copy_hash(c->prev_chain_head(), out->prev_chain_head)) {
    *error = "checkpoint hashes missing or not 32 bytes";
    return false;
  }
  if (c->signature() == nullptr || c->engine_key_id() == nullptr) {
    *error = "checkpoint has no signature or key id";
    return false;
  }
  out->topic = c->topic() != nullptr ? c->topic()->str() : std::string();
  out->partition = c->partition();
  out->first = c->first_offset();
  out->last = c->last_offset();
  out->count = c->record_count();
  out->key_id = c->engine_key_id()->str();
  out->pipeline = c->pipeline_name() != nullptr ? c->pipeline_name()->str() : std::string();
  out->instance = c->instance_id() != nullptr ? c->instance_id()->str() : std::string();
  out->time_ns = c->time_ns();
  out->signature.assign(c->signature()->begin(), c->signature()->end());
  return true;
}

// ---- v2 attestations -------------------------------------------------------------------------

int attestation_version(std::span<const uint8_t> bytes) {
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (!wire::VerifyCheckpointBuffer(v)) return 0;
  const uint8_t version = wire::GetCheckpoint(bytes.data())->version();
  return version == 0 ? 1 : version;
}

std::vector<uint8_t> encode_attestation(const Attestation& a) {
  flatbuffers::FlatBufferBuilder fbb(1024);
  const auto topic = fbb.CreateString(a.topic);
  const auto root = fbb.CreateVector(a.root.data(), 32);
  const auto head = fbb.CreateVector(a.head.data(), 32);
  const auto key = fbb.CreateString(a.key_id);
  const auto sig = fbb.CreateVector(a.signature);
  const auto pipeline = fbb.CreateString(a.pipeline);
  const auto instance = fbb.CreateString(a.instance);
  const auto prev = fbb.CreateVector(a.prev_head.data(), 32);
  const auto origin = fbb.CreateString(a.origin);
  const auto note = a.note.empty() ? 0 : fbb.CreateString(a.note);
  std::vector<uint8_t> fr;
  for (const Hash32& h : a.frontier) fr.insert(fr.end(), h.begin(), h.end());
  const auto frontier = fr.empty() ? 0 : fbb.CreateVector(fr);
  wire::CheckpointBuilder b(fbb);
  b.add_topic(topic);
  b.add_partition(a.partition);
  const bool intent = a.kind == AttestationKind::kIntent;
  b.add_first_offset(static_cast<int64_t>(intent ? a.first : 0));
  b.add_last_offset(static_cast<int64_t>(intent ? a.first + a.size : a.size) - 1);
  b.add_record_count(a.size);
  b.add_merkle_root(root);
  b.add_chain_head(head);
  b.add_engine_key_id(key);
  b.add_signature(sig);
  b.add_pipeline_name(pipeline);
  b.add_instance_id(instance);
  b.add_time_ns(a.time_ns);
  b.add_prev_chain_head(prev);
  b.add_version(2);
  fbb.ForceDefaults(true);
  b.add_kind(static_cast<wire::AttestationKind>(a.kind));
  fbb.ForceDefaults(false);
  b.add_origin(origin);
  if (!note.IsNull()) b.add_note(note);
  if (!frontier.IsNull()) b.add_frontier(frontier);
  wire::FinishCheckpointBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

bool decode_attestation(std::span<const uint8_t> bytes, Attestation* out, std::string* error) {
  flatbuffers::Verifier v(bytes.data(), bytes.size());
  if (!wire::VerifyCheckpointBuffer(v)) {
    *error = "not a valid Checkpoint buffer";
    return false;
  }
  const auto* c = wire::GetCheckpoint(bytes.data());
  if (c->version() != 2) {
    *error = "not a provenance v2 attestation (version " +
             std::to_string(c->version() == 0 ? 1 : c->version()) + ")";
    return false;
  }
  Attestation a;
  const auto kind = static_cast<uint8_t>(c->kind());
  if (kind > static_cast<uint8_t>(AttestationKind::kIntent)) {
    *error = "unknown attestation kind " + std::to_string(kind);
    return false;
  }
  a.kind = static_cast<AttestationKind>(kind);
  if (!copy_hash(c->merkle_root(), a.root) || !copy_hash(c->chain_head(), a.head) ||
      !copy_hash(c->prev_chain_head(), a.prev_head)) {
    *error = "attestation hashes missing or not 32 bytes";
    return false;
  }
  if (c->origin() == nullptr || c->engine_key_id() == nullptr) {
    *error = "attestation has no origin or key id";
    return false;
  }
  if (a.kind != AttestationKind::kIntent && c->note() == nullptr) {
    *error = "checkpoint has no signed note";
    return false;
  }
  if (a.kind == AttestationKind::kIntent &&
      (c->signature() == nullptr || c->signature()->size() != 64)) {
    *error = "intent has no 64-byte signature";
    return false;
  }
  if (c->frontier() != nullptr) {
    if (c->frontier()->size() % 32 != 0 || c->frontier()->size() > 64 * 32) {
      *error = "frontier is not a list of at most 64 hashes";
      return false;
    }
    for (size_t i = 0; i < c->frontier()->size(); i += 32) {
      Hash32 h;
      std::memcpy(h.data(), c->frontier()->data() + i, 32);
      a.frontier.push_back(h);
    }
  }
  a.partition = c->partition();
  a.origin = c->origin()->str();
  a.size = c->record_count();
  a.first = a.kind == AttestationKind::kIntent ? static_cast<uint64_t>(c->first_offset()) : 0;
  if (c->note() != nullptr) a.note = c->note()->str();
  a.key_id = c->engine_key_id()->str();
  if (c->signature() != nullptr) a.signature.assign(c->signature()->begin(), c->signature()->end());
  a.topic = c->topic() != nullptr ? c->topic()->str() : std::string();
  a.pipeline = c->pipeline_name() != nullptr ? c->pipeline_name()->str() : std::string();
  a.instance = c->instance_id() != nullptr ? c->instance_id()->str() : std::string();
  a.time_ns = c->time_ns();
  if (c->first_offset() < 0) {
    *error = "negative first offset";
    return false;
  }
  *out = std::move(a);
  return true;
}

std::vector<uint8_t> intent_signing_bytes(const Attestation& a) {
  std::vector<uint8_t> out(kIntentV2Tag.begin(), kIntentV2Tag.end());
  put_str(out, a.origin);
  put_u64(out, a.first);
  put_u64(out, a.size);
  put_bytes(out, a.prev_head);
  put_bytes(out, a.head);
  return out;
}

std::string chain_origin(std::string_view prefix, int32_t partition) {
  return std::string(prefix) + "/" + std::to_string(partition);
}

bool origin_partition(std::string_view origin, int32_t* partition) {
  const size_t slash = origin.rfind('/');
  if (slash == std::string_view::npos || slash + 1 >= origin.size()) return false;
  const std::string_view digits = origin.substr(slash + 1);
  if (digits.size() > 10 || (digits.size() > 1 && digits[0] == '0')) return false;
  int64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > INT32_MAX) return false;
  *partition = static_cast<int32_t>(v);
  return true;
}

}  // namespace assay::engine
