// A real public DCC (PTB's good-practice temperature DCC, signed by its lab with XAdES) in a
// pipeline: its correction and expanded uncertainty show up on a trusted reading; the same
// DCC with one value changed is refused (an alert); YAML and DCC certificates coexist in one
// registry with the same history semantics.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "calibration_util.hpp"
#include "connectors/memory.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"
#include "engine/time.hpp"
#include "operators/calibration.hpp"
#include "schemas/alert_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace {

using namespace assay;
using namespace assay::operators;
namespace fs = std::filesystem;
using V = wire::CalibrationVerdict;

std::string data(const std::string& rel) {
  return std::string(ASSAY_SOURCE_DIR) + "/tests/data/dcc/" + rel;
}

std::string slurp(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int64_t at(const char* rfc3339) {
  return *engine::parse_rfc3339(rfc3339);
}

// The correction of the DCC's table in degrees Celsius, computed independently (exact
// rational least squares in Python) - see tests/registries/dcc_real_test.cpp.
constexpr double kA0 = -0.04254186410285008, kA1 = 0.9989898465285242, kA2 = 4.474949261252633e-06,
                 kUcal = 0.06740873473930306;

TEST(DccPipeline, ARealDccCorrectsATrustedReadingAndATamperedCopyIsAnAlert) {
  const fs::path dir = assay::testing::temp_dir("dccpipe");
  fs::create_directories(dir / "certs");
  const std::string real = slurp(data("real/dcc_gp_temperature_typical_v12_v3.2.0_signed.xml"));
  assay::testing::write_text(dir / "certs/ptb-temperature.xml", real);
  // The same DCC with one measured value changed.
  std::string changed = real;
  const std::string from = "33.17 100.06 175.21 250.16 319.92";
  ASSERT_NE(changed.find(from), std::string::npos);
  changed.replace(changed.find(from), from.size(), "33.17 100.16 175.21 250.16 319.92");
  assay::testing::write_text(dir / "certs/ptb-temperature-changed.xml", changed);
  // A YAML certificate for the same sensor, valid after the DCC expired (1959-10-22).
  const assay::testing::TestLab lab = assay::testing::make_lab("yaml-lab");
  auto later = assay::testing::make_cert("yaml-1960", "string-customer-item",
                                         at("1960-01-01T00:00:00Z"), at("1962-01-01T00:00:00Z"));
  later.correction.offset = -0.25;
  assay::testing::sign_cert(later, lab);
  assay::testing::write_text(dir / "certs/later.yaml", registries::to_yaml({later}));
  assay::testing::write_text(
      dir / "labs.yaml", assay::testing::labs_yaml({lab}) +
                             "  - lab_id: calibration-lab-a1\n    key_id: calibration-lab-a1-2021\n"
                             "    alg: X509\n    certificate_file: " +
                             data("real/calibration-lab-a1.pem") + "\n");
  assay::testing::write_text(
      dir / "sensors.yaml",
      "sensors:\n  - sensor_id: string-customer-item\n    quantity: temperature\n"
      "    unit: Cel\n");
  registries::CalibrationStoreConfig sc;
  sc.certificates_path = (dir / "certs").string();
  sc.trust_path = (dir / "labs.yaml").string();
  sc.identity = registries::IdentityStore::open((dir / "sensors.yaml").string());
  sc.reload_interval_ms = 0;
  CalibrationConfig cfg;
  cfg.store = std::make_shared<registries::CalibrationStore>(std::move(sc));
  auto op = std::make_unique<Calibration>(cfg);
  EXPECT_EQ(op->store().snapshot()->certificate_count(), 2u);  // the DCC and the YAML one

  std::vector<std::vector<uint8_t>> frames;
  assay::testing::ReadingSpec s;
  s.sensor = "string-customer-item";
  s.time_ns = at("1958-06-01T12:00:00Z");  // within the DCC's validity
  s.value = 100.0;
  s.u = 0.05;
  frames.push_back(assay::testing::build_reading(s));
  s.seq = 2;
  s.time_ns = at("1961-06-01T12:00:00Z");  // the YAML certificate's time
  frames.push_back(assay::testing::build_reading(s));
  s.seq = 3;
  s.time_ns = at("1959-12-01T12:00:00Z");  // between the two: the DCC has expired
  frames.push_back(assay::testing::build_reading(s));

  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"dcc-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.source = std::make_unique<connectors::MemorySource>(frames);
  auto t = std::make_unique<connectors::MemorySink>();
  auto r = std::make_unique<connectors::MemorySink>();
  auto a = std::make_unique<connectors::MemorySink>();
  auto *tp = t.get(), *rp = r.get(), *ap = a.get();
  p.sinks[0] = std::move(t);
  p.sinks[1] = std::move(r);
  p.sinks[2] = std::move(a);
  p.operators.push_back(std::move(op));
  p.stage_names = {"decode", "calibration"};
  engine::Runner runner(p, metrics);
  const auto summary = runner.run();
  ASSERT_TRUE(summary.ok) << summary.error;

  // records() returns copies: keep them alive while reading them.
  const auto trusted = tp->records(), rejected = rp->records(), alerts = ap->records();
  ASSERT_EQ(trusted.size(), 2u);
  const auto* tr = wire::GetTrustedReading(trusted[0].data());
  EXPECT_EQ(tr->provenance()->calibration_certificate_id()->str(),
            "GP_DCC_temperature_typical_1.2");
  EXPECT_EQ(tr->calibration_verdict(), V::InTolerance);  // U <= the 0.23 K acceptance limit
  const double x = 100.0;
  const double y = kA0 + kA1 * x + kA2 * x * x;
  const double c = kA1 + 2 * kA2 * x;  // dy/dx
  EXPECT_NEAR(tr->corrected_value(), y, 1e-9);
  EXPECT_NEAR(tr->expanded_uncertainty(), 2 * std::hypot(c * 0.05, kUcal / 2), 1e-9);
  EXPECT_DOUBLE_EQ(tr->coverage_factor(), 2);
  const auto* tr2 = wire::GetTrustedReading(trusted[1].data());
  EXPECT_EQ(tr2->provenance()->calibration_certificate_id()->str(), "yaml-1960");
  EXPECT_NEAR(tr2->corrected_value(), 99.75, 1e-12);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(wire::GetRejectedRecord(rejected[0].data())->reason()->str(),
            "calibration.certificate_expired");
  // The changed copy was refused: one alert naming the file, the XML path and the reason.
  ASSERT_EQ(alerts.size(), 1u);
  const auto* al = wire::GetAlert(alerts[0].data());
  EXPECT_EQ(al->kind()->str(), "calibration.certificate_refused");
  const std::string msg = al->message()->str();
  EXPECT_NE(msg.find("bad_signature"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ptb-temperature-changed.xml:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/dcc:digitalCalibrationCertificate/ds:Signature"), std::string::npos) << msg;
  EXPECT_NE(msg.find("does not match"), std::string::npos) << msg;
}

}  // namespace
