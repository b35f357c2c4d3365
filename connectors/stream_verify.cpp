#include "connectors/stream_verify.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
#include <set>

#include "connectors/framing.hpp"
#include "engine/bytes.hpp"
#include "engine/signing_key.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::connectors {
namespace {

using engine::Hash32;

// A trusted record of a chain with its chain fields.
struct Entry {
  const StoredRecord* rec = nullptr;
  uint64_t idx = 0;
  Hash32 stored{}, prev{}, leaf{};
};

// A chain: its records in stored order and where each chain index occurs.
struct Chain {
  std::vector<Entry> entries;
  std::map<uint64_t, std::vector<size_t>> by_idx;
};

// A decoded checkpoint with its stored position.
struct Ckpt {
  const StoredRecord* rec = nullptr;
  engine::CheckpointInfo info;
};

void json_string(std::string& out, const std::string& s) {
  out += '"';
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  out += '"';
}

class Reporter {
 public:
  explicit Reporter(VerifyReport& r) : r_(r) {}
  void add(std::string kind, const char* stream, const StoredRecord* rec, int32_t chain,
           std::string detail) {
    Finding f;
    f.kind = std::move(kind);
    f.stream = stream;
    if (rec != nullptr) {
      f.partition = rec->partition;
      f.offset = rec->offset;
    }
    f.chain = chain;
    f.detail = std::move(detail);
    r_.findings.push_back(std::move(f));
  }

 private:
  VerifyReport& r_;
};

std::string pos(const StoredRecord* r) {
  return r == nullptr ? std::string("?")
                      : std::to_string(r->partition) + ":" + std::to_string(r->offset);
}

// --- tiny JSON field readers for the proof format written by InclusionProof::json() --------
bool find_value(const std::string& t, const std::string& key, size_t* at) {
  const std::string k = "\"" + key + "\"";
  size_t p = t.find(k);
  if (p == std::string::npos) return false;
  p = t.find(':', p + k.size());
  if (p == std::string::npos) return false;
  ++p;
  while (p < t.size() && (t[p] == ' ' || t[p] == '\n' || t[p] == '\t' || t[p] == '\r')) ++p;
  *at = p;
  return p < t.size();
}
bool read_int(const std::string& t, const std::string& key, int64_t* out) {
  size_t p;
  if (!find_value(t, key, &p)) return false;
  size_t end = p;
  if (end < t.size() && t[end] == '-') ++end;
  while (end < t.size() && std::isdigit(static_cast<unsigned char>(t[end]))) ++end;
  if (end == p) return false;
  try {
    *out = std::stoll(t.substr(p, end - p));
  } catch (...) {
    return false;
  }
  return true;
}
bool read_str_at(const std::string& t, size_t p, std::string* out, size_t* end) {
  if (p >= t.size() || t[p] != '"') return false;
  const size_t q = t.find('"', p + 1);
  if (q == std::string::npos) return false;
  *out = t.substr(p + 1, q - p - 1);
  *end = q + 1;
  return true;
}
bool read_hex(const std::string& t, const std::string& key, std::vector<uint8_t>* out) {
  size_t p, end;
  std::string s;
  if (!find_value(t, key, &p) || !read_str_at(t, p, &s, &end)) return false;
  auto v = engine::from_hex(s);
  if (!v) return false;
  *out = std::move(*v);
  return true;
}

}  // namespace

std::string Finding::json() const {
  std::string out = "{\"finding\":";
  json_string(out, kind);
  out += ",\"stream\":";
  json_string(out, stream);
  out += ",\"partition\":" + std::to_string(partition) + ",\"offset\":" + std::to_string(offset) +
         ",\"chain\":" + std::to_string(chain) + ",\"detail\":";
  json_string(out, detail);
  out += '}';
  return out;
}

