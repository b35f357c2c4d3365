#include "engine/audit_verify.hpp"

#include <cstring>
#include <map>

#include "engine/audit_log.hpp"
#include "engine/bytes.hpp"
#include "engine/signing_key.hpp"
#include "schemas/audit_event_generated.h"

namespace assay::engine {

namespace {

struct ChainState {
  uint64_t expected_seq = 0;
  std::array<uint8_t, 32> prev{};
  size_t index = 0;  ///< into report.chains
};

bool verifies(std::span<const std::array<uint8_t, 32>> keys, std::span<const uint8_t> msg,
              std::span<const uint8_t> sig) {
  for (const auto& k : keys)
    if (verify_engine_signature(k, msg, sig)) return true;
  return false;
}

}  // namespace

AuditVerifyReport verify_audit_log(const std::vector<std::vector<uint8_t>>& records,
                                   std::span<const std::array<uint8_t, 32>> public_keys) {
  AuditVerifyReport rep;
  rep.records = records.size();
  rep.types.resize(records.size());
  std::map<std::string, ChainState> chains;
  auto add = [&](size_t pos, const wire::AuditEvent* e, std::string code, std::string msg) {
    AuditFinding f;
    f.position = pos;
    f.has_seq = e != nullptr;
    f.seq = e != nullptr ? e->seq() : 0;
    f.code = std::move(code);
    f.message = "position " + std::to_string(pos) +
                (e != nullptr ? ", seq " + std::to_string(e->seq()) : std::string()) + ": " + msg;
    rep.findings.push_back(std::move(f));
    rep.ok = false;
  };
  std::vector<uint64_t> aligned;
  for (size_t pos = 0; pos < records.size(); ++pos) {
    const auto& r = records[pos];
    aligned.assign(r.size() / 8 + 1, 0);
    if (!r.empty())
      std::memcpy(aligned.data(), r.data(), r.size());  // a zero-length frame has no data
    const auto* bytes = reinterpret_cast<const uint8_t*>(aligned.data());
    flatbuffers::Verifier v(bytes, r.size());
    if (r.size() < 8 || !wire::AuditEventBufferHasIdentifier(bytes) ||
        !wire::VerifyAuditEventBuffer(v)) {
      add(pos, nullptr, "malformed", "not a valid AuditEvent buffer");
      continue;
    }
    const wire::AuditEvent* e = wire::GetAuditEvent(bytes);
    rep.types[pos] = e->type()->str();
    if (e->prev_hash() == nullptr || e->prev_hash()->size() != 32 || e->record_hash() == nullptr ||
        e->record_hash()->size() != 32 || e->signature() == nullptr ||
        e->signature()->size() != 64) {
      add(pos, e, "malformed", "prev_hash, record_hash or signature missing or of the wrong size");
      continue;
    }
    const std::span<const uint8_t> prev(e->prev_hash()->data(), 32);
    const std::span<const uint8_t> stored(e->record_hash()->data(), 32);
    const auto hash = audit_record_hash(prev, audit_canonical_bytes(*e));
    const bool hash_ok = std::memcmp(hash.data(), stored.data(), 32) == 0;
    if (!hash_ok)
      add(pos, e, "hash_mismatch", "the event's content does not match its record_hash (altered)");
    if (!verifies(public_keys, stored, {e->signature()->data(), 64}))
      add(pos, e, "bad_signature",
          "the signature (key id '" +
              (e->engine_key_id() != nullptr ? e->engine_key_id()->str() : std::string()) +
              "') does not verify under any pinned engine key");

    const std::string log_id = e->log_id() != nullptr ? e->log_id()->str() : std::string();
    auto [it, fresh] = chains.try_emplace(log_id);
    ChainState& st = it->second;
    if (fresh) {
      st.index = rep.chains.size();
      rep.chains.push_back(AuditChainSummary{log_id, 0, 0, {}});
    }
    if (e->seq() != st.expected_seq) {
      if (fresh)
        add(pos, e, "chain_start_missing",
            "the first event of log '" + log_id + "' has seq " + std::to_string(e->seq()) +
                ", expected 0 (events before it are missing)");
      else if (e->seq() > st.expected_seq)
        add(pos, e, "seq_gap",
            "expected seq " + std::to_string(st.expected_seq) + ": events " +
                std::to_string(st.expected_seq) + ".." + std::to_string(e->seq() - 1) +
                " are missing (deleted or reordered)");
      else
        add(pos, e, "seq_out_of_order",
            "expected seq " + std::to_string(st.expected_seq) +
                " (duplicated, inserted or reordered event)");
    } else if (std::memcmp(prev.data(), st.prev.data(), 32) != 0) {
      add(pos, e, "chain_break",
          fresh ? std::string("the first event's prev_hash is not zero")
                : "prev_hash does not equal the record_hash of seq " +
                      std::to_string(st.expected_seq - 1) + " (inserted or altered event)");
    }
    st.expected_seq = e->seq() + 1;
    std::memcpy(st.prev.data(), stored.data(), 32);
    AuditChainSummary& cs = rep.chains[st.index];
    ++cs.events;
    cs.last_seq = e->seq();
    std::memcpy(cs.head.data(), stored.data(), 32);
  }
  return rep;
}

}  // namespace assay::engine
