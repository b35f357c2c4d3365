// Issue 13, item 5: engine.max_record_bytes holds for Kafka input as for file input. A record
// over the limit becomes one rejected row `frame.too_large` (its first max_record_bytes bytes
// kept), is never decoded or trusted, and its offset is committed once that rejected output is
// acknowledged, like any other record. librdkafka's own receive limit must admit every record
// the setting admits: a smaller one is refused at configuration time.
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

constexpr uint32_t kLimit = 4096;

// The pipeline of `spec` with engine.max_record_bytes set.
std::string limited_yaml(const PipelineSpec& spec, uint32_t limit) {
  std::string y = pipeline_yaml(spec);
  const std::string anchor = "  max_in_flight: 8\n";
  const auto at = y.find(anchor);
  EXPECT_NE(at, std::string::npos) << y;
  y.insert(at + anchor.size(), "  max_record_bytes: " + std::to_string(limit) + "\n");
  return y;
}

TEST(KafkaLimits, RecordsOverMaxRecordBytesAreRejectedTooLargeAndCommitted) {
  ASSAY_REQUIRE_BROKER();
  const Fleet fleet =
      simulated_fleet("limits-300", {"--records", "300", "--sensors", "10", "--seed", "11"});
  auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 100u);
  size_t largest = 0;
  for (const auto& f : frames) largest = std::max(largest, f.size());
  ASSERT_LE(largest, kLimit) << "the fleet's own records must fit the limit of this test";
  // Oversized records between honest ones: 500 KB (the probe's size), 900 KB, and one byte
  // over the limit. Not valid FlatBuffers either: only the size may decide their verdict.
  std::vector<size_t> big_index;
  std::vector<std::vector<uint8_t>> input;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (i == 40 || i == 120 || i == 200) {
      const size_t size = i == 40 ? 500 * 1000 : i == 120 ? 900 * 1000 : kLimit + 1;
      big_index.push_back(input.size());
      input.emplace_back(size, static_cast<uint8_t>('x'));
    }
    input.push_back(std::move(frames[i]));
  }

  const fs::path dir = work_dir("limits");
  PipelineSpec spec;
  spec.name = "kafka-limits";
  spec.brokers = bootstrap();
  spec.input = unique_name("limits-in");
  spec.group = unique_name("limits-group");
  spec.trusted = unique_name("limits-trusted");
  spec.rejected = unique_name("limits-rejected");
  spec.registry = fleet.registry().string();
  spec.idle_timeout_ms = 4000;
  create_topic(spec.input, 2);
  create_topic(spec.trusted, 1);
  create_topic(spec.rejected, 1);
  Producer prod(spec.input);
  prod.produce(input, 0, input.size());
  ASSERT_TRUE(prod.flush());
  const auto expected = expected_readings(input, prod.placements);

  write_text(dir / "pipeline.yaml", limited_yaml(spec, kLimit));
  const int rc = run_to_end({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress",
                             "--summary-json", (dir / "summary.json").string()},
                            dir, "run", 240s);
  ASSERT_EQ(rc, 0) << read_text(dir / "run.err") << read_text(dir / "run.out");

  const auto trusted = consume_all(spec.trusted);
  const auto rejected = consume_all(spec.rejected);
  const Accounting a = account(expected, {&trusted, &rejected});
  expect_each_reading_once(a);
  EXPECT_GT(trusted.size(), 0u);

  // Each oversized record: exactly one rejected output, frame.too_large, holding at most the
  // limit of its bytes; nothing of it is trusted.
  std::map<std::pair<int32_t, int64_t>, const Message*> rejected_at;
  for (const Message& m : rejected) {
    const OutputRef r = decode_output(m);
    rejected_at[{r.partition, r.offset}] = &m;
  }
  for (size_t i : big_index) {
    const Placement& p = prod.placements[i];
    SCOPED_TRACE("oversized input " + std::to_string(i) + " of " + std::to_string(input[i].size()) +
                 " bytes");
    const auto it = rejected_at.find({p.partition, p.offset});
    ASSERT_NE(it, rejected_at.end());
    const Message& m = *it->second;
    EXPECT_EQ(decode_output(m).reason, "frame.too_large");
    EXPECT_EQ(m.headers.at("assay-reason"), "frame.too_large");
    std::vector<uint64_t> buf((m.value.size() + 7) / 8);
    std::memcpy(buf.data(), m.value.data(), m.value.size());
    const auto* rec = wire::GetRejectedRecord(buf.data());
    ASSERT_NE(rec->payload(), nullptr);
    EXPECT_EQ(rec->payload()->size(), kLimit);  // the first max_record_bytes bytes, no more
    EXPECT_LT(m.value.size(), size_t{kLimit} + 2048);
  }
  for (const Message& m : trusted) {
    const OutputRef r = decode_output(m);
    for (size_t i : big_index)
      EXPECT_FALSE(r.partition == prod.placements[i].partition &&
                   r.offset == prod.placements[i].offset);
  }
  const std::string summary = read_text(dir / "summary.json");
  EXPECT_NE(summary.find("\"frame.too_large\":3"), std::string::npos) << summary;

  // Every offset, the oversized records' included, was committed.
  const auto ends = end_offsets(spec.input);
  EXPECT_EQ(committed_offsets(spec.group, spec.input, static_cast<int>(ends.size())), ends);
}

