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

std::vector<uint8_t> message(uint64_t t, const char* base = "urn:dev:a:") {
  Cbor pack;
  pack.array(2);
  pack.map(4).neg(-2).text(base).neg(-3).uint(t).uint(0).text("temp").uint(2).f64(1);
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

// What the runner does with a durable state: process a batch, then take the entries its rows
// changed (key, entry), in the order the state reports them.
using Log = std::vector<std::pair<std::string, std::vector<uint8_t>>>;

std::vector<std::string> process_and_log(const SenmlChecks& op, engine::OperatorState& st,
                                         engine::OperatorContext& ctx, Batch& b, Log& log) {
  const std::vector<uint32_t> rows = b.sel;
  op.process(b, &st, ctx);
  std::vector<std::string> keys;
  st.changed_entries(b, rows, [&](std::string_view k, std::span<const uint8_t> e) {
    keys.emplace_back(k);
    log.emplace_back(std::string(k), std::vector<uint8_t>(e.begin(), e.end()));
  });
  return keys;
}

TEST(SenmlChecks, DurableEntriesRestoreTheStateAndReplaysStayRejected) {
  SenmlChecks op({});
  auto a = op.make_state(engine::Partition{0});
  EXPECT_TRUE(a->durable());
  engine::PipelineInfo info{"p", {}, "i"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "p", "senml_checks");
  engine::OperatorContext ctx{info, probe, 2, 0, 0};
  Log log;
  Batch b;
  decode(b, {message(1767225600, "urn:dev:b:"), message(1767225600)});
  EXPECT_EQ(process_and_log(op, *a, ctx, b, log),
            (std::vector<std::string>{"urn:dev:a:hum", "urn:dev:a:temp", "urn:dev:b:hum",
                                      "urn:dev:b:temp"}));
  // A replayed pack changes no sensor; the new one changes its two.
  decode(b, {message(1767225600), message(1767225660, "urn:dev:b:")});
  EXPECT_EQ(process_and_log(op, *a, ctx, b, log),
            (std::vector<std::string>{"urn:dev:b:hum", "urn:dev:b:temp"}));
  EXPECT_EQ(b.row_reject[0], RejectCode::kSenmlCheckReplay);
  // A batch of nothing but replays writes nothing.
  decode(b, {message(1767225660, "urn:dev:b:")});
  EXPECT_TRUE(process_and_log(op, *a, ctx, b, log).empty());
  ASSERT_EQ(log.size(), 6u);

  // Restore: every entry, in order, into a fresh state (a restart, or the next owner).
  auto restored = op.make_state(engine::Partition{0});
  for (const auto& [key, entry] : log) ASSERT_TRUE(restored->merge_entry(entry)) << key;
  EXPECT_EQ(restored->snapshot(), a->snapshot());
  decode(b, {message(1767225660, "urn:dev:b:"), message(1767225600), message(1767225720)});
  Log after;
  EXPECT_EQ(process_and_log(op, *restored, ctx, b, after),
            (std::vector<std::string>{"urn:dev:a:hum", "urn:dev:a:temp"}));
  EXPECT_EQ(b.row_reject[0], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[1], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[2], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[3], RejectCode::kSenmlCheckReplay);
  EXPECT_EQ(b.row_reject[4], RejectCode::kNone);
  EXPECT_EQ(b.row_reject[5], RejectCode::kNone);

  // Malformed, truncated or foreign entries are refused and change nothing.
  const auto before = restored->snapshot();
  const std::vector<uint8_t>& good = log.front().second;
  EXPECT_FALSE(restored->merge_entry(std::span(good).first(good.size() - 1)));
  auto flipped = good;
  flipped[20] ^= 1;
  EXPECT_FALSE(restored->merge_entry(flipped));
  EXPECT_FALSE(restored->merge_entry(a->snapshot()));  // many sensors: not one entry
  EXPECT_FALSE(restored->merge_entry(std::vector<uint8_t>{1, 2, 3}));
  EXPECT_FALSE(restored->merge_entry({}));
  EXPECT_EQ(restored->snapshot(), before);

  // max_sensors holds on restore too: a fourth sensor is refused.
  formats::SenmlCheckConfig small;
  small.max_sensors = 3;
  SenmlChecks tight(small);
  auto t = tight.make_state(engine::Partition{0});
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(t->merge_entry(log[i].second)) << i;
  EXPECT_FALSE(t->merge_entry(log[3].second));
  EXPECT_TRUE(t->merge_entry(log[0].second));  // a known sensor is replaced
}

}  // namespace
}  // namespace assay::operators
