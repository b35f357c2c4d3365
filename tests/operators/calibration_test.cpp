// Operator `calibration`: every verdict, the guard-band boundaries, the correction and
// uncertainty math against hand-computed values, NaN/inf readings, refusal alerts, live
// reload, stable certificate ids, config parsing, and a simulated fleet (every reading of a
// sensor with an expired certificate is caught; false positives on clean sensors measured).
#include "tests/rejected_readings.hpp"
#include "operators/calibration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "../crypto/json_mini.hpp"
#include "calibration_util.hpp"
#include "connectors/builtin.hpp"
#include "connectors/memory.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"
#include "operators/builtin.hpp"
#include "schemas/alert_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;
using registries::CalibrationCertificate;
using registries::CalibrationRegistry;
using testing::kDay;
using testing::kT0;
using testing::ReadingSpec;
using V = wire::CalibrationVerdict;

struct Fixture {
  CalibrationRegistry certs;
  std::vector<std::shared_ptr<const CalibrationCertificate>> all;
  registries::IdentityRegistry identity;
  std::vector<uint8_t> buf;

  Fixture() { put(testing::make_cert("c1", "s1", kT0 - 10 * kDay, kT0 + 10 * kDay)); }
  void put(const CalibrationCertificate& c) {
    all.push_back(std::make_shared<const CalibrationCertificate>(c));
    certs.put(all.back());
  }
  // With the identity registry passed alongside (looked up per reading) and, checked to give
  // the same result, attached to a finalized snapshot (copied into the certificates).
  CalibrationResult eval(const ReadingSpec& s, DecisionRule rule = DecisionRule::kGuarded,
                         bool initial = false, bool with_identity = false) {
    buf = testing::build_reading(s);
    const wire::Reading& rd = *wire::GetReading(buf.data());
    const CalibrationResult r =
        evaluate_calibration(rd, certs, with_identity ? &identity : nullptr, rule, initial);
    if (with_identity) {
      CalibrationRegistry attached;
      for (const auto& c : all) attached.put(c);
      attached.attach_identity(std::make_shared<const registries::IdentityRegistry>(identity));
      attached.finalize();
      const CalibrationResult a = evaluate_calibration(rd, attached, nullptr, rule, initial);
      EXPECT_EQ(a.verdict, r.verdict);
      EXPECT_EQ(a.code, r.code);
      EXPECT_EQ(a.corrected, r.corrected);
    }
    return r;
  }
};

TEST(Calibration, CorrectionAndUncertaintyMatchHandComputedValues) {
  Fixture f;
  auto c = testing::make_cert("poly", "p1", kT0 - kDay, kT0 + kDay);
  c.correction = {0.5, 1.01, {0.001}};
  c.expanded_uncertainty = 0.2;
  c.coverage_factor = 2;
  f.put(c);
  ReadingSpec s;
  s.sensor = "p1";
  s.value = 10;
  s.u = 0.1;
  const CalibrationResult r = f.eval(s);
  // y = 0.5 + 1.01*10 + 0.001*10^2 = 10.7
  EXPECT_NEAR(r.corrected, 10.7, 1e-12);
  // dy/dx = 1.01 + 2*0.001*10 = 1.03; u_cert = 0.2/2 = 0.1;
  // u_c = sqrt((1.03*0.1)^2 + 0.1^2) = sqrt(0.020609) = 0.1435583505060; U = 2 u_c
  EXPECT_NEAR(r.expanded, 2 * 0.1435583505060, 1e-12);
  EXPECT_DOUBLE_EQ(r.coverage, 2);
  EXPECT_NEAR(r.mpe, 1.0, 1e-15);  // in-service absolute 1.0, relative 0
  EXPECT_EQ(r.verdict, V::InTolerance);
  EXPECT_EQ(r.certificate_id, "poly");

  // Cubic term, k = 3, relative MPE: y = -1 + 2x + 0.5x^2 + 0.25x^3 at x = 2:
  // y = -1 + 4 + 2 + 2 = 7; dy/dx = 2 + 1*2 + 0.75*4 = 7; u_cert = 0.3/3 = 0.1;
  // u_c = sqrt((7*0.05)^2 + 0.1^2) = sqrt(0.1325); U = 3 sqrt(0.1325) = 1.09201648...
  // MPE in service = 0.1 + 0.2*|7| = 1.5 (>= U: in tolerance).
  auto c3 = testing::make_cert("cubic", "p3", kT0 - kDay, kT0 + kDay);
  c3.correction = {-1, 2, {0.5, 0.25}};
  c3.expanded_uncertainty = 0.3;
  c3.coverage_factor = 3;
  c3.mpe_in_service = {0.1, 0.2};
  f.put(c3);
  s.sensor = "p3";
  s.value = 2;
  s.u = 0.05;
  const CalibrationResult r3 = f.eval(s);
  EXPECT_NEAR(r3.corrected, 7, 1e-12);
  EXPECT_NEAR(r3.expanded, 3 * std::sqrt(0.1325), 1e-12);
  EXPECT_DOUBLE_EQ(r3.coverage, 3);
  EXPECT_NEAR(r3.mpe, 1.5, 1e-12);
  EXPECT_EQ(r3.verdict, V::InTolerance);

  // More coefficients than are kept inline (x^5): y = x + 0.001 x^5 at x = 2 -> 2.032;
  // dy/dx = 1 + 0.005 x^4 = 1.08; u_c = sqrt((1.08*0.05)^2 + 0.1^2); U = 2 u_c.
  auto c5 = testing::make_cert("quintic", "p5", kT0 - kDay, kT0 + kDay);
  c5.correction = {0, 1, {0, 0, 0, 0.001}};
  f.put(c5);
  s.sensor = "p5";
  const CalibrationResult r5 = f.eval(s);
  EXPECT_NEAR(r5.corrected, 2.032, 1e-12);
  EXPECT_NEAR(r5.expanded, 2 * std::sqrt(0.054 * 0.054 + 0.01), 1e-12);
}

