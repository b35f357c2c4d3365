// Memory of the per-sensor state of drift + anomaly: 1M sensors in one partition's states,
// measured with OperatorState::memory_bytes() (index + values + interned ids), target <= 256
// bytes per sensor. Also checks the table itself: every id found again, no false hits.
#include <gtest/gtest.h>

#include <cstdio>

#include "operators/anomaly.hpp"
#include "operators/drift.hpp"

namespace assay::operators {
namespace {

std::string sensor_name(uint32_t i) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "urn:assay:sim:1:sensor:%07u", i);
  return buf;
}

TEST(StateMemory, OneMillionSensorsWithin256BytesEach) {
  constexpr uint32_t kSensors = 1'000'000;
  AnomalyState anomaly(7);
  DriftState drift;
  for (uint32_t i = 0; i < kSensors; ++i) {
    const std::string id = sensor_name(i);
    bool inserted = false;
    AnomalySensor* a = anomaly.table.find_or_insert(id, &inserted);
    ASSERT_TRUE(a != nullptr && inserted);
    a->last_seq = i;
    DriftSensor* d = drift.table.find_or_insert(id, &inserted);
    ASSERT_TRUE(d != nullptr && inserted);
    d->ewma.n = i;
  }
  ASSERT_EQ(anomaly.table.size(), kSensors);
  for (uint32_t i = 0; i < kSensors; i += 7) {
    const std::string id = sensor_name(i);
    const AnomalySensor* a = anomaly.table.find(id);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->last_seq, i);
    EXPECT_EQ(drift.table.find(id)->ewma.n, i);
  }
  EXPECT_EQ(anomaly.table.find("urn:assay:sim:1:sensor:1000000"), nullptr);
  EXPECT_EQ(anomaly.table.find(""), nullptr);
  const double a_per = static_cast<double>(anomaly.memory_bytes()) / kSensors;
  const double d_per = static_cast<double>(drift.memory_bytes()) / kSensors;
  std::printf(
      "state memory at %u sensors (ids of %zu bytes): anomaly %.1f B/sensor (value %zu), "
      "drift %.1f B/sensor (value %zu), total %.1f B/sensor\n",
      kSensors, sensor_name(0).size(), a_per, sizeof(AnomalySensor), d_per, sizeof(DriftSensor),
      a_per + d_per);
  EXPECT_LE(a_per + d_per, 256.0);
  // memory_bytes() accounts at least the values and the ids.
  EXPECT_GE(a_per, sizeof(AnomalySensor) + sensor_name(0).size());
}

TEST(StateMemory, LongAndOddIdsAreInterned) {
  SensorTable<uint64_t> t;
  const std::string long_id(100000, 'x');
  const std::string mid_id(300, 'y');
  const std::string with_nul("a\0b", 3);
  *t.find_or_insert(long_id) = 1;
  *t.find_or_insert(mid_id) = 2;
  *t.find_or_insert(with_nul) = 3;
  *t.find_or_insert("a") = 4;
  for (int i = 0; i < 5000; ++i) *t.find_or_insert("k" + std::to_string(i)) = 10 + i;
  EXPECT_EQ(*t.find(long_id), 1u);
  EXPECT_EQ(*t.find(mid_id), 2u);
  EXPECT_EQ(*t.find(with_nul), 3u);
  EXPECT_EQ(*t.find("a"), 4u);
  EXPECT_EQ(t.find(std::string(99999, 'x')), nullptr);
  for (int i = 0; i < 5000; ++i) EXPECT_EQ(*t.find("k" + std::to_string(i)), 10u + i);
  EXPECT_EQ(t.size(), 5004u);
}

}  // namespace
}  // namespace assay::operators
