#include "connectors/stream_verify.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <set>

#include "crypto/sha256.hpp"
#include "crypto/sha256_many.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/signing_key.hpp"
#include "engine/trusted_group.hpp"
#include "engine/tsan.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::connectors {
namespace {

// The shift between a record's Kafka offset and its chain_index (both from the files, so any
// values): offset - index modulo 2^64. Only compared for equality (a change of shift is an
// offset_mismatch / a noted offset shift), which the wrapping difference decides exactly, without
// the signed overflow of offset - int64_t(index) (found by fuzz_stream_verify).
int64_t offset_shift(int64_t offset, uint64_t index) {
  return static_cast<int64_t>(static_cast<uint64_t>(offset) - index);
}

using engine::Attestation;
using engine::AttestationKind;
using engine::Hash32;

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

std::string pos(int32_t partition, int64_t offset) {
  return std::to_string(partition) + ":" + std::to_string(offset);
}

class Reporter {
 public:
  explicit Reporter(VerifyReport& r) : r_(r) {}
  void add(std::string kind, const char* stream, int32_t partition, int64_t offset, int32_t chain,
           std::string detail) {
    Finding f;
    f.kind = std::move(kind);
    f.stream = stream;
    f.partition = partition;
    f.offset = offset;
    f.chain = chain;
    f.detail = std::move(detail);
    r_.findings.push_back(std::move(f));
  }
  void add(std::string kind, const char* stream, const StoredRecord* rec, int32_t chain,
           std::string detail) {
    add(std::move(kind), stream, rec != nullptr ? rec->partition : 0,
        rec != nullptr ? rec->offset : -1, chain, std::move(detail));
  }