TEST(Calibration, MeasurementIsInToleranceIffItsExpandedUncertaintyFitsTheMpe) {
  Fixture f;
  ReadingSpec s;
  // U = 2 sqrt(u^2 + 0.1^2); MPE in service 1.0, initial 0.5.
  s.u = 0.1;  // U = 0.283
  EXPECT_EQ(f.eval(s).verdict, V::InTolerance);
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, /*initial=*/true).verdict, V::InTolerance);
  s.u = 0.3;  // U = 0.632: fits in service, not initial
  EXPECT_EQ(f.eval(s).verdict, V::InTolerance);
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, true).verdict, V::OutOfTolerance);
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, true).code, engine::RejectCode::kCalOutOfTolerance);
  s.u = 0.6;  // U = 1.217 > 1.0
  EXPECT_EQ(f.eval(s).verdict, V::OutOfTolerance);
  // u = 0 (not stated): U is the certificate's.
  s.u = 0;
  EXPECT_NEAR(f.eval(s).expanded, 0.2, 1e-15);
}

TEST(Calibration, GuardBandBoundariesOfAReferenceCheck) {
  Fixture f;
  // Binary-exact numbers: U_cert = 0.25, k = 2 -> u_cert = 0.125; reading u = 0 -> U = 0.25.
  // MPE = 1.0. Guarded: in if |e| + 0.25 <= 1 (|e| <= 0.75), out if |e| - 0.25 > 1
  // (|e| > 1.25), otherwise indeterminate.
  auto c = testing::make_cert("ref", "r1", kT0 - kDay, kT0 + kDay);
  c.expanded_uncertainty = 0.25;
  f.put(c);
  ReadingSpec s;
  s.sensor = "r1";
  s.u = 0;
  s.reference = true;
  s.reference_value = 0;
  struct Case {
    double e;
    V guarded, simple;
  };
  const Case cases[] = {
      {0.0, V::InTolerance, V::InTolerance},          {0.75, V::InTolerance, V::InTolerance},
      {-0.75, V::InTolerance, V::InTolerance},        {0.875, V::Indeterminate, V::InTolerance},
      {1.0, V::Indeterminate, V::InTolerance},        {-1.125, V::Indeterminate, V::OutOfTolerance},
      {1.25, V::Indeterminate, V::OutOfTolerance},    {1.375, V::OutOfTolerance, V::OutOfTolerance},
      {-1.375, V::OutOfTolerance, V::OutOfTolerance},
  };
  for (const Case& k : cases) {
    s.value = k.e;
    const CalibrationResult g = f.eval(s, DecisionRule::kGuarded);
    EXPECT_EQ(g.verdict, k.guarded) << "e=" << k.e;
    EXPECT_NEAR(g.expanded, 0.25, 0);
    EXPECT_EQ(f.eval(s, DecisionRule::kSimple).verdict, k.simple) << "e=" << k.e;
  }
  s.value = 0.875;
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalIndeterminate);
  // The correction applies before the comparison: a sensor reading 0.5 high with offset
  // -0.5 has no error.
  auto off = c;
  off.certificate_id = "ref-off";
  off.sensor_id = "r2";
  off.correction.offset = -0.5;
  f.put(off);
  s.sensor = "r2";
  s.value = 1.375;  // corrected 0.875: indeterminate, not out
  EXPECT_EQ(f.eval(s).verdict, V::Indeterminate);
  EXPECT_NEAR(f.eval(s).corrected, 0.875, 0);
}

