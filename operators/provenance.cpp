#include "operators/provenance.hpp"

#include <cstring>

#include "engine/log.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::operators {
namespace {

using engine::Hash32;

engine::Sha256& hasher() {
  thread_local engine::Sha256 h;
  return h;
}

}  // namespace

using Linked = Provenance::Linked;

bool Provenance::read_chain(engine::Partition part, size_t max_records,
                            engine::OperatorContext& ctx, std::vector<std::vector<uint8_t>>* recs,
                            std::vector<Linked>* mine, std::string* error) const {
  const std::string chain = "chain of partition " + std::to_string(part.value());
  recs->clear();
  mine->clear();
  if (!ctx.outputs->read_back(engine::Route::kTrusted, part, max_records, recs, error)) {
    *error = "cannot read back the trusted route to continue the " + chain + ": " + *error;
    return false;
  }
  for (const auto& r : *recs) {
    flatbuffers::Verifier v(r.data(), r.size());
    if (!wire::VerifyTrustedReadingBuffer(v)) {
      *error =
          "the trusted route holds a record that is not a valid TrustedReading; refusing "
          "to continue the " +
          chain;
      return false;
    }
    const auto* prov = wire::GetTrustedReading(r.data())->provenance();
    if (prov == nullptr || prov->source_partition() != part.value()) continue;
    Linked l{r, {}, 0};
    if (!engine::find_chain_fields(r, &l.f, false)) {
      *error = "the last trusted records of partition " + std::to_string(part.value()) +
               " have no hash chain (written without the provenance operator?); refusing to "
               "start a new chain after them";
      return false;
    }
    l.index = engine::u64_at(r, l.f.chain_index);
    mine->push_back(l);
  }
  return true;
}

bool Provenance::resume(engine::Partition part, ProvenanceState& st, engine::OperatorContext& ctx,
                        std::string* error) const {
  const std::string chain = "chain of partition " + std::to_string(part.value());
  // The last checkpoint of this chain bounds how many records must be re-read.
  std::vector<std::vector<uint8_t>> cks;
  if (!ctx.outputs->read_back(engine::Route::kAttestations, part, 1, &cks, error)) {
    *error = "cannot read back the attestations route to continue the " + chain + ": " + *error;
    return false;
  }
  std::optional<engine::CheckpointInfo> last_ck;
  for (const auto& c : cks) {
    engine::CheckpointInfo info;
    std::string why;
    if (!engine::decode_checkpoint(c, &info, &why)) {
      *error = "the attestations route holds a record that is not a checkpoint (" + why +
               "); refusing to continue the " + chain;
      return false;
    }
    if (info.partition == part.value()) last_ck = std::move(info);
  }
  // This chain's last records, oldest first: the last one first; more only if records were
  // written after the last checkpoint (below).
  std::vector<std::vector<uint8_t>> recs;
  std::vector<Linked> mine;
  if (!read_chain(part, 1, ctx, &recs, &mine, error)) return false;
  if (mine.empty()) {
    if (last_ck) {
      *error = "the attestations route has checkpoints for the " + chain +
               " but the trusted route has none of its records; refusing to start a new chain";
      return false;
    }
    return true;  // a new chain
  }
  auto& h = hasher();
  const Linked& last = mine.back();
  const Hash32 head = engine::hash_at(last.bytes, last.f.record_hash);
  if (engine::record_hash(h, last.bytes, last.f) != head) {
    *error = "the last record of the " + chain + " (chain_index " + std::to_string(last.index) +
             ") does not match its record_hash; refusing to continue a broken chain";
    return false;
  }
  const int64_t covered = last_ck ? last_ck->last : -1;  // last chain_index under a checkpoint
  if (covered > static_cast<int64_t>(last.index) ||
      (covered == static_cast<int64_t>(last.index) && last_ck->chain_head != head)) {
    *error = "the last checkpoint of the " + chain +
             " does not match the trusted route's last "
             "record; refusing to continue";
    return false;
  }
  st.head = head;
  st.next_index = last.index + 1;
  st.range_first = st.next_index;
  st.range_prev = head;
  // Records written after the last checkpoint (a crash) re-enter the open range.
  const uint64_t missing = last.index - static_cast<uint64_t>(covered);
  if (missing > 0 && mine.size() < missing) {
    if (!read_chain(part, missing, ctx, &recs, &mine, error)) return false;
    if (mine.empty() || engine::hash_at(mine.back().bytes, mine.back().f.record_hash) != head) {
      *error = "the trusted route changed while the " + chain + " was read back";
      return false;
    }
  }
  if (missing > 0) {
    if (mine.size() < missing) {
      *error = "cannot re-read the " + std::to_string(missing) + " records of the " + chain +
               " written after its last checkpoint";
      return false;
    }
    for (size_t i = mine.size() - missing; i < mine.size(); ++i) {
      const Linked& l = mine[i];
      const Hash32 prev = engine::hash_at(l.bytes, l.f.prev_hash);
      if (i > mine.size() - missing &&
          (l.index != mine[i - 1].index + 1 ||
           prev != engine::hash_at(mine[i - 1].bytes, mine[i - 1].f.record_hash))) {
        *error = "the records of the " + chain + " after its last checkpoint are not contiguous";
        return false;
      }
      if (i == mine.size() - missing) {
        if (last_ck && prev != last_ck->chain_head) {
          *error = "the " + chain + " does not continue from its last checkpoint's head";
          return false;
        }
        st.range_first = l.index;
        st.range_prev = prev;
      }
      const Hash32 rh = engine::hash_at(l.bytes, l.f.record_hash);
      if (engine::record_hash(h, l.bytes, l.f) != rh) {
        *error = "a record of the " + chain + " after its last checkpoint (chain_index " +
                 std::to_string(l.index) + ") does not match its record_hash";
        return false;
      }
      st.leaves.push_back(engine::merkle_leaf(h, l.bytes));
    }
    st.range_start_mono = ctx.now_mono_ns;
  }
  engine::log_info("provenance", "chain continued",
                   {{"partition", std::to_string(part.value())},
                    {"next_index", std::to_string(st.next_index)},
                    {"uncheckpointed", std::to_string(st.leaves.size())}});
  return true;
}