 private:
  VerifyReport& r_;
};

// ================================ format v1 (in memory) =====================================

struct V1Entry {
  const StoredRecord* rec = nullptr;
  uint64_t idx = 0;
  Hash32 stored{}, prev{}, leaf{};
};

struct V1Chain {
  std::vector<V1Entry> entries;
  std::map<uint64_t, std::vector<size_t>> by_idx;
};

struct V1Ckpt {
  const StoredRecord* rec = nullptr;
  engine::CheckpointInfo info;
};

std::string pos(const StoredRecord* r) {
  return r == nullptr ? std::string("?") : pos(r->partition, r->offset);
}

// The verifier of streams written before chain format v2 (unchanged semantics).
void verify_v1(const std::vector<StoredRecord>& trusted,
               const std::vector<StoredRecord>& attestations, const VerifyOptions& opt,
               const std::map<int32_t, std::set<int32_t>>& held, VerifyReport& rep) {
  Reporter rp(rep);
  std::map<int32_t, V1Chain> chains;
  for (const StoredRecord& r : trusted) {
    engine::ChainFields f;
    if (!engine::find_chain_fields(r.bytes, &f, true)) continue;  // reported by the caller
    const int32_t c = wire::GetTrustedReading(r.bytes.data())->provenance()->source_partition();
    V1Entry e;
    e.rec = &r;
    e.idx = engine::u64_at(r.bytes, f.chain_index);
    e.stored = engine::hash_at(r.bytes, f.record_hash);
    e.prev = engine::hash_at(r.bytes, f.prev_hash);
    e.leaf = engine::merkle_leaf(r.bytes);  // leaves are the records as stored
    if (engine::record_hash_v1(r.bytes, f) != e.stored)
      rp.add("record_altered", "trusted", &r, c,
             "record_hash does not match the record (chain_index " + std::to_string(e.idx) + ")");
    V1Chain& ch = chains[c];
    ch.by_idx[e.idx].push_back(ch.entries.size());
    ch.entries.push_back(e);
  }
  for (auto& [c, ch] : chains) {
    const auto& E = ch.entries;
    bool offsets = true;
    for (const V1Entry& e : E) {
      auto h = held.find(e.rec->partition);
      offsets = offsets && e.rec->partition == c && h != held.end() && h->second.size() == 1;
    }
    int64_t shift = 0;
    for (size_t j = 0; offsets && j < E.size(); ++j) {
      const int64_t d = offset_shift(E[j].rec->offset, E[j].idx);
      if (d != shift && !(opt.offsets_may_skip && d > shift))
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
  std::map<int32_t, std::vector<V1Ckpt>> ckpts;
  for (const StoredRecord& a : attestations) {
    V1Ckpt k{&a, {}};
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
      for (const V1Ckpt& k : list)
        rp.add("checkpoint_orphan", "attestations", k.rec, c, "no trusted records of this chain");
  rep.chains += chains.size();
  for (auto& [c, ch] : chains) {
    const auto& E = ch.entries;
    int64_t expected = 0;
    auto it = ckpts.find(c);
    if (it != ckpts.end()) {
      for (const V1Ckpt& k : it->second) {
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
        for (const V1Entry& e : E) {
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
    const V1Entry* tail = nullptr;
    uint64_t tail_n = 0;
    for (const V1Entry& e : E)
      if (static_cast<int64_t>(e.idx) >= expected) {
        if (tail == nullptr) tail = &e;
        ++tail_n;
      }
    rep.unattested += tail_n;
    if (tail != nullptr && (!opt.allow_open_tail || expected == 0))
      rp.add("unattested", "trusted", tail->rec, c,
             std::to_string(tail_n) + " record(s) from chain_index " + std::to_string(expected) +
                 " are not covered by any checkpoint" +
                 (expected == 0 ? " (the chain has no checkpoint at all)" : ""));
  }
}

// ================================ format v2 (streaming) =====================================

// A checkpoint of a v2 log, from the attestations: its root, where it is stored, and which
// pinned witnesses cosigned it.
struct V2Ckpt {
  Hash32 root{};
  int32_t partition = 0;
  int64_t offset = -1;
  std::set<std::string> witnesses;
  bool checked = false;  // the log reached its size
  bool matched = false;  // and its root matched
};

// One record of a v2 chain as the chain check needs it.
struct V2Rec {
  int32_t partition = 0;
  int64_t offset = 0;
  uint64_t index = 0;
  Hash32 stored{}, prev{}, leaf{};
};

struct V2Chain {
  bool seen = false;
  uint64_t records = 0;
  // The log as verified: confirmed leaves in `tree`; the last record waits in `pend` until the
  // record after it shows which of several records with its index is the authentic one.
  engine::MerkleFrontier tree;
  bool broken = false;
  uint64_t broken_at = 0;
  std::optional<V2Rec> pend;
  std::vector<V2Rec> siblings;  // other records with pend's index and predecessor
  uint64_t max_index = 0;
  std::map<uint64_t, V2Ckpt> ckpts;  // by tree size
  uint64_t mismatches = 0;           // checkpoints whose root differs (after the first: summarised)
  int32_t last_mismatch_partition = 0;
  int64_t last_mismatch_offset = -1;
};

// A record waiting for its leaf (multi-buffer, in parallel).
struct Queued {
  int32_t partition = 0;
  int64_t offset = 0;
  int32_t chain = 0;
  size_t at = 0, len = 0;  // 0x00 || the record with its chain fields zeroed, in queue_bytes
  uint64_t index = 0;
  Hash32 stored{}, prev{}, leaf{};
};

constexpr size_t kWindow = 4096;                   // records verified together
constexpr size_t kWindowBytes = size_t{16} << 20;  // or this many bytes of them

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

struct StreamVerifier::Impl {
  VerifyOptions opt;
  VerifyReport rep;
  Reporter rp{rep};
  // v1
  std::vector<StoredRecord> v1_trusted, v1_atts;
  std::set<int32_t> v1_chains;
  // v2
  std::map<int32_t, V2Chain> chains;
  std::map<int32_t, std::string> origins;  // chain -> origin seen in its checkpoints
  std::vector<Queued> queue;
  std::vector<uint8_t> queue_bytes;
  // Which chains each stored partition holds, and the offset checks waiting for the answer.
  std::map<int32_t, std::set<int32_t>> held;
  struct OffsetShift {
    int32_t partition;
    int64_t offset;
    int32_t chain;
    uint64_t index;
  };
  std::vector<OffsetShift> shifts;
  std::map<std::pair<int32_t, int32_t>, int64_t> last_shift;  // (partition, chain) -> d
  uint64_t shifts_dropped = 0;

  std::vector<uint64_t> scratch;  // 8-aligned copy of a misaligned record (Kafka payloads)
  // The engine identity of the previous record and its count in rep.engines (records come in
  // runs of one engine: one map lookup per run, not per record).
  std::string last_version, last_build;
  uint64_t* last_engine = nullptr;

  explicit Impl(VerifyOptions o) : opt(std::move(o)) {}

  // Counts the record under the engine software identity its provenance states.
  void count_engine(const wire::Provenance& p) {
    const auto view = [](const flatbuffers::String* s) {
      return s != nullptr ? s->string_view() : std::string_view();
    };
    const std::string_view version = view(p.engine_version()), build = view(p.engine_build());
    if (last_engine != nullptr && version == last_version && build == last_build) {
      ++*last_engine;
      return;
    }
    // Printable, bounded (the strings come from the stream, and verify-stream prints them).
    const auto shown = [](std::string_view v) {
      std::string o = v.empty() ? std::string("?") : std::string(v.substr(0, 64));
      for (char& c : o)
        if (c < 0x20 || c > 0x7e) c = '?';
      return o;
    };
    std::string id = shown(version) + " (build " + shown(build) + ")";
    if (rep.engines.size() >= VerifyReport::kMaxEngineIdentities && !rep.engines.count(id))
      id = "(other)";
    uint64_t& n = rep.engines[id];
    ++n;
    last_engine = &n;  // std::map: stable while entries are only added
    last_version.assign(version);
    last_build.assign(build);
  }

  // FlatBuffers reads scalars in place: a record that is not 8-byte aligned is copied first.
  std::span<const uint8_t> aligned(std::span<const uint8_t> in) {
    if (reinterpret_cast<uintptr_t>(in.data()) % 8 == 0) return in;
    scratch.assign(in.size() / 8 + 1, 0);
    if (!in.empty()) std::memcpy(scratch.data(), in.data(), in.size());
    return {reinterpret_cast<const uint8_t*>(scratch.data()), in.size()};
  }

  engine::NoteKey engine_key(const std::string& origin) const {
    return engine::NoteKey{origin,
                           engine::note_key_id(origin, engine::kNoteEd25519, opt.public_key),
                           engine::kNoteEd25519, opt.public_key};
  }

  void attestation(int32_t partition, int64_t offset, std::span<const uint8_t> bytes) {
    bytes = aligned(bytes);
    const int version = engine::attestation_version(bytes);
    if (version == 1) {
      v1_atts.push_back(StoredRecord{partition, offset, {bytes.begin(), bytes.end()}});
      return;
    }
    Attestation a;
    std::string why;
    if (version == 0 || !engine::decode_attestation(bytes, &a, &why)) {
      rp.add("checkpoint_malformed", "attestations", partition, offset, -1,
             version == 0 ? "not a Checkpoint buffer" : why);
      return;
    }
    int32_t from_origin = -1;
    if (!engine::origin_partition(a.origin, &from_origin) || from_origin != a.partition) {
      rp.add("checkpoint_malformed", "attestations", partition, offset, a.partition,
             "origin '" + a.origin + "' does not name the record's chain " +
                 std::to_string(a.partition));
      return;
    }
    auto [o, fresh] = origins.try_emplace(a.partition, a.origin);
    if (!fresh && o->second != a.origin) {
      rp.add("checkpoint_malformed", "attestations", partition, offset, a.partition,
             "chain " + std::to_string(a.partition) + " has attestations of two logs: '" +
                 o->second + "' and '" + a.origin + "' (attestations from another pipeline?)");
      return;
    }
    if (a.kind == AttestationKind::kIntent) {
      ++rep.intents;
      if (!engine::verify_engine_signature(opt.public_key, engine::intent_signing_bytes(a),
                                           a.signature))
        rp.add("intent_signature", "attestations", partition, offset, a.partition,
               "intent for chain_index " + std::to_string(a.first) + ".." +
                   std::to_string(a.first + a.size - 1) +
                   " does not verify against the pinned public key");
      return;
    }
    // A checkpoint (with or without cosignatures): the engine's signature on the note first.
    std::string text;
    std::vector<engine::NoteSignature> sigs;
    engine::CheckpointBody body;
    if (!engine::split_note(a.note, &text, &sigs, &why) ||
        !engine::parse_checkpoint_body(text, &body, &why)) {
      rp.add("checkpoint_malformed", "attestations", partition, offset, a.partition,
             "not a C2SP signed checkpoint: " + why);
      return;
    }
    if (body.origin != a.origin || body.size != a.size || body.root != a.root) {
      rp.add("checkpoint_malformed", "attestations", partition, offset, a.partition,
             "the record's fields differ from its signed note");
      return;
    }
    const engine::NoteKey key = engine_key(a.origin);
    bool signed_ok = false;
    for (const auto& s : sigs) signed_ok = signed_ok || engine::verify_note_signature(key, text, s);
    if (a.kind == AttestationKind::kCheckpoint) ++rep.checkpoints;
    if (!signed_ok) {
      rp.add("checkpoint_signature", "attestations", partition, offset, a.partition,
             "the checkpoint note (tree size " + std::to_string(a.size) +
                 ") carries no valid signature of the pinned engine key for log '" + a.origin +
                 "'");
      return;
    }
    std::set<std::string> cosigners;
    for (const auto& w : opt.witnesses)
      for (const auto& s : sigs)
        if (engine::verify_note_signature(w, text, s)) cosigners.insert(w.name);
    V2Chain& ch = chains[a.partition];
    auto [it, added] = ch.ckpts.try_emplace(a.size);
    V2Ckpt& k = it->second;
    if (added) {
      k.root = a.root;
      k.partition = partition;
      k.offset = offset;
    } else if (k.root != a.root) {
      rp.add("fork", "attestations", partition, offset, a.partition,
             "two checkpoints of log '" + a.origin + "' signed by the engine" +
                 (cosigners.empty() ? std::string() : " (this one cosigned by witnesses)") +
                 " for tree size " + std::to_string(a.size) +
                 " with different roots (the other at " + pos(k.partition, k.offset) +
                 "): a forked history");
      return;
    }
    rep.cosignatures += cosigners.size();
    k.witnesses.insert(cosigners.begin(), cosigners.end());
  }

  void trusted(int32_t partition, int64_t offset, std::span<const uint8_t> bytes) {
    ++rep.records;
    bytes = aligned(bytes);
    engine::ChainFields f;
    if (!engine::find_chain_fields(bytes, &f, true)) {
      rp.add("malformed", "trusted", partition, offset, -1,
             "not a TrustedReading with provenance chain fields");
      return;
    }
    const wire::Provenance& prov = *wire::GetTrustedReading(bytes.data())->provenance();
    count_engine(prov);
    const int32_t c = prov.source_partition();
    if (held[partition].size() < 3) held[partition].insert(c);
    if (f.version == 1 || v1_chains.count(c)) {
      if (f.version == 2) {
        rp.add("version_mixed", "trusted", partition, offset, c,
               "a chain format v2 record in a chain that began in format v1");
        return;
      }
      if (chains.count(c) && chains[c].seen) {
        rp.add("version_mixed", "trusted", partition, offset, c,
               "a chain format v1 record in a chain that began in format v2");
        return;
      }
      v1_chains.insert(c);
      ++rep.v1_records;
      v1_trusted.push_back(StoredRecord{partition, offset, {bytes.begin(), bytes.end()}});
      return;
    }
    Queued q;
    q.partition = partition;
    q.offset = offset;
    q.chain = c;
    q.index = engine::u64_at(bytes, f.chain_index);
    q.stored = engine::hash_at(bytes, f.record_hash);
    q.prev = engine::hash_at(bytes, f.prev_hash);
    q.at = queue_bytes.size();
    q.len = bytes.size() + 1;
    queue_bytes.resize(q.at + q.len);
    queue_bytes[q.at] = 0x00;
    std::memcpy(queue_bytes.data() + q.at + 1, bytes.data(), bytes.size());
    engine::zero_chain_fields(std::span<uint8_t>(queue_bytes).subspan(q.at + 1, bytes.size()), f);
    chains[c].seen = true;
    queue.push_back(std::move(q));
    if (queue.size() >= kWindow || queue_bytes.size() >= kWindowBytes) drain();
  }

  // Leaves of the queued records (multi-buffer, chunks in parallel), then the serial checks.
  void drain() {
    if (queue.empty()) return;
    constexpr size_t kChunk = 256;
    engine::tsan::parallel_for((queue.size() + kChunk - 1) / kChunk, [&](size_t chunk) {
      const size_t lo = chunk * kChunk, hi = std::min(queue.size(), lo + kChunk);
      std::vector<std::span<const uint8_t>> msgs;
      std::vector<Hash32> out(hi - lo);
      for (size_t i = lo; i < hi; ++i)
        msgs.emplace_back(queue_bytes.data() + queue[i].at, queue[i].len);
      crypto::sha256_many(msgs, out);
      for (size_t i = lo; i < hi; ++i) queue[i].leaf = out[i - lo];
    });
    for (Queued& q : queue) check(q);
    queue.clear();
    queue_bytes.clear();
  }

  void note_offset(const V2Rec& r, int32_t c) {
    const int64_t d = offset_shift(r.offset, r.index);
    auto [it, fresh] = last_shift.try_emplace({r.partition, c}, 0);
    if (!fresh && it->second == d) return;
    if (fresh && d == 0) return;
    const bool skipped_forward = d > it->second;  // (fresh: against 0)
    it->second = d;
    if (opt.offsets_may_skip && skipped_forward) return;
    if (shifts.size() < 10000)
      shifts.push_back({r.partition, r.offset, c, r.index});
    else
      ++shifts_dropped;
  }

  // Appends a confirmed record's leaf to the log and checks any checkpoint at that size.
  void confirm(V2Chain& ch, int32_t c, const V2Rec& r) {
    if (ch.broken) return;
    if (r.index != ch.tree.size()) {
      ch.broken = true;
      ch.broken_at = ch.tree.size();
      return;
    }
    ch.tree.append(std::span<const Hash32>(&r.leaf, 1));
    auto it = ch.ckpts.find(ch.tree.size());
    if (it != ch.ckpts.end()) {
      it->second.checked = true;
      it->second.matched = ch.tree.root() == it->second.root;
      if (!it->second.matched && ch.mismatches++ == 0)
        rp.add("merkle_mismatch", "attestations", it->second.partition, it->second.offset, c,
               "the signed root of tree size " + std::to_string(it->first) +
                   " differs from the Merkle root of the chain's first " +
                   std::to_string(it->first) + " records (trusted .." + pos(r.partition, r.offset) +
                   ")");
      if (!it->second.matched) {
        ch.last_mismatch_partition = it->second.partition;
        ch.last_mismatch_offset = it->second.offset;
      }
    }
  }

  void brk(V2Chain& ch, uint64_t at) {
    if (!ch.broken) {
      ch.broken = true;
      ch.broken_at = std::min<uint64_t>(at, ch.tree.size());
    }
  }

  void check(const Queued& q) {
    const int32_t c = q.chain;
    V2Chain& ch = chains[c];
    ++ch.records;
    V2Rec r{q.partition, q.offset, q.index, q.stored, q.prev, q.leaf};
    if (engine::chain_hash_v2(q.index, q.prev, q.leaf) != q.stored)
      rp.add("record_altered", "trusted", q.partition, q.offset, c,
             "record_hash does not match the record (chain_index " + std::to_string(q.index) + ")");
    note_offset(r, c);
    ch.max_index = std::max(ch.max_index, q.index);
    if (!ch.pend) {  // the chain's first record
      if (q.index != 0 || q.prev != Hash32{}) {
        rp.add("chain_start", "trusted", q.partition, q.offset, c,
               "the chain starts at chain_index " + std::to_string(q.index) +
                   " (expected 0 with a zero prev_record_hash)");
        brk(ch, 0);
      }
      ch.pend = r;
      return;
    }
    V2Rec& p = *ch.pend;
    auto follows = [&](const V2Rec& a) { return r.index == a.index + 1 && r.prev == a.stored; };
    if (follows(p)) {
      for (const V2Rec& s : ch.siblings)
        rp.add("inserted", "trusted", s.partition, s.offset, c,
               "chain_index " + std::to_string(s.index) +
                   " occurs twice; the next record links to " + pos(p.partition, p.offset));
      ch.siblings.clear();
      confirm(ch, c, p);
      ch.pend = r;
      return;
    }
    for (size_t i = 0; i < ch.siblings.size(); ++i) {
      if (!follows(ch.siblings[i])) continue;
      const V2Rec authentic = ch.siblings[i];
      rp.add("inserted", "trusted", p.partition, p.offset, c,
             "chain_index " + std::to_string(p.index) + " occurs twice; the next record links to " +
                 pos(authentic.partition, authentic.offset));
      for (size_t k = 0; k < ch.siblings.size(); ++k)
        if (k != i)
          rp.add("inserted", "trusted", ch.siblings[k].partition, ch.siblings[k].offset, c,
                 "chain_index " + std::to_string(ch.siblings[k].index) + " occurs again");
      ch.siblings.clear();
      confirm(ch, c, authentic);
      ch.pend = r;
      return;
    }
    if (r.index == p.index && r.prev == p.prev && ch.siblings.size() < 8) {
      ch.siblings.push_back(r);  // decided by the record after
      return;
    }
    // A break: name it, then continue from this record.
    const uint64_t expected = p.index + 1;
    const bool hash_ok = r.prev == p.stored;
    rp.add("chain_break", "trusted", q.partition, q.offset, c,
           "after " + pos(p.partition, p.offset) + " (chain_index " + std::to_string(p.index) +
               ") comes chain_index " + std::to_string(r.index) +
               (hash_ok ? "" : "; prev_record_hash does not link to the record before"));
    if (r.index > expected)
      rp.add("missing", "trusted", q.partition, q.offset, c,
             "chain_index " + std::to_string(expected) + ".." + std::to_string(r.index - 1) +
                 " missing (records removed before this one)");
    else if (r.index < expected)
      rp.add("duplicate", "trusted", q.partition, q.offset, c,
             "chain_index " + std::to_string(r.index) + " again, after chain_index " +
                 std::to_string(p.index));
    for (const V2Rec& s : ch.siblings)
      rp.add("duplicate", "trusted", s.partition, s.offset, c,
             "chain_index " + std::to_string(s.index) + " occurs more than once");
    ch.siblings.clear();
    confirm(ch, c, p);
    brk(ch, std::min(expected, r.index));
    ch.pend = r;
  }

  VerifyReport finish() {
    drain();
    for (auto& [c, ch] : chains) {
      if (ch.pend) {
        for (const V2Rec& s : ch.siblings)
          rp.add("duplicate", "trusted", s.partition, s.offset, c,
                 "chain_index " + std::to_string(s.index) +
                     " occurs more than once at the end of the chain");
        confirm(ch, c, *ch.pend);
      }
    }
    // Offsets equal chain indices where a stored partition holds exactly one chain.
    for (const auto& s : shifts) {
      auto h = held.find(s.partition);
      if (h == held.end() || h->second.size() != 1 || *h->second.begin() != s.chain ||
          s.partition != s.chain)
        continue;
      rp.add("offset_mismatch", "trusted", s.partition, s.offset, s.chain,
             "chain_index " + std::to_string(s.index) + " stored at offset " +
                 std::to_string(s.offset));
    }
    if (shifts_dropped > 0)
      rp.add("offset_mismatch", "trusted", 0, -1, -1,
             std::to_string(shifts_dropped) + " more offset changes not listed");
    // Per v2 chain: checkpoints not reached, coverage, witnesses.
    for (auto& [c, ch] : chains) {
      if (!ch.seen) {
        for (const auto& [size, k] : ch.ckpts)
          rp.add("checkpoint_orphan", "attestations", k.partition, k.offset, c,
                 "no trusted records of this chain");
        continue;
      }
      ++rep.chains;
      uint64_t attested = 0, witnessed = 0;
      uint64_t unverifiable = 0;
      const V2Ckpt* first_unverifiable = nullptr;
      if (ch.mismatches > 1)
        rp.add("merkle_mismatch", "attestations", ch.last_mismatch_partition,
               ch.last_mismatch_offset, c,
               std::to_string(ch.mismatches - 1) +
                   " later checkpoint(s) differ too (every tree after a changed record does)");
      for (auto& [size, k] : ch.ckpts) {
        // Coverage: signed checkpoints the stream reaches (whether their roots match is a
        // finding of its own).
        if (size <= ch.max_index + 1) {
          attested = std::max(attested, size);
          if (opt.min_witnesses > 0 && k.witnesses.size() >= opt.min_witnesses)
            witnessed = std::max(witnessed, size);
        }
        if (k.checked) continue;
        if (ch.broken && size > ch.broken_at && size <= ch.max_index + 1) {
          if (unverifiable++ == 0) first_unverifiable = &k;
          continue;
        }
        rp.add("checkpoint_beyond_stream", "attestations", k.partition, k.offset, c,
               "a signed checkpoint of tree size " + std::to_string(size) +
                   " but the stream holds " + std::to_string(ch.max_index + 1) +
                   " records of this chain: records after it were removed (the stream was "
                   "truncated) or never written");
      }
      if (first_unverifiable != nullptr)
        rp.add("merkle_mismatch", "attestations", first_unverifiable->partition,
               first_unverifiable->offset, c,
               std::to_string(unverifiable) +
                   " checkpoint(s) from here cannot match: the chain's records are broken at "
                   "chain_index " +
                   std::to_string(ch.broken_at) + " (findings above)");
      const uint64_t total = ch.max_index + 1;
      if (total > attested) {
        rep.unattested += total - attested;
        if (!opt.allow_open_tail || attested == 0)
          rp.add("unattested", "trusted", 0, -1, c,
                 std::to_string(total - attested) + " record(s) from chain_index " +
                     std::to_string(attested) + " are not covered by any checkpoint" +
                     (attested == 0 ? " (the chain has no valid checkpoint at all)" : ""));
      }
      if (opt.min_witnesses > 0 && total > witnessed) {
        rep.unwitnessed += total - witnessed;
        if (!opt.allow_open_tail || witnessed == 0)
          rp.add("unwitnessed", "attestations", 0, -1, c,
                 std::to_string(total - witnessed) + " record(s) from chain_index " +
                     std::to_string(witnessed) + " are not covered by a checkpoint with " +
                     std::to_string(opt.min_witnesses) + " valid witness cosignature(s)");
      }
    }
    // Format v1 chains, in memory as before.
    if (!v1_trusted.empty() || !v1_atts.empty()) {
      std::map<int32_t, std::set<int32_t>> h1;
      for (const auto& [p, cs] : held) h1[p] = cs;
      verify_v1(v1_trusted, v1_atts, opt, h1, rep);
    }
    return std::move(rep);
  }
};

StreamVerifier::StreamVerifier(VerifyOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
StreamVerifier::~StreamVerifier() = default;

void StreamVerifier::add_attestation(int32_t partition, int64_t offset,
                                     std::span<const uint8_t> bytes) {
  impl_->attestation(partition, offset, bytes);
}

void StreamVerifier::add_trusted(int32_t partition, int64_t offset,
                                 std::span<const uint8_t> bytes) {
  impl_->trusted(partition, offset, bytes);
}

VerifyReport StreamVerifier::finish() {
  return impl_->finish();
}

VerifyReport verify_stream(const std::vector<StoredRecord>& trusted,
                           const std::vector<StoredRecord>& attestations,
                           const VerifyOptions& opt) {
  StreamVerifier v(opt);
  for (const auto& a : attestations) v.add_attestation(a.partition, a.offset, a.bytes);
  for (const auto& t : trusted) v.add_trusted(t.partition, t.offset, t.bytes);
  return v.finish();
}

bool for_each_stored_frame(
    const std::string& path,
    const std::function<void(int32_t, int64_t, std::span<const uint8_t>)>& fn, std::string* error) {
  engine::FrameReader r(UINT32_MAX);
  if (!r.open(path)) {
    *error = r.error();
    return false;
  }
  std::vector<uint8_t> buf;
  for (int64_t i = 0;; ++i) {
    buf.clear();
    uint32_t len = 0;
    uint64_t declared = 0;
    const engine::FrameStatus st = r.next(buf, len, declared);
    if (st == engine::FrameStatus::kEnd) return true;
    if (st != engine::FrameStatus::kOk) {
      *error = path + ": unreadable or truncated frame at index " + std::to_string(i) + " (byte " +
               std::to_string(r.frame_position()) + ", declares " + std::to_string(declared) +
               " bytes, " + std::to_string(len) + " present)";
      return false;
    }
    fn(0, i, buf);
  }
}

bool read_stored_file(const std::string& path, std::vector<StoredRecord>* out, std::string* error) {
  return for_each_stored_frame(
      path,
      [&](int32_t p, int64_t o, std::span<const uint8_t> b) {
        out->push_back(StoredRecord{p, o, {b.begin(), b.end()}});
      },
      error);
}

// ================================ inclusion proofs ==========================================

namespace {

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

// The chain and chain_index of a record, and its leaf (by its format).
struct RecordId {
  int32_t chain = 0;
  uint64_t index = 0;
  Hash32 leaf{};
  bool hash_ok = false;
  uint8_t version = 0;
};

bool identify(std::span<const uint8_t> rec, RecordId* out) {
  engine::ChainFields f;
  if (!engine::find_chain_fields(rec, &f, true)) return false;
  out->chain = wire::GetTrustedReading(rec.data())->provenance()->source_partition();
  out->index = engine::u64_at(rec, f.chain_index);
  out->version = f.version;
  const Hash32 stored = engine::hash_at(rec, f.record_hash);
  if (f.version == 1) {
    out->leaf = engine::merkle_leaf(rec);
    out->hash_ok = engine::record_hash_v1(rec, f) == stored;
  } else {
    out->leaf = engine::record_leaf_v2(rec, f);
    out->hash_ok =
        engine::chain_hash_v2(out->index, engine::hash_at(rec, f.prev_hash), out->leaf) == stored;
  }
  return true;
}

}  // namespace

std::string InclusionProof::json() const {
  std::string out = "{\"partition\":" + std::to_string(partition) +
                    ",\"offset\":" + std::to_string(offset) +
                    ",\"leaf_index\":" + std::to_string(leaf_index) +
                    ",\"tree_size\":" + std::to_string(tree_size) + ",\"record\":\"" +
                    engine::to_hex(record) + "\",\"audit_path\":[";
  for (size_t i = 0; i < audit_path.size(); ++i)
    out += (i ? ",\"" : "\"") + engine::to_hex(audit_path[i]) + "\"";
  out += "],\"checkpoint\":\"" + engine::to_hex(checkpoint) + "\"";
  if (reading_index >= 0)
    out += ",\"reading_index\":" + std::to_string(reading_index) +
           ",\"reading_seq\":" + std::to_string(reading_seq);
  // Last, so that the outer object's fields come first (the readers take a key's first match).
  if (!carrier.empty()) out += ",\"carrier\":" + carrier.front().json();
  return out + "}";
}

bool InclusionProof::parse(const std::string& t, InclusionProof* out, std::string* error) {
  int64_t part = 0, leaf = 0, size = 0;
  if (!read_int(t, "partition", &part) || !read_int(t, "offset", &out->offset) ||
      !read_int(t, "leaf_index", &leaf) || !read_int(t, "tree_size", &size) || leaf < 0 ||
      size < 0 || part < INT32_MIN || part > INT32_MAX || !read_hex(t, "record", &out->record) ||
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
    if (out->audit_path.size() > 64) {
      *error = "inclusion proof: audit_path longer than 64";
      return false;
    }
  }
  // The reading it is about, if any (before "carrier", whose proof never names one).
  out->reading_index = -1;
  out->reading_seq = 0;
  size_t rp = 0, cp = t.size();
  const bool has_reading = find_value(t, "reading_index", &rp);
  if (find_value(t, "carrier", &cp) && has_reading && rp > cp) {
    *error = "inclusion proof: a carrier's proof names no reading";
    return false;
  }
  if (has_reading) {
    int64_t idx = -1, seq = -1;
    if (!read_int(t, "reading_index", &idx) || !read_int(t, "reading_seq", &seq) || idx < 0 ||
        idx > static_cast<int64_t>(UINT32_MAX) || seq < 0) {
      *error = "inclusion proof: reading_index and reading_seq must be non-negative integers";
      return false;
    }
    out->reading_index = idx;
    out->reading_seq = static_cast<uint64_t>(seq);
  }
  out->carrier.clear();
  // The carrier's proof, nested after every field of this one; a carrier has no carrier.
  if (find_value(t, "carrier", &p)) {
    if (t[p] != '{') {
      *error = "inclusion proof: carrier must be an object";
      return false;
    }
    const std::string inner = t.substr(p);
    if (inner.find("\"carrier\"") != std::string::npos) {  // no nesting beyond one level
      *error = "inclusion proof: a carrier's proof has no carrier of its own";
      return false;
    }
    InclusionProof c;
    if (!parse(inner, &c, error)) {
      *error = "carrier: " + *error;
      return false;
    }
    out->carrier.push_back(std::move(c));
  }
  return true;
}

namespace {

bool make_one_proof(const std::vector<StoredRecord>& trusted,
                    const std::vector<StoredRecord>& attestations, int32_t partition,
                    int64_t offset, InclusionProof* out, std::string* error) {
  const StoredRecord* target = nullptr;
  for (const auto& r : trusted)
    if (r.partition == partition && r.offset == offset) target = &r;
  RecordId id;
  if (target == nullptr || !identify(target->bytes, &id)) {
    *error = "no trusted record with chain fields at " + std::to_string(partition) + ":" +
             std::to_string(offset);
    return false;
  }
  // The chain's records in chain order (the first one of each chain_index as stored).
  std::map<uint64_t, Hash32> leaves_by_index;
  for (const auto& r : trusted) {
    RecordId x;
    if (!identify(r.bytes, &x) || x.chain != id.chain || x.version != id.version) continue;
    leaves_by_index.try_emplace(x.index, x.leaf);
  }
  if (id.version == 1) {
    for (const auto& a : attestations) {
      engine::CheckpointInfo ci;
      std::string why;
      if (!engine::decode_checkpoint(a.bytes, &ci, &why) || ci.partition != id.chain ||
          static_cast<int64_t>(id.index) < ci.first || static_cast<int64_t>(id.index) > ci.last)
        continue;
      std::vector<Hash32> leaves;
      for (int64_t i = ci.first; i <= ci.last; ++i) {
        auto it = leaves_by_index.find(static_cast<uint64_t>(i));
        if (it == leaves_by_index.end()) {
          *error = "chain_index " + std::to_string(i) + " is missing from the stream";
          return false;
        }
        leaves.push_back(it->second);
      }
      out->leaf_index = id.index - static_cast<uint64_t>(ci.first);
      out->tree_size = leaves.size();
      out->audit_path = engine::merkle_audit_path(leaves, static_cast<size_t>(out->leaf_index));
      out->checkpoint = a.bytes;
      out->partition = id.chain;
      out->offset = static_cast<int64_t>(id.index);
      out->record = target->bytes;
      return true;
    }
  } else {
    // The largest checkpoint that covers the record; its cosigned copy if there is one.
    const StoredRecord* best = nullptr;
    uint64_t best_size = 0;
    bool best_cosigned = false;
    for (const auto& a : attestations) {
      Attestation x;
      std::string why;
      if (engine::attestation_version(a.bytes) != 2 ||
          !engine::decode_attestation(a.bytes, &x, &why) || x.partition != id.chain ||
          x.kind == AttestationKind::kIntent || x.size <= id.index)
        continue;
      const bool cos = x.kind == AttestationKind::kCosigned;
      if (x.size > best_size || (x.size == best_size && cos && !best_cosigned)) {
        best = &a;
        best_size = x.size;
        best_cosigned = cos;
      }
    }
    if (best != nullptr) {
      std::vector<Hash32> leaves;
      for (uint64_t i = 0; i < best_size; ++i) {
        auto it = leaves_by_index.find(i);
        if (it == leaves_by_index.end()) {
          *error = "chain_index " + std::to_string(i) + " is missing from the stream";
          return false;
        }
        leaves.push_back(it->second);
      }
      out->leaf_index = id.index;
      out->tree_size = best_size;
      out->audit_path = engine::merkle_audit_path(leaves, static_cast<size_t>(id.index));
      out->checkpoint = best->bytes;
      out->partition = id.chain;
      out->offset = static_cast<int64_t>(id.index);
      out->record = target->bytes;
      return true;
    }
  }
  *error = "no checkpoint covers chain_index " + std::to_string(id.index) + " of chain " +
           std::to_string(id.chain);
  return false;
}

std::string str_of(const flatbuffers::String* s) {
  return s != nullptr ? s->str() : std::string();
}

// The same input record (source topic, partition, offset) and sensor.
bool same_source(const wire::TrustedReading* a, const wire::TrustedReading* b) {
  const wire::Provenance* pa = a->provenance();
  const wire::Provenance* pb = b->provenance();
  return pa != nullptr && pb != nullptr && pa->source_offset() == pb->source_offset() &&
         pa->source_partition() == pb->source_partition() &&
         str_of(pa->source_topic()) == str_of(pb->source_topic()) &&
         str_of(a->sensor_id()) == str_of(b->sensor_id());
}

bool is_trusted_reading(std::span<const uint8_t> rec) {
  flatbuffers::Verifier v(rec.data(), rec.size());
  return rec.size() >= 8 && v.VerifyBuffer<wire::TrustedReading>(nullptr);
}

// The seq of reading `index` of a verified TrustedReading: its own, or that of reading `index`
// of its signed bytes (a grouped record's later readings; Assay's formats only), which must be
// the record's sensor's. False if it cannot be read. `readings` holds the record's signed
// bytes once verified (set on first use: one verification for all readings of a record).
bool seq_of(const wire::TrustedReading* t, uint32_t index, uint64_t* seq,
            std::optional<engine::SignedReadings>& readings) {
  if (index == t->reading_index()) {
    *seq = t->seq();
    return true;
  }
  const auto* sb = t->signed_bytes();
  if (sb == nullptr) return false;
  if (!readings) readings.emplace(std::span<const uint8_t>(sb->data(), sb->size()));
  const wire::Reading* r = readings->get(index);
  if (r == nullptr || str_of(r->sensor_id()) != str_of(t->sensor_id())) return false;
  *seq = r->seq();
  return true;
}

}  // namespace

std::vector<ReadingLocation> find_reading(const std::vector<StoredRecord>& trusted,
                                          std::string_view sensor_id, uint64_t seq) {
  std::vector<ReadingLocation> found;
  std::vector<engine::TrustedEntry> entries;
  std::string why;
  for (const auto& r : trusted) {
    if (!is_trusted_reading(r.bytes)) continue;
    const auto* t = wire::GetTrustedReading(r.bytes.data());
    if (t->sensor_id() == nullptr || t->sensor_id()->string_view() != sensor_id ||
        !engine::trusted_entries(*t, &entries, &why))
      continue;
    std::optional<engine::SignedReadings> readings;
    for (const engine::TrustedEntry& e : entries) {
      uint64_t s = 0;
      if (seq_of(t, e.reading_index, &s, readings) && s == seq)
        found.push_back({r.partition, r.offset, e.reading_index});
    }
  }
  return found;
}

bool make_inclusion_proof(const std::vector<StoredRecord>& trusted,
                          const std::vector<StoredRecord>& attestations, int32_t partition,
                          int64_t offset, InclusionProof* out, std::string* error) {
  if (!make_one_proof(trusted, attestations, partition, offset, out, error)) return false;
  out->carrier.clear();
  if (!is_trusted_reading(out->record)) return true;
  const auto* t = wire::GetTrustedReading(out->record.data());
  if (t->signed_bytes_at() != wire::SignedBytesAt::Carrier) return true;
  // Its carrier: the nearest earlier record of the same stored partition from the same input
  // record and sensor that holds the signed bytes (docs/wire-contract.md).
  const StoredRecord* carrier = nullptr;
  for (const auto& r : trusted) {
    if (r.partition != partition || r.offset >= offset || !is_trusted_reading(r.bytes)) continue;
    const auto* c = wire::GetTrustedReading(r.bytes.data());
    if (c->signed_bytes() != nullptr && same_source(c, t) &&
        (carrier == nullptr || r.offset > carrier->offset))
      carrier = &r;
  }
  if (carrier == nullptr) {
    *error =
        "the record's signed bytes are carried by an earlier record of its input record, "
        "which the stream does not hold";
    return false;
  }
  InclusionProof cp;
  if (!make_one_proof(trusted, attestations, carrier->partition, carrier->offset, &cp, error)) {
    *error = "carrier (offset " + std::to_string(carrier->offset) + "): " + *error;
    return false;
  }
  out->carrier.push_back(std::move(cp));
  return true;
}

std::vector<std::string> verify_inclusion_proof(const InclusionProof& p,
                                                const std::array<uint8_t, 32>& public_key) {
  std::vector<std::string> why;
  RecordId id;
  if (!identify(p.record, &id)) return {"record is not a TrustedReading with chain fields"};
  if (!id.hash_ok) why.push_back("record_hash does not match the record");
  // The record must be the one the proof names.
  if (id.chain != p.partition || static_cast<int64_t>(id.index) != p.offset)
    why.push_back("the proof names record " + std::to_string(p.partition) + ":" +
                  std::to_string(p.offset) + " but holds chain " + std::to_string(id.chain) +
                  ", chain_index " + std::to_string(id.index));
  Hash32 root{};
  uint64_t first = 0, size = 0;
  int32_t chain = 0;
  std::string err;
  if (id.version == 1) {
    engine::CheckpointInfo ci;
    if (!engine::decode_checkpoint(p.checkpoint, &ci, &err)) return {"checkpoint: " + err};
    if (!engine::verify_engine_signature(public_key, engine::checkpoint_signing_bytes(ci),
                                         ci.signature))
      why.push_back("checkpoint signature does not verify against the pinned public key");
    root = ci.merkle_root;
    first = static_cast<uint64_t>(ci.first);
    size = ci.count;
    chain = ci.partition;
  } else {
    Attestation a;
    if (!engine::decode_attestation(p.checkpoint, &a, &err) || a.kind == AttestationKind::kIntent)
      return {"checkpoint: " + (err.empty() ? std::string("an intent, not a checkpoint") : err)};
    std::string text;
    std::vector<engine::NoteSignature> sigs;
    engine::CheckpointBody body;
    if (!engine::split_note(a.note, &text, &sigs, &err) ||
        !engine::parse_checkpoint_body(text, &body, &err))
      return {"checkpoint: " + err};
    const engine::NoteKey key{body.origin,
                              engine::note_key_id(body.origin, engine::kNoteEd25519, public_key),
                              engine::kNoteEd25519, public_key};
    bool ok = false;
    for (const auto& s : sigs) ok = ok || engine::verify_note_signature(key, text, s);
    if (!ok) why.push_back("checkpoint note carries no valid signature of the pinned key");
    int32_t from_origin = -1;
    if (!engine::origin_partition(body.origin, &from_origin))
      why.push_back("checkpoint origin '" + body.origin + "' names no chain");
    root = body.root;
    size = body.size;
    chain = from_origin;
  }
  if (chain != id.chain || id.index != first + p.leaf_index || p.tree_size != size)
    why.push_back("record position (chain " + std::to_string(id.chain) + ", chain_index " +
                  std::to_string(id.index) + ") does not match leaf " +
                  std::to_string(p.leaf_index) + " of the checkpoint's tree");
  if (!engine::merkle_verify_inclusion(id.leaf, p.leaf_index, p.tree_size, p.audit_path, root))
    why.push_back("audit path does not lead to the signed Merkle root");
  const auto* t = is_trusted_reading(p.record) ? wire::GetTrustedReading(p.record.data()) : nullptr;
  // One reading: the record stands for it and gives it the seq the proof names.
  if (p.reading_index >= 0 && t != nullptr) {
    const auto idx = static_cast<uint32_t>(p.reading_index);
    std::vector<engine::TrustedEntry> entries;
    std::string bad;
    bool covered = false;
    if (engine::trusted_entries(*t, &entries, &bad))
      for (const engine::TrustedEntry& e : entries) covered = covered || e.reading_index == idx;
    uint64_t seq = 0;
    std::optional<engine::SignedReadings> readings;
    if (!covered)
      why.push_back("the record does not stand for reading " + std::to_string(idx) +
                    " of its input record" + (bad.empty() ? "" : " (" + bad + ")"));
    else if (!seq_of(t, idx, &seq, readings))
      why.push_back("the seq of reading " + std::to_string(idx) +
                    " cannot be read from the record or its signed bytes");
    else if (seq != p.reading_seq)
      why.push_back("the proof names seq " + std::to_string(p.reading_seq) + " but reading " +
                    std::to_string(idx) + " of the record has seq " + std::to_string(seq));
  }
  // Signed bytes carried once: the carrier's proof, and that it is this reading's carrier.
  const bool reference = t != nullptr && t->signed_bytes_at() == wire::SignedBytesAt::Carrier;
  if (!reference && !p.carrier.empty())
    why.push_back("the proof has a carrier but the record holds its own signed bytes");
  if (reference && p.carrier.empty())
    why.push_back("the record's signed bytes are in its carrier record, which the proof lacks");
  if (reference && !p.carrier.empty()) {
    const InclusionProof& c = p.carrier.front();
    for (const std::string& w : verify_inclusion_proof(c, public_key))
      why.push_back("carrier: " + w);
    RecordId cid;
    const auto* ct =
        is_trusted_reading(c.record) ? wire::GetTrustedReading(c.record.data()) : nullptr;
    if (ct == nullptr || ct->signed_bytes() == nullptr || !identify(c.record, &cid)) {
      why.push_back("carrier: not a TrustedReading that holds signed bytes");
    } else {
      if (!same_source(ct, t) || cid.chain != id.chain || cid.index >= id.index)
        why.push_back("carrier: not an earlier record of the same chain, input record and sensor");
      const auto* want = t->signed_bytes_sha256();
      const auto got = crypto::sha256(
          std::span<const uint8_t>(ct->signed_bytes()->data(), ct->signed_bytes()->size()));
      if (want == nullptr || want->size() != got.size() ||
          !std::equal(got.begin(), got.end(), want->data()))
        why.push_back("carrier: its signed bytes do not hash to the record's signed_bytes_sha256");
    }
  }
  return why;
}

}  // namespace assay::connectors
