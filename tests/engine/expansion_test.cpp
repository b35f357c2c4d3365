// Issue 13 item 1: one input record must not expand into unbounded output. A SignedBatch whose
// readings all point at one table, with an unknown key and a random signature, used to write
// one rejected record per reading, each carrying the whole input (a 16 KB frame wrote 4.6 GB of
// JSON lines). Now the readings of one record rejected for one reason share one RejectedRecord,
// the readings per record and the output bytes per record are bounded, and every reading is
// still accounted for.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "connectors/memory.hpp"
#include "engine/runner.hpp"
#include "operators/verify_signature.hpp"
#include "records.hpp"
#include "schemas/rejected_record_generated.h"
#include "tests/rejected_readings.hpp"

namespace assay::engine {
namespace {

// A ReadingBatch of `n` readings that all reference one Reading table (4 bytes per reading).
std::vector<uint8_t> aliased_batch(uint32_t n) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto id = fbb.CreateString("s-flood");
  wire::ReadingBuilder rb(fbb);
  rb.add_sensor_id(id);
  rb.add_seq(1);
  const auto one = rb.Finish();
  std::vector<flatbuffers::Offset<wire::Reading>> rs(n, one);
  const auto v = fbb.CreateVector(rs);
  wire::FinishReadingBatchBuffer(fbb, wire::CreateReadingBatch(fbb, v));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::vector<uint8_t> signed_batch(const std::vector<uint8_t>& body) {
  flatbuffers::FlatBufferBuilder fbb;
  fbb.ForceVectorAlignment(body.size(), 1, 8);
  const auto b = fbb.CreateVector(body);
  const auto k = fbb.CreateString("unknown-key");
  const auto s = fbb.CreateVector(std::vector<uint8_t>(64, 0x5a));
  wire::SignedBatchBuilder sb(fbb);
  sb.add_body(b);
  sb.add_key_id(k);
  sb.add_alg(wire::SignatureAlg::Ed25519);
  sb.add_signature(s);
  wire::FinishSignedBatchBuffer(fbb, sb.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

struct Out {
  RunSummary summary;
  std::vector<std::vector<uint8_t>> trusted, rejected;
};

Out run(std::vector<std::vector<uint8_t>> frames, EngineOptions eo, bool verify) {
  Metrics metrics;
  Pipeline p;
  p.info = {"expansion", std::vector<uint8_t>(32, 0), "t"};
  p.engine = eo;
  p.source = std::make_unique<connectors::MemorySource>(std::move(frames));
  auto t = std::make_unique<connectors::MemorySink>();
  auto r = std::make_unique<connectors::MemorySink>();
  auto* tp = t.get();
  auto* rp = r.get();
  p.sinks[0] = std::move(t);
  p.sinks[1] = std::move(r);
  p.stage_names = {"decode"};
  const auto dir = std::filesystem::temp_directory_path() / ("assay-exp-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  if (verify) {
    std::ofstream(dir / "sensors.yaml") << "sensors: []\n";
    operators::VerifySignatureConfig cfg;
    cfg.identity = registries::IdentityStore::open((dir / "sensors.yaml").string());
    p.operators.push_back(std::make_unique<operators::VerifySignature>(cfg));
    p.stage_names.push_back("verify_signature");
  }
  Runner runner(p, metrics);
  Out o;
  o.summary = runner.run();
  o.trusted = tp->records();
  o.rejected = rp->records();
  std::filesystem::remove_all(dir);
  return o;
}

TEST(Expansion, AFloodOfAliasedReadingsIsOneRejectedRecord) {
  const auto frame = signed_batch(aliased_batch(4000));
  ASSERT_LT(frame.size(), 16384u);
  const Out o = run({frame}, EngineOptions{}, true);
  ASSERT_TRUE(o.summary.ok) << o.summary.error;
  EXPECT_EQ(o.summary.rows_in, 4000u);
  EXPECT_EQ(o.summary.rejected, 4000u);  // every reading accounted for
  EXPECT_EQ(o.summary.rejected_by_reason.at("signature.unknown_sensor"), 4000u);
  ASSERT_EQ(o.rejected.size(), 1u);        // ... in one record
  const auto* rr = wire::GetRejectedRecord(o.rejected[0].data());
  EXPECT_EQ(testing::rejected_readings(rr).size(), 4000u);
  EXPECT_EQ(rr->payload()->size(), frame.size());
  EXPECT_LT(o.rejected[0].size(), 2 * frame.size() + 4000 * 4 + 1024);
}

TEST(Expansion, ReadingsPerRecordAreBounded) {
  EngineOptions eo;
  eo.max_readings_per_record = 100;
  const Out o = run({signed_batch(aliased_batch(101)), signed_batch(aliased_batch(100))}, eo, false);
  ASSERT_TRUE(o.summary.ok) << o.summary.error;
  EXPECT_EQ(o.summary.rejected_by_reason.at("wire.too_many_readings"), 1u);
  EXPECT_EQ(o.trusted.size(), 100u);
}

TEST(Expansion, OutputBytesPerRecordAreBounded) {
  // Unverified (no operator): each trusted reading carries the whole signed batch.
  EngineOptions eo;
  eo.max_output_bytes_per_record = 64 * 1024;
  const auto big = signed_batch(testing::make_reading_batch("s-big", 1, 300));  // ~10 KB
  const auto small = signed_batch(testing::make_reading_batch("s-small", 1, 3));
  const Out o = run({big, small}, eo, false);
  ASSERT_TRUE(o.summary.ok) << o.summary.error;
  EXPECT_EQ(o.trusted.size(), 3u);  // the small record passes
  ASSERT_EQ(o.rejected.size(), 1u);
  const auto* rr = wire::GetRejectedRecord(o.rejected[0].data());
  EXPECT_EQ(rr->reason()->str(), "record.output_too_large");
  EXPECT_EQ(rr->stage()->str(), "output");
  EXPECT_EQ(testing::rejected_readings(rr).size(), 300u);
  EXPECT_EQ(o.summary.rows_in, o.summary.trusted + o.summary.rejected);
}

}  // namespace
}  // namespace assay::engine
