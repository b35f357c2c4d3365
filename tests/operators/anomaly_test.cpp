// Operator `anomaly`: every flag on hand-made readings, bad input (NaN, seq jumps of 2^63,
// wrap-around), rate limiting without starving other sensors, snapshot round trip and
// refusal of corrupted snapshots, configuration errors.
#include "operators/anomaly.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>

#include "rows.hpp"
#include "schemas/common_generated.h"

namespace assay::operators {
namespace {

using engine::RejectCode;
using testing::R;
using wire::AnomalyFlag;

constexpr int64_t kT0 = 1'700'000'000'000'000'000;
constexpr int64_t kSec = 1'000'000'000;

uint32_t bit(AnomalyFlag f) {
  return static_cast<uint32_t>(f);
}

AnomalyConfig defaults() {
  AnomalyConfig c;
  c.reject_mask = bit(AnomalyFlag::Replay) | bit(AnomalyFlag::FutureTimestamp) |
                  bit(AnomalyFlag::RateLimited) | bit(AnomalyFlag::OutsidePhysicalRange);
  return c;
}

struct Fixture {
  explicit Fixture(AnomalyConfig c = defaults())
      : op(std::move(c)), st(op.make_state(engine::Partition(0))) {}
  // Runs one reading per batch; returns the row's flags, reject code in *code.
  // The record time (the Kafka timestamp) starts at `now` and advances by 0.1 s per
  // reading: within the default rate limit. The context's wall clock is far off on purpose
  // (no verdict may depend on it).
  uint32_t one(const R& r, RejectCode* code = nullptr, int64_t now = kT0) {
    R rr = r;
    if (rr.record_time_ns == 0) rr.record_time_ns = now + (mono - kSec);
    auto& b = rows.batch({rr});
    mono += kSec / 10;
    rows.run(op, *st, b, /*now_ns=*/1, /*mono_ns=*/1);
    if (code) *code = b.row_reject[0];
    return b.row_anomaly[0];
  }
  Anomaly op;
  std::unique_ptr<engine::OperatorState> st;
  int64_t mono = kSec;
  testing::Rows rows;
};

R at(uint64_t seq, double v, const std::string& s = "s1") {
  R r;
  r.sensor = s;
  r.seq = seq;
  r.value = v;
  r.time_ns = kT0;
  return r;
}

TEST(Anomaly, ReplayRejectedAndGapFlagged) {
  Fixture f;
  RejectCode code;
  EXPECT_EQ(f.one(at(1, 20.0)), 0u);
  EXPECT_EQ(f.one(at(2, 20.1)), 0u);
  EXPECT_EQ(f.one(at(2, 20.1), &code), bit(AnomalyFlag::Replay));
  EXPECT_EQ(code, RejectCode::kAnomalyReplay);
  EXPECT_EQ(f.one(at(1, 20.1), &code), bit(AnomalyFlag::Replay));
  EXPECT_EQ(f.one(at(5, 20.0), &code), bit(AnomalyFlag::Gap));
  EXPECT_EQ(code, RejectCode::kNone);  // a gap is kept (flagged) by default
  EXPECT_EQ(f.one(at(6, 20.05)), 0u);
  // Another sensor has its own sequence.
  EXPECT_EQ(f.one(at(1, 20.0, "s2")), 0u);
}

TEST(Anomaly, HugeJumpAndWrapAroundNeverPoisonTheState) {
  Fixture f;
  RejectCode code;
  EXPECT_EQ(f.one(at(10, 20.0)), 0u);
  // A jump by 2^63: suspect, rejected, the state stays at 10.
  EXPECT_EQ(f.one(at(10 + (uint64_t{1} << 63), 20.0), &code), bit(AnomalyFlag::Gap));
  EXPECT_EQ(code, RejectCode::kAnomalyGap);
  EXPECT_EQ(f.one(at(UINT64_MAX, 20.0), &code), bit(AnomalyFlag::Gap));
  EXPECT_EQ(code, RejectCode::kAnomalyGap);
  // The honest sequence continues normally.
  EXPECT_EQ(f.one(at(11, 20.0), &code), 0u);
  EXPECT_EQ(code, RejectCode::kNone);
  // Wrap-around (back to 0) is a replay.
  EXPECT_EQ(f.one(at(0, 20.0), &code), bit(AnomalyFlag::Replay));
  EXPECT_EQ(code, RejectCode::kAnomalyReplay);
  EXPECT_EQ(f.one(at(12, 20.0), &code), 0u);
}

TEST(Anomaly, ConfirmedJumpResynchronises) {
  Fixture f;
  RejectCode code;
  EXPECT_EQ(f.one(at(5, 20.0)), 0u);
  const uint64_t base = 5'000'000'000ULL;
  EXPECT_EQ(f.one(at(base, 20.0), &code), bit(AnomalyFlag::Gap));
  EXPECT_EQ(code, RejectCode::kAnomalyGap);
  EXPECT_EQ(f.one(at(base + 1, 20.0), &code), bit(AnomalyFlag::Gap));
  EXPECT_EQ(code, RejectCode::kAnomalyGap);
  // Third consecutive reading: accepted as the new base (flagged as a gap).
  EXPECT_EQ(f.one(at(base + 2, 20.0), &code), bit(AnomalyFlag::Gap));
  EXPECT_EQ(code, RejectCode::kNone);
  EXPECT_EQ(f.one(at(base + 3, 20.0), &code), 0u);
  EXPECT_EQ(f.one(at(6, 20.0), &code), bit(AnomalyFlag::Replay));
}

TEST(Anomaly, ClockSkewAndFutureTimestamp) {
  Fixture f;
  RejectCode code;
  R r = at(1, 20.0);
  r.time_ns = kT0 - 20 * 60 * kSec;  // 20 minutes behind ingest time
  EXPECT_EQ(f.one(r, &code), bit(AnomalyFlag::ClockSkew));
  EXPECT_EQ(code, RejectCode::kNone);
  r = at(2, 20.0);
  r.time_ns = kT0 + 2 * 60 * kSec;  // 2 minutes ahead: future, within skew tolerance
  EXPECT_EQ(f.one(r, &code), bit(AnomalyFlag::FutureTimestamp));
  EXPECT_EQ(code, RejectCode::kAnomalyFutureTimestamp);
  r = at(3, 20.0);
  r.time_ns = INT64_MAX;  // far future: both, no overflow
  EXPECT_EQ(f.one(r, &code), bit(AnomalyFlag::FutureTimestamp) | bit(AnomalyFlag::ClockSkew));
  // The rejected future readings used their seqs: a copy of seq 3 is a replay.
  EXPECT_EQ(f.one(at(3, 20.0), &code), bit(AnomalyFlag::Replay));
  r = at(5, 20.0);
  r.time_ns = INT64_MIN;
  EXPECT_EQ(f.one(r, &code), bit(AnomalyFlag::ClockSkew | AnomalyFlag::Gap));
}

TEST(Anomaly, PhysicalRangeFromRegistryAndDefault) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("assay-anom-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = (dir / "sensors.yaml").string();
  std::ofstream(path)
      << "sensors:\n"
         "  - sensor_id: t1\n    measuring_range: {min: -40, max: 150}\n    keys: []\n";
  AnomalyConfig c = defaults();
  c.identity = registries::IdentityStore::open(path);
  c.default_min = 0;
  c.default_max = 10;
  Fixture f(c);
  RejectCode code;
  EXPECT_EQ(f.one(at(1, 149.0, "t1"), &code), 0u);
  EXPECT_EQ(f.one(at(2, 151.0, "t1"), &code), bit(AnomalyFlag::OutsidePhysicalRange));
  EXPECT_EQ(code, RejectCode::kAnomalyOutsidePhysicalRange);
  EXPECT_EQ(f.one(at(1, 11.0, "other"), &code), bit(AnomalyFlag::OutsidePhysicalRange));
  EXPECT_EQ(f.one(at(2, 9.0, "other"), &code), 0u);
  std::filesystem::remove_all(dir);
}

TEST(Anomaly, HampelSpikeAndStuckRun) {
  Fixture f;
  std::mt19937_64 g(7);
  std::normal_distribution<double> n(0, 0.1);
  uint64_t seq = 1;
  int spikes = 0;
  for (int i = 0; i < 2000; ++i)
    spikes += (f.one(at(seq++, 20 + n(g))) & bit(AnomalyFlag::Spike)) != 0;
  EXPECT_LT(spikes, 10);  // false positives on Gaussian noise: < 0.5 %
  EXPECT_EQ(f.one(at(seq++, 22.0)), bit(AnomalyFlag::Spike));  // 20 sigma
  EXPECT_EQ(f.one(at(seq++, 20.0)) & bit(AnomalyFlag::Spike), 0u);
  // 10 identical values: the 10th is flagged stuck, and the run goes on being flagged.
  for (int i = 1; i <= 12; ++i) {
    const uint32_t fl = f.one(at(seq++, 20.123));
    EXPECT_EQ((fl & bit(AnomalyFlag::Stuck)) != 0, i >= 10) << i;
  }
  EXPECT_EQ(f.one(at(seq++, 20.01)) & bit(AnomalyFlag::Stuck), 0u);
}

TEST(Anomaly, NonFiniteValuesAreRejectedAndNeverEnterTheStatistics) {
  Fixture f;
  RejectCode code;
  uint64_t seq = 1;
  for (int i = 0; i < 20; ++i) f.one(at(seq++, 20.0 + 0.01 * (i % 3)));
  for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL}) {
    EXPECT_EQ(f.one(at(seq++, bad), &code), 0u);
    EXPECT_EQ(code, RejectCode::kValueNotFinite);
  }
  R r = at(seq++, 20.0);
  r.u = std::nan("");
  f.one(r, &code);
  EXPECT_EQ(code, RejectCode::kValueNotFinite);
  // The window and sequence are intact: a normal value is clean, a spike is still a spike.
  EXPECT_EQ(f.one(at(seq++, 20.01), &code),
            bit(AnomalyFlag::Gap));  // the NaN rows' seqs were skipped
  EXPECT_EQ(code, RejectCode::kNone);
  EXPECT_EQ(f.one(at(seq++, 25.0)) & bit(AnomalyFlag::Spike), bit(AnomalyFlag::Spike));
}