VerifyReport verify_stream(const std::vector<StoredRecord>& trusted,
                           const std::vector<StoredRecord>& attestations,
                           const VerifyOptions& opt) {
  VerifyReport rep;
  Reporter rp(rep);
  rep.records = trusted.size();
  engine::Sha256 h;
  std::map<int32_t, Chain> chains;
  for (const StoredRecord& r : trusted) {
    engine::ChainFields f;
    if (!engine::find_chain_fields(r.bytes, &f, true)) {
      rp.add("malformed", "trusted", &r, -1, "not a TrustedReading with provenance chain fields");
      continue;
    }
    const int32_t c = wire::GetTrustedReading(r.bytes.data())->provenance()->source_partition();
    Entry e;
    e.rec = &r;
    e.idx = engine::u64_at(r.bytes, f.chain_index);
    e.stored = engine::hash_at(r.bytes, f.record_hash);
    e.prev = engine::hash_at(r.bytes, f.prev_hash);
    const Hash32 actual = engine::record_hash(h, r.bytes, f);
    e.leaf = engine::merkle_leaf(h, r.bytes);  // leaves are the records as stored
    if (actual != e.stored)
      rp.add("record_altered", "trusted", &r, c,
             "record_hash does not match the record (chain_index " + std::to_string(e.idx) + ")");
    Chain& ch = chains[c];
    ch.by_idx[e.idx].push_back(ch.entries.size());
    ch.entries.push_back(e);
  }

  // Which chains each stored partition holds: where a stored partition holds exactly its own
  // chain (Kafka with `partition: source`, a file of one chain), offsets equal chain indices.
  std::map<int32_t, std::set<int32_t>> held;
  for (const auto& [c, ch] : chains)
    for (const Entry& e : ch.entries) held[e.rec->partition].insert(c);

  // Continuity of every chain in stored order.
  for (auto& [c, ch] : chains) {
    const auto& E = ch.entries;
    bool offsets = true;
    for (const Entry& e : E) offsets = offsets && e.rec->partition == c && held[c].size() == 1;
    int64_t shift = 0;  // offset - chain_index of the previous record
    for (size_t j = 0; offsets && j < E.size(); ++j) {
      const int64_t d = E[j].rec->offset - static_cast<int64_t>(E[j].idx);
      if (d != shift)
        rp.add("offset_mismatch", "trusted", E[j].rec, c,
               "chain_index " + std::to_string(E[j].idx) + " stored at offset " +
                   std::to_string(E[j].rec->offset));
      shift = d;
    }
    for (size_t j = 0; j < E.size(); ++j) {
      if (j == 0) {
        if (E[0].idx != 0 || E[0].prev != Hash32{})
          rp.add("chain_start", "trusted", E[0].rec, c,
                 "the chain starts at chain_index " + std::to_string(E[0].idx) +
                     " (expected 0 with a zero prev_record_hash)");
        continue;
      }
      const bool hash_ok = E[j].prev == E[j - 1].stored;
      if (!hash_ok || E[j].idx != E[j - 1].idx + 1)
        rp.add("chain_break", "trusted", E[j].rec, c,
               "after " + pos(E[j - 1].rec) + " (chain_index " + std::to_string(E[j - 1].idx) +
                   ") comes chain_index " + std::to_string(E[j].idx) +
                   (hash_ok ? "" : "; prev_record_hash does not link to the record before"));
    }
    // Indices that appear nowhere, and indices that appear more than once.
    uint64_t prev_key = 0;
    bool first = true;
    for (const auto& [idx, js] : ch.by_idx) {
      if (!first && idx > prev_key + 1)
        rp.add("missing", "trusted", E[js.front()].rec, c,
               "chain_index " + std::to_string(prev_key + 1) + ".." + std::to_string(idx - 1) +
                   " missing (records removed before this one)");
      first = false;
      prev_key = idx;
      if (js.size() < 2) continue;
      auto next = ch.by_idx.find(idx + 1);
      std::vector<size_t> referenced;
      for (size_t j : js) {
        bool ref = false;
        if (next != ch.by_idx.end())
          for (size_t k : next->second) ref = ref || E[k].prev == E[j].stored;
        if (ref) referenced.push_back(j);
      }
      for (size_t j : js) {
        const bool authentic = referenced.size() == 1 && referenced[0] == j;
        if (!authentic)
          rp.add(referenced.size() == 1 ? "inserted" : "duplicate", "trusted", E[j].rec, c,
                 "chain_index " + std::to_string(idx) + " occurs " + std::to_string(js.size()) +
                     " times" +
                     (referenced.size() == 1
                          ? "; the next record links to " + pos(E[referenced[0]].rec)
                          : std::string()));
      }
    }
  }

  // Checkpoints: signature, range continuity, Merkle root, chain heads.
  std::map<int32_t, std::vector<Ckpt>> ckpts;
  for (const StoredRecord& a : attestations) {
    Ckpt k{&a, {}};
    std::string why;
    if (!engine::decode_checkpoint(a.bytes, &k.info, &why)) {
      rp.add("checkpoint_malformed", "attestations", &a, -1, why);
      continue;
    }
    ++rep.checkpoints;
    const auto msg = engine::checkpoint_signing_bytes(k.info);
    if (!engine::verify_engine_signature(opt.public_key, msg, k.info.signature))
      rp.add(
          "checkpoint_signature", "attestations", &a, k.info.partition,
          "signature does not verify against the pinned public key (key id " + k.info.key_id + ")");
    ckpts[k.info.partition].push_back(std::move(k));
  }
  for (auto& [c, list] : ckpts)
    if (!chains.count(c))
      for (const Ckpt& k : list)
        rp.add("checkpoint_orphan", "attestations", k.rec, c, "no trusted records of this chain");
  rep.chains = chains.size();
  for (auto& [c, ch] : chains) {
    const auto& E = ch.entries;
    int64_t expected = 0;
    auto it = ckpts.find(c);
    if (it != ckpts.end()) {
      for (const Ckpt& k : it->second) {
        const auto& ci = k.info;
        const std::string range =
            "[" + std::to_string(ci.first) + "," + std::to_string(ci.last) + "]";
        if (ci.first != expected || ci.last < ci.first ||
            ci.count != static_cast<uint64_t>(ci.last - ci.first + 1))
          rp.add("checkpoint_range", "attestations", k.rec, c,
                 "range " + range + " (count " + std::to_string(ci.count) +
                     ") does not continue at chain_index " + std::to_string(expected));
        expected = std::max(expected, ci.last + 1);
        std::vector<Hash32> leaves;
        const StoredRecord *lo = nullptr, *hi = nullptr;
        for (const Entry& e : E) {
          if (static_cast<int64_t>(e.idx) < ci.first || static_cast<int64_t>(e.idx) > ci.last)
            continue;
          leaves.push_back(e.leaf);
          if (lo == nullptr) lo = e.rec;
          hi = e.rec;
        }
        if (engine::merkle_root(leaves) != ci.merkle_root)
          rp.add("merkle_mismatch", "attestations", k.rec, c,
                 "Merkle root of chain_index " + range + " (trusted " + pos(lo) + ".." + pos(hi) +
                     ", " + std::to_string(leaves.size()) +
                     " records) differs from the signed root");
        auto last = ch.by_idx.find(static_cast<uint64_t>(ci.last));
        bool head_ok = false;
        if (last != ch.by_idx.end())
          for (size_t j : last->second) head_ok = head_ok || E[j].stored == ci.chain_head;
        auto firstr = ch.by_idx.find(static_cast<uint64_t>(ci.first));
        bool prev_ok = false;
        if (firstr != ch.by_idx.end())
          for (size_t j : firstr->second) prev_ok = prev_ok || E[j].prev == ci.prev_chain_head;
        if (!head_ok || !prev_ok)
          rp.add("checkpoint_head", "attestations", k.rec, c,
                 std::string("the signed ") + (!head_ok ? "chain head" : "previous chain head") +
                     " of range " + range + " does not match the trusted records");
      }
    }
    const Entry* tail = nullptr;
    uint64_t tail_n = 0;
    for (const Entry& e : E)
      if (static_cast<int64_t>(e.idx) >= expected) {
        if (tail == nullptr) tail = &e;
        ++tail_n;
      }
    if (tail != nullptr && !opt.allow_open_tail)
      rp.add("unattested", "trusted", tail->rec, c,
             std::to_string(tail_n) + " record(s) from chain_index " + std::to_string(expected) +
                 " are not covered by any checkpoint");
  }
  return rep;
}

