// A Kafka source stopped while it joins its group (a SIGTERM during a rebalance: a scale-down
// while an instance starts). With Debian 12's librdkafka 2.0.2 a consumer destroyed after it
// joined but before its first assignment aborts the process in the cooperative-sticky assignor
// (librdkafka issue 4312; found by the chaos harness: "cycle0: graceful removal failed", exit
// 134). stop() waits for that first assignment and hands it to nobody; the group's other member
// keeps every partition and every record.
// Also: the idle clock starts when partitions are assigned, not before their state restore.
#include <atomic>
#include <set>
#include <thread>

#include "connectors/kafka_source.hpp"
#include "engine/batch.hpp"
#include "engine/metrics.hpp"
#include "kafka_util.hpp"

namespace assay::kt {
namespace {

// What the pipeline is told about partitions.
class RecordingHost final : public engine::SourceHost {
 public:
  std::map<int32_t, engine::Offset> revoke(std::span<const engine::Partition> ps) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto p : ps) {
      owned.erase(p.value());
      ++revoked;
    }
    return {};
  }
  bool assigned(std::span<const engine::Partition> ps) override {
    std::lock_guard<std::mutex> lock(mu);
    for (auto p : ps) {
      owned.insert(p.value());
      ++assigned_count;
    }
    return true;
  }
  void source_failed(const std::string& m) override {
    std::lock_guard<std::mutex> lock(mu);
    failure = m;
  }
  size_t owned_count() {
    std::lock_guard<std::mutex> lock(mu);
    return owned.size();
  }
  std::mutex mu;
  std::set<int32_t> owned;
  int assigned_count = 0, revoked = 0;
  std::string failure;
};

