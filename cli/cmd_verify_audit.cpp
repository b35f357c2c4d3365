// `assay verify-audit FILE --public-key K`: verifies an audit log file (engine/audit_verify.hpp).
// The lead routes `assay verify-stream --audit FILE --public-key K` here.
#include <cstdio>

#include "cli/args.hpp"
#include "cli/commands.hpp"
#include "engine/audit_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/framing.hpp"
#include "engine/signing_key.hpp"
#include "engine/time.hpp"
#include "schemas/audit_event_generated.h"

namespace assay::cli {
using namespace assay::engine;  // NOLINT: the tool is a thin layer over the engine

namespace {

// "engine.start seq=0 time=... key=value ..." for an event the verifier could decode.
std::string describe(const std::vector<uint8_t>& record) {
  const auto* e = wire::GetAuditEvent(record.data());
  std::string s = e->type()->str() + " seq=" + std::to_string(e->seq()) +
                  " time=" + format_rfc3339(e->time_ns());
  if (e->details() == nullptr) return s;
  for (const auto* d : *e->details()) {
    const std::string v = d->value() != nullptr ? d->value()->str() : std::string();
    const bool quote = v.empty() || v.find_first_of(" \"=") != std::string::npos;
    s += " " + (d->key() != nullptr ? d->key()->str() : std::string()) + "=" +
         (quote ? "\"" + v + "\"" : v);
  }
  return s;
}

}  // namespace

int cmd_verify_audit(int argc, char** argv) {
  Args args(
      "assay verify-audit FILE --public-key K [--public-key K2 ...] [--quiet]",
      "Verifies an Assay audit log file (frames of AuditEvent records): every event decodes,\n"
      "matches its record_hash, is signed by a pinned engine key, and the events of each log\n"
      "run seq 0, 1, 2, ... each linked to the previous one's hash. Names the position, byte\n"
      "offset and seq of every broken place. Exit 0 if the log verifies, 1 if not, 2 on a\n"
      "usage error. (Also reachable as `assay verify-stream --audit FILE --public-key K`.)");
  args.positional("FILE", "audit log file")
      .multi("public-key", "pinned engine public key: 64 hex chars, or a .pub PEM / hex file")
      .flag("quiet", "print only findings and the verdict, not one line per event");
  if (int rc = handle_parse(args, argc, argv); rc >= 0) return rc;
  std::vector<std::array<uint8_t, 32>> keys;
  if (int rc = pinned_engine_keys(args, "the engine key the log must be signed with", &keys); rc >= 0) return rc;
  const std::string path = args.get("FILE");
  FrameReader reader(UINT32_MAX);
  if (!reader.open(path)) {
    std::fprintf(stderr, "error: cannot read %s\n", path.c_str());
    return kExitUsage;
  }
  // Every frame, remembering where each starts; a broken frame ends the readable part. The
  // reader never allocates more than the file holds, whatever a length prefix claims.
  std::vector<std::vector<uint8_t>> records;
  std::vector<size_t> at;
  std::string framing_error;
  for (;;) {
    std::vector<uint8_t> rec;
    uint32_t len = 0;
    uint64_t declared = 0;
    const FrameStatus st = reader.next(rec, len, declared);
    if (st == FrameStatus::kEnd) break;
    if (st != FrameStatus::kOk) {
      framing_error = "position " + std::to_string(records.size()) + " (byte " +
                      std::to_string(reader.frame_position()) + "): " +
                      (st == FrameStatus::kIoError
                           ? "read error: " + reader.error()
                           : "truncated or garbled frame (declares " + std::to_string(declared) +
                                 " bytes, " + std::to_string(len) + " present)") +
                      "; nothing after it can be read";
      break;
    }
    at.push_back(static_cast<size_t>(reader.frame_position()));
    records.push_back(std::move(rec));
  }
  const AuditVerifyReport rep = verify_audit_log(records, keys);
  if (!args.has("quiet")) {
    for (size_t i = 0; i < records.size(); ++i)
      std::printf("position %zu (byte %zu): %s\n", i, at[i],
                  rep.types[i].empty() ? "(undecodable)" : describe(records[i]).c_str());
  }
  for (const AuditFinding& f : rep.findings)
    std::printf("FAIL %s: %s [byte %zu]\n", f.code.c_str(), f.message.c_str(), at[f.position]);
  if (!framing_error.empty()) std::printf("FAIL framing: %s\n", framing_error.c_str());
  for (const AuditChainSummary& c : rep.chains)
    std::printf("log %s: %llu events, last seq %llu, head %s\n", c.log_id.c_str(),
                static_cast<unsigned long long>(c.events),
                static_cast<unsigned long long>(c.last_seq), to_hex(c.head).c_str());
  const bool ok = rep.ok && framing_error.empty() && !records.empty();
  if (records.empty() && framing_error.empty())
    std::printf("FAIL: %s holds no events\n", path.c_str());
  std::printf("%s: %s (%zu events, %zu findings)\n", ok ? "ok" : "FAILED", path.c_str(),
              records.size(), rep.findings.size() + (framing_error.empty() ? 0 : 1));
  return ok ? kExitOk : kExitFailure;
}

}  // namespace assay::cli