TEST(Calibration, EveryOtherVerdict) {
  Fixture f;
  ReadingSpec s;
  EXPECT_EQ(f.eval(s).verdict, V::InTolerance);
  // No certificate.
  s.sensor = "unknown";
  auto r = f.eval(s);
  EXPECT_EQ(r.verdict, V::NoCertificate);
  EXPECT_EQ(r.code, engine::RejectCode::kCalNoCertificate);
  EXPECT_TRUE(r.certificate_id.empty());
  EXPECT_DOUBLE_EQ(r.corrected, s.value);  // where no certificate applies: the raw value
  EXPECT_DOUBLE_EQ(r.mpe, 0);
  s.sensor = "s1";
  // Expired / not yet valid (names the certificate).
  s.time_ns = kT0 + 10 * kDay + 1;
  r = f.eval(s);
  EXPECT_EQ(r.verdict, V::CertificateExpired);
  EXPECT_EQ(r.code, engine::RejectCode::kCalExpired);
  EXPECT_EQ(r.certificate_id, "c1");
  s.time_ns = kT0 - 10 * kDay - 1;
  EXPECT_EQ(f.eval(s).verdict, V::CertificateNotYetValid);
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalNotYetValid);
  s.time_ns = kT0;
  // Outside the measuring range (-40..150).
  s.value = 150.5;
  EXPECT_EQ(f.eval(s).verdict, V::OutsideMeasuringRange);
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalOutsideRange);
  s.value = 150;
  EXPECT_EQ(f.eval(s).verdict, V::InTolerance);
  s.value = -40.01;
  EXPECT_EQ(f.eval(s).verdict, V::OutsideMeasuringRange);
  s.value = 20;
  // Quantity / unit mismatch; a reading that states none is not a mismatch.
  s.quantity = "pressure";
  EXPECT_EQ(f.eval(s).verdict, V::QuantityMismatch);
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalQuantityMismatch);
  s.quantity = "";
  EXPECT_EQ(f.eval(s).verdict, V::InTolerance);
  s.quantity = "temperature";
  s.unit = "K";
  EXPECT_EQ(f.eval(s).verdict, V::UnitMismatch);
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalUnitMismatch);
  s.unit = "Cel";
  // Conformity "fail" on the certificate.
  auto failed = testing::make_cert("failed", "s9", kT0 - kDay, kT0 + kDay);
  failed.conformity = "fail";
  f.put(failed);
  s.sensor = "s9";
  EXPECT_EQ(f.eval(s).verdict, V::OutOfTolerance);
  // No MPE stated: no tolerance decision possible.
  auto nompe = testing::make_cert("nompe", "s8", kT0 - kDay, kT0 + kDay);
  nompe.mpe_in_service = {0, 0};
  f.put(nompe);
  s.sensor = "s8";
  EXPECT_EQ(f.eval(s).verdict, V::Indeterminate);
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalIndeterminate);
}

TEST(Calibration, IdentityRegistryFirmwareQuantityAndRange) {
  Fixture f;
  registries::SensorInfo info;
  info.sensor_id = "s1";
  info.quantity = "temperature";
  info.unit = "Cel";
  info.range_min = 0;
  info.range_max = 100;
  std::array<uint8_t, 32> fw{};
  fw.fill(7);
  info.approved_firmware.push_back(fw);
  f.identity.put(info, {});
  ReadingSpec s;
  s.firmware.assign(fw.begin(), fw.end());
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, false, true).verdict, V::InTolerance);
  s.firmware[0] = 8;
  auto r = f.eval(s, DecisionRule::kGuarded, false, true);
  EXPECT_EQ(r.verdict, V::FirmwareNotApproved);
  EXPECT_EQ(r.code, engine::RejectCode::kCalFirmwareNotApproved);
  s.firmware.clear();  // no firmware stated where the registry approves some: not approved
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, false, true).verdict, V::FirmwareNotApproved);
  // More approved hashes than are kept inline: the third one still counts.
  std::array<uint8_t, 32> fw2{}, fw3{};
  fw2.fill(2);
  fw3.fill(3);
  info.approved_firmware = {fw2, fw, fw3};
  f.identity.put(info, {});
  s.firmware.assign(fw3.begin(), fw3.end());
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, false, true).verdict, V::InTolerance);
  s.firmware[5] = 9;
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, false, true).verdict, V::FirmwareNotApproved);
  // A sensor unknown to the registry skips the identity checks.
  ReadingSpec other = s;
  other.sensor = "s-unregistered";
  f.put(testing::make_cert("c-unreg", "s-unregistered", kT0 - kDay, kT0 + kDay));
  EXPECT_EQ(f.eval(other, DecisionRule::kGuarded, false, true).verdict, V::InTolerance);
  s.firmware.assign(fw.begin(), fw.end());
  // The registry's narrower range applies too.
  s.value = 120;
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, false, true).verdict, V::OutsideMeasuringRange);
  EXPECT_EQ(f.eval(s).verdict, V::InTolerance);  // certificate range alone: -40..150
  s.value = 20;
  // A reading without quantity/unit takes the registry's; registry vs certificate mismatch.
  info.quantity = "pressure";
  f.identity.put(info, {});
  s.quantity = "";
  EXPECT_EQ(f.eval(s, DecisionRule::kGuarded, false, true).verdict, V::QuantityMismatch);
}

