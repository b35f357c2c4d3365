#include "operators/provenance.hpp"

#include "engine/pipeline.hpp"

#include <cstring>
#include <map>

#include "engine/audit_log.hpp"
#include "engine/bytes.hpp"
#include "engine/log.hpp"
#include "engine/metrics.hpp"
#include "engine/signed_note.hpp"
#include "engine/time.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::operators {
namespace {

using engine::Attestation;
using engine::AttestationKind;
using engine::Hash32;

// A trusted record of this chain read back from the output.
struct Linked {
  size_t pos = 0;  // position among everything read back
  std::span<const uint8_t> bytes;
  engine::ChainFields f;
  uint64_t index = 0;
  Hash32 stored{}, prev{}, leaf{};
  bool hash_ok = false;  // record_hash recomputes (format v2)
  const wire::Provenance* prov = nullptr;
};

// The chain's records among `recs` (oldest first), with their v2 hashes recomputed.
bool chain_records(const std::vector<std::vector<uint8_t>>& recs, int32_t part,
                   std::vector<Linked>* mine, bool* v1, std::string* error) {
  mine->clear();
  for (size_t i = 0; i < recs.size(); ++i) {
    const auto& r = recs[i];
    flatbuffers::Verifier v(r.data(), r.size());
    if (!wire::VerifyTrustedReadingBuffer(v)) {
      *error = "the trusted route holds a record that is not a valid TrustedReading (position " +
               std::to_string(i) + " of the records read back)";
      return false;
    }
    const auto* prov = wire::GetTrustedReading(r.data())->provenance();
    if (prov == nullptr || prov->source_partition() != part) continue;
    Linked l;
    l.pos = i;
    l.bytes = r;
    l.prov = prov;
    if (!engine::find_chain_fields(r, &l.f, false)) {
      *error = "the last trusted records of partition " + std::to_string(part) +
               " have no hash chain (written without the provenance operator?); refusing to "
               "start a new chain after them";
      return false;
    }
    if (l.f.version == 1) *v1 = true;
    l.index = engine::u64_at(r, l.f.chain_index);
    l.stored = engine::hash_at(r, l.f.record_hash);
    l.prev = engine::hash_at(r, l.f.prev_hash);
    if (l.f.version == 2) {
      l.leaf = engine::record_leaf_v2(r, l.f);
      l.hash_ok = engine::chain_hash_v2(l.index, l.prev, l.leaf) == l.stored;
    }
    mine->push_back(l);
  }
  return true;
}

}  // namespace

size_t ProvenanceState::memory_bytes() const {
  size_t n = leaves.capacity() * sizeof(Hash32);
  for (const auto& p : pending) n += (p.leaves.capacity() + p.frontier.capacity()) * sizeof(Hash32);
  return n;
}

Provenance::Provenance(ProvenanceConfig config, engine::Metrics* metrics,
                       std::shared_ptr<engine::WitnessService> witness)
    : config_(std::move(config)), witness_(std::move(witness)), metrics_(metrics) {
  if (!config_.witnesses.witnesses.empty() && !witness_)
    throw std::invalid_argument("provenance with witnesses needs a witness service");
}

Provenance::~Provenance() = default;

bool Provenance::start(std::string* error) {
  if (metrics_ != nullptr && quarantined_ == nullptr)
    quarantined_ = &metrics_
                        ->counters("assay_provenance_unattested_records_total",
                                   "Trusted records found after the last record the engine can "
                                   "prove it wrote, at a chain's restart (quarantined or refused)")
                        .Add({{"pipeline", config_.witnesses.pipeline}});
  (void)error;
  return true;
}

std::string Provenance::origin_prefix(const engine::PipelineInfo& pipeline) const {
  return config_.origin.empty() ? "assay/" + pipeline.name : config_.origin;
}

bool Provenance::signed_by_engine(std::span<const uint8_t> msg,
                                  std::span<const uint8_t> sig) const {
  if (engine::verify_engine_signature(config_.key->public_key(), msg, sig)) return true;
  for (const auto& k : config_.previous_keys)
    if (engine::verify_engine_signature(k, msg, sig)) return true;
  return false;
}

