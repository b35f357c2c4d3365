// Exactly-once on the real broker (issue 14 item 2, docs/state.md): outputs on every route, the
// state changelog and the input offsets in one Kafka transaction. Instances are SIGKILLed in
// the middle of the stream and replaced; a read_committed consumer must then see every input
// reading in exactly one route, exactly once, with the verdicts of one clean run over the same
// input (anomaly state restored from the committed changelog).
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

struct EosSpec {
  std::string input, group, trusted, rejected, registry;
  bool exactly_once = true;
};

std::string eos_pipeline(const EosSpec& s) {
  std::ostringstream y;
  y << "name: eos-it\n"
    << "input:\n  type: kafka\n  brokers: " << bootstrap() << "\n  topic: " << s.input
    << "\n  group_id: " << s.group << "\n  idle_timeout_ms: 5000\n"
    // A killed member's partitions move after its session times out (the broker's minimum).
    << "  properties:\n    session.timeout.ms: 6000\n    heartbeat.interval.ms: 1000\n"
    << "operators:\n"
    << "  - type: verify_signature\n    registry: " << s.registry << "\n"
    << "  - type: anomaly\n    registry: " << s.registry << "\n"
    << "    reject: [replay]\n"
    << "    rate_limit: {rate: 0}\n"
    << "routes:\n"
    << "  trusted:\n    type: kafka\n    brokers: " << bootstrap() << "\n    topic: " << s.trusted
    << "\n  rejected:\n    type: kafka\n    brokers: " << bootstrap() << "\n    topic: "
    << s.rejected << "\n"
    // Small batches and few in flight: many transactions, so that kills land mid-stream.
    << "engine:\n  batch_size: 64\n  max_in_flight: 2\n";
  if (s.exactly_once) y << "processing:\n  guarantee: exactly_once\n  commit_interval_ms: 100\n";
  return y.str();
}

// (partition, offset, reading) -> "trusted" or the rejection reason.
std::map<ReadingKey, std::string> verdicts(const std::vector<Message>& trusted,
                                           const std::vector<Message>& rejected,
                                           uint64_t* duplicates) {
  std::map<ReadingKey, std::string> out;
  *duplicates = 0;
  for (const auto* msgs : {&trusted, &rejected})
    for (const Message& m : *msgs) {
      const OutputRef r = decode_output(m);
      EXPECT_TRUE(r.ok);
      for (uint32_t k : r.readings)
        if (!out.emplace(ReadingKey{r.partition, r.offset, k}, msgs == &trusted ? "trusted" : r.reason)
                 .second)
          ++*duplicates;
    }
  return out;
}