TEST(Calibration, NonFiniteReadingsAreIndeterminateWithValueNotFinite) {
  Fixture f;
  ReadingSpec s;
  for (double bad : {std::nan(""), double(INFINITY), -double(INFINITY)}) {
    s.value = bad;
    s.u = 0.1;
    auto r = f.eval(s);
    EXPECT_EQ(r.verdict, V::Indeterminate);
    EXPECT_EQ(r.code, engine::RejectCode::kValueNotFinite);
    s.value = 20;
    s.u = bad;
    EXPECT_EQ(f.eval(s).code, engine::RejectCode::kValueNotFinite);
    s.u = 0.1;
    s.reference = true;
    s.reference_value = bad;
    EXPECT_EQ(f.eval(s).code, engine::RejectCode::kValueNotFinite);
    s.reference = false;
  }
  s.u = -0.1;  // negative uncertainty: no decision
  EXPECT_EQ(f.eval(s).verdict, V::Indeterminate);
  EXPECT_EQ(f.eval(s).code, engine::RejectCode::kCalIndeterminate);
  // A correction that overflows: indeterminate, never inf on the output.
  auto huge = testing::make_cert("huge", "h1", kT0 - kDay, kT0 + kDay);
  huge.correction.poly = {1e300};
  huge.range_min = -1e308;
  huge.range_max = 1e308;
  f.put(huge);
  s = ReadingSpec{};
  s.sensor = "h1";
  s.value = 1e10;
  auto r = f.eval(s);
  EXPECT_EQ(r.verdict, V::Indeterminate);
  EXPECT_EQ(r.code, engine::RejectCode::kValueNotFinite);
  EXPECT_TRUE(std::isfinite(r.corrected));
}

TEST(Calibration, GuardedFalseAlarmRateOfReferenceChecksMatchesTheNormalTail) {
  // The simulator's calibration model (docs/calibration.md): reading noise u, U_cal = u with
  // k = 2, MPE 6u. In-control reference checks (e ~ N(0, u)) are indeterminate when
  // |e| > 6u - 2*sqrt(1.25)u = 3.764u: p = 2(1 - Phi(3.764)) = 1.67e-4; out of tolerance when
  // |e| > 8.236u: p ~ 2e-16.
  Fixture f;
  const double u = 0.1;
  auto c = testing::make_cert("sim", "ref", kT0 - kDay, kT0 + kDay);
  c.expanded_uncertainty = u;
  c.coverage_factor = 2;
  c.mpe_in_service = {6 * u, 0};
  f.put(c);
  std::mt19937_64 rng(12345);
  std::normal_distribution<double> noise(0, u);
  ReadingSpec s;
  s.sensor = "ref";
  s.u = u;
  s.reference = true;
  s.reference_value = 25;
  const int n = 400000;
  int indeterminate = 0, out = 0;
  for (int i = 0; i < n; ++i) {
    s.value = 25 + noise(rng);
    const V v = f.eval(s).verdict;
    indeterminate += v == V::Indeterminate;
    out += v == V::OutOfTolerance;
  }
  // Expected 66.8 (binomial sd 8.2): a window of about +-4 sd.
  std::cout << "indeterminate " << indeterminate << " of " << n << ", out " << out << "\n";
  EXPECT_GE(indeterminate, 35);
  EXPECT_LE(indeterminate, 100);
  EXPECT_EQ(out, 0);
}

// ---- the operator in a pipeline -------------------------------------------------------

struct Files {
  fs::path dir = testing::temp_dir("cal");
  testing::TestLab lab = testing::make_lab("lab-1");
  ~Files() { fs::remove_all(dir); }
  std::string labs() const { return (dir / "labs.yaml").string(); }
  std::string certs() const { return (dir / "certs.yaml").string(); }
  void write(std::vector<CalibrationCertificate> certs) {
    for (auto& c : certs)
      if (c.signature.empty() && c.lab_key_id.empty()) testing::sign_cert(c, lab);
    testing::write_text(dir / "labs.yaml", testing::labs_yaml({lab}));
    testing::write_text(dir / "certs.yaml", registries::to_yaml(certs));
  }
};

