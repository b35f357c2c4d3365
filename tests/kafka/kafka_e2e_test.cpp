// End to end through the real broker: simulated fleet -> input topic -> `assay run` ->
// trusted / rejected / alerts topics. Plus the "missing topic" errors.
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

TEST(KafkaEndToEnd, EveryReadingInExactlyOneRouteAndOffsetsCommitted) {
  ASSAY_REQUIRE_BROKER();
  const int records = kSanitized ? 3000 : 20000;
  const Fleet fleet = simulated_fleet(
      "e2e-" + std::to_string(records),
      {"--records", std::to_string(records), "--sensors", "40", "--seed", "7", "--fault",
       "forged=0.01", "--fault", "tampered=0.01", "--fault", "unknown_key=0.005"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 0u);
  const auto labels = frame_labels(fleet.labels(), frames.size());

  const fs::path dir = work_dir("e2e");
  PipelineSpec spec;
  spec.name = "kafka-e2e";
  spec.brokers = bootstrap();
  spec.input = unique_name("e2e-in");
  spec.group = unique_name("e2e-group");
  spec.trusted = unique_name("e2e-trusted");
  spec.rejected = unique_name("e2e-rejected");
  spec.alerts = unique_name("e2e-alerts");
  spec.registry = fleet.registry().string();
  spec.idle_timeout_ms = 4000;
  create_topic(spec.input, 4);
  for (const auto* t : {&spec.trusted, &spec.rejected, &spec.alerts}) create_topic(*t, 2);

  Producer prod(spec.input);
  prod.produce(frames, 0, frames.size());
  ASSERT_TRUE(prod.flush());
  const auto expected = expected_readings(frames, prod.placements);

  write_text(dir / "pipeline.yaml", pipeline_yaml(spec));
  const auto t0 = Clock::now();
  const int rc = run_to_end({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress",
                             "--summary-json", (dir / "summary.json").string()},
                            dir, "run", 240s);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(rc, 0) << read_text(dir / "run.err") << read_text(dir / "run.out");

  const auto trusted = consume_all(spec.trusted);
  const auto rejected = consume_all(spec.rejected);
  const auto alerts = consume_all(spec.alerts);
  const Accounting a = account(expected, {&trusted, &rejected});
  std::cout << "[ kafka ] " << frames.size() << " input records, " << a.expected << " readings -> "
            << trusted.size() << " trusted, " << rejected.size() << " rejected records ("
            << readings_of(rejected) << " readings), " << alerts.size() << " alerts; assay run "
            << secs << " s (idle timeout 4 s included)\n";
  expect_each_reading_once(a);
  EXPECT_EQ(trusted.size() + readings_of(rejected), expected.size());
  EXPECT_GT(trusted.size(), 0u);
  EXPECT_GT(rejected.size(), 0u);

  // Headers and keys.
  std::map<size_t, std::vector<std::string>> verdicts_by_frame;  // input index -> rejected reasons
  for (const auto* msgs : {&trusted, &rejected}) {
    const bool is_trusted = msgs == &trusted;
    for (const Message& m : *msgs) {
      const OutputRef r = decode_output(m);
      ASSERT_TRUE(r.ok);
      EXPECT_EQ(m.headers.count("assay-pipeline"), 1u);
      EXPECT_EQ(m.headers.at("assay-pipeline"), "kafka-e2e");
      ASSERT_EQ(m.headers.count("assay-verdict"), 1u);
      EXPECT_EQ(m.headers.at("assay-verdict").rfind("signature=", 0), 0u)
          << m.headers.at("assay-verdict");
      EXPECT_EQ(m.key, r.sensor_id);
      EXPECT_FALSE(r.sensor_id.empty());
      if (!is_trusted) {
        ASSERT_EQ(m.headers.count("assay-reason"), 1u);
        EXPECT_EQ(m.headers.at("assay-reason"), r.reason);
      } else {
        EXPECT_EQ(m.headers.count("assay-reason"), 0u);
      }
      for (uint32_t reading : r.readings) {
        const size_t idx = expected.at({r.partition, r.offset, reading});
        verdicts_by_frame[idx].push_back(is_trusted ? "trusted" : r.reason);
      }
    }
  }
  // Forged and tampered records are rejected (every reading of them) as signature.bad: every
  // record is verified, none is throttled (verdicts never depend on timing).
  size_t bad_frames = 0;
  std::map<std::string, size_t> bad_reasons;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (labels[i] != "forged" && labels[i] != "tampered") continue;
    ++bad_frames;
    ASSERT_EQ(verdicts_by_frame[i].size(), readings_in_frame(frames[i]));
    for (const auto& v : verdicts_by_frame[i]) {
      ++bad_reasons[v];
      EXPECT_EQ(v, "signature.bad") << "frame " << i << " " << labels[i];
    }
  }
  EXPECT_GT(bad_frames, 0u);
  EXPECT_GT(bad_reasons["signature.bad"], 0u);
  std::cout << "[ kafka ] forged/tampered readings: " << bad_reasons["signature.bad"]
            << " signature.bad\n";

  // The summary agrees with what the topics hold.
  const std::string summary = read_text(dir / "summary.json");
  EXPECT_EQ(json_int(summary, "readings_in"), static_cast<int64_t>(expected.size())) << summary;
  EXPECT_EQ(json_int(summary, "frames_in"), static_cast<int64_t>(frames.size())) << summary;
  EXPECT_EQ(json_int(summary, "trusted"), static_cast<int64_t>(trusted.size())) << summary;
  // The summary counts readings; a rejected record may stand for several.
  EXPECT_EQ(json_int(summary, "rejected"), static_cast<int64_t>(readings_of(rejected))) << summary;

  // Every input offset was committed, and only after its outputs were acknowledged.
  const auto ends = end_offsets(spec.input);
  const auto committed = committed_offsets(spec.group, spec.input, static_cast<int>(ends.size()));
  EXPECT_EQ(committed, ends);
}

