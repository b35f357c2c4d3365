// Operator `drift`: reference checks against the MPE, CUSUM/EWMA/Page-Hinkley on the error
// sequence, redundancy groups, an alert on every level change, calibration columns and their
// fallback, bad input, snapshot round trip and corrupted snapshots, configuration.
#include "operators/drift.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "formats/state_codec.hpp"
#include "rows.hpp"
#include "schemas/alert_generated.h"
#include "schemas/common_generated.h"

namespace assay::operators {
namespace {

using engine::RejectCode;
using testing::R;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

R ref(const std::string& s, uint64_t seq, double error, double u = 0.1) {
  R r;
  r.sensor = s;
  r.seq = seq;
  r.reference = true;
  r.reference_value = 50;
  r.value = 50 + error;
  r.u = u;
  r.time_ns = kT0 + static_cast<int64_t>(seq) * kSec;
  return r;
}

R meas(const std::string& s, uint64_t seq, double v, double u = 0.1) {
  R r;
  r.sensor = s;
  r.seq = seq;
  r.value = v;
  r.u = u;
  r.time_ns = kT0 + static_cast<int64_t>(seq) * kSec;
  return r;
}

struct Fixture {
  explicit Fixture(DriftConfig c = {})
      : op(std::move(c)), st(op.make_state(engine::Partition(0))) {}
  engine::Batch& run(const std::vector<R>& rs) {
    auto& b = rows.batch(rs);
    rows.run(op, *st, b);
    return b;
  }
  Drift op;
  std::unique_ptr<engine::OperatorState> st;
  testing::Rows rows;
};

DriftConfig only_reference() {
  DriftConfig c;
  c.use_cusum = c.use_ewma = c.use_page_hinkley = false;
  return c;
}

TEST(Drift, ReferenceCheckAgainstMpeWithAlertOnEveryLevelChange) {
  Fixture f(only_reference());  // no calibration: MPE = 5 sigma = 0.5
  auto& b1 = f.run({ref("s", 1, 0.1)});
  EXPECT_EQ(b1.row_drift[0], static_cast<uint8_t>(wire::DriftLevel::Ok));
  EXPECT_TRUE(b1.alerts.empty());
  auto& b2 = f.run({ref("s", 2, 0.45)});  // > 0.8 * MPE
  EXPECT_EQ(b2.row_drift[0], static_cast<uint8_t>(wire::DriftLevel::Warning));
  ASSERT_EQ(b2.alerts.size(), 1u);
  EXPECT_EQ(b2.alerts[0].kind, "drift.reference_check");
  EXPECT_EQ(b2.alerts[0].sensor_id, "s");
  EXPECT_EQ(b2.alerts[0].level, static_cast<uint8_t>(wire::AlertLevel::Warning));
  EXPECT_EQ(b2.alerts[0].previous_level, static_cast<uint8_t>(wire::AlertLevel::Info));
  EXPECT_EQ(b2.alerts[0].trigger_seq, 2u);
  EXPECT_NEAR(b2.alerts[0].statistic, 0.9, 1e-9);
  auto& b3 = f.run({ref("s", 3, -0.6)});
  EXPECT_EQ(b3.row_drift[0], static_cast<uint8_t>(wire::DriftLevel::Alarm));
  ASSERT_EQ(b3.alerts.size(), 1u);
  EXPECT_EQ(b3.alerts[0].level, static_cast<uint8_t>(wire::AlertLevel::Alarm));
  EXPECT_EQ(b3.alerts[0].previous_level, static_cast<uint8_t>(wire::AlertLevel::Warning));
  EXPECT_NEAR(b3.row_drift_stat[0], -1.2, 1e-9);
  auto& b4 = f.run({ref("s", 4, -0.6)});  // same level: no alert
  EXPECT_TRUE(b4.alerts.empty());
  auto& b5 = f.run({ref("s", 5, 0.0)});
  ASSERT_EQ(b5.alerts.size(), 1u);
  EXPECT_EQ(b5.alerts[0].level, static_cast<uint8_t>(wire::AlertLevel::Info));
  // A sensor without reference checks or a group is not checked at all (no state).
  auto& b6 = f.run({meas("plain", 1, 20)});
  EXPECT_EQ(b6.row_drift[0], static_cast<uint8_t>(wire::DriftLevel::NotChecked));
  EXPECT_EQ(f.st->memory_bytes() > 0, true);
}

TEST(Drift, UsesCalibrationColumnsWhenSet) {
  Fixture f(only_reference());
  auto& b = f.rows.batch({ref("s", 1, 0.3)});  // raw error 0.3: ok against MPE 0.5
  b.row_calibration[0] = 1;
  b.row_corrected[0] = 50 + 1.5;  // corrected error 1.5
  b.row_expanded_unc[0] = 0.4;
  b.row_coverage[0] = 2;
  b.row_mpe[0] = 1.0;  // in-service MPE from the certificate
  f.rows.run(f.op, *f.st, b);
  EXPECT_EQ(b.row_drift[0], static_cast<uint8_t>(wire::DriftLevel::Alarm));
  EXPECT_NEAR(b.row_drift_stat[0], 1.5, 1e-9);
}

TEST(Drift, CusumEwmaAndPageHinkleyDetectAShiftInTheErrorSequence) {
  Fixture f;
  std::mt19937_64 g(5);
  std::normal_distribution<double> n(0, 0.1);
  uint64_t seq = 1;
  std::map<std::string, uint64_t> first_alarm;
  for (int i = 0; i < 300; ++i) {
    const double shift = i < 100 ? 0 : 0.2;  // 2 sigma from reading 100 on
    auto& b = f.run({ref("s", seq, shift + n(g))});
    for (const auto& a : b.alerts)
      if (a.level == static_cast<uint8_t>(wire::AlertLevel::Alarm) && !first_alarm.count(a.kind))
        first_alarm[a.kind] = seq;
    ++seq;
  }
  for (const char* k : {"drift.cusum", "drift.ewma", "drift.page_hinkley"}) {
    ASSERT_TRUE(first_alarm.count(k)) << k;
    EXPECT_GT(first_alarm[k], 100u) << k;  // no alarm before the shift
    EXPECT_LT(first_alarm[k], 100u + 30) << k;
  }
}

TEST(Drift, RedundancyGroupFlagsOnlyTheDeviatingMember) {
  DriftConfig c;
  c.groups = {{"line-1", {"a", "b", "c"}}};
  c.use_cusum = c.use_ewma = c.use_page_hinkley = false;
  Fixture f(c);
  EXPECT_EQ(f.op.group_count(), 1u);
  EXPECT_EQ(f.op.member_count(), 3u);
  std::mt19937_64 g(9);
  std::normal_distribution<double> n(0, 0.1);
  std::map<std::string, int> alarms;
  for (uint64_t seq = 1; seq <= 200; ++seq) {
    const double truth = 20 + 0.5 * std::sin(static_cast<double>(seq) / 30);
    const double fault = seq > 100 ? 2.0 : 0;  // c off by 20 sigma from reading 100 on
    auto& b = f.run({meas("a", seq, truth + n(g)), meas("b", seq, truth + n(g)),
                     meas("c", seq, truth + fault + n(g))});
    for (const auto& a : b.alerts) {
      EXPECT_EQ(a.kind, "drift.redundancy");
      if (a.level == static_cast<uint8_t>(wire::AlertLevel::Alarm)) {
        ++alarms[a.sensor_id];
        EXPECT_EQ(a.trigger_seq, 103u);  // third consecutive exceedance
      }
    }
  }
  EXPECT_EQ(alarms["c"], 1);
  EXPECT_EQ(alarms.count("a"), 0u);
  EXPECT_EQ(alarms.count("b"), 0u);
}

TEST(Drift, SkippedAndNonFiniteRowsDoNotTouchTheStatistics) {
  Fixture f;
  R bad_ref = ref("s", 4, 0);
  bad_ref.reference_value = HUGE_VAL;
  auto& b = f.rows.batch({ref("s", 1, 5.0), ref("s", 2, std::nan("")), ref("s", 3, 0), bad_ref});
  b.row_anomaly[0] = static_cast<uint32_t>(wire::AnomalyFlag::Spike);  // 50 sigma, but a spike
  f.rows.run(f.op, *f.st, b);
  EXPECT_TRUE(b.alerts.empty());
  EXPECT_EQ(b.row_reject[0], RejectCode::kNone);
  EXPECT_EQ(b.row_reject[1], RejectCode::kValueNotFinite);
  EXPECT_EQ(b.row_reject[2], RejectCode::kNone);
  EXPECT_EQ(b.row_reject[3], RejectCode::kValueNotFinite);
  EXPECT_EQ(b.row_drift[2], static_cast<uint8_t>(wire::DriftLevel::Ok));
  // Only the clean row entered the statistics: C+ = C- = 0, EWMA n = 1.
  auto& st = static_cast<DriftState&>(*f.st);
  const DriftSensor* d = st.table.find("s");
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->cusum.hi, 0.0f);
  EXPECT_EQ(d->cusum.lo, 0.0f);
  EXPECT_EQ(d->ewma.n, 1u);
  EXPECT_EQ(d->ph.n, 1u);
}

TEST(Drift, RejectOnAlarm) {
  DriftConfig c = only_reference();
  c.reject_on_alarm = true;
  Fixture f(c);
  auto& b = f.run({ref("s", 1, 0.1), ref("s", 2, 0.7), ref("s", 3, 0.7)});
  EXPECT_EQ(b.row_reject[0], RejectCode::kNone);
  EXPECT_EQ(b.row_reject[1], RejectCode::kDriftAlarm);
  EXPECT_EQ(b.row_reject[2], RejectCode::kDriftAlarm);
  EXPECT_EQ(b.alerts.size(), 1u);
}

TEST(Drift, SnapshotRoundTripAndCorruptionRefused) {
  Fixture f;
  std::mt19937_64 g(1);
  std::normal_distribution<double> n(0, 0.1);
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    std::vector<R> rs;
    for (int s = 0; s < 30; ++s)
      rs.push_back(ref("sensor-" + std::to_string(s), seq, 0.05 * s / 30 + n(g)));
    f.run(rs);
  }
  const auto snap = f.st->snapshot();
  auto restored = f.op.make_state(engine::Partition(0));
  ASSERT_TRUE(restored->restore(snap));
  EXPECT_EQ(restored->snapshot(), snap);
  // Both states give identical verdicts on the same continuation.
  std::vector<R> next;
  for (int s = 0; s < 30; ++s) next.push_back(ref("sensor-" + std::to_string(s), 41, 0.3));
  auto& b1 = f.rows.batch(next);
  f.rows.run(f.op, *f.st, b1);
  const auto drift1 = b1.row_drift;
  const auto stat1 = b1.row_drift_stat;
  auto& b2 = f.rows.batch(next);
  f.rows.run(f.op, *restored, b2);
  EXPECT_EQ(b2.row_drift, drift1);
  EXPECT_EQ(b2.row_drift_stat, stat1);
  const auto before = restored->snapshot();
  std::mt19937 r(4);
  for (size_t i = 0; i < snap.size(); i += 1 + snap.size() / 400) {
    auto bad = snap;
    bad[i] ^= static_cast<uint8_t>(1 + r() % 255);
    EXPECT_FALSE(restored->restore(bad)) << i;
  }
  for (size_t len : {size_t{0}, size_t{10}, snap.size() - 8, snap.size() - 1})
    EXPECT_FALSE(restored->restore(std::span<const uint8_t>(snap.data(), len))) << len;
  EXPECT_EQ(restored->snapshot(), before);
  // An anomaly snapshot is not a drift snapshot.
  EXPECT_FALSE(restored->restore(std::vector<uint8_t>(64, 0)));
}

