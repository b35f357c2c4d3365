// The operators in a pipeline: `verification` rejects refused answers with their codes, keeps
// bad signatures' own codes, writes final results as encoded side records on route
// `verifications`; a pipeline file with a bad plan, without an audit log or without an identity
// registry is refused with the location of the problem.
#include <gtest/gtest.h>

#include <algorithm>

#include "cli/commands.hpp"
#include "cli/run_common.hpp"
#include "connectors/memory.hpp"
#include "engine/decode.hpp"
#include "engine/encode.hpp"
#include "engine/pipeline.hpp"
#include "metrology/builtin.hpp"
#include "metrology_util.hpp"

namespace assay::metrology {
namespace {

using namespace testing;

TEST(VerificationOperator, RefusedAnswersGetReasonsAndResultsBecomeSideRecords) {
  const Fleet fleet = make_fleet(40);
  const std::vector<std::string> ids(fleet.temperature.begin(), fleet.temperature.begin() + 2);
  const auto certs = fleet.calibration->snapshot();
  const VerificationPlan plan = parse_plan(plan_yaml(ids), "plan.yaml", *fleet.identity->current(),
                                           certs.get(), kStart + kDay);
  MemoryPublisher* pub = nullptr;
  auto service = make_service(fleet, plan, &pub);
  const int64_t now = kStart + kDay;
  service->issue_campaign(now);
  std::map<std::pair<std::string, std::string>, Request> req;
  for (const auto& m : pub->messages()) {
    auto q = decode_request(m.record, nullptr);
    req[{q->instrument_id, q->case_id}] = *q;
  }
  auto answer = [&](const std::string& id, const std::string& c, const std::string& rid = "") {
    Answer a;
    a.sensor = id;
    a.request_id = rid.empty() ? req.at({id, c}).request_id : rid;
    a.reference = req.at({id, c}).reference_value;
    a.value = raw_for(fleet, id, a.reference);
    a.firmware.assign(fleet.info(id).approved_firmware[0].begin(),
                      fleet.info(id).approved_firmware[0].end());
    return response(a);
  };
  std::vector<std::vector<uint8_t>> frames = {
      answer(ids[0], "tc-20"),                // 0 accepted
      answer(ids[0], "tc-60"),                // 1 accepted: ids[0] final here
      answer(ids[0], "tc-20"),                // 2 duplicate
      answer(ids[1], "tc-20", "vr-unknown"),  // 3 unknown request
      answer(ids[1], "tc-20"),                // 4 bad signature (set below)
      testing::response(Answer{ids[1]}),  // 5 a plain reading without a request... (request_id "")
  };
  VerificationOperator op(service);
  connectors::MemorySource src(frames);
  engine::Batch b;
  ASSERT_EQ(src.next(b, 64), engine::SourceStatus::kBatch);
  engine::decode_batch(b);
  for (auto& s : b.row_signature) s = static_cast<uint8_t>(wire::SignatureVerdict::Valid);
  b.row_signature[4] = static_cast<uint8_t>(wire::SignatureVerdict::BadSignature);
  b.reject_row(4, engine::RejectCode::kSignatureBad, 1);
  engine::PipelineInfo info{"test", {}, "i"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "test", "verification");
  engine::OperatorContext ctx{info, probe, 2, now + 1, 0};
  auto state = op.make_state(engine::Partition(0));
  op.process(b, state.get(), ctx);
  EXPECT_EQ(b.row_reject[0], engine::RejectCode::kNone);
  EXPECT_EQ(b.row_reject[1], engine::RejectCode::kNone);
  EXPECT_EQ(b.row_reject[2], engine::RejectCode::kVerificationDuplicate);
  EXPECT_EQ(b.row_reject[3], engine::RejectCode::kVerificationUnknownRequest);
  EXPECT_EQ(b.row_reject[4], engine::RejectCode::kSignatureBad) << "keeps its own reason";
  EXPECT_EQ(b.row_reject[5], engine::RejectCode::kVerificationUnknownRequest)
      << "an empty request_id names no request";
  ASSERT_EQ(b.side_records.size(), 1u);
  EXPECT_EQ(b.side_records[0].route, engine::Route::kVerifications);
  EXPECT_EQ(b.side_records[0].frame, 1u) << "accounted to the answer that completed it";
  EXPECT_EQ(b.side_records[0].key, ids[0]) << "keyed by the instrument on Kafka";
  auto r = decode_result(b.side_records[0].bytes, nullptr);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->instrument_id, ids[0]);
  EXPECT_EQ(r->outcome, Outcome::kPassed);
  // The output stage writes it as it is, on its route, and knows its key.
  const std::vector<std::string> stages = {"decode", "verification"};
  engine::encode_batch(b, engine::EncodeContext{info, stages, now + 1});
  const auto out = std::find_if(b.outputs.begin(), b.outputs.end(), [](const auto& o) {
    return o.route == engine::Route::kVerifications;
  });
  ASSERT_NE(out, b.outputs.end());
  EXPECT_EQ(out->side, 0u);
  EXPECT_EQ(out->frame, 1u);
  EXPECT_EQ(out->readings, 0u);
  EXPECT_EQ(std::vector<uint8_t>(b.out_arena.begin() + out->offset,
                                 b.out_arena.begin() + out->offset + out->size),
            b.side_records[0].bytes);
  // After the deadline the next batch carries ids[1]'s no-response result, with the refused
  // bad signature listed; accounted to that batch's first frame.
  engine::Batch later;
  connectors::MemorySource src2({testing::response(Answer{ids[1]})});
  ASSERT_EQ(src2.next(later, 8), engine::SourceStatus::kBatch);
  engine::decode_batch(later);
  engine::OperatorContext ctx2{info, probe, 2, now + 6'000'000'000, 0};
  op.process(later, state.get(), ctx2);
  ASSERT_EQ(later.side_records.size(), 1u);
  EXPECT_EQ(later.side_records[0].frame, 0u);
  auto r2 = decode_result(later.side_records[0].bytes, nullptr);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->outcome, Outcome::kNoResponse);
  ASSERT_FALSE(r2->refused.empty());
  EXPECT_EQ(r2->refused[0].reason, "signature.bad");
  EXPECT_EQ(r2->refused[0].evidence.source_offset, 4);
}

class PipelineFiles : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fleet_ = new Fleet(make_fleet(20));
    std::vector<std::string> kg = {"keygen", "--alg", "ed25519", "--out",
                                   (fleet_->dir / "engine").string()};
    std::vector<char*> argv;
    for (auto& s : kg) argv.push_back(s.data());
    ASSERT_EQ(cli::cmd_keygen(static_cast<int>(argv.size()), argv.data()), 0);
  }
  static void TearDownTestSuite() { delete fleet_; }
  static std::string pipeline(const std::string& plan, bool audit, bool registry) {
    const fs::path& d = fleet_->dir;
    std::string y = "name: t\ninput: {type: file, path: " + (d / "none.asy").string() + "}\n";
    if (registry)
      y += "registries:\n  identity: {file: " + (d / "sensors.yaml").string() +
           ", reload_interval_ms: 0}\n";
    y += "operators:\n  - type: verification\n    plan: " + plan +
         "\n    key: " + (d / "engine.key").string() +
         "\n    commands: {file: " + (d / "req.asy").string() +
         "}\nroutes:\n  trusted: {type: file, path: " + (d / "t.asy").string() +
         "}\n  rejected: {type: file, path: " + (d / "r.asy").string() +
         "}\n  verifications: {type: file, path: " + (d / "v.asy").string() + "}\n";
    if (audit)
      y += "audit: {file: " + (d / "audit.log").string() + ", key: " + (d / "engine.key").string() +
           "}\n";
    return y;
  }
  static std::string refusal(const std::string& yaml) {
    write_text(fleet_->dir / "p.yaml", yaml);
    engine::Metrics metrics;
    try {
      engine::load_pipeline((fleet_->dir / "p.yaml").string(), cli::builtin_registries(), metrics);
    } catch (const engine::ConfigError& e) {
      return e.what();
    }
    return "(accepted)";
  }
  static Fleet* fleet_;
};
Fleet* PipelineFiles::fleet_ = nullptr;

