// Exactly-once on the real broker under chaos (issue 14 items 2 and 4, docs/state.md): outputs
// on every route, the state changelog and the input offsets in one Kafka transaction.
#include <random>
#include <tuple>

#include "schemas/alert_generated.h"
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

struct EosSpec {
  std::string input, group, trusted, rejected, alerts, attestations, registry;
  bool exactly_once = true;
};

std::string eos_pipeline(const EosSpec& s) {
  std::ostringstream y;
  y << "name: eos-it\n"
    << "input:\n  type: kafka\n  brokers: " << bootstrap() << "\n  topic: " << s.input
    << "\n  group_id: " << s.group
    << "\n  idle_timeout_ms: 5000\n"
    // A killed member's partitions move after its session times out (the broker's minimum).
    << "  properties:\n    session.timeout.ms: 6000\n    heartbeat.interval.ms: 1000\n"
    << "operators:\n"
    << "  - type: verify_signature\n    registry: " << s.registry << "\n"
    << "  - type: anomaly\n    registry: " << s.registry << "\n"
    << "    reject: [replay]\n"
    << "    rate_limit: {rate: 0}\n"
    // The fleet's readings are from 2026-01-01; the record timestamps are the produce time.
    // (A reading flagged as clock-skewed does not feed drift.)
    << "    clock_skew_tolerance_ms: 31536000000\n"
    // Drifting sensors: CUSUM/EWMA/Page-Hinkley state must survive every kill and move.
    << "  - type: drift\n    registry: " << s.registry
    << "\n"
    // Hash chains per trusted partition, checkpoints on the attestations route.
    << "  - type: provenance\n    key: " ASSAY_SOURCE_DIR "/examples/testdata/engine.key\n"
    << "    checkpoint: {every_records: 500, every_ms: 200}\n"
    << "routes:\n"
    << "  trusted:\n    type: kafka\n    brokers: " << bootstrap() << "\n    topic: " << s.trusted
    << "\n    partition: source"
    << "\n  rejected:\n    type: kafka\n    brokers: " << bootstrap()
    << "\n    topic: " << s.rejected << "\n  alerts:\n    type: kafka\n    brokers: " << bootstrap()
    << "\n    topic: " << s.alerts
    << "\n  attestations:\n    type: kafka\n    brokers: " << bootstrap()
    << "\n    topic: " << s.attestations << "\n    partition: source"
    << "\n"
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
        if (!out.emplace(ReadingKey{r.partition, r.offset, k},
                         msgs == &trusted ? "trusted" : r.reason)
                 .second)
          ++*duplicates;
    }
  return out;
}

// An alert as compared between runs: (source partition, source offset, sensor, kind, level,
// previous level, trigger seq). `time_ns`, `pipeline_name` and `message` are not compared
// (processing time; the message only restates the levels).
using AlertKey = std::tuple<int32_t, int64_t, std::string, std::string, int, int, uint64_t>;

std::map<AlertKey, int> alert_counts(const std::vector<Message>& msgs, uint64_t* undecodable) {
  std::map<AlertKey, int> out;
  *undecodable = 0;
  for (const Message& m : msgs) {
    std::vector<uint64_t> buf((m.value.size() + 7) / 8);
    std::memcpy(buf.data(), m.value.data(), m.value.size());
    const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
    flatbuffers::Verifier ver(p, m.value.size());
    if (m.value.size() < 8 || !wire::VerifyAlertBuffer(ver)) {
      ++*undecodable;
      continue;
    }
    const wire::Alert* a = wire::GetAlert(p);
    ++out[AlertKey{a->source_partition(), a->source_offset(),
                   a->sensor_id() ? a->sensor_id()->str() : "", a->kind()->str(),
                   static_cast<int>(a->level()), static_cast<int>(a->previous_level()),
                   a->trigger_seq()}];
  }
  return out;
}