void Provenance::checkpoint(engine::Batch& b, uint32_t frame, ProvenanceState& st,
                            engine::OperatorContext& ctx) const {
  engine::CheckpointInfo c;
  c.topic = ctx.outputs->describe(engine::Route::kTrusted);
  c.partition = b.partition.value();
  c.first = static_cast<int64_t>(st.range_first);
  c.last = static_cast<int64_t>(st.next_index - 1);
  c.count = st.leaves.size();
  c.merkle_root = engine::merkle_root(st.leaves);
  c.chain_head = st.head;
  c.prev_chain_head = st.range_prev;
  c.key_id = config_.key->key_id();
  c.pipeline = ctx.pipeline.name;
  c.instance = ctx.pipeline.instance_id;
  c.time_ns = ctx.now_ns;
  const auto sig = config_.key->sign(engine::checkpoint_signing_bytes(c));
  c.signature.assign(sig.begin(), sig.end());
  const std::vector<uint8_t> bytes = engine::encode_checkpoint(c);
  const size_t start = (b.out_arena.size() + 7) & ~size_t{7};
  b.out_arena.resize(start + bytes.size());
  std::memcpy(b.out_arena.data() + start, bytes.data(), bytes.size());
  b.outputs.push_back(engine::OutputRecord{
      engine::Route::kAttestations, frame, static_cast<uint32_t>(start),
      static_cast<uint32_t>(bytes.size()), UINT32_MAX, engine::RejectCode::kNone});
  st.leaves.clear();
  st.range_first = st.next_index;
  st.range_prev = st.head;
}

bool Provenance::seal(engine::Batch& b, engine::OperatorState* state, engine::OperatorContext& ctx,
                      std::string* error) const {
  auto& st = static_cast<ProvenanceState&>(*state);
  if (!st.resumed) {
    if (!resume(b.partition, st, ctx, error)) return false;
    st.resumed = true;
  }
  // 1. The chain, in order, and the Merkle leaves of the records as written. Trusted record j
  // of this batch is output sealed[j] and gets chain_index first + j.
  thread_local std::vector<uint32_t> sealed;
  thread_local std::vector<engine::ChainSlot> slots;
  thread_local std::vector<engine::Hash32> heads, leaves;
  sealed.clear();
  slots.clear();
  const size_t n = b.outputs.size();  // checkpoints appended below are not chained
  const uint64_t first = st.next_index;
  for (size_t i = 0; i < n; ++i) {
    const engine::OutputRecord o = b.outputs[i];
    if (o.route != engine::Route::kTrusted) continue;
    engine::ChainSlot slot{{b.out_arena.data() + o.offset, o.size}, {}};
    if (o.offset < engine::kChainHeadroom ||
        !engine::find_chain_fields(slot.record, &slot.f, false)) {
      *error = "a trusted record has no chain fields or headroom (encoder not reserving them)";
      return false;
    }
    sealed.push_back(static_cast<uint32_t>(i));
    slots.push_back(slot);
  }
  heads.resize(slots.size());
  leaves.resize(slots.size());
  engine::link_records(slots, st.head, st.next_index, heads, leaves);
  // 2. Ranges and checkpoints, in order (a checkpoint's head and range end at its last record).
  const engine::Hash32 head = st.head;
  const uint64_t next_index = st.next_index;
  for (size_t j = 0; j < sealed.size(); ++j) {
    if (st.leaves.empty()) st.range_start_mono = ctx.now_mono_ns;
    st.leaves.push_back(leaves[j]);
    if (st.leaves.size() >= config_.every_records) {
      st.head = heads[j];
      st.next_index = first + j + 1;
      checkpoint(b, b.outputs[sealed[j]].frame, st, ctx);
    }
  }
  st.head = head;
  st.next_index = next_index;
  if (!st.leaves.empty() && !b.frames.empty() &&
      ctx.now_mono_ns - st.range_start_mono >= config_.every_ms * 1'000'000)
    checkpoint(b, static_cast<uint32_t>(b.frames.size() - 1), st, ctx);
  return true;
}

void Provenance::finish(engine::Batch& b, engine::OperatorState* state,
                        engine::OperatorContext& ctx) const {
  auto& st = static_cast<ProvenanceState&>(*state);
  if (st.resumed && !st.leaves.empty()) checkpoint(b, 0, st, ctx);
}

std::unique_ptr<engine::Operator> Provenance::from_config(const engine::ConfigNode& c,
                                                          engine::BuildContext&) {
  ProvenanceConfig cfg;
  const engine::ConfigNode key = c.get("key");
  try {
    cfg.key = engine::EngineKey::load(key.as_path(), c.get_string("key_id", ""));
  } catch (const engine::ConfigError& e) {
    key.fail(e.message());
  }
  if (auto cp = c.maybe("checkpoint")) {
    cfg.every_records = static_cast<uint64_t>(cp->get_int("every_records", 10000, 1, 1 << 24));
    cfg.every_ms = cp->get_int("every_ms", 1000, 1, 86'400'000);
    cp->finish();
  }
  return std::make_unique<Provenance>(std::move(cfg));
}

}  // namespace assay::operators
