// SenML replay protection: strictly increasing resolved time per sensor, atomic per pack.
#include "formats/senml_check.hpp"

#include <gtest/gtest.h>

#include "formats_util.hpp"

namespace assay::formats {
namespace {

constexpr int64_t kSec = 1'000'000'000;

SenmlPack pack(const std::string& json) {
  SenmlPack p;
  EXPECT_EQ(parse_senml_json(test::bytes(json), {}, p), SenmlError::kNone) << json;
  return p;
}

TEST(SenmlReplay, IncreasingTimesPassRepeatsFail) {
  SenmlReplayChecker c;
  SenmlReplayState s;
  EXPECT_TRUE(
      c.check(s, pack(R"([{"bn":"d1:","bt":1700000000,"n":"t","v":1},{"n":"h","v":2}])")).ok());
  EXPECT_EQ(*s.last_time("d1:t"), 1700000000 * kSec);
  EXPECT_EQ(s.sensor_count(), 2u);
  // The same pack again: a replay.
  const auto r =
      c.check(s, pack(R"([{"bn":"d1:","bt":1700000000,"n":"t","v":1},{"n":"h","v":2}])"));
  EXPECT_EQ(senml_check_name(r.check), "senml.replay");
  EXPECT_EQ(r.record, 0u);
  // Newer times pass; an equal time is a replay too.
  EXPECT_TRUE(c.check(s, pack(R"([{"bn":"d1:","bt":1700000001,"n":"t","v":1}])")).ok());
  EXPECT_FALSE(c.check(s, pack(R"([{"bn":"d1:","bt":1700000001,"n":"t","v":1}])")).ok());
  // Another sensor is independent.
  EXPECT_TRUE(c.check(s, pack(R"([{"n":"d2:t","t":1600000000,"v":1}])")).ok());
}

TEST(SenmlReplay, PackIsAtomic) {
  SenmlReplayChecker c;
  SenmlReplayState s;
  ASSERT_TRUE(c.check(s, pack(R"([{"n":"a","t":1700000010,"v":1}])")).ok());
  const auto before = s.snapshot();
  // b is new and would pass, a goes back: the whole pack is refused and nothing moves.
  const auto r =
      c.check(s, pack(R"([{"n":"b","t":1700000020,"v":1},{"n":"a","t":1700000005,"v":1}])"));
  EXPECT_EQ(r.check, SenmlCheck::kReplay);
  EXPECT_EQ(r.record, 1u);
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_EQ(s.last_time("b"), nullptr);
}

TEST(SenmlReplay, WithinAPackTimesMustIncreasePerSensor) {
  SenmlReplayChecker c;
  SenmlReplayState s;
  // RFC 8428's example: one sensor, times -5..0 around a base time: increasing, passes.
  EXPECT_TRUE(
      c.check(
           s,
           pack(
               R"([{"bn":"x:","bt":1276020076,"n":"c","t":-5,"v":1},{"n":"c","t":-4,"v":1},{"n":"c","t":0,"v":1}])"))
          .ok());
  SenmlReplayState s2;
  const auto dup = c.check(
      s2,
      pack(
          R"([{"n":"c","t":1700000000,"v":1},{"n":"d","t":1700000000,"v":1},{"n":"c","t":1700000000,"v":2}])"));
  EXPECT_EQ(dup.check, SenmlCheck::kReplay);
  EXPECT_EQ(dup.record, 2u);
  const auto back =
      c.check(s2, pack(R"([{"n":"c","t":1700000002,"v":1},{"n":"c","t":1700000001,"v":1}])"));
  EXPECT_EQ(back.record, 1u);
  EXPECT_EQ(s2.sensor_count(), 0u);
}

TEST(SenmlReplay, StateLimit) {
  SenmlCheckConfig cfg;
  cfg.max_sensors = 2;
  SenmlReplayChecker c(cfg);
  SenmlReplayState s;
  EXPECT_TRUE(
      c.check(s, pack(R"([{"n":"a","t":1700000000,"v":1},{"n":"b","t":1700000000,"v":1}])")).ok());
  EXPECT_EQ(c.check(s, pack(R"([{"n":"c","t":1700000000,"v":1}])")).check, SenmlCheck::kStateFull);
  EXPECT_TRUE(c.check(s, pack(R"([{"n":"a","t":1700000001,"v":1}])")).ok());  // known sensors go on
}

TEST(SenmlReplay, SnapshotRestore) {
  SenmlReplayChecker c;
  SenmlReplayState a;
  c.check(a, pack(R"([{"n":"a","t":1700000000,"v":1},{"n":"zz","t":1800000000,"v":1}])"));
  const auto snap = a.snapshot();
  SenmlReplayState b;
  ASSERT_TRUE(b.restore(snap));
  EXPECT_EQ(b.snapshot(), snap);
  EXPECT_EQ(c.check(b, pack(R"([{"n":"zz","t":1800000000,"v":1}])")).check, SenmlCheck::kReplay);
  for (size_t i = 0; i < snap.size(); ++i) {
    auto bad = snap;
    bad[i] ^= 1;
    EXPECT_FALSE(b.restore(bad)) << i;
  }
  for (size_t n = 0; n < snap.size(); ++n) EXPECT_FALSE(b.restore(std::span(snap).first(n)));
  EXPECT_EQ(b.snapshot(), snap);
  EXPECT_EQ(senml_check_name(SenmlCheck::kStateFull), "senml.state_full");
}

}  // namespace
}  // namespace assay::formats
