#include "metrology/results_verify.hpp"

#include <set>
#include <tuple>

#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "schemas/audit_event_generated.h"

namespace assay::metrology {

ResultsReport verify_results(const std::vector<std::vector<uint8_t>>& records,
                             const std::vector<std::array<uint8_t, 32>>& keys,
                             const std::vector<std::vector<uint8_t>>* audit) {
  ResultsReport rep;
  std::set<std::string> ids;
  std::set<std::tuple<std::string, int32_t, int64_t, uint32_t>> evidence;
  std::set<std::vector<uint8_t>> audited;
  if (audit != nullptr) audited.insert(audit->begin(), audit->end());
  for (size_t i = 0; i < records.size(); ++i) {
    auto finding = [&](const char* code, const std::string& msg) {
      rep.findings.push_back({i, code, msg});
    };
    std::string err;
    auto r = decode_result(records[i], &err);
    if (!r) {
      finding("malformed", err);
      continue;
    }
    const std::string who = "result '" + r->result_id + "'";
    bool signed_ok = false;
    for (const auto& k : keys) signed_ok = signed_ok || verify_result(*r, k);
    if (!signed_ok)
      finding("bad_signature", who + ": the signature does not verify under a pinned key");
    const operators::DecisionRule rule = r->decision_rule == "simple"
                                             ? operators::DecisionRule::kSimple
                                             : operators::DecisionRule::kGuarded;
    if (r->decision_rule != "simple" && r->decision_rule != "guarded")
      finding("inconsistent_case", who + ": unknown decision rule '" + r->decision_rule + "'");
    for (const CaseResult& c : r->cases) {
      std::string why;
      if (!recheck_case(c, rule, &why)) finding("inconsistent_case", who + ": " + why);
      if (c.evidence) {
        const auto key = std::make_tuple(c.evidence->source_topic, c.evidence->source_partition,
                                         c.evidence->source_offset, c.evidence->reading_index);
        if (!evidence.insert(key).second)
          finding("evidence_reused", who + ": case '" + c.case_id + "': the response at " +
                                         c.evidence->source_topic + "/" +
                                         std::to_string(c.evidence->source_partition) + "@" +
                                         std::to_string(c.evidence->source_offset) +
                                         " is already the evidence of another case");
      }
    }
    const Outcome expect = aggregate(r->cases);
    if (expect != r->outcome)
      finding("inconsistent_outcome", who + ": the cases give " +
                                          std::string(outcome_name(expect)) + ", the record says " +
                                          std::string(outcome_name(r->outcome)));
    std::string expect_reason = "no_response";
    for (const CaseResult& c : r->cases)
      if (c.outcome == r->outcome) {
        expect_reason = c.reason;
        break;
      }
    if (expect_reason != r->reason)
      finding("inconsistent_outcome", who + ": the deciding case's reason is " + expect_reason +
                                          ", the record says " + r->reason);
    if (!ids.insert(r->result_id).second)
      finding("duplicate_result", who + " appears more than once");
    if (audit != nullptr && audited.count(records[i]) == 0)
      finding("not_in_audit_log", who + " is not the record the audit log holds for it");
    rep.by_outcome[r->outcome]++;
    rep.results.push_back(std::move(*r));
    rep.positions.push_back(i);
  }
  return rep;
}

bool results_from_audit_log(const std::string& path, std::vector<std::vector<uint8_t>>* out,
                            std::string* error) {
  engine::FrameReader reader(UINT32_MAX);
  if (!reader.open(path)) {
    *error = "cannot read " + path;
    return false;
  }
  for (;;) {
    std::vector<uint8_t> rec;
    uint32_t len = 0;
    uint64_t declared = 0;
    const engine::FrameStatus st = reader.next(rec, len, declared);
    if (st == engine::FrameStatus::kEnd) break;
    if (st != engine::FrameStatus::kOk) {
      *error = path + ": truncated or garbled frame at byte " +
               std::to_string(reader.frame_position()) + " (check it with assay verify-audit)";
      return false;
    }
    flatbuffers::Verifier v(rec.data(), rec.size());
    if (rec.size() < 8 || !wire::AuditEventBufferHasIdentifier(rec.data()) ||
        !wire::VerifyAuditEventBuffer(v))
      continue;
    const auto* e = wire::GetAuditEvent(rec.data());
    if (e->type()->string_view() != "verification.result" || e->details() == nullptr) continue;
    for (const auto* d : *e->details())
      if (d->key() != nullptr && d->key()->string_view() == "record" && d->value() != nullptr)
        if (auto bytes = engine::from_base64(d->value()->string_view()))
          out->push_back(std::move(*bytes));
  }
  return true;
}

}  // namespace assay::metrology