TEST(Anomaly, FloodingSensorIsRateLimitedOthersAreNot) {
  AnomalyConfig c = defaults();
  c.rate = 10;
  c.burst = 20;
  Fixture f(c);
  // One batch: 1000 readings of a flooding sensor interleaved with 50 honest sensors.
  std::vector<R> rs;
  for (int i = 0; i < 1000; ++i) {
    rs.push_back(at(static_cast<uint64_t>(i + 1), 20.0 + 0.001 * i, "flood"));
    if (i % 20 == 0) rs.push_back(at(1, 20.0, "honest-" + std::to_string(i / 20)));
  }
  for (R& r : rs) r.record_time_ns = kT0;  // all appended by the broker in the same instant
  auto& b = f.rows.batch(rs);
  f.rows.run(f.op, *f.st, b, kT0, 10 * kSec);
  int flood_ok = 0, flood_limited = 0, honest_ok = 0;
  for (uint32_t r = 0; r < b.row_count(); ++r) {
    const bool flood = b.row_reading[r]->sensor_id()->string_view() == "flood";
    if (b.row_reject[r] == RejectCode::kAnomalyRateLimited) {
      EXPECT_TRUE(flood);
      ++flood_limited;
    } else if (flood) {
      ++flood_ok;
    } else {
      ++honest_ok;
    }
  }
  EXPECT_EQ(flood_ok, 20);  // the burst
  EXPECT_EQ(flood_limited, 980);
  EXPECT_EQ(honest_ok, 50);
  // One second later the bucket has 10 more tokens.
  std::vector<R> more;
  for (int i = 0; i < 30; ++i) more.push_back(at(static_cast<uint64_t>(2000 + i), 20.0, "flood"));
  for (R& r : more) r.record_time_ns = kT0 + kSec;
  auto& b2 = f.rows.batch(more);
  // The wall clock is 1 h later (a backlog reprocessed): the verdicts follow the record time.
  f.rows.run(f.op, *f.st, b2, kT0 + 3600 * kSec, 3600 * kSec);
  int ok = 0;
  for (uint32_t r = 0; r < b2.row_count(); ++r) ok += b2.row_reject[r] == RejectCode::kNone;
  EXPECT_EQ(ok, 10);
}