// engine.trusted_records: grouped through the real broker: a SignedBatch fleet's trusted topic
// holds one record per batch, which stands for every reading of it (each reading in exactly one
// route), keyed by its sensor, with the group's size in the verdict header; the summary still
// counts readings.
TEST(KafkaEndToEnd, GroupedRecordsStandForEveryReadingOfTheirBatch) {
  ASSAY_REQUIRE_BROKER();
  const Fleet fleet =
      simulated_fleet("e2e-grouped", {"--records", "4000", "--sensors", "20", "--seed", "9",
                                      "--alg-mix", "ed25519=1", "--batch-fraction", "1",
                                      "--batch-size", "8", "--fault", "forged=0.02"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 0u);
  const fs::path dir = work_dir("e2e-grouped");
  PipelineSpec spec;
  spec.name = "kafka-grouped";
  spec.brokers = bootstrap();
  spec.input = unique_name("grp-in");
  spec.group = unique_name("grp-group");
  spec.trusted = unique_name("grp-trusted");
  spec.rejected = unique_name("grp-rejected");
  spec.registry = fleet.registry().string();
  spec.engine_extra = "trusted_records: grouped";
  create_topic(spec.input, 2);
  for (const auto* t : {&spec.trusted, &spec.rejected}) create_topic(*t, 2);
  Producer prod(spec.input);
  prod.produce(frames, 0, frames.size());
  ASSERT_TRUE(prod.flush());
  const auto expected = expected_readings(frames, prod.placements);

  write_text(dir / "pipeline.yaml", pipeline_yaml(spec));
  const int rc = run_to_end({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress",
                             "--summary-json", (dir / "summary.json").string()},
                            dir, "run", 240s);
  ASSERT_EQ(rc, 0) << read_text(dir / "run.err") << read_text(dir / "run.out");
  const auto trusted = consume_all(spec.trusted);
  const auto rejected = consume_all(spec.rejected);
  const Accounting a = account(expected, {&trusted, &rejected});
  expect_each_reading_once(a);
  EXPECT_GT(rejected.size(), 0u);  // forged batches
  const size_t trusted_readings = readings_of(trusted);
  EXPECT_EQ(trusted_readings + readings_of(rejected), expected.size());
  std::cout << "[ kafka ] grouped: " << expected.size() << " readings -> " << trusted.size()
            << " trusted records (" << trusted_readings << " readings), " << rejected.size()
            << " rejected records\n";
  size_t groups = 0;
  for (const Message& m : trusted) {
    const OutputRef r = decode_output(m);
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(m.key, r.sensor_id);
    const std::string want = r.readings.size() > 1
                                 ? "signature=Valid;readings=" + std::to_string(r.readings.size())
                                 : "signature=Valid";
    ASSERT_EQ(m.headers.count("assay-verdict"), 1u);
    EXPECT_EQ(m.headers.at("assay-verdict"), want);
    groups += r.readings.size() > 1;
  }
  EXPECT_GT(groups, trusted.size() / 2);  // mostly full batches of 8
  EXPECT_LT(trusted.size() * 4, trusted_readings);
  const std::string summary = read_text(dir / "summary.json");
  EXPECT_EQ(json_int(summary, "trusted"), static_cast<int64_t>(trusted_readings)) << summary;
}

TEST(KafkaEndToEnd, MissingInputTopicFailsNamingIt) {
  ASSAY_REQUIRE_BROKER();
  const fs::path dir = work_dir("missing");
  PipelineSpec spec;
  spec.brokers = bootstrap();
  spec.input = unique_name("does-not-exist");
  spec.group = unique_name("missing-group");
  spec.trusted = unique_name("missing-trusted");
  spec.rejected = unique_name("missing-rejected");
  create_topic(spec.trusted, 1);
  create_topic(spec.rejected, 1);
  write_text(dir / "pipeline.yaml", pipeline_yaml(spec));
  const auto t0 = Clock::now();
  const int rc = run_to_end({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress"},
                            dir, "run", 60s);
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  EXPECT_EQ(rc, 1) << read_text(dir / "run.err");
  const std::string all = read_text(dir / "run.err") + read_text(dir / "run.out");
  EXPECT_NE(all.find("topic '" + spec.input + "' does not exist"), std::string::npos) << all;
  EXPECT_LT(secs, 30.0);
}

TEST(KafkaEndToEnd, MissingOutputTopicFailsNamingIt) {
  ASSAY_REQUIRE_BROKER();
  const fs::path dir = work_dir("missing-out");
  PipelineSpec spec;
  spec.brokers = bootstrap();
  spec.input = unique_name("missing-out-in");
  spec.group = unique_name("missing-out-group");
  spec.trusted = unique_name("missing-out-trusted");
  spec.rejected = unique_name("no-such-rejected");
  create_topic(spec.input, 1);
  create_topic(spec.trusted, 1);
  write_text(dir / "pipeline.yaml", pipeline_yaml(spec));
  const int rc = run_to_end({assay_bin(), "run", (dir / "pipeline.yaml").string(), "--no-progress"},
                            dir, "run", 60s);
  EXPECT_EQ(rc, 1) << read_text(dir / "run.err");
  const std::string all = read_text(dir / "run.err") + read_text(dir / "run.out");
  EXPECT_NE(all.find("topic '" + spec.rejected + "' does not exist"), std::string::npos) << all;
}

}  // namespace
}  // namespace assay::kt
