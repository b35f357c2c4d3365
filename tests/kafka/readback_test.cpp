// Reading back the tail of a partition this instance owns (chains continued after a restart,
// changelog restores) while a transaction that a dead instance left open sits in the log: its
// records keep the records committed after it (by the partition's next owner) invisible to
// read_committed readers until the broker aborts it. Read then, a chain's tail would be an
// older record and the chain would fork (found by the chaos harness: "the last checkpoint of
// the chain covers 2635 records but the trusted route ends at chain_index 2326"). The read-back
// waits for the open transaction to end instead, and says so when it does not.
#include <atomic>
#include <thread>

#include "connectors/kafka_readback.hpp"
#include "tests/kafka/kafka_util.hpp"

namespace assay::kt {
namespace {

// A transactional producer (librdkafka) with `id`, initialised.
rd_kafka_t* txn_producer(const std::string& id, int timeout_ms) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()},
                                           {"transactional.id", id},
                                           {"transaction.timeout.ms", std::to_string(timeout_ms)},
                                           {"log_level", "3"}}),
                                err, sizeof err);
  if (rk == nullptr) return nullptr;
  rd_kafka_error_t* e = rd_kafka_init_transactions(rk, 30000);
  if (e != nullptr) {
    ADD_FAILURE() << rd_kafka_error_string(e);
    rd_kafka_error_destroy(e);
  }
  return rk;
}

void produce(rd_kafka_t* rk, const std::string& topic, const std::string& value) {
  ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
}

void check(rd_kafka_error_t* e) {
  if (e == nullptr) return;
  ADD_FAILURE() << rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
}

// Writes `values` to partition 0 of `topic` in one committed transaction.
void commit_values(const std::string& topic, const std::vector<std::string>& values) {
  rd_kafka_t* w = txn_producer(topic + "-w", 60000);
  ASSERT_NE(w, nullptr);
  check(rd_kafka_begin_transaction(w));
  for (const std::string& v : values) produce(w, topic, v);
  check(rd_kafka_commit_transaction(w, 30000));
  rd_kafka_destroy(w);
}

// One committed record, a transaction left open ("dangling"), then another committed one.
struct DanglingLog {
  std::string topic = unique_name("readback");
  rd_kafka_t* owner = nullptr;
  rd_kafka_t* dead = nullptr;

