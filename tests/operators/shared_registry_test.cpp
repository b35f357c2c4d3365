// Issue 12: one identity registry per source, shared by every operator; a change of the file
// reaches verify_signature, calibration, anomaly and drift at the same publish.
#include "shared_registry.hpp"

namespace assay::testing {
namespace {

constexpr int64_t kReloadMs = 200;

void run_file_scenario(const std::string& section, const std::string& op_keys,
                       const std::string& cal_keys) {
  SharedRegistryScenario s;
  const std::string file = (s.dir() / "pipeline.yaml").string();
  write_text(file, s.pipeline_yaml(section, op_keys, cal_keys));
  SharedRegistryScenario::Outcome before, after;
  double switch_s = 0;
  s.run(file, [&] { write_text(s.dir() / "sensors.yaml", s.registry_yaml(true)); }, before, after,
        switch_s);
  SharedRegistryScenario::check(before, after);
  // The watcher polls every kReloadMs: the switch takes one interval plus scheduling.
  EXPECT_LT(switch_s, kReloadMs / 1000.0 + 2.0);
  std::filesystem::remove_all(s.dir());
}

TEST(SharedRegistry, AFileChangeReachesEveryOperatorThroughTheRegistriesSection) {
  run_file_scenario("registries:\n  identity: {file: sensors.yaml, reload_interval_ms: " +
                        std::to_string(kReloadMs) +
                        "}\n  calibration: {certificates: certs.yaml, trust: labs.yaml}\n",
                    "", "");
}

TEST(SharedRegistry, OperatorsNamingTheSameFileShareOneStore) {
  // Pipeline files of the first wave name the registry in each operator.
  const std::string keys = "    registry: sensors.yaml\n    reload_interval_ms: " +
                           std::to_string(kReloadMs) + "\n";
  run_file_scenario("", keys, keys + "    certificates: certs.yaml\n    trust: labs.yaml\n");
}

TEST(SharedRegistry, TwoDifferentRegistriesAreALintWarning) {
  SharedRegistryScenario s;
  write_text(s.dir() / "other.yaml", s.registry_yaml(true));
  const std::string file = (s.dir() / "pipeline.yaml").string();
  write_text(file, "name: two\ninput: {type: file, path: in.asy}\n"
                   "routes:\n  trusted: {type: file, path: t.asy}\n  rejected: {type: file, path: r.asy}\n"
                   "operators:\n  - type: verify_signature\n    registry: sensors.yaml\n"
                   "  - type: anomaly\n    registry: other.yaml\n");
  engine::Registries reg;
  operators::register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  registries::register_sections(reg);
  engine::Metrics metrics;
  const auto p = engine::load_pipeline(file, reg, metrics);
  ASSERT_EQ(p->warnings.size(), 1u);
  EXPECT_NE(p->warnings[0].find("pipeline.yaml:10:15: key 'operators[1].registry'"), std::string::npos)
      << p->warnings[0];
  EXPECT_NE(p->warnings[0].find("disagree"), std::string::npos) << p->warnings[0];
  std::filesystem::remove_all(s.dir());
}

}  // namespace
}  // namespace assay::testing