// Durable state entry by entry (issue 14): a redundancy-group member's entry carries its
// recent values, so an operator restored from the entries alone (a new process) makes the
// same comparisons, statistics and alerts as the one that never stopped. A v1 entry (without
// them) is still read.
TEST(Drift, GroupMembersValuesSurviveARestoreFromEntries) {
  DriftConfig c;
  c.groups = {{"line-1", {"a", "b", "c"}}};
  Fixture live(c);
  std::mt19937_64 g(9);
  std::normal_distribution<double> n(0, 0.1);
  auto readings = [&](uint64_t seq) {
    const double truth = 20 + 0.5 * std::sin(static_cast<double>(seq) / 30);
    const double fault = seq > 100 ? 0.25 * static_cast<double>(seq - 100) / 20 : 0;
    return std::vector<R>{meas("a", seq, truth + n(g)), meas("b", seq, truth + n(g)),
                          meas("c", seq, truth + fault + n(g))};
  };
  for (uint64_t seq = 1; seq <= 60; ++seq) live.run(readings(seq));
  // The entries of the last batch (every sensor): what the changelog holds.
  std::vector<std::vector<uint8_t>> entries;
  {
    auto& b = live.run(readings(61));
    std::vector<uint32_t> rows(b.row_count());
    for (uint32_t i = 0; i < rows.size(); ++i) rows[i] = i;
    live.st->changed_entries(b, rows, [&](std::string_view, std::span<const uint8_t> e) {
      entries.emplace_back(e.begin(), e.end());
    });
  }
  ASSERT_EQ(entries.size(), 3u);
  Fixture restored(c);
  for (const auto& e : entries) ASSERT_TRUE(restored.st->merge_entry(e));
  Fixture cold(c);  // the same without the members' values: v1 entries
  for (auto e : entries) {
    // A v1 entry: the same bytes without the trailing member block and with version 1.
    e.resize(e.size() - 8);  // checksum
    // The block: u8 count (0: none), or count, u8 alarm, f32 sigma, f32 expanded and
    // count x (f64 value, i64 time).
    size_t member_block = e.back() == 0 ? 1 : 0;
    for (size_t k = 1; k <= 8 && member_block == 0; ++k)
      if (e.size() > 10 + 16 * k && e[e.size() - 10 - 16 * k] == k) member_block = 10 + 16 * k;
    ASSERT_GT(member_block, 0u);
    e.resize(e.size() - member_block);
    e[4] = 1;
    e[5] = 0;
    const uint64_t sum = formats::snapshot_fnv1a64(e);
    for (int k = 0; k < 8; ++k) e.push_back(static_cast<uint8_t>(sum >> (8 * k)));
    ASSERT_TRUE(cold.st->merge_entry(e));
  }
  size_t alerts = 0, differ_cold = 0;
  for (uint64_t seq = 62; seq <= 220; ++seq) {
    const auto rs = readings(seq);
    auto& b1 = live.run(rs);
    const auto alerts1 = b1.alerts;
    const auto stat1 = b1.row_drift_stat;
    auto& b2 = restored.run(rs);
    ASSERT_EQ(b2.row_drift_stat, stat1) << "seq " << seq;
    ASSERT_EQ(b2.alerts.size(), alerts1.size()) << "seq " << seq;
    for (size_t i = 0; i < alerts1.size(); ++i) {
      EXPECT_EQ(b2.alerts[i].kind, alerts1[i].kind);
      EXPECT_EQ(b2.alerts[i].level, alerts1[i].level);
      EXPECT_EQ(b2.alerts[i].sensor_id, alerts1[i].sensor_id);
    }
    alerts += alerts1.size();
    auto& b3 = cold.run(rs);
    differ_cold += b3.row_drift_stat != stat1;
  }
  EXPECT_GT(alerts, 0u) << "the drifting member raised no alert: not a test";
  // Without the members' values the first comparisons after the restore are missing, so the
  // statistics differ (what v1 entries, and the code before format v2, did).
  EXPECT_GT(differ_cold, 0u);
}