struct RunOut {
  engine::RunSummary summary;
  std::vector<std::vector<uint8_t>> trusted, rejected, alerts;
};

RunOut run_pipeline(std::unique_ptr<engine::Operator> op,
                    const std::vector<std::vector<uint8_t>>& frames, size_t batch_size = 64) {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"cal-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.batch_size = batch_size;
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
  RunOut o;
  o.summary = runner.run();
  o.trusted = tp->records();
  o.rejected = rp->records();
  o.alerts = ap->records();
  return o;
}

CalibrationConfig config_for(const Files& f, int64_t reload_interval_ms = 0,
                             const std::string& identity = "") {
  registries::CalibrationStoreConfig sc;
  sc.certificates_path = f.certs();
  sc.trust_path = f.labs();
  sc.reload_interval_ms = reload_interval_ms;
  if (!identity.empty()) sc.identity = registries::IdentityStore::open(identity, reload_interval_ms);
  CalibrationConfig cfg;
  cfg.store = std::make_shared<registries::CalibrationStore>(std::move(sc));
  if (auto id = cfg.store->config().identity)
    id->subscribe([store = cfg.store] { store->identity_changed(); });
  return cfg;
}

TEST(Calibration, PipelineFillsColumnsRejectsByVerdictAndAlertsOnRefusedCertificates) {
  Files f;
  auto good = testing::make_cert("good", "s1", kT0 - kDay, kT0 + kDay);
  good.correction.offset = -0.5;
  auto unsigned_cert = testing::make_cert("unsigned", "s2", kT0 - kDay, kT0 + kDay);
  unsigned_cert.lab_id = f.lab.lab_id;
  unsigned_cert.lab_key_id = f.lab.key_id;
  auto neg = testing::make_cert("neg", "s3", kT0 - kDay, kT0 + kDay);
  neg.expanded_uncertainty = -1;
  f.write({good, unsigned_cert, neg});
  std::vector<std::vector<uint8_t>> frames;
  ReadingSpec s;
  s.value = 20.5;
  frames.push_back(testing::build_reading(s));  // in tolerance, corrected 20
  s.seq = 2;
  s.sensor = "s2";  // its certificate was refused: no certificate
  frames.push_back(testing::build_reading(s));
  s.seq = 3;
  s.sensor = "s1";
  s.value = std::nan("");
  frames.push_back(testing::build_reading(s));
  s.seq = 4;
  s.value = INFINITY;
  frames.push_back(testing::build_reading(s));
  const RunOut o = run_pipeline(std::make_unique<Calibration>(config_for(f)), frames);
  ASSERT_TRUE(o.summary.ok) << o.summary.error;
  ASSERT_EQ(o.trusted.size(), 1u);
  const auto* tr = wire::GetTrustedReading(o.trusted[0].data());
  EXPECT_EQ(tr->calibration_verdict(), V::InTolerance);
  EXPECT_NEAR(tr->corrected_value(), 20.0, 1e-12);
  EXPECT_NEAR(tr->expanded_uncertainty(), 2 * std::hypot(0.1, 0.1), 1e-12);
  EXPECT_DOUBLE_EQ(tr->coverage_factor(), 2);
  EXPECT_EQ(tr->provenance()->calibration_certificate_id()->str(), "good");
  ASSERT_EQ(o.rejected.size(), 3u);
  std::map<uint64_t, std::string> reasons;
  for (const auto& rec : o.rejected) {
    const auto* rr = wire::GetRejectedRecord(rec.data());
    reasons[rr->seq()] = rr->reason()->str();
  }
  EXPECT_EQ(reasons[2], "calibration.no_certificate");
  EXPECT_EQ(reasons[3], "reading.value_not_finite");
  EXPECT_EQ(reasons[4], "reading.value_not_finite");
  // One alert per refused certificate, on the next batch.
  ASSERT_EQ(o.alerts.size(), 2u);
  std::map<std::string, std::string> alerts;  // sensor -> message
  for (const auto& rec : o.alerts) {
    const auto* a = wire::GetAlert(rec.data());
    EXPECT_EQ(a->kind()->str(), "calibration.certificate_refused");
    EXPECT_EQ(a->level(), wire::AlertLevel::Warning);
    alerts[a->sensor_id()->str()] = a->message()->str();
  }
  EXPECT_NE(alerts["s2"].find("unsigned"), std::string::npos) << alerts["s2"];
  EXPECT_NE(alerts["s3"].find("must not be negative"), std::string::npos) << alerts["s3"];
  EXPECT_NE(alerts["s3"].find("certs.yaml:"), std::string::npos) << alerts["s3"];
}

