// SenML replay protection: strictly increasing resolved time per sensor, atomic per pack.
#include "formats/senml_check.hpp"

#include <gtest/gtest.h>

#include <cstring>

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

// Durable entries: what check() changed, one sensor per entry, merged back in order.
struct Entry {
  std::string key;
  std::vector<uint8_t> bytes;
};

std::vector<Entry> take_changed(SenmlReplayState& s) {
  std::vector<Entry> out;
  s.for_each_changed([&](std::string_view k, std::span<const uint8_t> e) {
    out.push_back({std::string(k), {e.begin(), e.end()}});
  });
  s.clear_changed();
  return out;
}

std::vector<std::string> keys(const std::vector<Entry>& es) {
  std::vector<std::string> k;
  for (const auto& e : es) k.push_back(e.key);
  return k;
}

TEST(SenmlReplay, ChangedEntriesRebuildTheState) {
  SenmlReplayChecker c;
  SenmlReplayState a;
  std::vector<Entry> log;
  const auto batch = [&](std::vector<std::string> packs) {
    for (const auto& p : packs) c.check(a, pack(p));
    auto es = take_changed(a);
    log.insert(log.end(), es.begin(), es.end());
    return keys(es);
  };
  // Sorted by name, each once, only what check() set.
  EXPECT_EQ(batch({R"([{"n":"z","t":1700000000,"v":1},{"n":"b","t":1700000000,"v":1}])",
                   R"([{"n":"b","t":1700000001,"v":1},{"n":"m","t":1700000000,"v":1}])"}),
            (std::vector<std::string>{"b", "m", "z"}));
  // A replayed pack changes nothing; the pack after it does.
  EXPECT_EQ(batch({R"([{"n":"q","t":1700000005,"v":1},{"n":"z","t":1700000000,"v":1}])"}),
            std::vector<std::string>{});
  EXPECT_EQ(batch({R"([{"n":"m","t":1700000009,"v":1}])",
                   R"([{"n":"b","t":1700000002,"v":1},{"n":"m","t":1700000010,"v":1}])"}),
            (std::vector<std::string>{"b", "m"}));
  EXPECT_EQ(log.size(), 5u);
  // Each entry is an ordinary snapshot of its sensor alone.
  SenmlReplayState one;
  ASSERT_TRUE(one.restore(log.back().bytes));
  EXPECT_EQ(one.sensor_count(), 1u);
  EXPECT_EQ(*one.last_time("m"), 1700000010 * kSec);
  // Merged in order into a fresh state: the same state (later entries replace earlier ones).
  SenmlReplayState b;
  for (const auto& e : log) ASSERT_TRUE(b.merge(e.bytes, SIZE_MAX)) << e.key;
  EXPECT_EQ(b.snapshot(), a.snapshot());
  EXPECT_EQ(*b.last_time("b"), 1700000002 * kSec);
  // Merging changes nothing to report, and the restored state still refuses replays.
  EXPECT_TRUE(take_changed(b).empty());
  EXPECT_EQ(c.check(b, pack(R"([{"n":"m","t":1700000010,"v":1}])")).check, SenmlCheck::kReplay);
  EXPECT_EQ(c.check(b, pack(R"([{"n":"z","t":1700000000,"v":1}])")).check, SenmlCheck::kReplay);
  EXPECT_TRUE(c.check(b, pack(R"([{"n":"m","t":1700000011,"v":1}])")).ok());
  // An older entry merged after a newer one wins: the log's order is the truth.
  ASSERT_TRUE(b.merge(log[1].bytes, SIZE_MAX));  // "m" at 1700000000
  EXPECT_EQ(*b.last_time("m"), 1700000000 * kSec);
}

