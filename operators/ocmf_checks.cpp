#include "operators/ocmf_checks.hpp"

#include "operators/format_checks.hpp"

namespace assay::operators {

using engine::Batch;
using engine::RejectCode;

namespace {

// Per-partition state: the checker's per-meter memory (snapshot "AOCM").
using OcmfChecksState =
    FormatCheckState<formats::OcmfCheckState, &formats::OcmfCheckState::meter_count, 256>;

}  // namespace

RejectCode ocmf_check_reject_code(formats::OcmfCheck c) {
  if (c == formats::OcmfCheck::kOk || c == formats::OcmfCheck::kCount_) return RejectCode::kNone;
  return static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kOcmfCheckPaginationReplay) +
                                 static_cast<uint16_t>(c) - 1);
}

std::unique_ptr<engine::OperatorState> OcmfChecks::make_state(engine::Partition) const {
  return std::make_unique<OcmfChecksState>(checker_.config().max_meters);
}

void OcmfChecks::process(Batch& b, engine::OperatorState* state,
                         engine::OperatorContext& ctx) const {
  auto& st = static_cast<OcmfChecksState*>(state)->begin_batch();
  // The decode stage accepted these records already; parse again with the most tolerant
  // type policy (the checks read the same fields whatever the input's policy was).
  formats::OcmfParseOptions po;
  po.max_record_bytes = SIZE_MAX;
  po.max_readings = SIZE_MAX;
  thread_local formats::OcmfRecord rec;
  for_each_selected_record(b, [&](uint32_t f, size_t begin, size_t end) {
    const engine::Frame& fr = b.frames[f];
    if (fr.kind != engine::RecordKind::kForeign) return;
    RejectCode code = RejectCode::kNone;
    const formats::OcmfError e = formats::parse_ocmf(b.frame_bytes(f), po, rec);
    if (e != formats::OcmfError::kNone) {
      code = RejectCode::kOcmfNotOcmf;  // another format's record: not checkable here
    } else {
      code = ocmf_check_reject_code(checker_.check(st, rec, fr.key_id).first);
    }
    if (code != RejectCode::kNone)
      for (size_t k = begin; k < end; ++k) b.reject_row(b.sel[k], code, ctx.stage);
  });
}

std::unique_ptr<engine::Operator> OcmfChecks::from_config(const engine::ConfigNode& c,
                                                          engine::BuildContext&) {
  formats::OcmfCheckConfig cfg;
  cfg.pagination = c.get_bool("pagination", cfg.pagination);
  cfg.transactions = c.get_bool("transactions", cfg.transactions);
  cfg.monotonic = c.get_bool("monotonic", cfg.monotonic);
  cfg.reject_unsynchronized = c.get_bool("reject_unsynchronized", cfg.reject_unsynchronized);
  cfg.reject_informative = c.get_bool("reject_informative", cfg.reject_informative);
  cfg.error_flags = c.get_bool("error_flags", cfg.error_flags);
  cfg.meter_status = c.get_bool("meter_status", cfg.meter_status);
  cfg.max_meters = static_cast<size_t>(
      c.get_int("max_meters", static_cast<int64_t>(cfg.max_meters), 1, int64_t{1} << 30));
  cfg.max_registers = static_cast<size_t>(
      c.get_int("max_registers", static_cast<int64_t>(cfg.max_registers), 1, 1024));
  return std::make_unique<OcmfChecks>(cfg);
}

}  // namespace assay::operators