TEST(Drift, ConfigParsing) {
  engine::Metrics m;
  engine::PipelineInfo info{"t", {}, "i"};
  engine::EngineOptions eo;
  engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext ctx{info, m, eo, services, warnings};
  auto op = Drift::from_config(
      engine::ConfigNode::load_string(
          "type: drift\ngroups: {g1: [a, b, c], g2: [d, e, f, g]}\ncusum: {k: 0.25, h: 8}\n"
          "ewma: {lambda: 0.1, L: 2.7, limits: asymptotic}\npage_hinkley: {enabled: false}\n"
          "skip_flags: [spike]\nreject_on_alarm: true\n",
          "d.yaml"),
      ctx);
  const auto& d = static_cast<Drift&>(*op);
  EXPECT_EQ(d.group_count(), 2u);
  EXPECT_EQ(d.member_count(), 7u);
  EXPECT_EQ(d.config().cusum.k, 0.25);
  EXPECT_EQ(d.config().cusum.h, 8);
  EXPECT_EQ(d.config().cusum.warning, 4);
  EXPECT_FALSE(d.config().ewma.exact);
  EXPECT_FALSE(d.config().use_page_hinkley);
  EXPECT_EQ(d.config().skip_mask, static_cast<uint32_t>(wire::AnomalyFlag::Spike));
  EXPECT_TRUE(d.config().reject_on_alarm);
  for (const char* bad :
       {"type: drift\ncusum: {h: -1}\n", "type: drift\newma: {lambda: 1.5}\n",
        "type: drift\nsigma: guess\n", "type: drift\nskip_flags: [nope]\n",
        "type: drift\ncusum: {hh: 1}\n", "type: drift\nregistry: /nonexistent.yaml\n"})
    EXPECT_THROW(Drift::from_config(engine::ConfigNode::load_string(bad, "e.yaml"), ctx),
                 engine::ConfigError)
        << bad;
}

}  // namespace
}  // namespace assay::operators