bool read_stored_file(const std::string& path, std::vector<StoredRecord>* out, std::string* error) {
  FrameReader r(UINT32_MAX);
  if (!r.open(path)) {
    *error = r.error();
    return false;
  }
  int64_t i = 0;
  for (;;) {
    StoredRecord rec;
    uint32_t len = 0;
    uint64_t declared = 0;
    const FrameStatus st = r.next(rec.bytes, len, declared);
    if (st == FrameStatus::kEnd) return true;
    if (st != FrameStatus::kOk) {
      *error = path + ": unreadable or truncated frame at index " + std::to_string(i);
      return false;
    }
    rec.offset = i++;
    out->push_back(std::move(rec));
  }
}

std::string InclusionProof::json() const {
  std::string out = "{\"partition\":" + std::to_string(partition) +
                    ",\"offset\":" + std::to_string(offset) +
                    ",\"leaf_index\":" + std::to_string(leaf_index) +
                    ",\"tree_size\":" + std::to_string(tree_size) + ",\"record\":\"" +
                    engine::to_hex(record) + "\",\"audit_path\":[";
  for (size_t i = 0; i < audit_path.size(); ++i)
    out += (i ? ",\"" : "\"") + engine::to_hex(audit_path[i]) + "\"";
  out += "],\"checkpoint\":\"" + engine::to_hex(checkpoint) + "\"}";
  return out;
}