TEST(Anomaly, WithoutRecordTimeTheRateLimitCountsInSensorTimeAndClockChecksAreOff) {
  AnomalyConfig c = defaults();
  c.rate = 10;
  c.burst = 20;
  Fixture f(c);
  // File input: no record time. 100 readings claiming one second of sensor time: 20 (the
  // burst) + 4 pass in the first half second, 5 in the next, whatever the wall clock (an hour
  // ahead, then an hour behind).
  std::vector<R> rs;
  for (int i = 0; i < 50; ++i) {
    rs.push_back(at(static_cast<uint64_t>(i + 1), 20.0));
    rs.back().time_ns = kT0 + i * (kSec / 100);  // 0.5 s of sensor time
  }
  auto& b = f.rows.batch(rs);
  f.rows.run(f.op, *f.st, b, kT0 + 3600 * kSec, 1);
  int ok = 0;
  for (uint32_t r = 0; r < b.row_count(); ++r) {
    ok += b.row_reject[r] == RejectCode::kNone;
    EXPECT_EQ(b.row_anomaly[r] & bit(AnomalyFlag::ClockSkew), 0u);  // an hour "late": no check
  }
  EXPECT_EQ(ok, 24);  // the burst of 20, then one per 0.1 s of sensor time
  std::vector<R> more;
  for (int i = 50; i < 100; ++i) {
    more.push_back(at(static_cast<uint64_t>(i + 1), 20.0));
    more.back().time_ns = kT0 + i * (kSec / 100);
  }
  auto& b2 = f.rows.batch(more);
  f.rows.run(f.op, *f.st, b2, kT0 - 3600 * kSec, 2);
  ok = 0;
  for (uint32_t r = 0; r < b2.row_count(); ++r) ok += b2.row_reject[r] == RejectCode::kNone;
  EXPECT_EQ(ok, 5);
  // A replay of an old reading is a replay, not a burst.
  R old = at(3, 20.0);
  old.time_ns = kT0;
  auto& b3 = f.rows.batch({old});
  f.rows.run(f.op, *f.st, b3, kT0, 3);
  EXPECT_EQ(b3.row_reject[0], RejectCode::kAnomalyReplay);
  EXPECT_EQ(b3.row_anomaly[0], bit(AnomalyFlag::Replay));
}

