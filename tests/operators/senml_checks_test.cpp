// Operator senml_checks: the replay rule on the packs of a `senml-cose` input, per partition
// state that snapshots and restores, every reading of a replayed pack rejected.
#include "operators/senml_checks.hpp"

#include <gtest/gtest.h>

#include "../formats/cbor_builder.hpp"
#include "connectors/senml_cose_format.hpp"
#include "engine/metrics.hpp"
#include "engine/pipeline.hpp"
#include "tests/support/decode_util.hpp"

namespace assay::operators {
namespace {

using engine::Batch;
using engine::RejectCode;
using formats::test::Cbor;

std::vector<uint8_t> message(uint64_t t) {
  Cbor pack;
  pack.array(2);
  pack.map(4).neg(-2).text("urn:dev:a:").neg(-3).uint(t).uint(0).text("temp").uint(2).f64(1);
  pack.map(3).uint(0).text("hum").uint(2).f64(2).uint(6).uint(0);
  Cbor c;
  c.tag(18).array(4).bstr(Cbor().map(1).uint(1).neg(-8)).map(1).uint(4).bstr("k");
  c.bstr(pack).bstr(std::span<const uint8_t>(std::vector<uint8_t>(64, 1)));
  return c.b;
}

void decode(Batch& b, const std::vector<std::vector<uint8_t>>& recs) {
  test::decode_records(b, recs, connectors::SenmlCoseFormat({}));
  b.sel.clear();
  for (uint32_t r = 0; r < b.row_count(); ++r)
    if (b.row_reject[r] == RejectCode::kNone) b.sel.push_back(r);
}

TEST(SenmlChecks, ReasonNames) {
  for (auto c : {formats::SenmlCheck::kReplay, formats::SenmlCheck::kStateFull})
    EXPECT_EQ(engine::reject_code_name(senml_check_reject_code(c)), formats::senml_check_name(c));
  EXPECT_EQ(senml_check_reject_code(formats::SenmlCheck::kOk), RejectCode::kNone);
}

TEST(SenmlChecks, ReplayedPacksAreRejectedWholeAcrossBatchesAndRestarts) {
  SenmlChecks op({});
  auto state = op.make_state(engine::Partition{0});
  engine::PipelineInfo info{"p", {}, "i"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "p", "senml_checks");
  engine::OperatorContext ctx{info, probe, 2, 0, 0};
  Batch b;
  decode(b, {message(1767225600), message(1767225660), message(1767225600)});
  ASSERT_EQ(b.row_count(), 6u);
  op.process(b, state.get(), ctx);
  for (uint32_t r = 0; r < 4; ++r) EXPECT_EQ(b.row_reject[r], RejectCode::kNone) << r;
  EXPECT_EQ(b.row_reject[4], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[5], RejectCode::kSenmlCheckReplay);
  // The state survives a snapshot and restore into a fresh state (a restart).
  const auto snap = state->snapshot();
  auto restored = op.make_state(engine::Partition{0});
  ASSERT_TRUE(restored->restore(snap));
  decode(b, {message(1767225660), message(1767225720)});
  op.process(b, restored.get(), ctx);
  EXPECT_EQ(b.row_reject[0], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[1], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[2], RejectCode::kNone);
  EXPECT_EQ(b.row_reject[3], RejectCode::kNone);
  // A corrupted snapshot is refused.
  auto bad = snap;
  bad.back() ^= 1;
  EXPECT_FALSE(op.make_state(engine::Partition{0})->restore(bad));
}

}  // namespace
}  // namespace assay::operators