bool InclusionProof::parse(const std::string& t, InclusionProof* out, std::string* error) {
  int64_t part = 0, leaf = 0, size = 0;
  if (!read_int(t, "partition", &part) || !read_int(t, "offset", &out->offset) ||
      !read_int(t, "leaf_index", &leaf) || !read_int(t, "tree_size", &size) || leaf < 0 ||
      size < 0 || !read_hex(t, "record", &out->record) ||
      !read_hex(t, "checkpoint", &out->checkpoint)) {
    *error =
        "not an inclusion proof (fields partition, offset, leaf_index, tree_size, record, "
        "audit_path, checkpoint)";
    return false;
  }
  out->partition = static_cast<int32_t>(part);
  out->leaf_index = static_cast<uint64_t>(leaf);
  out->tree_size = static_cast<uint64_t>(size);
  size_t p;
  if (!find_value(t, "audit_path", &p) || t[p] != '[') {
    *error = "inclusion proof: audit_path must be an array of hex strings";
    return false;
  }
  ++p;
  out->audit_path.clear();
  for (;;) {
    while (p < t.size() && (t[p] == ' ' || t[p] == ',' || t[p] == '\n')) ++p;
    if (p < t.size() && t[p] == ']') break;
    std::string s;
    size_t end;
    if (!read_str_at(t, p, &s, &end)) {
      *error = "inclusion proof: malformed audit_path";
      return false;
    }
    auto v = engine::from_hex(s);
    if (!v || v->size() != 32) {
      *error = "inclusion proof: audit_path entries must be 32-byte hex";
      return false;
    }
    Hash32 hsh;
    std::copy(v->begin(), v->end(), hsh.begin());
    out->audit_path.push_back(hsh);
    p = end;
  }
  return true;
}