TEST(KafkaExactlyOnce, KilledInstancesNeitherLoseNorDuplicateAndVerdictsMatchACleanRun) {
  ASSAY_REQUIRE_BROKER();
  const int records = kSanitized ? 4000 : 12000;
  const Fleet fleet = simulated_fleet(
      "eos-" + std::to_string(records),
      {"--records", std::to_string(records), "--sensors", "30", "--seed", "41", "--fault",
       "forged=0.01", "--fault", "replay=0.01"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 1000u);
  std::vector<size_t> all(frames.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;

  const std::string input = unique_name("eos-in");
  create_topic(input, 3);
  const std::vector<Placement> placed = produce_by_sensor(input, 3, frames, all);
  ASSERT_EQ(placed.size(), frames.size());

  // The clean run: one instance, at-least-once, never interrupted.
  const fs::path clean_dir = work_dir("eos-clean");
  EosSpec clean{input, unique_name("eos-clean-group"), unique_name("eos-clean-trusted"),
                unique_name("eos-clean-rejected"), fleet.registry().string(), false};
  create_topic(clean.trusted, 3);
  create_topic(clean.rejected, 3);
  write_text(clean_dir / "pipeline.yaml", eos_pipeline(clean));
  ASSERT_EQ(run_to_end({assay_bin(), "run", (clean_dir / "pipeline.yaml").string(), "--no-progress"},
                       clean_dir, "run", 300s),
            0)
      << read_text(clean_dir / "run.err");

  // The chaos run: exactly-once, two instances SIGKILLed mid-stream, then one to the end. One
  // stable instance id (as a StatefulSet pod name would be): each new instance fences the
  // killed one's open transaction at its start.
  const fs::path dir = work_dir("eos-chaos");
  EosSpec eos{input, unique_name("eos-group"), unique_name("eos-trusted"),
              unique_name("eos-rejected"), fleet.registry().string(), true};
  create_topic(eos.trusted, 3);
  create_topic(eos.rejected, 3);
  write_text(dir / "pipeline.yaml", eos_pipeline(eos));
  const std::map<std::string, std::string> env{{"ASSAY_INSTANCE_ID", "eos-replica-0"}};
  const std::vector<std::string> argv{assay_bin(), "run", (dir / "pipeline.yaml").string(),
                                      "--no-progress"};
  // The group's committed input position, asked through one client (fast enough to poll).
  char err[512];
  rd_kafka_t* watcher = rd_kafka_new(
      RD_KAFKA_CONSUMER,
      base_conf({{"bootstrap.servers", bootstrap()}, {"group.id", eos.group}, {"log_level", "3"}}),
      err, sizeof err);
  ASSERT_NE(watcher, nullptr) << err;
  auto committed = [&] {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(3);
    for (int p = 0; p < 3; ++p) rd_kafka_topic_partition_list_add(list, input.c_str(), p);
    int64_t done = 0;
    if (rd_kafka_committed(watcher, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (int i = 0; i < list->cnt; ++i) done += list->elems[i].offset > 0 ? list->elems[i].offset : 0;
    rd_kafka_topic_partition_list_destroy(list);
    return done;
  };
  for (int kill = 0; kill < 2; ++kill) {
    const std::string name = "killed" + std::to_string(kill);
    const int64_t before = committed();
    Child c(argv, dir / (name + ".out"), dir / (name + ".err"), env);
    ASSERT_TRUE(c.started());
    // Kill mid-stream: a little while after it got its partitions (their state restored).
    const bool progressed = wait_until(
        [&] { return read_text(dir / (name + ".err")).find("partitions assigned") != std::string::npos; },
        120s, 10ms);
    if (kill == 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(kSanitized ? 600 : 200));
    else  // once its first transaction committed input progress
      wait_until([&] { return committed() > before; }, 60s, 5ms);
    c.signal(SIGKILL);
    c.wait_for(30s);
    const int64_t at_kill = committed();
    EXPECT_TRUE(progressed) << read_text(dir / (name + ".err"));
    EXPECT_GT(at_kill, before) << "killed before it committed anything";
    EXPECT_LT(at_kill, static_cast<int64_t>(frames.size())) << "killed after the end of the stream";
    std::cout << "[ kafka ] " << name << ": SIGKILL with " << at_kill << " of " << frames.size()
              << " input records committed\n";
  }
  rd_kafka_destroy(watcher);
  // Then two live instances: the second joins while the first runs (a rebalance moves
  // partitions between live members: the first commits before it lets them go, the second
  // restores their state), both to the end of the input.
  Child second(argv, dir / "second.out", dir / "second.err", {{"ASSAY_INSTANCE_ID", "eos-replica-1"}});
  ASSERT_TRUE(second.started());
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(run_to_end(argv, dir, "final", 300s, env), 0) << read_text(dir / "final.err");
  const auto second_rc = second.wait_for(300s);
  ASSERT_TRUE(second_rc.has_value());
  EXPECT_EQ(*second_rc, 0) << read_text(dir / "second.err");

  uint64_t clean_dups = 0, eos_dups = 0;
  const auto want = verdicts(consume_all(clean.trusted), consume_all(clean.rejected), &clean_dups);
  const auto got =
      verdicts(consume_committed(eos.trusted), consume_committed(eos.rejected), &eos_dups);
  const auto expected = expected_readings(frames, placed);
  EXPECT_EQ(clean_dups, 0u);
  EXPECT_EQ(want.size(), expected.size()) << "the clean run accounts for every reading";
  EXPECT_EQ(eos_dups, 0u) << "a reading seen twice by a read_committed consumer";
  EXPECT_EQ(got.size(), expected.size()) << "every reading exactly once";
  size_t differ = 0;
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end() || it->second != v) ++differ;
  }
  EXPECT_EQ(differ, 0u) << "verdicts differ from the clean run";
  // The log itself also holds what the killed instances wrote in transactions never committed.
  std::cout << "[ kafka ] exactly-once: " << expected.size() << " readings; read_committed "
            << got.size() << " (duplicates " << eos_dups << "); trusted topic log "
            << sum(end_offsets(eos.trusted)) << " offsets incl. aborted records and markers\n";
}

}  // namespace
}  // namespace assay::kt