// librdkafka refuses to receive a response larger than receive.message.max.bytes: a value
// that cannot hold a record of max_record_bytes would stall the input on such a record, so it
// is refused where it is configured.
TEST(KafkaLimits, AReceiveLimitBelowMaxRecordBytesIsRefusedWithItsLocation) {
  const fs::path dir = work_dir("limits-lint");
  PipelineSpec spec;
  spec.brokers = "127.0.0.1:9";  // lint contacts no broker
  spec.input = "in";
  spec.group = "g";
  spec.trusted = "t";
  spec.rejected = "r";
  spec.input_properties = "receive.message.max.bytes: 100000\n";
  write_text(dir / "pipeline.yaml", limited_yaml(spec, 1 << 20));
  const int rc =
      run_to_end({assay_bin(), "lint", (dir / "pipeline.yaml").string()}, dir, "lint", 60s);
  EXPECT_EQ(rc, 2) << read_text(dir / "lint.err") << read_text(dir / "lint.out");
  const std::string out = read_text(dir / "lint.err") + read_text(dir / "lint.out");
  EXPECT_NE(out.find("pipeline.yaml:9:32: key 'input.properties.receive.message.max.bytes'"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("max_record_bytes"), std::string::npos) << out;
  // Large enough for the record, not for fetch.max.bytes (50 MiB by default) + 512: refused too,
  // as librdkafka would refuse it only when the client is created.
  spec.input_properties = "receive.message.max.bytes: 2000000\n";
  write_text(dir / "pipeline.yaml", limited_yaml(spec, 1 << 20));
  EXPECT_EQ(run_to_end({assay_bin(), "lint", (dir / "pipeline.yaml").string()}, dir, "lint2", 60s),
            2);
  EXPECT_NE(read_text(dir / "lint2.err").find("fetch.max.bytes (52428800)"), std::string::npos)
      << read_text(dir / "lint2.err");
  // With fetch.max.bytes lowered to match: accepted.
  spec.input_properties = "receive.message.max.bytes: 2000000\nfetch.max.bytes: 1500000\n";
  write_text(dir / "pipeline.yaml", limited_yaml(spec, 1 << 20));
  EXPECT_EQ(run_to_end({assay_bin(), "lint", (dir / "pipeline.yaml").string()}, dir, "lint3", 60s),
            0)
      << read_text(dir / "lint3.err");
}

}  // namespace
}  // namespace assay::kt