bool make_inclusion_proof(const std::vector<StoredRecord>& trusted,
                          const std::vector<StoredRecord>& attestations, int32_t partition,
                          int64_t offset, InclusionProof* out, std::string* error) {
  const StoredRecord* target = nullptr;
  for (const auto& r : trusted)
    if (r.partition == partition && r.offset == offset) target = &r;
  engine::ChainFields f;
  if (target == nullptr || !engine::find_chain_fields(target->bytes, &f, true)) {
    *error = "no trusted record with chain fields at " + std::to_string(partition) + ":" +
             std::to_string(offset);
    return false;
  }
  const int32_t chain =
      wire::GetTrustedReading(target->bytes.data())->provenance()->source_partition();
  const int64_t idx = static_cast<int64_t>(engine::u64_at(target->bytes, f.chain_index));
  for (const auto& a : attestations) {
    engine::CheckpointInfo ci;
    std::string why;
    if (!engine::decode_checkpoint(a.bytes, &ci, &why) || ci.partition != chain || idx < ci.first ||
        idx > ci.last)
      continue;
    std::vector<Hash32> leaves;
    engine::Sha256 h;
    uint64_t leaf_index = 0;
    for (const auto& r : trusted) {
      engine::ChainFields g;
      if (!engine::find_chain_fields(r.bytes, &g, true)) continue;
      const auto* prov = wire::GetTrustedReading(r.bytes.data())->provenance();
      const int64_t i = static_cast<int64_t>(engine::u64_at(r.bytes, g.chain_index));
      if (prov->source_partition() != chain || i < ci.first || i > ci.last) continue;
      if (&r == target) leaf_index = leaves.size();
      leaves.push_back(engine::merkle_leaf(h, r.bytes));
    }
    out->partition = partition;
    out->offset = offset;
    out->record = target->bytes;
    out->leaf_index = leaf_index;
    out->tree_size = leaves.size();
    out->audit_path = engine::merkle_audit_path(leaves, leaf_index);
    out->checkpoint = a.bytes;
    return true;
  }
  *error = "no checkpoint covers chain_index " + std::to_string(idx) + " of chain " +
           std::to_string(chain);
  return false;
}

std::vector<std::string> verify_inclusion_proof(const InclusionProof& p,
                                                const std::array<uint8_t, 32>& public_key) {
  std::vector<std::string> why;
  engine::CheckpointInfo ci;
  std::string err;
  if (!engine::decode_checkpoint(p.checkpoint, &ci, &err)) return {"checkpoint: " + err};
  if (!engine::verify_engine_signature(public_key, engine::checkpoint_signing_bytes(ci),
                                       ci.signature))
    why.push_back("checkpoint signature does not verify against the pinned public key");
  engine::ChainFields f;
  if (!engine::find_chain_fields(p.record, &f, true)) {
    why.push_back("record is not a TrustedReading with chain fields");
    return why;
  }
  engine::Sha256 h;
  const Hash32 actual = engine::record_hash(h, p.record, f);
  if (actual != engine::hash_at(p.record, f.record_hash))
    why.push_back("record_hash does not match the record");
  const auto* prov = wire::GetTrustedReading(p.record.data())->provenance();
  const uint64_t idx = engine::u64_at(p.record, f.chain_index);
  if (prov->source_partition() != ci.partition ||
      idx != static_cast<uint64_t>(ci.first) + p.leaf_index || p.tree_size != ci.count)
    why.push_back("record position (chain " + std::to_string(prov->source_partition()) +
                  ", chain_index " + std::to_string(idx) + ") does not match leaf " +
                  std::to_string(p.leaf_index) + " of the checkpoint range");
  if (!engine::merkle_verify_inclusion(engine::merkle_leaf(h, p.record), p.leaf_index, p.tree_size,
                                       p.audit_path, ci.merkle_root))
    why.push_back("audit path does not lead to the signed Merkle root");
  return why;
}

}  // namespace assay::connectors
