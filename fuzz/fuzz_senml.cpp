// Fuzz target: SenML packs (formats/senml.*), CBOR and JSON, and the replay checker
// (formats/senml_check.*). The first byte picks the representation and the policy; the rest
// is one or more packs separated by "\n--\n", checked in order against one replay state whose
// snapshot must survive a restore unchanged. The input is also offered to
// SenmlReplayState::restore.
#include <cmath>

#include "formats/senml.hpp"
#include "formats/senml_check.hpp"
#include "fuzz/fuzz_util.hpp"

using namespace assay::formats;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t policy = data[0];
  const std::span<const uint8_t> input(data + 1, size - 1);
  SenmlParseOptions opts;
  opts.accept_non_numeric = (policy & 2) != 0;
  if (policy & 4) {
    opts.max_records = 3;
    opts.max_fields = 4;
    opts.max_name_bytes = 8;
    opts.max_string_bytes = 8;
    opts.max_depth = 1;
  }
  SenmlCheckConfig cfg;
  if (policy & 8) cfg.max_sensors = 2;
  const SenmlReplayChecker checker(cfg);
  SenmlReplayState state;
  SenmlPack pack;
  for (const auto piece : assay::fuzz::split(input, "\n--\n")) {
    const SenmlError e = (policy & 1) ? parse_senml_json(piece, opts, pack)
                                      : parse_senml_cbor(piece, opts, pack);
    (void)senml_error_name(e);
    if (e != SenmlError::kNone) continue;
    assay::fuzz::check(!pack.records.empty(), "empty pack accepted");
    for (const SenmlRecord& r : pack.records) {
      assay::fuzz::check(!r.name.empty(), "record without a name accepted");
      if (r.kind == SenmlValueKind::kNumber) assay::fuzz::check(std::isfinite(r.value), "non-finite value");
    }
    (void)senml_check_name(checker.check(state, pack).check);
  }
  const std::vector<uint8_t> snap = state.snapshot();
  SenmlReplayState copy;
  assay::fuzz::check(copy.restore(snap), "SenML snapshot does not restore");
  assay::fuzz::check(copy.snapshot() == snap, "SenML snapshot changes on restore");
  SenmlReplayState outside;
  if (outside.restore(input)) {
    SenmlReplayState again;
    assay::fuzz::check(again.restore(outside.snapshot()), "restored SenML snapshot does not restore");
  }
  return 0;
}