TEST(Calibration, RejectListIsConfigurableAndKeptRowsCarryTheirVerdict) {
  Files f;
  f.write({testing::make_cert("c", "s1", kT0 - kDay, kT0 + kDay)});
  auto cfg = config_for(f);
  cfg.reject.fill(false);
  cfg.reject[static_cast<size_t>(V::OutsideMeasuringRange)] = true;
  std::vector<std::vector<uint8_t>> frames;
  ReadingSpec s;
  s.sensor = "nobody";
  frames.push_back(testing::build_reading(s));
  s.sensor = "s1";
  s.seq = 2;
  s.value = 1000;
  frames.push_back(testing::build_reading(s));
  const RunOut o = run_pipeline(std::make_unique<Calibration>(cfg), frames);
  ASSERT_EQ(o.trusted.size(), 1u);
  const auto* tr = wire::GetTrustedReading(o.trusted[0].data());
  EXPECT_EQ(tr->calibration_verdict(), V::NoCertificate);
  EXPECT_DOUBLE_EQ(tr->corrected_value(), 20);          // raw value: nothing to correct with
  EXPECT_NEAR(tr->expanded_uncertainty(), 0.2, 1e-15);  // 2 u of the reading
  ASSERT_EQ(o.rejected.size(), 1u);
  EXPECT_EQ(wire::GetRejectedRecord(o.rejected[0].data())->reason()->str(),
            "calibration.outside_measuring_range");
}

TEST(Calibration, CertificateIdsOnRowsOutliveTheSnapshotThatHeldThem) {
  Files f;
  f.write({testing::make_cert("first-certificate-id-long-enough-to-be-on-the-heap", "s1",
                              kT0 - kDay, kT0 + kDay)});
  Calibration op(config_for(f));
  const auto buf = testing::build_reading(ReadingSpec{});
  engine::Batch b;
  b.frames.push_back(engine::Frame{});
  b.add_row(0, 0, wire::GetReading(buf.data()));
  engine::PipelineInfo info{"p", {}, "i"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "p", "calibration");
  engine::OperatorContext ctx{info, probe, 1, kT0, 0};
  op.process(b, nullptr, ctx);
  ASSERT_EQ(b.row_calibration[0], static_cast<uint8_t>(V::InTolerance));
  // Replace every certificate; the old snapshot (and its strings) are released.
  f.write({testing::make_cert("second", "s1", kT0 - kDay, kT0 + kDay)});
  ASSERT_TRUE(op.store().reload_files());
  EXPECT_EQ(op.store().snapshot()->lookup("s1", kT0).cert->certificate_id, "second");
  EXPECT_EQ(b.row_cert_id[0],
            "first-certificate-id-long-enough-to-be-on-the-heap");  // ASan-checked
  EXPECT_DOUBLE_EQ(b.row_mpe[0], 1.0);
}

