#include "operators/senml_checks.hpp"

#include <cstdint>

#include "formats/cose.hpp"
#include "formats/senml.hpp"
#include "operators/format_checks.hpp"

namespace assay::operators {

using engine::Batch;
using engine::RejectCode;

namespace {

// Per-partition state: the last accepted time per sensor name (snapshot "ASNR").
using SenmlChecksState =
    FormatCheckState<formats::SenmlReplayState, &formats::SenmlReplayState::sensor_count, 96>;

}  // namespace

RejectCode senml_check_reject_code(formats::SenmlCheck c) {
  if (c == formats::SenmlCheck::kOk) return RejectCode::kNone;
  return static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kSenmlCheckReplay) +
                                 static_cast<uint16_t>(c) - 1);
}

std::unique_ptr<engine::OperatorState> SenmlChecks::make_state(engine::Partition) const {
  return std::make_unique<SenmlChecksState>(checker_.config().max_sensors);
}

void SenmlChecks::process(Batch& b, engine::OperatorState* state,
                          engine::OperatorContext& ctx) const {
  auto& st = static_cast<SenmlChecksState*>(state)->begin_batch();
  // The decode stage accepted these packs already (with the input's limits); parse again
  // without limits and without the tag requirement: the check reads the same records.
  formats::CoseParseOptions co;
  co.max_message_bytes = SIZE_MAX;
  co.max_header_entries = SIZE_MAX;
  co.max_kid_bytes = SIZE_MAX;
  co.require_kid = false;
  co.require_tag = false;
  formats::SenmlParseOptions so;
  so.max_pack_bytes = SIZE_MAX;
  so.max_records = SIZE_MAX;
  so.accept_non_numeric = true;
  thread_local formats::SenmlPack pack;
  for_each_selected_record(b, [&](uint32_t f, size_t begin, size_t end) {
    if (b.frames[f].kind != engine::RecordKind::kForeign) return;
    RejectCode code = RejectCode::kNone;
    formats::CoseMessage msg;
    bool json = false;
    const formats::CoseError ce = formats::parse_cose(b.frame_bytes(f), co, msg);
    if (ce != formats::CoseError::kNone) {
      // Another format's record: not checkable here (the COSE parser's reason).
      code = static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kCoseTooLarge) +
                                     static_cast<uint16_t>(ce) - 1);
    } else if (!formats::senml_payload_is_json(msg, json)) {
      code = RejectCode::kCoseContentTypeUnsupported;
    } else {
      const formats::SenmlError se = json ? formats::parse_senml_json(msg.payload, so, pack)
                                          : formats::parse_senml_cbor(msg.payload, so, pack);
      code = se != formats::SenmlError::kNone
                 ? static_cast<RejectCode>(static_cast<uint16_t>(RejectCode::kSenmlTooLarge) +
                                           static_cast<uint16_t>(se) - 1)
                 : senml_check_reject_code(checker_.check(st, pack).check);
    }
    if (code != RejectCode::kNone)
      for (size_t k = begin; k < end; ++k) b.reject_row(b.sel[k], code, ctx.stage);
  });
}

std::unique_ptr<engine::Operator> SenmlChecks::from_config(const engine::ConfigNode& c,
                                                           engine::BuildContext&) {
  formats::SenmlCheckConfig cfg;
  cfg.max_sensors = static_cast<size_t>(
      c.get_int("max_sensors", static_cast<int64_t>(cfg.max_sensors), 1, int64_t{1} << 30));
  return std::make_unique<SenmlChecks>(cfg);
}

}  // namespace assay::operators