bool Provenance::note_signed_by_engine(const std::string& note, const std::string& origin,
                                       engine::CheckpointBody* body) const {
  std::string text, why;
  std::vector<engine::NoteSignature> sigs;
  if (!engine::split_note(note, &text, &sigs, &why)) return false;
  std::vector<std::array<uint8_t, 32>> keys{config_.key->public_key()};
  keys.insert(keys.end(), config_.previous_keys.begin(), config_.previous_keys.end());
  bool ok = false;
  for (const auto& pk : keys) {
    engine::NoteKey k{origin, engine::note_key_id(origin, engine::kNoteEd25519, pk),
                      engine::kNoteEd25519, pk};
    for (const auto& s : sigs) ok = ok || engine::verify_note_signature(k, text, s);
  }
  return ok && engine::parse_checkpoint_body(text, body, &why) && body->origin == origin;
}

bool Provenance::resume(engine::Batch& b, ProvenanceState& st, engine::OperatorContext& ctx,
                        std::string* error) const {
  const engine::Partition part = b.partition;
  const int32_t p = part.value();
  const std::string chain = "chain of partition " + std::to_string(p);
  st.origin = engine::chain_origin(origin_prefix(ctx.pipeline), p);

  // 1. The chain's attestations: the last checkpoint, and the intents (signed heads) after it.
  std::vector<std::vector<uint8_t>> atts;
  if (!ctx.outputs->read_back(engine::Route::kAttestations, part, config_.every_records + 4096,
                              &atts, error)) {
    *error = "cannot read back the attestations route to continue the " + chain + ": " + *error;
    return false;
  }
  std::optional<Attestation> last_ck;
  std::vector<Attestation> intents;
  std::map<uint64_t, Attestation> ck_by_size;  // for witnesses that lag behind
  std::map<std::string, uint64_t> cosigned;    // witness name -> largest size it cosigned
  bool v1 = false;
  for (size_t i = 0; i < atts.size(); ++i) {
    const int version = engine::attestation_version(atts[i]);
    if (version == 1) {
      engine::CheckpointInfo ci;
      std::string why;
      if (engine::decode_checkpoint(atts[i], &ci, &why) && ci.partition == p) v1 = true;
      continue;
    }
    Attestation a;
    std::string why;
    if (version == 0 || !engine::decode_attestation(atts[i], &a, &why)) {
      *error = "the attestations route holds a record that is not an attestation (" +
               (version == 0 ? std::string("not a Checkpoint buffer") : why) +
               "); refusing to continue the " + chain;
      return false;
    }
    if (a.partition != p) continue;
    if (a.origin != st.origin) {
      *error = "the attestations of the " + chain + " belong to the log '" + a.origin +
               "', this pipeline writes the log '" + st.origin +
               "' (provenance.origin or the pipeline name changed?); refusing to continue";
      return false;
    }
    if (a.kind == AttestationKind::kCheckpoint) {
      engine::CheckpointBody body;
      engine::MerkleFrontier f;
      if (!note_signed_by_engine(a.note, a.origin, &body) || body.size != a.size ||
          body.root != a.root) {
        *error = "a checkpoint of the " + chain + " (tree size " + std::to_string(a.size) +
                 ") is not signed by this engine's key (or a previous_keys entry); refusing to "
                 "continue";
        return false;
      }
      if (!engine::MerkleFrontier::from_nodes(a.size, a.frontier, &f) || f.root() != a.root) {
        *error = "the checkpoint of the " + chain + " at tree size " + std::to_string(a.size) +
                 " carries a frontier that does not fold to its signed root";
        return false;
      }
      if (witness_) ck_by_size[a.size] = a;
      if (!last_ck || a.size > last_ck->size) last_ck = std::move(a);
    } else if (a.kind == AttestationKind::kCosigned && witness_) {
      std::string text, why2;
      std::vector<engine::NoteSignature> sigs;
      if (!engine::split_note(a.note, &text, &sigs, &why2)) continue;
      for (const auto& w : config_.witnesses.witnesses)
        for (const auto& sg : sigs)
          if (sg.name == w.key.name && sg.id == w.key.id)
            cosigned[w.key.name] = std::max(cosigned[w.key.name], a.size);
    } else if (a.kind == AttestationKind::kIntent) {
      if (!signed_by_engine(engine::intent_signing_bytes(a), a.signature)) {
        *error = "an intent of the " + chain + " (chain_index " + std::to_string(a.first) +
                 ") is not signed by this engine's key; refusing to continue";
        return false;
      }
      intents.push_back(std::move(a));
    }
  }

  // 2. The chain's records from the last checkpoint's last record on (all of them without a
  // checkpoint): the last one first, to learn how many.
  std::vector<std::vector<uint8_t>> recs;
  std::vector<Linked> mine;
  if (!ctx.outputs->read_back(engine::Route::kTrusted, part, 1, &recs, error)) {
    *error = "cannot read back the trusted route to continue the " + chain + ": " + *error;
    return false;
  }
  if (!chain_records(recs, p, &mine, &v1, error)) return false;
  if (v1) {
    *error = "the " + chain +
             " was written in provenance chain format v1; this engine writes v2 and does not "
             "continue v1 chains: write to a new trusted and attestations output (v1 streams "
             "stay verifiable with `assay verify-stream`)";
    return false;
  }
  const uint64_t n_ck = last_ck ? last_ck->size : 0;
  if (mine.empty()) {
    if (last_ck) {
      *error = "the attestations route has checkpoints for the " + chain +
               " but the trusted route has none of its records; refusing to start a new chain";
      return false;
    }
    if (witness_) witness_->seed(p, st.origin, st.tree);
    return true;  // a new chain
  }
  const uint64_t last_index = mine.back().index;
  uint64_t from = n_ck > 0 ? n_ck - 1 : 0;
  // A witness that cosigned an earlier checkpoint than the last one needs a consistency proof
  // from there: keep that checkpoint's frontier and the leaves after it (bounded).
  uint64_t witness_base = n_ck;
  for (const auto& w : config_.witnesses.witnesses) {
    auto it = cosigned.find(w.key.name);
    if (it != cosigned.end() && it->second < witness_base && ck_by_size.count(it->second) &&
        n_ck - it->second <= config_.witnesses.max_backlog_records)
      witness_base = it->second;
  }
  if (witness_base < n_ck) from = std::min(from, witness_base);
  if (last_index + 1 < n_ck) {
    *error = "the last checkpoint of the " + chain + " covers " + std::to_string(n_ck) +
             " records but the trusted route ends at chain_index " + std::to_string(last_index) +
             "; refusing to continue";
    return false;
  }
  const size_t need = static_cast<size_t>(last_index - from + 1);
  if (mine.size() < need) {
    recs.clear();
    if (!ctx.outputs->read_back(engine::Route::kTrusted, part, need, &recs, error)) {
      *error = "cannot read back the trusted route to continue the " + chain + ": " + *error;
      return false;
    }
    if (!chain_records(recs, p, &mine, &v1, error)) return false;
  }
  // The window: the records of chain_index `from` .. the end, as stored.
  size_t w0 = mine.size();
  while (w0 > 0 && mine.size() - w0 < need) --w0;
  std::span<const Linked> w(mine.data() + w0, mine.size() - w0);
  if (w.empty() || w.front().index != from) {
    *error = "cannot re-read the records of the " + chain + " from chain_index " +
             std::to_string(from) + " (the output holds a different sequence)";
    return false;
  }

  // 3. What the engine can prove it wrote: the longest run of intact, linked records from the
  // window's start, up to the last one whose record_hash an intent (a signed head) names.
  size_t intact = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const bool linked = i == 0 ? (w[0].index != 0 || w[0].prev == Hash32{})
                               : w[i].index == w[i - 1].index + 1 && w[i].prev == w[i - 1].stored;
    if (!w[i].hash_ok || !linked) break;
    intact = i + 1;
  }
  int64_t proven = -1;  // position in w
  for (const Attestation& in : intents) {
    if (in.size == 0 || in.first + in.size - 1 < w.front().index) continue;
    const uint64_t end = in.first + in.size - 1;
    const uint64_t j = end - w.front().index;
    if (j >= intact || w[j].stored != in.head) continue;
    if (in.first > w.front().index && w[in.first - 1 - w.front().index].stored != in.prev_head)
      continue;
    proven = std::max<int64_t>(proven, static_cast<int64_t>(j));
  }
  if (n_ck > 0 && proven < 0) {
    *error = "no signed head of this engine matches the record at chain_index " +
             std::to_string(from) + ", the last one of the " + chain +
             "'s last checkpoint: the record was altered, or the attestations are incomplete; "
             "refusing to continue";
    return false;
  }
  // Records after the proven one, of this chain or any other (a file holds every chain).
  const size_t keep_pos = proven >= 0 ? w[static_cast<size_t>(proven)].pos : SIZE_MAX;
  const size_t unproven_stored = keep_pos == SIZE_MAX ? recs.size() : recs.size() - 1 - keep_pos;
  if (unproven_stored > 0) {
    const uint64_t first_bad = proven >= 0 ? w[static_cast<size_t>(proven)].index + 1 : 0;
    size_t mine_bad = 0, others = 0;
    for (size_t i = keep_pos == SIZE_MAX ? 0 : keep_pos + 1; i < recs.size(); ++i) {
      const auto* prov = wire::GetTrustedReading(recs[i].data())->provenance();
      if (prov != nullptr && prov->source_partition() == p)
        ++mine_bad;
      else
        ++others;
    }
    const std::string what =
        std::to_string(mine_bad) + " record(s) of the " + chain + " from chain_index " +
        std::to_string(first_bad) +
        " follow the last record the engine can prove it wrote (its last signed head, "
        "chain_index " +
        (proven >= 0 ? std::to_string(first_bad - 1) : std::string("none")) +
        "): written by someone else, altered, or left by a crash without their intent";
    if (quarantined_ != nullptr) quarantined_->Increment(static_cast<double>(mine_bad));
    std::string where, why;
    const bool moved = others == 0 && ctx.outputs->quarantine_tail(engine::Route::kTrusted, part,
                                                                   unproven_stored, &where, &why);
    if (others > 0) why = "the records after it include other chains' records";
    engine::AuditDetails details{{"partition", std::to_string(p)},
                                 {"origin", st.origin},
                                 {"first_chain_index", std::to_string(first_bad)},
                                 {"records", std::to_string(mine_bad)},
                                 {"output", ctx.outputs->describe(engine::Route::kTrusted)}};
    if (moved) details.emplace_back("moved_to", where);
    if (ctx.pipeline.audit)
      ctx.pipeline.audit->record(moved ? "provenance.tail_quarantined" : "provenance.tail_refused",
                                 details);
    engine::log_error("provenance",
                      moved
                          ? "records the engine cannot prove it wrote were set aside, not attested"
                          : "records the engine cannot prove it wrote; refusing to attest them",
                      {{"partition", std::to_string(p)},
                       {"first_chain_index", std::to_string(first_bad)},
                       {"records", std::to_string(mine_bad)},
                       {moved ? "moved_to" : "reason", moved ? where : why}});
    if (!moved) {
      *error = what + "; refusing to attest them (" + why +
               "): move them out of the output or write to a new one";
      return false;
    }
    w = w.subspan(0, static_cast<size_t>(proven + 1));
  }
  if (proven < 0) {  // nothing of this chain remains
    if (witness_) witness_->seed(p, st.origin, st.tree);
    return true;
  }
  const Linked& last = w[static_cast<size_t>(proven)];

  // 4. A file input read again from its start would append a second copy of what the chain
  // already holds: refused (docs/provenance.md). A file source's topic is its absolute path;
  // Kafka topic names cannot contain '/'.
  if (!b.frames.empty() && last.prov->source_topic() != nullptr &&
      last.prov->source_topic()->string_view() == b.topic && !b.topic.empty() &&
      b.topic.front() == '/' &&
      b.frames.front().source_offset.value() <= last.prov->source_offset()) {
    *error = "the " + chain + " already holds the records of input file " + b.topic +
             " up to frame " + std::to_string(last.prov->source_offset()) +
             " (this run starts at frame " +
             std::to_string(b.frames.front().source_offset.value()) +
             "); refusing to append a second copy. To process only the frames after them, set "
             "`start_offset: " +
             std::to_string(last.prov->source_offset() + 1) +
             "` on the input; to process the file again, write to a new output";
    return false;
  }

  // 5. Continue: the log up to the last checkpoint (its signed frontier), then the proven
  // records after it form the open range.
  if (last_ck) engine::MerkleFrontier::from_nodes(last_ck->size, last_ck->frontier, &st.tree);
  std::vector<Hash32> lagging;  // leaves [witness_base, n_ck), for witnesses behind
  for (const Linked& l : w) {
    if (l.index >= st.tree.size())
      st.leaves.push_back(l.leaf);
    else if (l.index >= witness_base)
      lagging.push_back(l.leaf);
  }
  st.head = last.stored;
  st.next_index = last.index + 1;
  if (!st.leaves.empty()) st.range_start_mono = ctx.now_mono_ns;
  if (witness_) {
    engine::MerkleFrontier base = st.tree;
    if (witness_base < n_ck && lagging.size() == n_ck - witness_base) {
      const Attestation& b0 = ck_by_size[witness_base];
      engine::MerkleFrontier::from_nodes(b0.size, b0.frontier, &base);
    } else {
      lagging.clear();
    }
    witness_->seed(p, st.origin, base, lagging, last_ck ? last_ck->note : std::string(),
                   st.tree.size(), st.tree.root());
  }
  engine::log_info("provenance", "chain continued",
                   {{"partition", std::to_string(p)},
                    {"next_index", std::to_string(st.next_index)},
                    {"tree_size", std::to_string(st.tree.size())},
                    {"uncheckpointed", std::to_string(st.leaves.size())}});
  return true;
}

