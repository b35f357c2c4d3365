// Verification plans: a good plan loads; every kind of bad plan is refused with the
// file:line:column of the offending key and a reason.
#include "metrology/plan.hpp"

#include <gtest/gtest.h>

#include "engine/config.hpp"
#include "metrology_util.hpp"

namespace assay::metrology {
namespace {

using namespace testing;

class PlanTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { fleet_ = new Fleet(make_fleet(40)); }
  static void TearDownTestSuite() { delete fleet_; }
  VerificationPlan parse(const std::string& text) {
    const auto certs = fleet_->calibration->snapshot();
    return parse_plan(text, "plan.yaml", *fleet_->identity->current(), certs.get(), kStart + kDay);
  }
  // The refusal of `text`: "plan.yaml:L:C: key 'k': message".
  std::string refusal(const std::string& text) {
    try {
      parse(text);
    } catch (const engine::ConfigError& e) {
      return e.what();
    }
    return "(accepted)";
  }
  static Fleet* fleet_;
};
Fleet* PlanTest::fleet_ = nullptr;

TEST_F(PlanTest, AGoodPlanLoads) {
  ASSERT_GE(fleet_->temperature.size(), 3u);
  const std::vector<std::string> ids(fleet_->temperature.begin(), fleet_->temperature.begin() + 3);
  const VerificationPlan p = parse(plan_yaml(ids));
  EXPECT_EQ(p.id, "thermo-q1");
  EXPECT_EQ(p.authority, "PTB");
  ASSERT_EQ(p.groups.size(), 1u);
  EXPECT_EQ(p.groups[0].instruments, ids);
  ASSERT_EQ(p.groups[0].cases.size(), 2u);
  EXPECT_EQ(p.groups[0].cases[1].mpe_relative, 0.01);
  EXPECT_EQ(p.request_count(), 6u);
  EXPECT_EQ(p.schedule.response_timeout_ms, 5000);
  EXPECT_EQ(p.rule, operators::DecisionRule::kGuarded);
}

TEST_F(PlanTest, UnknownInstrumentIsRefusedWhereItIsNamed) {
  const std::string t = plan_yaml({fleet_->temperature[0], "urn:assay:sim:3:sensor:999999"});
  const std::string e = refusal(t);
  EXPECT_NE(e.find("plan.yaml:6:9:"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown instrument 'urn:assay:sim:3:sensor:999999'"), std::string::npos) << e;
}

TEST_F(PlanTest, ImpossibleMpesAreRefused) {
  const std::string id = fleet_->temperature[0];
  auto with_mpe = [&](const std::string& mpe) {
    return "plan: {id: p}\ngroups:\n  - id: g\n    instruments: [\"" + id +
           "\"]\n    cases:\n      - {id: c, reference_value: 20, mpe: " + mpe + "}\n";
  };
  EXPECT_NE(refusal(with_mpe("0")).find("impossible MPE: zero"), std::string::npos);
  EXPECT_NE(refusal(with_mpe("-1")).find("impossible MPE: it must not be negative"),
            std::string::npos);
  EXPECT_NE(refusal(with_mpe("{absolute: 0.5, relative: 1.5}")).find("100 %"), std::string::npos);
  EXPECT_NE(refusal(with_mpe(".nan")).find("finite"), std::string::npos);
  // Not above the calibration's expanded uncertainty: the guarded rule could never pass.
  const std::string e = refusal(with_mpe("0.0001"));
  EXPECT_NE(e.find("plan.yaml:6:"), std::string::npos) << e;
  EXPECT_NE(e.find("could never pass"), std::string::npos) << e;
  EXPECT_NE(e.find("U = "), std::string::npos) << e;
  // The simple rule has no guard band: the same MPE is possible there.
  EXPECT_EQ(
      refusal("plan: {id: p, decision_rule: simple}\ngroups:\n  - id: g\n    instruments: [\"" +
              id + "\"]\n    cases:\n      - {id: c, reference_value: 20, mpe: 0.0001}\n"),
      "(accepted)");
}

TEST_F(PlanTest, ReferenceOutsideTheRangeAndWrongMeasurandAreRefused) {
  const std::string id = fleet_->temperature[0];
  auto with_case = [&](const std::string& c) {
    return "plan: {id: p}\ngroups:\n  - id: g\n    instruments: [\"" + id +
           "\"]\n    cases:\n      - " + c + "\n";
  };
  EXPECT_NE(refusal(with_case("{id: c, reference_value: 500, mpe: 2}"))
                .find("outside the measuring range"),
            std::string::npos);
  EXPECT_NE(refusal(with_case("{id: c, reference_value: 20, mpe: 2, quantity: pressure}"))
                .find("measures temperature, not pressure"),
            std::string::npos);
  EXPECT_NE(
      refusal(with_case("{id: c, reference_value: 20, mpe: 2, unit: K}")).find("reports in Cel"),
      std::string::npos);
}

TEST_F(PlanTest, StructuralMistakesAreRefused) {
  const std::string a = fleet_->temperature[0], b = fleet_->temperature[1];
  const std::string head = "plan: {id: p}\n";
  const std::string cases = "    cases: [{id: c, reference_value: 20, mpe: 2}]\n";
  // An instrument in two groups.
  std::string e = refusal(head + "groups:\n  - id: g1\n    instruments: [\"" + a + "\"]\n" + cases +
                          "  - id: g2\n    instruments: [\"" + b + "\", \"" + a + "\"]\n" + cases);
  EXPECT_NE(e.find("is already in group 'g1'"), std::string::npos) << e;
  EXPECT_NE(e.find("plan.yaml:7:"), std::string::npos) << e;
  // Duplicate group and case ids.
  e = refusal(head + "groups:\n  - id: g\n    instruments: [\"" + a + "\"]\n" + cases +
              "  - id: g\n    instruments: [\"" + b + "\"]\n" + cases);
  EXPECT_NE(e.find("group 'g' appears twice"), std::string::npos) << e;
  e = refusal(head + "groups:\n  - id: g\n    instruments: [\"" + a +
              "\"]\n    cases: [{id: c, reference_value: 20, mpe: 2}, {id: c, reference_value: 30, "
              "mpe: 2}]\n");
  EXPECT_NE(e.find("case 'c' appears twice"), std::string::npos) << e;
  // Unknown keys (typos) and bad ids.
  e = refusal(head + "groups:\n  - id: g\n    instrumnets: [\"" + a + "\"]\n" + cases);
  EXPECT_NE(e.find("plan.yaml:"), std::string::npos) << e;
  e = refusal("plan: {id: \"has space\"}\ngroups: []\n");
  EXPECT_NE(e.find("a plan id is"), std::string::npos) << e;
  e = refusal(head + "groups: []\n");
  EXPECT_NE(e.find("at least one group"), std::string::npos) << e;
  e = refusal(head + "groups:\n  - id: g\n    instruments: []\n" + cases);
  EXPECT_NE(e.find("at least one instrument"), std::string::npos) << e;
}

TEST_F(PlanTest, BadSchedulesAreRefused) {
  const std::string body = "plan: {id: p}\ngroups:\n  - id: g\n    instruments: [\"" +
                           fleet_->temperature[0] +
                           "\"]\n    cases: [{id: c, reference_value: 20, mpe: 2}]\n";
  EXPECT_NE(refusal(body + "schedule: {every_ms: 1000, response_timeout_ms: 5000, repeat: 3}\n")
                .find("must not overlap"),
            std::string::npos);
  EXPECT_NE(refusal(body + "schedule: {repeat: 3}\n").find("need `every_ms`"), std::string::npos);
  EXPECT_NE(refusal(body + "schedule: {start: tomorrow}\n").find("RFC 3339"), std::string::npos);
  EXPECT_NE(refusal(body + "schedule: {response_timeout_ms: 5}\n").find("plan.yaml:6:"),
            std::string::npos);
  EXPECT_EQ(refusal(body +
                    "schedule: {start: \"2026-02-01T00:00:00Z\", every_ms: 86400000, repeat: 4}\n"),
            "(accepted)");
}

TEST_F(PlanTest, AnUnreadablePlanIsRefusedByName) {
  try {
    load_plan("/nonexistent/plan.yaml", *fleet_->identity->current(), nullptr, kStart);
    FAIL() << "accepted";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/plan.yaml"), std::string::npos);
  }
}

}  // namespace
}  // namespace assay::metrology