TEST_F(PipelineFiles, AGoodPipelineLoadsAndEveryMistakeIsLocated) {
  const fs::path& d = fleet_->dir;
  write_text(d / "plan.yaml", plan_yaml({fleet_->temperature[0]}));
  EXPECT_EQ(refusal(pipeline((d / "plan.yaml").string(), true, true)), "(accepted)");
  // A bad plan: refused at its own file:line:column.
  write_text(d / "bad-plan.yaml", plan_yaml({fleet_->temperature[0], "urn:assay:nobody"}));
  std::string e = refusal(pipeline((d / "bad-plan.yaml").string(), true, true));
  EXPECT_NE(e.find((d / "bad-plan.yaml").string() + ":6:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown instrument 'urn:assay:nobody'"), std::string::npos) << e;
  // No audit log, no identity registry, no plan file.
  e = refusal(pipeline((d / "plan.yaml").string(), false, true));
  EXPECT_NE(e.find("p.yaml:"), std::string::npos) << e;
  EXPECT_NE(e.find("`audit:`"), std::string::npos) << e;
  e = refusal(pipeline((d / "plan.yaml").string(), true, false));
  EXPECT_NE(e.find("needs an identity registry"), std::string::npos) << e;
  e = refusal(pipeline((d / "missing.yaml").string(), true, true));
  EXPECT_NE(e.find("cannot read the verification plan"), std::string::npos) << e;
  // An unknown route name still names the routes there are.
  e = refusal(
      "name: t\ninput: {type: file, path: x}\nroutes:\n  verification: {type: jsonl, path: y}\n");
  EXPECT_NE(e.find("verifications"), std::string::npos) << e;
}

}  // namespace
}  // namespace assay::metrology