TEST(Calibration, LiveReloadOfCertificatesChangesVerdicts) {
  Files f;
  f.write({testing::make_cert("old", "s1", kT0 - 2 * kDay, kT0 - kDay)});  // expired at kT0
  auto cfg = config_for(f, 20);
  Calibration op(cfg);
  std::string err;
  ASSERT_TRUE(op.store().start(&err)) << err;
  const auto buf = testing::build_reading(ReadingSpec{});
  const auto* rd = wire::GetReading(buf.data());
  auto verdict = [&] {
    return evaluate_calibration(*rd, *op.store().snapshot(), nullptr, DecisionRule::kGuarded, false)
        .verdict;
  };
  EXPECT_EQ(verdict(), V::CertificateExpired);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  f.write({testing::make_cert("old", "s1", kT0 - 2 * kDay, kT0 - kDay),
           testing::make_cert("new", "s1", kT0 - kDay, kT0 + kDay)});
  for (int i = 0; i < 500 && verdict() != V::InTolerance; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(verdict(), V::InTolerance);
  op.store().stop();
}

TEST(Calibration, IdentityRegistryReloadsLive) {
  Files f;
  f.write({testing::make_cert("c", "s1", kT0 - kDay, kT0 + kDay)});
  const fs::path ident = f.dir / "sensors.yaml";
  const std::string approved =
      "sensors:\n  - sensor_id: s1\n    approved_firmware: [\"" + std::string(64, 'a') + "\"]\n";
  testing::write_text(ident, approved);
  auto cfg = config_for(f, 20, ident.string());
  Calibration op(cfg);
  std::string err;
  ASSERT_TRUE(cfg.store->config().identity->start(&err)) << err;
  ASSERT_TRUE(op.store().start(&err)) << err;
  const auto buf = testing::build_reading(ReadingSpec{});  // states no firmware
  const auto* rd = wire::GetReading(buf.data());
  auto verdict = [&] {
    const auto snap = op.store().snapshot();
    return evaluate_calibration(*rd, *snap, nullptr, DecisionRule::kGuarded, false).verdict;
  };
  EXPECT_EQ(verdict(), V::FirmwareNotApproved);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::write_text(ident, "sensors:\n  - sensor_id: s1\n");  // no firmware list: no check
  for (int i = 0; i < 500 && verdict() != V::InTolerance; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(verdict(), V::InTolerance);
  op.store().stop();
  cfg.store->config().identity->stop();
}

TEST(Calibration, FromConfig) {
  Files f;
  f.write({testing::make_cert("c", "s1", kT0 - kDay, kT0 + kDay)});
  engine::PipelineInfo info{"p", {}, "i"};
  engine::Metrics metrics;
  engine::EngineOptions eo;
  engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext bc{info, metrics, eo, services, warnings};
  auto build = [&](const std::string& extra) {
    const std::string y = "type: calibration\ncertificates: " + f.certs() + "\ntrust: " + f.labs() +
                          "\nreload_interval_ms: 0\n" + extra;
    const auto node = engine::ConfigNode::load_string(y, "p.yaml");
    node.get("type");  // read by the pipeline loader
    auto op = Calibration::from_config(node, bc);
    node.finish();  // the pipeline loader refuses unknown keys this way
    return op;
  };
  EXPECT_NO_THROW(build("decision_rule: simple\nuse_mpe: initial\nreject: [no_certificate]\n"));
  EXPECT_THROW(build("decision_rule: strict\n"), engine::ConfigError);
  EXPECT_THROW(build("use_mpe: never\n"), engine::ConfigError);
  EXPECT_THROW(build("reject: [out_of_tolerance, wrong]\n"), engine::ConfigError);
  EXPECT_THROW(build("bogus: 1\n"), engine::ConfigError);
  const auto node = engine::ConfigNode::load_string("type: calibration\ntrust: x.yaml\n", "p.yaml");
  EXPECT_THROW(Calibration::from_config(node, bc), engine::ConfigError);  // no certificates
  auto missing = engine::ConfigNode::load_string(
      "type: calibration\ncertificates: /nonexistent/c.yaml\ntrust: " + f.labs() + "\n", "p.yaml");
  try {
    Calibration::from_config(missing, bc);
    ADD_FAILURE() << "a missing certificates file must be a config error";
  } catch (const engine::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("p.yaml:"), std::string::npos) << e.what();
  }
}

TEST(Calibration, RegisteredAsABuiltinAndBuiltFromAPipelineFile) {
  Files f;
  f.write({testing::make_cert("c", "s1", kT0 - kDay, kT0 + kDay)});
  testing::write_text(f.dir / "in.asy", "");
  engine::Registries reg;
  register_builtin_operators(reg.operators);
  connectors::register_builtin_connectors(reg);
  const std::string yaml =
      "name: cal\ninput: {type: file, path: " + (f.dir / "in.asy").string() +
      "}\noperators:\n  - type: calibration\n    certificates: " + f.certs() +
      "\n    trust: " + f.labs() +
      "\n    reject: [no_certificate]\nroutes:\n  trusted: {type: file, path: " +
      (f.dir / "t.asy").string() +
      "}\n  rejected: {type: file, path: " + (f.dir / "r.asy").string() + "}\n";
  engine::Metrics metrics;
  auto p =
      engine::build_pipeline(engine::ConfigNode::load_string(yaml, "cal.yaml"), yaml, reg, metrics);
  ASSERT_EQ(p->operators.size(), 1u);
  EXPECT_EQ(p->operators[0]->type(), "calibration");
  EXPECT_FALSE(p->operators[0]->stateful());
}

TEST(Calibration, RefusalsAndLoadedCertificatesAreMetrics) {
  Files f;
  auto bad = testing::make_cert("bad", "s2", kT0 - kDay, kT0 + kDay);
  bad.lab_id = f.lab.lab_id;
  bad.lab_key_id = f.lab.key_id;  // unsigned
  f.write({testing::make_cert("c", "s1", kT0 - kDay, kT0 + kDay), bad});
  engine::PipelineInfo info{"p", {}, "i"};
  engine::Metrics metrics;
  engine::EngineOptions eo;
  engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext bc{info, metrics, eo, services, warnings};
  const std::string y = "type: calibration\ncertificates: " + f.certs() + "\ntrust: " + f.labs() +
                        "\nreload_interval_ms: 0\n";
  auto op = Calibration::from_config(engine::ConfigNode::load_string(y, "p.yaml"), bc);
  const std::string text = metrics.serialize();
  EXPECT_NE(
      text.find(
          "assay_calibration_certificates_refused_total{pipeline=\"p\",reason=\"unsigned\"} 1"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("assay_calibration_certificates{pipeline=\"p\"} 1"), std::string::npos)
      << text;
}

// ---- a simulated fleet ----------------------------------------------------------------

TEST(Calibration, SimulatedFleetEveryExpiredCalibrationCaughtFewFalsePositives) {
  const fs::path dir = testing::temp_dir("calsim");
  sim::SimConfig c;
  c.sensors = 400;
  c.records = 40000;
  c.seed = 21;
  c.registry_path = (dir / "sensors.yaml").string();
  c.certs_path = (dir / "certs.yaml").string();
  c.labs_path = (dir / "labs.yaml").string();
  c.labels_path = (dir / "labels.jsonl").string();
  std::string err;
  ASSERT_TRUE(sim::parse_fault("expired_calibration=0.05", c.faults, err)) << err;
  sim::MemoryFrameSink sink;
  sim::SimSummary summary;
  ASSERT_TRUE(sim::run_simulation(c, sink, summary, err)) << err;
  std::map<std::pair<int64_t, uint32_t>, std::string> labels;
  {
    std::ifstream in(c.labels_path);
    std::string line;
    while (std::getline(in, line)) {
      const json_mini::Value v = json_mini::parse(line);
      labels[{v["record"].integer(), static_cast<uint32_t>(v["reading"].integer())}] =
          v["fault"].str();
    }
  }
  registries::CalibrationStoreConfig sc;
  sc.certificates_path = c.certs_path;
  sc.trust_path = c.labs_path;
  sc.identity = registries::IdentityStore::open(c.registry_path);
  sc.reload_interval_ms = 0;
  CalibrationConfig cfg;
  cfg.store = std::make_shared<registries::CalibrationStore>(std::move(sc));
  auto op = std::make_unique<Calibration>(cfg);
  EXPECT_EQ(op->store().snapshot()->certificate_count(), c.sensors);  // every signature verifies
  EXPECT_EQ(op->store().refused_total(), 0u);
  const RunOut o = run_pipeline(std::move(op), sink.frames, 256);
  ASSERT_TRUE(o.summary.ok) << o.summary.error;
  EXPECT_TRUE(o.alerts.empty());
  std::map<std::pair<int64_t, uint32_t>, std::string> verdict;
  for (const auto& rec : o.trusted) {
    const auto* tr = wire::GetTrustedReading(rec.data());
    verdict[{tr->provenance()->source_offset(), tr->reading_index()}] = "trusted";
  }
  for (const auto& rec : o.rejected) {
    const auto* rr = wire::GetRejectedRecord(rec.data());
    for (uint32_t i : testing::rejected_readings(rr))
      verdict[{rr->source_offset(), i}] = rr->reason()->str();
  }
  ASSERT_EQ(verdict.size(), labels.size());
  uint64_t expired = 0, expired_caught = 0, clean = 0, clean_flagged = 0;
  std::map<std::string, uint64_t> flagged_by;
  for (const auto& [pos, label] : labels) {
    const std::string& v = verdict.at(pos);
    if (label == "expired_calibration") {
      ++expired;
      expired_caught += v == "calibration.certificate_expired";
    } else if (label == "none") {
      ++clean;
      if (v != "trusted") {
        ++clean_flagged;
        ++flagged_by[v];
      }
    }
  }
  ASSERT_GT(expired, 1000u);
  EXPECT_EQ(expired_caught, expired);  // 100 %
  const double fp_rate = static_cast<double>(clean_flagged) / static_cast<double>(clean);
  // Expected false-positive rate (docs/calibration.md): measurements never (U = 2.24 u <=
  // MPE = 6 u); a reference check (about 0.1 % of readings) only if its noise exceeds 3.76 u
  // (p = 1.7e-4): about 2e-7 of clean readings. 1e-4 is a bound no plausible run exceeds
  // unless the rule is wrong.
  std::cout << "clean readings " << clean << ", flagged " << clean_flagged << " (rate " << fp_rate
            << "); expired " << expired << ", caught " << expired_caught << "\n";
  for (const auto& [v, n] : flagged_by) std::cout << "  " << v << ": " << n << "\n";
  EXPECT_LE(fp_rate, 1e-4);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace assay::operators