// Records "record-<first>" .. "record-<first + n - 1>", round robin over the partitions.
void produce_records(const std::string& topic, int first, int n, int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  for (int i = first; i < first + n; ++i) {
    const std::string value = "record-" + std::to_string(i);
    ASSERT_EQ(rd_kafka_producev(
                  rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(i % partitions),
                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                  RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  EXPECT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

connectors::KafkaSourceConfig source_config(const std::string& topic, const std::string& group) {
  connectors::KafkaSourceConfig c;
  c.client.brokers = bootstrap();
  c.client.properties = {{"session.timeout.ms", "6000"}, {"heartbeat.interval.ms", "500"}};
  c.topic = topic;
  c.group_id = group;
  return c;
}

TEST(KafkaSourceStop, StoppedWhileJoiningWaitsForItsFirstAssignmentAndHandsItToNobody) {
  ASSAY_REQUIRE_BROKER();
  const int partitions = 4;
  const std::string topic = unique_name("source-stop");
  const std::string group = unique_name("source-stop-group");
  create_topic(topic, partitions);
  ASSERT_NO_FATAL_FAILURE(produce_records(topic, 0, 40, partitions));

  // The group's first member consumes on its own thread, as the runner does.
  engine::Metrics metrics;
  RecordingHost host_a;
  connectors::KafkaSource a(source_config(topic, group), metrics, "stop-a");
  a.set_host(&host_a);
  std::string err;
  ASSERT_TRUE(a.start(&err)) << err;
  std::atomic<bool> done{false};
  std::mutex seen_mu;
  std::set<std::string> seen;  // distinct records read (a partition moved back is read again)
  auto seen_count = [&] {
    std::lock_guard<std::mutex> lock(seen_mu);
    return seen.size();
  };
  std::thread poller([&] {
    while (!done.load()) {
      engine::Batch b;
      if (a.next(b, 100) != engine::SourceStatus::kBatch) continue;
      std::lock_guard<std::mutex> lock(seen_mu);
      for (uint32_t f = 0; f < b.frames.size(); ++f) {
        const auto bytes = b.frame_bytes(f);
        seen.emplace(bytes.begin(), bytes.end());
      }
    }
  });
  EXPECT_TRUE(wait_until([&] { return seen_count() == 40; }, 60s)) << seen_count();
  EXPECT_EQ(host_a.owned_count(), static_cast<size_t>(partitions));

  // A second member starts (the group rebalances) and is stopped before it ever polls.
  for (int round = 0; round < 3; ++round) {
    RecordingHost host_b;
    connectors::KafkaSource b(source_config(topic, group), metrics, "stop-b");
    b.set_host(&host_b);
    ASSERT_TRUE(b.start(&err)) << err;
    const auto t0 = Clock::now();
    b.stop();
    const double took = std::chrono::duration<double>(Clock::now() - t0).count();
    std::cout << "[ kafka ] round " << round << ": a source stopped while joining took " << took
              << " s to stop\n";
    EXPECT_LT(took, 20.0);
    // Whatever the group gave it while it stopped was never the pipeline's.
    EXPECT_EQ(host_b.assigned_count, 0);
    EXPECT_EQ(host_b.revoked, 0);
    EXPECT_TRUE(host_b.failure.empty()) << host_b.failure;
  }

  // The first member ends up with every partition again and reads every record written now.
  ASSERT_NO_FATAL_FAILURE(produce_records(topic, 40, 40, partitions));
  EXPECT_TRUE(wait_until([&] { return seen_count() == 80; }, 90s)) << seen_count();
  EXPECT_TRUE(
      wait_until([&] { return host_a.owned_count() == static_cast<size_t>(partitions); }, 30s));
  done.store(true);
  poller.join();
  a.stop();
  EXPECT_TRUE(host_a.failure.empty()) << host_a.failure;
}

// Restoring the state of newly assigned partitions can take longer than idle_timeout_ms (the
// restore waits for a killed predecessor's open transaction to time out, 10 s). Found by the
// chaos harness ("cycle3: no transaction committed"): the idle clock ran during the restore,
// so the first poll after the assignment, before any fetch had returned, ended the run with
// nothing read. The clock now starts when the partitions are assigned.
TEST(KafkaSourceIdle, StateRestoreLongerThanTheIdleTimeoutIsNotIdleInput) {
  ASSAY_REQUIRE_BROKER();
  const std::string topic = unique_name("source-idle");
  create_topic(topic, 2);
  // Assigned partitions take 4.5 s to "restore" (longer than the 4-s idle timeout); the records
  // are written 0.5 s after that, so that the first poll after the assignment finds nothing,
  // and the producer has 3.5 s before a correct idle clock would end the run.
  class SlowRestoreHost final : public engine::SourceHost {
   public:
    std::map<int32_t, engine::Offset> revoke(std::span<const engine::Partition>) override {
      return {};
    }
    bool assigned(std::span<const engine::Partition>) override {
      std::this_thread::sleep_for(4500ms);
      restored.store(true);
      return true;
    }
    void source_failed(const std::string&) override {}
    std::atomic<bool> restored{false};
  } host;
  connectors::KafkaSourceConfig c = source_config(topic, unique_name("source-idle-group"));
  c.idle_timeout_ms = 4000;
  engine::Metrics metrics;
  connectors::KafkaSource source(c, metrics, "idle");
  source.set_host(&host);
  std::string err;
  ASSERT_TRUE(source.start(&err)) << err;
  std::thread producer([&] {
    if (!wait_until([&] { return host.restored.load(); }, 60s)) return;
    std::this_thread::sleep_for(500ms);
    produce_records(topic, 0, 10, 2);
  });
  size_t read = 0;
  engine::SourceStatus st = engine::SourceStatus::kIdle;
  const auto deadline = Clock::now() + 60s;
  while (Clock::now() < deadline) {
    engine::Batch b;
    st = source.next(b, 100);
    if (st == engine::SourceStatus::kBatch) read += b.frames.size();
    if (st == engine::SourceStatus::kEnd || st == engine::SourceStatus::kFailed) break;
  }
  producer.join();
  EXPECT_EQ(st, engine::SourceStatus::kEnd) << "the run ends when the input is idle";
  EXPECT_EQ(read, 10u) << "every record written after the restore is read before the end";
  source.stop();
}

}  // namespace
}  // namespace assay::kt
