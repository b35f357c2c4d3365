// The provenance operator over Kafka on the embedded (librdkafka mock) cluster: one chain per
// output partition (`partition: source`), read back after a restart through the Kafka sink,
// verified end to end by reading every partition back.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <tuple>

#include "../engine/records.hpp"
#include "connectors/builtin.hpp"
#include "connectors/kafka_readback.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/bytes.hpp"
#include "engine/runner.hpp"
#include "engine/signing_key.hpp"
#include "operators/builtin.hpp"
#include "sim/kafka_frame_sink.hpp"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;

constexpr char kPem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n"
    "-----END PRIVATE KEY-----\n";

class ProvenanceKafka : public ::testing::Test {
 protected:
  void SetUp() override {
    tag = std::to_string(getpid()) + "-" + std::to_string(std::random_device{}() % 100000);
    dir = fs::temp_directory_path() / ("assay-provk-" + tag);
    fs::create_directories(dir);
    std::ofstream(dir / "engine.pem") << kPem;
    ASSERT_TRUE(input.open("embedded", "in-" + tag)) << input.error();
  }
  void TearDown() override { fs::remove_all(dir); }

  void produce(int n, int first_seq) {
    for (int i = 0; i < n; ++i) {
      const std::string sensor = "urn:s:" + std::to_string(i % 11);
      ASSERT_TRUE(input.write(testing::make_reading(sensor, first_seq + i, i), sensor));
    }
    ASSERT_TRUE(input.flush()) << input.error();
  }

  engine::RunSummary run() {
    const std::string k = "{type: kafka, brokers: embedded, ";
    const std::string y =
        "name: provk\n"
        "input: " +
        k + "topic: in-" + tag + ", group_id: g-" + tag +
        ", idle_timeout_ms: 1500, properties: {session.timeout.ms: 6000, heartbeat.interval.ms: "
        "500}}\n"
        "routes:\n"
        "  trusted: " +
        k + "topic: out-" + tag +
        ", partition: source}\n"
        "  rejected: " +
        k + "topic: rej-" + tag +
        "}\n"
        "  attestations: " +
        k + "topic: att-" + tag +
        ", partition: source}\n"
        "operators:\n"
        "  - {type: provenance, key: " +
        (dir / "engine.pem").string() +
        ", checkpoint: {every_records: 40, every_ms: 600000}}\n"
        "engine: {batch_size: 32}\n";
    engine::Registries reg;
    register_builtin_operators(reg.operators);
    connectors::register_builtin_connectors(reg);
    engine::Metrics metrics;
    auto root = engine::ConfigNode::load_string(y, (dir / "p.yaml").string());
    auto p = engine::build_pipeline(root, y, reg, metrics);
    engine::Runner runner(*p, metrics);
    return runner.run();
  }

  connectors::VerifyReport verify(size_t* records) {
    connectors::KafkaClientSettings s;
    s.brokers = "embedded";
    std::vector<connectors::StoredRecord> t, a;
    std::string err;
    EXPECT_TRUE(connectors::read_kafka_topic(s, "out-" + tag, &t, &err)) << err;
    EXPECT_TRUE(connectors::read_kafka_topic(s, "att-" + tag, &a, &err)) << err;
    // Each record sits in the partition of its chain, at the offset of its chain index.
    for (const auto& r : t) {
      engine::ChainFields f;
      EXPECT_TRUE(engine::find_chain_fields(r.bytes, &f));
      EXPECT_EQ(engine::u64_at(r.bytes, f.chain_index), static_cast<uint64_t>(r.offset));
    }
    *records = t.size();
    connectors::VerifyOptions o;
    o.public_key = engine::EngineKey::load((dir / "engine.pem").string())->public_key();
    return connectors::verify_stream(t, a, o);
  }

  std::string tag;
  fs::path dir;
  sim::KafkaFrameSink input;
};

const std::string kAssay = ASSAY_BINARY_DIR "/cli/assay";

std::pair<int, std::string> sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return {-1, out};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int st = pclose(p);
  return {WIFEXITED(st) ? WEXITSTATUS(st) : -1, out};
}

std::string dump(const connectors::VerifyReport& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.json() + "\n";
  return s;
}

TEST_F(ProvenanceKafka, ChainsPerOutputPartitionContinueAfterARestart) {
  produce(300, 0);
  auto s = run();
  ASSERT_TRUE(s.ok) << s.error;
  ASSERT_EQ(s.trusted, 300u);
  size_t n = 0;
  auto r = verify(&n);
  EXPECT_EQ(n, 300u);
  EXPECT_TRUE(r.ok()) << dump(r);
  EXPECT_GE(r.chains, 2u);  // several partitions, one chain each

  produce(200, 1000);  // a new instance continues from the committed offsets and the outputs
  s = run();
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.trusted, 200u);
  r = verify(&n);
  EXPECT_EQ(n, 500u);
  EXPECT_TRUE(r.ok()) << dump(r);

  // The same through the CLI, reading the topics over TCP from the embedded cluster.
  const std::string brokers = connectors::EmbeddedKafka::instance().bootstrap();
  const std::string hex =
      engine::to_hex(engine::EngineKey::load((dir / "engine.pem").string())->public_key());
  const std::string streams =
      " --brokers " + brokers + " --topic out-" + tag + " --attestations-topic att-" + tag;
  auto [code, out] = sh(kAssay + " verify-stream" + streams + " --public-key " + hex);
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("500 records in"), std::string::npos) << out;
  std::tie(code, out) = sh(kAssay + " prove" + streams + " --partition 1 --offset 7");
  ASSERT_EQ(code, 0) << out;
  std::ofstream(dir / "proof.json") << out;
  std::tie(code, out) = sh(kAssay + " verify-stream --proof " + (dir / "proof.json").string() +
                           " --public-key " + hex);
  EXPECT_EQ(code, 0) << out;
}

}  // namespace
}  // namespace assay::operators
