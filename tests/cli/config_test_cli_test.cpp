// `assay test`: pipeline config tests (issue 7).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli/config_test.hpp"
#include "engine/config.hpp"

namespace assay::cli {
namespace {

namespace fs = std::filesystem;

const fs::path kExamples = fs::path(ASSAY_SOURCE_DIR) / "examples";

TEST(ConfigTest, EveryExamplePipelineShipsWithAPassingTest) {
  size_t pipelines = 0;
  for (const auto& e : fs::directory_iterator(kExamples)) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() != ".yaml" || name.find("_test.yaml") != std::string::npos) continue;
    ++pipelines;
    const fs::path test = kExamples / (e.path().stem().string() + "_test.yaml");
    ASSERT_TRUE(fs::exists(test)) << name << " has no config test " << test;
    const ConfigTestResult r = run_config_test(test.string());
    EXPECT_EQ(fs::path(r.pipeline).filename(), e.path().filename());
    ASSERT_FALSE(r.cases.empty());
    for (const auto& c : r.cases) {
      EXPECT_TRUE(c.passed) << test << ": " << c.name;
      for (const auto& f : c.failures) ADD_FAILURE() << f;
    }
  }
  EXPECT_GE(pipelines, 2u);
}

class ConfigTestFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("assay_config_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  std::string pipeline() {
    return "pipeline: " + (kExamples / "factory.yaml").string() +
           "\nenv: {ASSAY_DEMO_DIR: " + (kExamples / "testdata").string() + "}\n" +
           "keys:\n  k: {alg: ed25519, key_id: ex-line1-k1, seed: \"" + std::string(64, '1') +
           "\"}\n";
  }
  fs::path dir_;
};

TEST_F(ConfigTestFiles, AWrongExpectationFailsAndNamesTheField) {
  const std::string file = write("wrong_test.yaml", pipeline() + R"(cases:
  - name: expects the wrong verdict
    input:
      - reading: {sensor_id: "urn:assay:example:line-1-temperature", seq: 1, time: now, value: 1}
        sign: {key: k, corrupt_signature: true}
    expect:
      trusted:
        - {signature_verdict: Valid}
      rejected:
        - {reason: signature.unknown_key}
)");
  const ConfigTestResult r = run_config_test(file);
  ASSERT_EQ(r.cases.size(), 1u);
  EXPECT_FALSE(r.passed());
  const auto& f = r.cases[0].failures;
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0], "trusted: expected 1 record(s), got 0");
  EXPECT_EQ(f[1], "rejected[0].reason: expected signature.unknown_key, got signature.bad");
}

TEST_F(ConfigTestFiles, ApproximateAndNestedExpectations) {
  const std::string file = write("approx_test.yaml", pipeline() + R"(cases:
  - name: approx
    input:
      - reading: {sensor_id: "urn:assay:example:line-1-temperature", seq: 1, time: now, value: 1.5, std_uncertainty: 0.25}
        sign: {key: k}
    expect:
      trusted:
        - expanded_uncertainty: {approx: 0.5, tolerance: 1e-9}
          provenance: {key_id: ex-line1-k1, source_offset: 0}
          provenance.calibration_certificate_id: null
  - name: approx fails
    input:
      - reading: {sensor_id: "urn:assay:example:line-1-temperature", seq: 1, time: now, value: 1.5, std_uncertainty: 0.25}
        sign: {key: k}
    expect:
      trusted:
        - expanded_uncertainty: {approx: 0.6, tolerance: 0.01}
)");
  const ConfigTestResult r = run_config_test(file);
  ASSERT_EQ(r.cases.size(), 2u);
  EXPECT_TRUE(r.cases[0].passed) << (r.cases[0].failures.empty() ? "" : r.cases[0].failures[0]);
  ASSERT_FALSE(r.cases[1].passed);
  EXPECT_NE(r.cases[1].failures[0].find("trusted[0].expanded_uncertainty"), std::string::npos);
}

TEST_F(ConfigTestFiles, AMalformedTestFileIsRefusedWithItsLocation) {
  const std::string file = write("bad_test.yaml", pipeline() + R"(cases:
  - name: typo
    input:
      - reading: {sensor_id: s, seq: 1, value: 1}
        sing: {key: k}
    expect: {trusted: []}
)");
  try {
    run_config_test(file);
    FAIL() << "accepted a malformed test file";
  } catch (const engine::ConfigError& e) {
    EXPECT_EQ(e.line(), 9);
    EXPECT_EQ(e.key(), "cases[0].input[0].sing");
  }
  const std::string unknown_route = write("route_test.yaml", pipeline() + R"(cases:
  - name: route
    input: [{hex: "00"}]
    expect: {trusted_: []}
)");
  EXPECT_THROW(run_config_test(unknown_route), engine::ConfigError);
}

}  // namespace
}  // namespace assay::cli