TEST(Anomaly, SnapshotRoundTripAndCorruptionRefused) {
  Fixture f;
  uint64_t seq = 1;
  for (int s = 0; s < 50; ++s)
    for (int i = 0; i < 12; ++i) f.one(at(seq++, 20.0 + 0.01 * i, "sensor-" + std::to_string(s)));
  const std::vector<uint8_t> snap = f.st->snapshot();
  ASSERT_FALSE(snap.empty());
  auto restored = f.op.make_state(engine::Partition(0));
  ASSERT_TRUE(restored->restore(snap));
  EXPECT_EQ(restored->snapshot(), snap);
  // Behaviour carries over: a replay of the last seq is rejected by the restored state.
  R copy = at(seq - 1, 20.0, "sensor-49");
  copy.record_time_ns = kT0 + f.mono;  // after the last record time the state saw
  auto& b = f.rows.batch({copy});
  f.rows.run(f.op, *restored, b, kT0, f.mono + kSec);
  EXPECT_EQ(b.row_reject[0], RejectCode::kAnomalyReplay);
  // Every single-byte corruption and every truncation is refused; the state is unchanged.
  const auto before = restored->snapshot();
  std::mt19937 g(3);
  for (size_t i = 0; i < snap.size(); i += 1 + snap.size() / 400) {
    auto bad = snap;
    bad[i] ^= static_cast<uint8_t>(1 + g() % 255);
    EXPECT_FALSE(restored->restore(bad)) << "byte " << i;
  }
  for (size_t n : {size_t{0}, size_t{3}, size_t{20}, snap.size() / 2, snap.size() - 1})
    EXPECT_FALSE(restored->restore(std::span<const uint8_t>(snap.data(), n))) << n;
  std::vector<uint8_t> junk(1000);
  for (auto& x : junk) x = static_cast<uint8_t>(g());
  EXPECT_FALSE(restored->restore(junk));
  EXPECT_EQ(restored->snapshot(), before);
}

TEST(Anomaly, ConfigDefaultsAndErrors) {
  engine::Metrics m;
  engine::PipelineInfo info{"t", {}, "i"};
  engine::EngineOptions eo;
  engine::ServiceSet services;
  std::vector<std::string> warnings;
  engine::BuildContext ctx{info, m, eo, services, warnings};
  auto node = engine::ConfigNode::load_string(
      "type: anomaly\nreject: [replay, spike]\nspike: {window: 5, threshold: 4}\n"
      "rate_limit: {rate: 0}\n",
      "a.yaml");
  auto op = Anomaly::from_config(node, ctx);
  const auto& c = static_cast<Anomaly&>(*op).config();
  EXPECT_EQ(c.reject_mask, bit(AnomalyFlag::Replay) | bit(AnomalyFlag::Spike));
  EXPECT_EQ(c.spike_window, 5);
  EXPECT_EQ(c.rate, 0);
  auto def =
      Anomaly::from_config(engine::ConfigNode::load_string("type: anomaly\n", "b.yaml"), ctx);
  EXPECT_EQ(static_cast<Anomaly&>(*def).config().reject_mask,
            bit(AnomalyFlag::Replay) | bit(AnomalyFlag::FutureTimestamp) |
                bit(AnomalyFlag::RateLimited) | bit(AnomalyFlag::OutsidePhysicalRange));
  EXPECT_THROW(
      Anomaly::from_config(
          engine::ConfigNode::load_string("type: anomaly\nreject: [bogus]\n", "c.yaml"), ctx),
      engine::ConfigError);
  EXPECT_THROW(
      Anomaly::from_config(
          engine::ConfigNode::load_string("type: anomaly\nspike: {window: 11}\n", "d.yaml"), ctx),
      engine::ConfigError);
}

}  // namespace
}  // namespace assay::operators