void Provenance::close_range(ProvenanceState& st) const {
  PendingCheckpoint pc;
  st.tree.append(st.leaves);
  pc.size = st.tree.size();
  pc.root = st.tree.root();
  pc.head = st.head;
  pc.frontier = st.tree.nodes();
  if (witness_) pc.leaves = std::move(st.leaves);
  st.leaves.clear();
  st.pending.push_back(std::move(pc));
}

void Provenance::add_output(engine::Batch& b, uint32_t frame, const std::vector<uint8_t>& bytes,
                            std::vector<engine::OutputRecord>* out) const {
  const size_t start = (b.out_arena.size() + 7) & ~size_t{7};
  b.out_arena.resize(start + bytes.size());
  std::memcpy(b.out_arena.data() + start, bytes.data(), bytes.size());
  out->push_back(engine::OutputRecord{
      engine::Route::kAttestations, frame, static_cast<uint32_t>(start),
      static_cast<uint32_t>(bytes.size()), UINT32_MAX, engine::RejectCode::kNone, 0});
}

void Provenance::emit_pending(engine::Batch& b, uint32_t frame, ProvenanceState& st,
                              engine::OperatorContext& ctx,
                              std::vector<engine::OutputRecord>* out) const {
  const int32_t p = b.partition.value();
  std::vector<PendingCheckpoint> pending;
  pending.swap(st.pending);
  for (PendingCheckpoint& pc : pending) {
    Attestation a;
    a.kind = AttestationKind::kCheckpoint;
    a.partition = p;
    a.origin = st.origin;
    a.size = pc.size;
    a.root = pc.root;
    a.head = pc.head;
    a.frontier = std::move(pc.frontier);
    const std::string body = engine::format_checkpoint_body({st.origin, pc.size, pc.root, {}});
    a.note = body + "\n" +
             engine::note_signature_line(
                 st.origin, config_.key->public_key(),
                 [&](std::span<const uint8_t> m) { return config_.key->sign(m); }, body);
    a.key_id = config_.key->key_id();
    a.topic = ctx.outputs->describe(engine::Route::kTrusted);
    a.pipeline = ctx.pipeline.name;
    a.instance = ctx.pipeline.instance_id;
    a.time_ns = ctx.now_ns;
    add_output(b, frame, engine::encode_attestation(a), out);
    if (witness_) witness_->submit(p, st.origin, a.note, a.size, a.root, pc.leaves);
  }
  if (!witness_) return;
  for (const auto& c : witness_->take(p)) {
    Attestation a;
    a.kind = AttestationKind::kCosigned;
    a.partition = p;
    a.origin = c.origin;
    a.size = c.size;
    a.root = c.root;
    a.note = c.note;
    a.key_id = config_.key->key_id();
    a.topic = ctx.outputs->describe(engine::Route::kTrusted);
    a.pipeline = ctx.pipeline.name;
    a.instance = ctx.pipeline.instance_id;
    a.time_ns = ctx.now_ns;
    add_output(b, frame, engine::encode_attestation(a), out);
  }
}

