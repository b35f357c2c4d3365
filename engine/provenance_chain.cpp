#include "engine/provenance_chain.hpp"

#include <openssl/evp.h>

#include <cstring>

#include "crypto/sha256_many.hpp"
#include "schemas/checkpoint_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::engine {
namespace {

const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

Hash32 sha256(std::span<const uint8_t> msg) {
  Hash32 out{};
  unsigned int len = 0;
  EVP_Digest(msg.data(), msg.size(), out.data(), &len, sha256_md(), nullptr);
  return out;
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
void put_str(std::vector<uint8_t>& out, const std::string& s) {
  put_u32(out, static_cast<uint32_t>(s.size()));
  out.insert(out.end(), s.begin(), s.end());
}

// Largest power of two strictly smaller than n (n >= 2).
size_t split_point(size_t n) {
  size_t k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

Hash32 mth(Sha256& h, std::span<const Hash32> leaves) {
  if (leaves.size() == 1) return leaves[0];
  const size_t k = split_point(leaves.size());
  const Hash32 l = mth(h, leaves.subspan(0, k));
  const Hash32 r = mth(h, leaves.subspan(k));
  return merkle_node(h, l, r);
}

void path(Sha256& h, std::span<const Hash32> leaves, size_t m, std::vector<Hash32>& out) {
  if (leaves.size() <= 1) return;
  const size_t k = split_point(leaves.size());
  if (m < k) {
    path(h, leaves.subspan(0, k), m, out);
    out.push_back(mth(h, leaves.subspan(k)));
  } else {
    path(h, leaves.subspan(k), m - k, out);
    out.push_back(mth(h, leaves.subspan(0, k)));
  }
}

bool copy_hash(const flatbuffers::Vector<uint8_t>* v, Hash32& out) {
  if (v == nullptr || v->size() != 32) return false;
  std::memcpy(out.data(), v->data(), 32);
  return true;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {}
Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}
void Sha256::init() {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), sha256_md(), nullptr);
}
void Sha256::update(std::span<const uint8_t> b) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), b.data(), b.size());
}
Hash32 Sha256::final() {
  Hash32 out{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out.data(), &n);
  return out;
}

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
  out->prev_hash = static_cast<size_t>(prev->data() - record.data());
  out->record_hash = static_cast<size_t>(rh->data() - record.data());
  out->chain_index = static_cast<size_t>(idx - record.data());
  return true;
}

Hash32 record_hash(Sha256& h, std::span<const uint8_t> record, const ChainFields& f) {
  static constexpr uint8_t kZero[32] = {};
  h.init();
  h.update(record.subspan(f.prev_hash, 32));
  h.update(record.subspan(0, f.record_hash));
  h.update(kZero);
  h.update(record.subspan(f.record_hash + 32));
  return h.final();
}

Hash32 hash_at(std::span<const uint8_t> record, size_t offset) {
  Hash32 out{};
  std::memcpy(out.data(), record.data() + offset, 32);
  return out;
}

uint64_t u64_at(std::span<const uint8_t> record, size_t offset) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | record[offset + static_cast<size_t>(i)];
  return v;
}

Hash32 merkle_leaf(Sha256& h, std::span<const uint8_t> record) {
  static constexpr uint8_t kLeaf[1] = {0x00};
  h.init();
  h.update(kLeaf);
  h.update(record);
  return h.final();
}

Hash32 merkle_node(Sha256& h, const Hash32& left, const Hash32& right) {
  static constexpr uint8_t kNode[1] = {0x01};
  h.init();
  h.update(kNode);
  h.update(left);
  h.update(right);
  return h.final();
}

