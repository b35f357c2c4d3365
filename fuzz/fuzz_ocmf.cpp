// Fuzz target: OCMF records (formats/ocmf.*) and the plausibility checker (formats/ocmf_check.*).
// The input is one or more records separated by '\n' (a meter's series): each is parsed with
// the lenient and the strict type policy; the parsed ones run through one checker state in
// order, whose snapshot must survive a restore unchanged. The whole input is also offered to
// OcmfCheckState::restore (snapshots come back from a changelog).
#include <string>

#include "formats/ocmf.hpp"
#include "formats/ocmf_check.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> input(data, size);
  OcmfParseOptions lenient;
  OcmfParseOptions strict;
  strict.lenient_types = false;
  strict.allow_legacy_curves = true;
  const OcmfChecker checker;
  OcmfCheckConfig tight;
  tight.max_meters = 2;
  tight.max_registers = 2;
  tight.reject_informative = true;
  const OcmfChecker tight_checker(tight);
  OcmfCheckState state, tight_state;
  OcmfRecord record;
  std::string signer_buf;
  for (const auto piece : assay::fuzz::split(input, "\n")) {
    (void)ocmf_error_name(parse_ocmf(piece, strict, record));
    const OcmfError e = parse_ocmf(piece, lenient, record);
    (void)ocmf_error_name(e);
    if (e != OcmfError::kNone) continue;
    const std::string_view signer = ocmf_signer_id(record, signer_buf);
    (void)ocmf_algorithm_name(record.algorithm);
    for (const auto& r : record.readings) (void)ocmf_unit_to_ucum(r.unit);
    const OcmfCheckResult res = checker.check(state, record, signer);
    (void)ocmf_check_name(res.first);
    (void)tight_checker.check(tight_state, record, signer);
  }
  // Snapshots are deterministic and round-trip.
  const std::vector<uint8_t> snap = state.snapshot();
  OcmfCheckState copy;
  assay::fuzz::check(copy.restore(snap), "OCMF snapshot does not restore");
  assay::fuzz::check(copy.snapshot() == snap, "OCMF snapshot changes on restore");
  // A snapshot from outside: refused, or restored into a state whose snapshot restores again.
  OcmfCheckState outside;
  if (outside.restore(input)) {
    const std::vector<uint8_t> again = outside.snapshot();
    OcmfCheckState copy2;
    assay::fuzz::check(copy2.restore(again), "restored OCMF snapshot does not restore again");
  }
  return 0;
}