bool Provenance::seal(engine::Batch& b, engine::OperatorState* state, engine::OperatorContext& ctx,
                      std::string* error) const {
  auto& st = static_cast<ProvenanceState&>(*state);
  if (!st.resumed) {
    if (!resume(b, st, ctx, error)) return false;
    st.resumed = true;
  }
  // Checkpoints computed in earlier batches: the records they cover have been handed to the
  // sink since, so they can be written now (before this batch's records).
  thread_local std::vector<engine::OutputRecord> front;
  front.clear();
  const uint32_t frame = 0;
  const Hash32 prev_head = st.head;
  const uint64_t first = st.next_index;
  // 1. The chain, in order: one fixed-size hash per record (its leaf was computed by the
  // parallel encode stage). Ranges close on the way; their checkpoints wait for the next batch.
  std::vector<PendingCheckpoint> earlier;
  earlier.swap(st.pending);
  for (const engine::OutputRecord& o : b.outputs) {
    if (o.route != engine::Route::kTrusted) continue;
    uint8_t* rec = b.out_arena.data() + o.offset;
    const engine::PreparedRecord pr =
        o.offset >= engine::kChainHeadroom ? engine::read_prepared(rec) : engine::PreparedRecord{};
    if (!pr.ok) {
      *error = "a trusted record has no chain fields or headroom (encoder not reserving them)";
      return false;
    }
    st.head = engine::link_record_v2(rec, pr, st.next_index, st.head);
    ++st.next_index;
    if (st.leaves.empty()) st.range_start_mono = ctx.now_mono_ns;
    st.leaves.push_back(pr.leaf);
    if (st.leaves.size() >= config_.every_records) close_range(st);
  }
  if (!st.leaves.empty() && ctx.now_mono_ns - st.range_start_mono >= config_.every_ms * 1'000'000)
    close_range(st);
  // 2. The intent: the range this batch adds and the head it ends at, signed, written before
  // the batch's records (docs/provenance.md, "Restarts").
  const uint64_t count = st.next_index - first;
  if (count > 0) {
    Attestation in;
    in.kind = AttestationKind::kIntent;
    in.partition = b.partition.value();
    in.origin = st.origin;
    in.first = first;
    in.size = count;
    in.head = st.head;
    in.prev_head = prev_head;
    const auto sig = config_.key->sign(engine::intent_signing_bytes(in));
    in.signature.assign(sig.begin(), sig.end());
    in.key_id = config_.key->key_id();
    in.topic = ctx.outputs->describe(engine::Route::kTrusted);
    in.pipeline = ctx.pipeline.name;
    in.instance = ctx.pipeline.instance_id;
    in.time_ns = ctx.now_ns;
    add_output(b, frame, engine::encode_attestation(in), &front);
  }
  // 3. Then the checkpoints of earlier batches and the cosignatures witnesses returned.
  std::vector<PendingCheckpoint> now_pending;
  now_pending.swap(st.pending);
  st.pending = std::move(earlier);
  emit_pending(b, frame, st, ctx, &front);
  st.pending = std::move(now_pending);
  if (!front.empty()) b.outputs.insert(b.outputs.begin(), front.begin(), front.end());
  return true;
}