TEST(SenmlReplay, ChangedKeysAreListedOnceAndForgottenWithTheirKeys) {
  SenmlReplayChecker c;
  SenmlReplayState s;
  for (int i = 0; i < 2000; ++i) {
    const std::string n = i % 2 ? "a" : "b";
    ASSERT_TRUE(c.check(s, pack(R"([{"n":")" + n + R"(","t":)" + std::to_string(1700000000 + i) +
                                R"(,"v":1}])"))
                    .ok());
  }
  EXPECT_EQ(keys(take_changed(s)), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(take_changed(s).empty());
  // restore() and clear() forget them (their keys are gone).
  c.check(s, pack(R"([{"n":"c","t":1800000000,"v":1}])"));
  ASSERT_TRUE(s.restore(SenmlReplayState().snapshot()));
  EXPECT_TRUE(take_changed(s).empty());
  c.check(s, pack(R"([{"n":"c","t":1800000000,"v":1}])"));
  s.clear();
  EXPECT_TRUE(take_changed(s).empty());
}

TEST(SenmlReplay, MalformedEntriesAreRefusedAndChangeNothing) {
  SenmlReplayChecker c;
  SenmlReplayState a;
  c.check(a, pack(R"([{"n":"a","t":1700000000,"v":1},{"n":"b","t":1700000000,"v":1}])"));
  const auto es = take_changed(a);
  ASSERT_EQ(es.size(), 2u);
  const std::vector<uint8_t> entry = es[0].bytes;
  SenmlReplayState s;
  c.check(s, pack(R"([{"n":"x","t":1600000000,"v":1}])"));
  const auto before = s.snapshot();
  for (size_t i = 0; i < entry.size(); ++i) {
    auto bad = entry;
    bad[i] ^= 0x40;
    EXPECT_FALSE(s.merge(bad, SIZE_MAX)) << i;
  }
  for (size_t n = 0; n < entry.size(); ++n)
    EXPECT_FALSE(s.merge(std::span(entry).first(n), SIZE_MAX)) << n;
  auto longer = entry;
  longer.push_back(0);
  EXPECT_FALSE(s.merge(longer, SIZE_MAX));
  // A whole snapshot of two sensors, or of none, is not an entry.
  EXPECT_FALSE(s.merge(a.snapshot(), SIZE_MAX));
  EXPECT_FALSE(s.merge(SenmlReplayState().snapshot(), SIZE_MAX));
  // Another state's entry (the OCMF checker's magic, checksum recomputed) is foreign.
  auto foreign = entry;
  std::memcpy(foreign.data(), "AOCM", 4);
  const uint64_t h = snapshot_fnv1a64(std::span(foreign).first(foreign.size() - 8));
  std::memcpy(foreign.data() + foreign.size() - 8, &h, 8);
  EXPECT_FALSE(s.merge(foreign, SIZE_MAX));
  // Version 2 (checksum recomputed) is not this version's.
  auto v2 = entry;
  v2[4] = 2;
  const uint64_t h2 = snapshot_fnv1a64(std::span(v2).first(v2.size() - 8));
  std::memcpy(v2.data() + v2.size() - 8, &h2, 8);
  EXPECT_FALSE(s.merge(v2, SIZE_MAX));
  EXPECT_FALSE(s.merge({}, SIZE_MAX));
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_TRUE(s.merge(entry, SIZE_MAX));
}

TEST(SenmlReplay, MergeRespectsTheSensorLimit) {
  SenmlReplayChecker c;
  SenmlReplayState a;
  c.check(a, pack(R"([{"n":"a","t":1700000000,"v":1},{"n":"b","t":1700000000,"v":1},)"
                  R"({"n":"c","t":1700000000,"v":1}])"));
  c.check(a, pack(R"([{"n":"a","t":1700000001,"v":1}])"));
  const auto es = take_changed(a);
  ASSERT_EQ(keys(es), (std::vector<std::string>{"a", "b", "c"}));
  SenmlReplayState s;
  EXPECT_TRUE(s.merge(es[0].bytes, 2));
  EXPECT_TRUE(s.merge(es[1].bytes, 2));
  const auto before = s.snapshot();
  EXPECT_FALSE(s.merge(es[2].bytes, 2));  // a third sensor
  EXPECT_EQ(s.snapshot(), before);
  EXPECT_TRUE(s.merge(es[0].bytes, 2));  // a known one is replaced
  EXPECT_EQ(s.sensor_count(), 2u);
}

}  // namespace
}  // namespace assay::formats
