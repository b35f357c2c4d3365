// Grouped trusted records (engine.trusted_records: grouped; docs/wire-contract.md "Grouped
// trusted records") at the output stage: one TrustedReading per sensor and input record, in the
// order of each sensor's first reading, its readings in reading order; readings counted as
// readings; the verdict header names the group's size.
#include <gtest/gtest.h>

#include <map>

#include "connectors/memory.hpp"
#include "engine/runner.hpp"
#include "engine/trusted_group.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::engine {
namespace {

// A ReadingBatch whose reading i belongs to sensors[i].
std::vector<uint8_t> batch_of(const std::vector<std::string>& sensors) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Reading>> rs;
  for (size_t i = 0; i < sensors.size(); ++i) {
    const auto id = fbb.CreateString(sensors[i]);
    wire::ReadingBuilder rb(fbb);
    rb.add_sensor_id(id);
    rb.add_seq(100 + i);
    rb.add_value(0.5 * static_cast<double>(i));
    rb.add_std_uncertainty(0.01);
    rs.push_back(rb.Finish());
  }
  const auto v = fbb.CreateVector(rs);
  wire::FinishReadingBatchBuffer(fbb, wire::CreateReadingBatch(fbb, v));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// Keeps every trusted record with the verdict header the pipeline gave it.
class VerdictSink : public Sink {
 public:
  bool start(std::string*) override { return true; }
  bool write(std::span<const uint8_t> record, const OutputMeta& meta, uint64_t token) override {
    records.emplace_back(record.begin(), record.end());
    verdicts.emplace_back(meta.verdict);
    keys.emplace_back(meta.key);
    if (ack_) ack_(token, true);
    return true;
  }
  bool flush(int) override { return true; }
  std::string describe() const override { return "verdicts"; }
  std::vector<std::vector<uint8_t>> records;
  std::vector<std::string> verdicts, keys;
};

struct Out {
  RunSummary summary;
  std::vector<std::vector<uint8_t>> trusted;
  std::vector<std::string> verdicts, keys;
};

Out run(std::vector<std::vector<uint8_t>> frames, bool grouped) {
  Metrics metrics;
  Pipeline p;
  p.info = {"grouped", std::vector<uint8_t>(32, 0), "t"};
  p.engine.trusted_grouped = grouped;
  p.engine.batch_size = 2;
  p.source = std::make_unique<connectors::MemorySource>(std::move(frames));
  auto t = std::make_unique<VerdictSink>();
  auto* tp = t.get();
  p.sinks[0] = std::move(t);
  p.sinks[1] = std::make_unique<connectors::MemorySink>();
  p.stage_names = {"decode"};
  Runner runner(p, metrics);
  Out o;
  o.summary = runner.run();
  o.trusted = tp->records;
  o.verdicts = tp->verdicts;
  o.keys = tp->keys;
  return o;
}

// SignedReadings (what `assay prove --sensor --seq` and `assay aas export` read a grouped
// record's readings through): every reading of a SignedBatch, the one of a SignedReading, none
// of malformed or foreign bytes.
TEST(SignedReadings, EveryReadingOfABatchTheOneOfAReadingNoneOfMalformedBytes) {
  const std::vector<uint8_t> body = batch_of({"a", "b", "a", "c"});
  flatbuffers::FlatBufferBuilder fbb;
  const auto bv = fbb.CreateVector(body);
  const auto kid = fbb.CreateString("k");
  const auto sig = fbb.CreateVector(std::vector<uint8_t>(64, 7));
  wire::FinishSignedBatchBuffer(fbb, wire::CreateSignedBatch(fbb, bv, kid, {}, sig));
  const std::vector<uint8_t> batch(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());

  const SignedReadings rs(batch);
  for (uint32_t i = 0; i < 4; ++i) {
    const wire::Reading* r = rs.get(i);
    ASSERT_NE(r, nullptr) << i;
    EXPECT_EQ(r->seq(), 100 + i);
    EXPECT_EQ(r->sensor_id()->str(), i == 1 ? "b" : i == 3 ? "c" : "a");
    EXPECT_EQ(reading_in_signed_bytes(batch, i), r) << "the one-reading form reads the same";
  }
  EXPECT_EQ(rs.get(4), nullptr);

  flatbuffers::FlatBufferBuilder one;
  const std::vector<uint8_t> reading_body = [] {
    flatbuffers::FlatBufferBuilder b;
    const auto id = b.CreateString("solo");
    wire::ReadingBuilder rb(b);
    rb.add_sensor_id(id);
    rb.add_seq(42);
    wire::FinishReadingBuffer(b, rb.Finish());
    return std::vector<uint8_t>(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
  }();
  const auto rb = one.CreateVector(reading_body);
  const auto okid = one.CreateString("k");
  const auto osig = one.CreateVector(std::vector<uint8_t>(64, 7));
  wire::FinishSignedReadingBuffer(one, wire::CreateSignedReading(one, rb, okid, {}, osig));
  const std::span<const uint8_t> reading(one.GetBufferPointer(), one.GetSize());
  const SignedReadings single(reading);
  ASSERT_NE(single.get(0), nullptr);
  EXPECT_EQ(single.get(0)->seq(), 42u);
  EXPECT_EQ(single.get(1), nullptr);

  // Truncated, a corrupted body, another format: no readings, and nothing read out of bounds.
  const SignedReadings truncated(std::span<const uint8_t>(batch.data(), batch.size() / 2));
  EXPECT_EQ(truncated.get(0), nullptr);
  std::vector<uint8_t> bad = batch;
  const auto* sb = wire::GetSignedBatch(bad.data());
  const size_t body_at = static_cast<size_t>(sb->body()->data() - bad.data());
  for (size_t i = 0; i < 8; ++i) bad[body_at + i] = 0xff;  // the ReadingBatch's root offset
  EXPECT_EQ(SignedReadings(bad).get(0), nullptr);
  const std::vector<uint8_t> foreign = {'{', '"', 'a', '"', ':', '1', '}', ' ', ' '};
  EXPECT_EQ(SignedReadings(foreign).get(0), nullptr);
  EXPECT_EQ(SignedReadings(std::span<const uint8_t>()).get(0), nullptr);
}

TEST(GroupedOutput, OneRecordPerSensorInOrderOfFirstReading) {
  // Three sensors interleaved in one record; a record of one reading; a record of 40 sensors
  // (beyond the 32 the output stage finds by scanning) with two readings each.
  std::vector<std::string> many;
  for (int round = 0; round < 2; ++round)
    for (int s = 0; s < 40; ++s) many.push_back("m" + std::to_string(s));
  const std::vector<std::vector<uint8_t>> frames = {batch_of({"b", "a", "b", "c", "a", "b"}),
                                                    batch_of({"solo"}), batch_of(many)};
  const Out per = run(frames, false);
  const Out grp = run(frames, true);
  ASSERT_TRUE(per.summary.ok) << per.summary.error;
  ASSERT_TRUE(grp.summary.ok) << grp.summary.error;
  EXPECT_EQ(per.summary.trusted, 87u);
  EXPECT_EQ(grp.summary.trusted, 87u);  // readings, not records
  ASSERT_EQ(per.trusted.size(), 87u);
  ASSERT_EQ(grp.trusted.size(), 3u + 1u + 40u);

  const std::vector<std::pair<std::string, std::vector<uint32_t>>> want_first = {
      {"b", {0, 2, 5}}, {"a", {1, 4}}, {"c", {3}}, {"solo", {0}}};
  std::vector<TrustedEntry> entries;
  std::string why;
  for (size_t i = 0; i < grp.trusted.size(); ++i) {
    const auto* t = wire::GetTrustedReading(grp.trusted[i].data());
    ASSERT_TRUE(trusted_entries(*t, &entries, &why)) << why;
    std::vector<uint32_t> idx;
    for (const auto& e : entries) idx.push_back(e.reading_index);
    const std::string sensor = t->sensor_id()->str();
    if (i < want_first.size()) {
      EXPECT_EQ(sensor, want_first[i].first) << i;
      EXPECT_EQ(idx, want_first[i].second) << i;
    } else {
      const size_t s = i - want_first.size();
      EXPECT_EQ(sensor, "m" + std::to_string(s));
      EXPECT_EQ(idx,
                (std::vector<uint32_t>{static_cast<uint32_t>(s), static_cast<uint32_t>(s + 40)}));
    }
    EXPECT_EQ(grp.keys[i], sensor);  // keyed by its sensor, like its readings
    // A group of one is a plain record; a group of N says so in the verdict header.
    EXPECT_EQ(t->group_reading_indexes() != nullptr, idx.size() > 1) << i;
    EXPECT_EQ(grp.verdicts[i], idx.size() > 1
                                   ? "signature=NotChecked;readings=" + std::to_string(idx.size())
                                   : "signature=NotChecked")
        << i;
    // Uncorrected readings: the group leaves their values to the readings themselves.
    EXPECT_EQ(t->group_corrected_values(), nullptr);
    for (size_t k = 1; k < entries.size(); ++k) EXPECT_FALSE(entries[k].values_given);
  }
  // The per-reading layout: one record per reading, in reading order.
  EXPECT_EQ(wire::GetTrustedReading(per.trusted[1].data())->sensor_id()->str(), "a");
  EXPECT_EQ(per.verdicts[1], "signature=NotChecked");
}

}  // namespace
}  // namespace assay::engine