void Provenance::finish(engine::Batch& b, engine::OperatorState* state,
                        engine::OperatorContext& ctx) const {
  auto& st = static_cast<ProvenanceState&>(*state);
  if (!st.resumed) return;
  if (!st.leaves.empty()) close_range(st);
  std::vector<engine::OutputRecord> out;
  emit_pending(b, 0, st, ctx, &out);
  if (witness_) {
    // One wait for every partition of a stop: the first call sets the deadline.
    const int64_t now = engine::monotonic_ns();
    int64_t deadline = finish_deadline_.load();
    if (now > deadline + config_.final_wait_ms * 1'000'000) {
      deadline = now + config_.final_wait_ms * 1'000'000;
      finish_deadline_.store(deadline);
    }
    witness_->wait_idle(b.partition.value(), deadline);
    emit_pending(b, 0, st, ctx, &out);
  }
  b.outputs.insert(b.outputs.end(), out.begin(), out.end());
}

std::unique_ptr<engine::Operator> Provenance::from_config(const engine::ConfigNode& c,
                                                          engine::BuildContext& ctx) {
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
  if (auto o = c.maybe("origin")) {
    cfg.origin = o->as_string();
    if (!engine::valid_note_key_name(engine::chain_origin(cfg.origin, 0)))
      o->fail("not a valid log origin prefix (non-empty, no spaces, no '+')");
  } else if (!engine::valid_note_key_name(engine::chain_origin("assay/" + ctx.pipeline.name, 0))) {
    c.fail("the pipeline name '" + ctx.pipeline.name +
           "' cannot name a log (spaces or '+'): set provenance.origin");
  }
  if (auto pk = c.maybe("previous_keys")) {
    for (const auto& k : pk->items()) {
      std::array<uint8_t, 32> pub{};
      const std::string text = k.as_string();
      const std::string arg = text.size() == 64 && engine::from_hex(text) ? text : k.as_path();
      std::string why;
      if (!engine::parse_engine_public_key(arg, &pub, &why)) k.fail(why);
      cfg.previous_keys.push_back(pub);
    }
  }
  cfg.witnesses.pipeline = ctx.pipeline.name;
  if (auto ws = c.maybe("witnesses")) {
    for (const auto& w : ws->items()) {
      engine::WitnessConfig wc;
      wc.url = w.get("url").as_string();
      if (wc.url.rfind("http://", 0) != 0 && wc.url.rfind("https://", 0) != 0)
        w.get("url").fail("a witness URL must start with http:// or https://");
      while (!wc.url.empty() && wc.url.back() == '/') wc.url.pop_back();
      std::string why;
      const engine::ConfigNode kn = w.get("key");
      if (!engine::parse_vkey(kn.as_string(), &wc.key, &why)) kn.fail(why);
      if (wc.key.type != engine::kNoteCosignature)
        kn.fail("a witness key must be a cosignature key (signature type 0x04)");
      wc.timeout_ms = static_cast<int>(w.get_int("timeout_ms", 5000, 100, 600000));
      w.finish();
      cfg.witnesses.witnesses.push_back(std::move(wc));
    }
  }
  if (auto wo = c.maybe("witness_options")) {
    cfg.final_wait_ms = wo->get_int("final_wait_ms", 5000, 0, 600000);
    cfg.witnesses.max_backlog_records =
        static_cast<size_t>(wo->get_int("max_backlog_records", 1 << 20, 1024, int64_t{1} << 28));
    cfg.witnesses.retry_ms = static_cast<int>(wo->get_int("retry_ms", 1000, 10, 600000));
    wo->finish();
  }
  std::shared_ptr<engine::WitnessService> witness;
  if (!cfg.witnesses.witnesses.empty()) {
    if (!ctx.factories || !ctx.factories->witness)
      c.get("witnesses").fail("this build has no witness client");
    witness = ctx.factories->witness(cfg.witnesses, &ctx.metrics);
    ctx.services.add("witness:" + ctx.pipeline.name, witness);
  }
  return std::make_unique<Provenance>(std::move(cfg), &ctx.metrics, std::move(witness));
}

}  // namespace assay::operators
