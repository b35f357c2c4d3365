// Fuzz target: the audit-log verifier (engine/audit_verify.*) as `assay verify-audit` runs it:
// the input is an audit log file (framed AuditEvent records, read from a memfd with the
// framed-file reader), checked against the pinned public key of the examples' TEST engine key
// (examples/testdata/engine.pub; the seeds are logs signed with it). Properties: one type per
// record, findings in record order, ok exactly when there are no findings, and the same
// report again for the same records.
#include <string>

#include "engine/audit_verify.hpp"
#include "engine/framing.hpp"
#include "engine/signing_key.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay;

namespace {

std::array<uint8_t, 32> g_key{};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  std::string error;
  if (!engine::parse_engine_public_key(
          std::string(ASSAY_SOURCE_DIR) + "/examples/testdata/engine.pub", &g_key, &error))
    std::abort();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static fuzz::MemFile file("fuzz_audit");
  file.set(std::span<const uint8_t>(data, size));
  const auto records = engine::read_frame_file(file.path(), UINT32_MAX);
  const std::array<std::array<uint8_t, 32>, 1> keys{g_key};
  const engine::AuditVerifyReport rep = engine::verify_audit_log(records, keys);
  fuzz::check(rep.records == records.size() && rep.types.size() == records.size(),
              "audit report miscounts records");
  fuzz::check(rep.ok == rep.findings.empty(), "audit ok disagrees with its findings");
  for (size_t i = 1; i < rep.findings.size(); ++i)
    fuzz::check(rep.findings[i - 1].position <= rep.findings[i].position,
                "audit findings out of order");
  for (const auto& f : rep.findings) fuzz::check(f.position < records.size(), "finding past the end");
  const engine::AuditVerifyReport again = engine::verify_audit_log(records, keys);
  fuzz::check(again.findings.size() == rep.findings.size() && again.ok == rep.ok,
              "audit verification is not deterministic");
  return 0;
}