  void write() {
    create_topic(topic, 1);
    owner = txn_producer(topic + "-owner", 60000);
    dead = txn_producer(topic + "-dead", 60000);
    ASSERT_NE(owner, nullptr);
    ASSERT_NE(dead, nullptr);
    check(rd_kafka_begin_transaction(owner));
    produce(owner, topic, "first");
    check(rd_kafka_commit_transaction(owner, 30000));
    check(rd_kafka_begin_transaction(dead));
    produce(dead, topic, "dangling");
    ASSERT_EQ(rd_kafka_flush(dead, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
    check(rd_kafka_begin_transaction(owner));
    produce(owner, topic, "second");
    check(rd_kafka_commit_transaction(owner, 30000));
  }
  ~DanglingLog() {
    if (owner != nullptr) rd_kafka_destroy(owner);
    if (dead != nullptr) rd_kafka_destroy(dead);
  }
};

std::string text(const std::vector<uint8_t>& b) {
  return {b.begin(), b.end()};
}

TEST(KafkaReadback, WaitsForAnOpenTransactionAndReadsWhatWasCommittedAfterIt) {
  ASSAY_REQUIRE_BROKER();
  DanglingLog log;
  ASSERT_NO_FATAL_FAILURE(log.write());
  connectors::KafkaClientSettings settings;
  settings.brokers = bootstrap();
  // The dead instance's transaction ends 1.5 s from now (here: aborted; the broker aborts it
  // after transaction.timeout.ms when its instance is gone).
  const auto t0 = std::chrono::steady_clock::now();
  std::thread ender([&] {
    std::this_thread::sleep_for(1500ms);
    check(rd_kafka_abort_transaction(log.dead, 30000));
  });
  std::vector<connectors::StoredRecord> tail;
  std::string error;
  const bool ok = connectors::read_kafka_partition(settings, log.topic, 0, 1, &tail, &error);
  const auto waited = std::chrono::steady_clock::now() - t0;
  ender.join();
  ASSERT_TRUE(ok) << error;
  ASSERT_EQ(tail.size(), 1u);
  EXPECT_EQ(text(tail[0].bytes), "second");  // not "first", the last record before it
  EXPECT_GE(waited, 1400ms);

  // A changelog restore reads every committed record, also after the transaction.
  std::vector<std::string> all;
  ASSERT_TRUE(connectors::for_each_kafka_record_in(
      settings, log.topic, {0},
      [&](int32_t, int64_t, std::span<const uint8_t> b) { all.emplace_back(b.begin(), b.end()); },
      &error))
      << error;
  EXPECT_EQ(all, (std::vector<std::string>{"first", "second"}));
}

TEST(KafkaReadback, ATransactionThatStaysOpenIsAnErrorNotAnOlderTail) {
  ASSAY_REQUIRE_BROKER();
  DanglingLog log;
  ASSERT_NO_FATAL_FAILURE(log.write());
  connectors::KafkaClientSettings settings;
  settings.brokers = bootstrap();
  std::vector<connectors::StoredRecord> tail;
  std::string error;
  EXPECT_FALSE(connectors::read_kafka_partition(settings, log.topic, 0, 1, &tail, &error, 1500));
  EXPECT_TRUE(tail.empty());
  EXPECT_NE(error.find("a transaction is still open"), std::string::npos) << error;
  EXPECT_NE(error.find(log.topic + "/0"), std::string::npos) << error;
  check(rd_kafka_abort_transaction(log.dead, 30000));
}

// The broker restarts while instances read back the tails of their partitions (a chain
// continued after a restart, a changelog restored). The offset queries then meet the broker
// down, and while it comes back "Local: Unknown partition" or "Not leader for partition". Found
// by the chaos harness: an instance stopped at once with "cannot query the offsets of
// ...-trusted/1: Local: Unknown partition". Within its timeout a read-back waits that out.
TEST(KafkaReadback, ReadsBackThroughABrokerRestart) {
  ASSAY_REQUIRE_BROKER();
  const std::string topic = unique_name("readback-restart");
  create_topic(topic, 1);
  std::vector<std::string> values;
  for (int i = 0; i < 10; ++i) values.push_back("r" + std::to_string(i));
  ASSERT_NO_FATAL_FAILURE(commit_values(topic, values));
  connectors::KafkaClientSettings settings;
  settings.brokers = bootstrap();
  std::atomic<bool> done{false};
  int reads = 0, failures = 0;
  std::string first_error;
  std::thread reader([&] {
    while (!done.load()) {
      std::vector<connectors::StoredRecord> tail;
      std::string error;
      const bool ok = connectors::read_kafka_partition(settings, topic, 0, 1, &tail, &error, 60000);
      if (!ok || tail.size() != 1 || text(tail[0].bytes) != "r9") {
        ++failures;
        if (first_error.empty()) first_error = ok ? "a wrong tail" : error;
      }
      ++reads;
    }
  });
  const fs::path dir = work_dir("readback-restart");
  std::this_thread::sleep_for(500ms);
  const int rc = run_to_end({ASSAY_SOURCE_DIR "/scripts/kafka/broker.sh", "restart", kafka_dir()},
                            dir, "restart", 120s);
  std::this_thread::sleep_for(2s);  // and read back a while after it
  done.store(true);
  reader.join();
  ASSERT_EQ(rc, 0) << read_text(dir / "restart.err");
  std::cout << "[ kafka ] " << reads << " read-backs across a broker restart, " << failures
            << " failed\n";
  EXPECT_EQ(failures, 0) << first_error;
  EXPECT_GE(reads, 3);
}

// A read-back that runs out of time says where it stopped: which partition, at which offset
// of which end, and what the broker last answered, so that an operator sees what stalled.
// Here the consumer of the records is the slow part (1.2 s per record, 2 s to read three).
TEST(KafkaReadback, ATimedOutReadSaysWhichPartitionStoppedWhere) {
  ASSAY_REQUIRE_BROKER();
  const std::string topic = unique_name("readback-slow");
  create_topic(topic, 1);
  ASSERT_NO_FATAL_FAILURE(commit_values(topic, {"a", "b", "c"}));
  connectors::KafkaClientSettings settings;
  settings.brokers = bootstrap();
  int64_t delivered = 0;
  std::string error;
  EXPECT_FALSE(connectors::for_each_kafka_record_in(
      settings, topic, {0},
      [&](int32_t, int64_t, std::span<const uint8_t>) {
        ++delivered;
        std::this_thread::sleep_for(1200ms);
      },
      &error, 2000));
  ASSERT_GE(delivered, 1);
  ASSERT_LT(delivered, 3);
  EXPECT_NE(error.find("timed out after 2000 ms reading " + topic), std::string::npos) << error;
  // The records the consumer was given are the ones the message counts as read; the end is
  // offset 4 (offset 3 is the transaction's commit marker).
  EXPECT_NE(error.find("partition 0 at offset " + std::to_string(delivered) + " of 4"),
            std::string::npos)
      << error;
  EXPECT_NE(error.find("no broker error seen"), std::string::npos) << error;

  // The message itself: every unfinished partition, and the last error recovered from.
  EXPECT_EQ(connectors::unfinished_read("t", 500, {{1, 40}, {4, 7}}, {{1, 17}, {4, 0}},
                                        "Broker: Not leader for partition"),
            "timed out after 500 ms reading t: partition 1 at offset 17 of 40, partition 4 at "
            "offset 0 of 7; last broker error: Broker: Not leader for partition");
}

}  // namespace
}  // namespace assay::kt