// The chaos harness (issue 14 item 4). A multi-partition input (a simulated fleet with
// forgeries, replays and drifting sensors) fed in chunks; between the chunks, an exactly-once
// instance (one of two replica ids) is SIGKILLed, stopped gracefully (SIGTERM), or has the
// broker restarted under it (then killed), at a random moment after it committed a
// transaction; in some cycles a second instance joins at a random moment (a rebalance) and is
// removed again, gracefully or by SIGKILL; after each step some already-produced records are
// produced again (replays after a kill point). Then two instances run to the end. Compared with
// one clean uninterrupted at-least-once run of the same pipeline over the same topic, read with
// read_committed:
//  - `trusted` and `rejected`: every input reading (replayed copies included) exactly once, with
//    the clean run's route and rejection reason for each (partition, offset, reading);
//  - `alerts`: the same drift alerts, each raised at the same reading (source partition and
//    offset, sensor, kind, level, previous level, trigger seq), none twice;
//  - `assay verify-stream` passes on the chaos run's trusted stream and attestations.
// Not compared: processing-time fields, the instance that wrote a record and the provenance
// fields that follow from them (chain positions, checkpoints), which differ by design.
// ASSAY_CHAOS_CYCLES (default 10; 4 under sanitizers) and ASSAY_CHAOS_SEED set the length and
// the draw; scripts/chaos.sh runs 100 cycles.
TEST(KafkaChaos, KillsRestartsAndBrokerRestartsNeitherLoseNorDuplicateAndMatchACleanRun) {
  ASSAY_REQUIRE_BROKER();
  const int cycles = std::getenv("ASSAY_CHAOS_CYCLES")
                         ? std::atoi(std::getenv("ASSAY_CHAOS_CYCLES"))
                         : (kSanitized ? 4 : 10);
  const unsigned seed = std::getenv("ASSAY_CHAOS_SEED")
                            ? static_cast<unsigned>(std::atoi(std::getenv("ASSAY_CHAOS_SEED")))
                            : 14;
  ASSERT_GE(cycles, 1);
  std::mt19937 rng(seed);
  const int records = kSanitized ? 4000 : 12000;
  const Fleet fleet =
      simulated_fleet("chaos-" + std::to_string(records),
                      {"--records", std::to_string(records), "--sensors", "30", "--seed", "41",
                       "--fault", "forged=0.01", "--fault", "replay=0.01", "--fault", "drift=0.2"});
  const auto frames = read_frames(fleet.records());
  ASSERT_GT(frames.size(), 1000u);

  // Redundancy groups are co-partitioned (their members' records keyed by the group), so that
  // each member's comparisons with the others see the same values in every run
  // (docs/state.md, "Redundancy groups").
  std::map<std::string, std::string> group_of;
  {
    std::istringstream reg(read_text(fleet.registry()));
    std::string line, sensor;
    while (std::getline(reg, line)) {
      const auto at = [&](const char* key) {
        const size_t p = line.find(key);
        return p == std::string::npos ? std::string() : line.substr(p + std::strlen(key));
      };
      if (const std::string s = at("sensor_id: "); !s.empty()) sensor = s;
      if (const std::string g = at("redundancy_group: "); !g.empty()) group_of[sensor] = g;
    }
  }
  ASSERT_FALSE(group_of.empty()) << "the fleet has no redundancy group";
  const auto partition_key = [&](const std::string& sensor) {
    const auto it = group_of.find(sensor);
    return it == group_of.end() ? sensor : "group:" + it->second;
  };
  const std::string input = unique_name("chaos-in");
  create_topic(input, 3);
  std::vector<Placement> placed;  // every produced copy
  std::vector<size_t> copies;     // its frame
  size_t next = 0;
  auto produce_chunk = [&](size_t n) {
    std::vector<size_t> idx;
    for (; next < frames.size() && idx.size() < n; ++next) idx.push_back(next);
    // Replays: a few records produced before, produced again.
    if (next > 100)
      for (int k = 0; k < 5; ++k)
        idx.push_back(std::uniform_int_distribution<size_t>(0, next - 100)(rng));
    const auto p = produce_by_sensor(input, 3, frames, idx, partition_key);
    placed.insert(placed.end(), p.begin(), p.end());
    copies.insert(copies.end(), idx.begin(), idx.end());
  };
  const size_t chunk = frames.size() / static_cast<size_t>(cycles + 1) + 1;
  produce_chunk(chunk);

  const fs::path dir = work_dir("chaos");
  EosSpec eos{input,
              unique_name("chaos-group"),
              unique_name("chaos-trusted"),
              unique_name("chaos-rejected"),
              unique_name("chaos-alerts"),
              unique_name("chaos-attestations"),
              fleet.registry().string(),
              true};
  for (const std::string* t : {&eos.trusted, &eos.rejected, &eos.alerts, &eos.attestations})
    create_topic(*t, 3);
  write_text(dir / "pipeline.yaml", eos_pipeline(eos));
  const std::vector<std::string> argv{assay_bin(), "run", (dir / "pipeline.yaml").string(),
                                      "--no-progress"};
  auto replica = [](int r) {
    return std::map<std::string, std::string>{
        {"ASSAY_INSTANCE_ID", "chaos-replica-" + std::to_string(r)}};
  };
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
      for (int i = 0; i < list->cnt; ++i)
        done += list->elems[i].offset > 0 ? list->elems[i].offset : 0;
    rd_kafka_topic_partition_list_destroy(list);
    return done;
  };
  int kills = 0, terms = 0, broker_restarts = 0, pairs = 0, removed_gracefully = 0;
  for (int c = 0; c < cycles; ++c) {
    const std::string name = "cycle" + std::to_string(c);
    const int64_t before = committed();
    const int action = (c % 3 == 2) ? 2 : std::uniform_int_distribution<int>(0, 1)(rng);
    Child a(argv, dir / (name + "a.out"), dir / (name + "a.err"), replica(c % 2));
    ASSERT_TRUE(a.started());
    // At a random moment after the group committed a transaction of this cycle.
    const bool progressed = wait_until([&] { return committed() > before; }, 120s, 5ms);
    EXPECT_TRUE(progressed) << name << ": no transaction committed\n"
                            << read_text(dir / (name + "a.err"));
    std::optional<Child> b;
    if (std::uniform_int_distribution<int>(0, 2)(rng) == 0) {  // an instance joins: rebalance
      b.emplace(argv, dir / (name + "b.out"), dir / (name + "b.err"), replica(1 - c % 2));
      ++pairs;
    }
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    // The added instance is removed again: gracefully (it leaves the group) or killed.
    if (b && std::uniform_int_distribution<int>(0, 1)(rng) == 0) {
      // (Once it runs: a process signalled before its main() starts has no handler yet.)
      EXPECT_TRUE(
          wait_until([&] { return b->err().find("consumer started") != std::string::npos; }, 60s))
          << b->err();
      b->signal(SIGTERM);
      ++removed_gracefully;
      const auto brc = b->wait_for(60s);
      EXPECT_TRUE(brc.has_value()) << name << ": the added instance did not stop";
      if (brc) {
        EXPECT_EQ(*brc, 0) << name << ": graceful removal failed\n"
                           << read_text(dir / (name + "b.err"));
      }
      b.reset();
    }
    if (action == 0) {
      a.signal(SIGKILL);
      ++kills;
    } else if (action == 1) {
      a.signal(SIGTERM);  // graceful: drains, commits, leaves the group
      ++terms;
    } else {
      const int brc =
          run_to_end({ASSAY_SOURCE_DIR "/scripts/kafka/broker.sh", "restart", kafka_dir()}, dir,
                     name + "-broker", 120s);
      ASSERT_EQ(brc, 0) << read_text(dir / (name + "-broker.err"));
      ++broker_restarts;
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(200, 1500)(rng)));
      a.signal(SIGKILL);
      ++kills;
    }
    if (b) b->signal(SIGKILL);
    const auto rc = a.wait_for(60s);
    EXPECT_TRUE(rc.has_value()) << name << " did not stop";
    if (action == 1 && rc) {
      EXPECT_EQ(*rc, 0) << name << ": graceful stop failed\n" << read_text(dir / (name + "a.err"));
    }
    if (b) b->wait_for(30s);
    produce_chunk(chunk);
  }
  while (next < frames.size()) produce_chunk(chunk);
  rd_kafka_destroy(watcher);
  // Then two live instances to the end of the input.
  Child second(argv, dir / "second.out", dir / "second.err", replica(1));
  ASSERT_TRUE(second.started());
  std::this_thread::sleep_for(300ms);
  ASSERT_EQ(run_to_end(argv, dir, "final", 300s, replica(0)), 0) << read_text(dir / "final.err");
  const auto second_rc = second.wait_for(300s);
  ASSERT_TRUE(second_rc.has_value());
  EXPECT_EQ(*second_rc, 0) << read_text(dir / "second.err");

  // The clean run over the same topic: one instance, at-least-once, never interrupted.
  const fs::path clean_dir = work_dir("chaos-clean");
  EosSpec clean{input,
                unique_name("chaos-clean-group"),
                unique_name("chaos-clean-trusted"),
                unique_name("chaos-clean-rejected"),
                unique_name("chaos-clean-alerts"),
                unique_name("chaos-clean-attestations"),
                fleet.registry().string(),
                false};
  for (const std::string* t : {&clean.trusted, &clean.rejected, &clean.alerts, &clean.attestations})
    create_topic(*t, 3);
  write_text(clean_dir / "pipeline.yaml", eos_pipeline(clean));
  ASSERT_EQ(
      run_to_end({assay_bin(), "run", (clean_dir / "pipeline.yaml").string(), "--no-progress"},
                 clean_dir, "run", 300s),
      0)
      << read_text(clean_dir / "run.err");

  uint64_t clean_dups = 0, eos_dups = 0;
  const auto want = verdicts(consume_all(clean.trusted), consume_all(clean.rejected), &clean_dups);
  const auto got =
      verdicts(consume_committed(eos.trusted), consume_committed(eos.rejected), &eos_dups);
  std::vector<std::vector<uint8_t>> copy_frames;
  for (size_t i : copies) copy_frames.push_back(frames[i]);
  const auto expected = expected_readings(copy_frames, placed);
  EXPECT_EQ(clean_dups, 0u);
  EXPECT_EQ(want.size(), expected.size()) << "the clean run accounts for every reading";
  EXPECT_EQ(eos_dups, 0u) << "a reading seen twice by a read_committed consumer";
  EXPECT_EQ(got.size(), expected.size()) << "every reading exactly once";
  size_t differ = 0, replays = 0;
  for (const auto& [k, v] : want) {
    auto it = got.find(k);
    if (it == got.end() || it->second != v) ++differ;
    if (v == "anomaly.replay") ++replays;
  }
  EXPECT_EQ(differ, 0u) << "verdicts differ from the clean run";
  EXPECT_GT(replays, 0u) << "the replayed records were caught";

  // Drift alerts: the same ones, at the same readings, none twice.
  uint64_t bad_clean = 0, bad_eos = 0;
  const auto want_alerts = alert_counts(consume_all(clean.alerts), &bad_clean);
  const auto got_alerts = alert_counts(consume_committed(eos.alerts), &bad_eos);
  EXPECT_EQ(bad_clean + bad_eos, 0u) << "undecodable alerts";
  size_t alarms = 0, alert_total = 0, alert_dups = 0;
  for (const auto& [k, n] : want_alerts) {
    alert_total += static_cast<size_t>(n);
    if (std::get<4>(k) == static_cast<int>(wire::AlertLevel::Alarm)) ++alarms;
  }
  for (const auto& [k, n] : got_alerts)
    if (n > 1) alert_dups += static_cast<size_t>(n - 1);
  EXPECT_GT(alarms, 0u) << "the drifting sensors raised no alarm: not a drift test";
  EXPECT_EQ(alert_dups, 0u) << "an alert seen twice by a read_committed consumer";
  std::ostringstream alert_diff;
  size_t alert_differ = 0;
  auto show = [&](const char* what, const AlertKey& k) {
    if (++alert_differ <= 60)
      alert_diff << "  " << what << ": partition " << std::get<0>(k) << " offset " << std::get<1>(k)
                 << " " << std::get<2>(k) << " " << std::get<3>(k) << " level " << std::get<4>(k)
                 << " (was " << std::get<5>(k) << ") seq " << std::get<6>(k) << "\n";
  };
  for (const auto& [k, n] : want_alerts)
    if (!got_alerts.count(k)) show("missing in the chaos run", k);
  for (const auto& [k, n] : got_alerts)
    if (!want_alerts.count(k)) show("only in the chaos run", k);
  EXPECT_EQ(alert_differ, 0u) << "alerts differ from the clean run:\n" << alert_diff.str();

  // The consumer's proof over the chaos run's topics: every chain, checkpoint and signature.
  const std::vector<std::string> verify{assay_bin(),
                                        "verify-stream",
                                        "--brokers",
                                        bootstrap(),
                                        "--topic",
                                        eos.trusted,
                                        "--attestations-topic",
                                        eos.attestations,
                                        "--property",
                                        "isolation.level=read_committed",
                                        "--public-key",
                                        ASSAY_SOURCE_DIR "/examples/testdata/engine.pub"};
  const int vrc = run_to_end(verify, dir, "verify", 180s);
  EXPECT_EQ(vrc, 0) << read_text(dir / "verify.out") << read_text(dir / "verify.err");
  std::cout << "[ kafka ] chaos: " << cycles << " cycles (seed " << seed << "): " << kills
            << " SIGKILLs, " << terms << " graceful stops, " << broker_restarts
            << " broker restarts, " << pairs << " instance additions (" << removed_gracefully
            << " removed gracefully); " << expected.size() << " readings (" << replays
            << " anomaly.replay), " << alert_total << " alerts (" << alarms
            << " alarms); read_committed " << got.size() << ", duplicates " << eos_dups
            << ", verdicts differing from the clean run " << differ << "; trusted log "
            << sum(end_offsets(eos.trusted)) << " offsets incl. aborted records and markers\n";
}

}  // namespace
}  // namespace assay::kt