void link_records(std::span<const ChainSlot> slots, Hash32& head, uint64_t& next_index,
                  std::span<Hash32> heads, std::span<Hash32> leaves, LinkMode mode) {
  const size_t n = slots.size();
  if (n == 0) return;
  if (mode == LinkMode::kAuto)
    mode = crypto::sha256_two_interleaved() ? LinkMode::kPaired : LinkMode::kSeparate;
  // prev || record (record_hash zero), laid out in the headroom: the chain hash's input.
  auto chain_input = [&](size_t i) {
    const ChainSlot& s = slots[i];
    uint8_t* rec = s.record.data();
    std::memcpy(rec + s.f.prev_hash, head.data(), 32);
    for (int k = 0; k < 8; ++k)
      rec[s.f.chain_index + static_cast<size_t>(k)] = static_cast<uint8_t>(next_index >> (8 * k));
    std::memset(rec + s.f.record_hash, 0, 32);
    std::memcpy(rec - kChainHeadroom, head.data(), 32);
    return std::span<const uint8_t>(rec - kChainHeadroom, s.record.size() + kChainHeadroom);
  };
  auto linked = [&](size_t i, const Hash32& h) {
    std::memcpy(slots[i].record.data() + slots[i].f.record_hash, h.data(), 32);
    heads[i] = h;
    head = h;
    ++next_index;
  };
  // 0x00 || record as written, once record_hash is in place: the leaf's input.
  auto leaf_input = [&](size_t i) {
    uint8_t* rec = slots[i].record.data();
    rec[-1] = 0x00;
    return std::span<const uint8_t>(rec - 1, slots[i].record.size() + 1);
  };
  if (mode == LinkMode::kSeparate) {
    thread_local std::vector<std::span<const uint8_t>> msgs;
    msgs.clear();
    for (size_t i = 0; i < n; ++i) {
      linked(i, sha256(chain_input(i)));
      msgs.push_back(leaf_input(i));
    }
    crypto::sha256_many(msgs, leaves.subspan(0, n));
    return;
  }
  // Record i's chain hash needs record i-1's; record i-1's leaf needs its record_hash written.
  // Both are ready at the same time, and independent: hash them together.
  linked(0, sha256(chain_input(0)));
  for (size_t i = 1; i < n; ++i) {
    Hash32 h{};
    crypto::sha256_two(chain_input(i), leaf_input(i - 1), h, leaves[i - 1]);
    linked(i, h);
  }
  leaves[n - 1] = sha256(leaf_input(n - 1));
}

Hash32 merkle_root(std::span<const Hash32> leaves) {
  Sha256 h;
  if (leaves.empty()) {
    h.init();
    return h.final();
  }
  if (leaves.size() < 16) return mth(h, leaves);
  // Level by level, pairing left to right and carrying an odd last node up unchanged: the same
  // tree as RFC 9162's recursive split at the largest power of two, with each level's nodes
  // hashed together (multi-buffer SHA-256).
  std::vector<Hash32> level(leaves.begin(), leaves.end()), next;
  std::vector<std::array<uint8_t, 65>> bufs;
  std::vector<std::span<const uint8_t>> msgs;
  while (level.size() > 1) {
    const size_t pairs = level.size() / 2;
    bufs.resize(pairs);
    msgs.clear();
    for (size_t i = 0; i < pairs; ++i) {
      bufs[i][0] = 0x01;
      std::memcpy(bufs[i].data() + 1, level[2 * i].data(), 32);
      std::memcpy(bufs[i].data() + 33, level[2 * i + 1].data(), 32);
      msgs.emplace_back(bufs[i].data(), bufs[i].size());
    }
    next.resize(pairs);
    crypto::sha256_many(msgs, next);
    if (level.size() % 2 == 1) next.push_back(level.back());
    level.swap(next);
  }
  return level[0];
}

std::vector<Hash32> merkle_audit_path(std::span<const Hash32> leaves, size_t index) {
  Sha256 h;
  std::vector<Hash32> out;
  if (index < leaves.size()) path(h, leaves, index, out);
  return out;
}

bool merkle_verify_inclusion(const Hash32& leaf, uint64_t index, uint64_t size,
                             std::span<const Hash32> proof, const Hash32& root) {
  if (index >= size) return false;
  Sha256 h;
  uint64_t fn = index, sn = size - 1;
  Hash32 r = leaf;
  for (const Hash32& p : proof) {
    if (sn == 0) return false;
    if ((fn & 1) != 0 || fn == sn) {
      r = merkle_node(h, p, r);
      if ((fn & 1) == 0) {
        while ((fn & 1) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = merkle_node(h, r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  return sn == 0 && r == root;
}

std::vector<uint8_t> checkpoint_signing_bytes(const CheckpointInfo& c) {
  static constexpr char kDomain[] = "assay-checkpoint-v1";
  std::vector<uint8_t> out(kDomain, kDomain + sizeof kDomain - 1);
  put_str(out, c.topic);
  put_u32(out, static_cast<uint32_t>(c.partition));
  put_u64(out, static_cast<uint64_t>(c.first));
  put_u64(out, static_cast<uint64_t>(c.last));
  put_u64(out, c.count);
  out.insert(out.end(), c.merkle_root.begin(), c.merkle_root.end());
  out.insert(out.end(), c.chain_head.begin(), c.chain_head.end());
  out.insert(out.end(), c.prev_chain_head.begin(), c.prev_chain_head.end());
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

}  // namespace assay::engine
