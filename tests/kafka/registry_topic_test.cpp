// The identity registry followed from a Kafka topic (real broker): initial load gates the
// operator's readiness, tombstones remove sensors live, bad entries are refused alone.
#include <yaml-cpp/yaml.h>

#include "connectors/memory.hpp"
#include "engine/runner.hpp"
#include "kafka_util.hpp"
#include "operators/verify_signature.hpp"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::kt {
namespace {

// Produces keyed messages (value empty = tombstone) and waits for delivery.
void produce_keyed(const std::string& topic,
                   const std::vector<std::pair<std::string, std::string>>& kv) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  for (const auto& [k, v] : kv) {
    const auto e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(k.data(), k.size()),
        RD_KAFKA_V_VALUE(v.empty() ? nullptr : const_cast<char*>(v.data()), v.size()), RD_KAFKA_V_END);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

std::map<std::string, size_t> run_verdicts(operators::VerifySignature& op,
                                                const std::vector<std::vector<uint8_t>>& frames,
                                                std::map<std::string, std::string>* by_sensor) {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"reg-topic", std::vector<uint8_t>(32, 0), "t"};
  p.source = std::make_unique<connectors::MemorySource>(frames);
  auto t = std::make_unique<connectors::MemorySink>();
  auto r = std::make_unique<connectors::MemorySink>();
  auto* tp = t.get();
  auto* rp = r.get();
  p.sinks[0] = std::move(t);
  p.sinks[1] = std::move(r);
  p.stage_names = {"decode", "verify_signature"};
  // The operator is owned by the test; wrap it so the pipeline does not delete it.
  struct Borrowed final : engine::Operator {
    explicit Borrowed(engine::Operator& o) : op(o) {}
    std::string_view type() const override { return op.type(); }
    void process(engine::Batch& b, engine::OperatorState* s, engine::OperatorContext& c) const override {
      op.process(b, s, c);
    }
    engine::Operator& op;
  };
  p.operators.push_back(std::make_unique<Borrowed>(op));
  engine::Runner runner(p, metrics);
  const auto s = runner.run();
  EXPECT_TRUE(s.ok) << s.error;
  std::map<std::string, size_t> counts;
  for (const auto& rec : tp->records()) {
    const auto* tr = wire::GetTrustedReading(rec.data());
    (*by_sensor)[tr->sensor_id()->str()] = "trusted";
    counts["trusted"]++;
  }
  for (const auto& rec : rp->records()) {
    const auto* rr = wire::GetRejectedRecord(rec.data());
    if (rr->sensor_id() != nullptr) (*by_sensor)[rr->sensor_id()->str()] = rr->reason()->str();
    counts[rr->reason()->str()]++;
  }
  return counts;
}

TEST(RegistryTopic, InitialLoadTombstonesAndRefusals) {
  ASSERT_FALSE(kafka_dir().empty()) << "the Kafka test broker fixture did not run";
  const fs::path dir = work_dir("registry-topic");
  sim::SimConfig c;
  c.sensors = 12;
  c.records = 1200;
  c.seed = 21;
  c.registry_path = (dir / "sensors.yaml").string();
  std::string err;
  for (const char* f : {"forged=0", "tampered=0", "unknown_key=0", "replay=0", "clock_skew=0"})
    ASSERT_TRUE(sim::parse_fault(f, c.faults, err)) << err;
  sim::MemoryFrameSink sink;
  sim::SimSummary summary;
  ASSERT_TRUE(sim::run_simulation(c, sink, summary, err)) << err;

  // One message per sensor: key = sensor_id, value = that sensor's entry as YAML.
  const YAML::Node reg = YAML::LoadFile(c.registry_path);
  std::vector<std::pair<std::string, std::string>> entries;
  for (const auto& s : reg["sensors"]) {
    YAML::Emitter e;
    e << s;
    entries.emplace_back(s["sensor_id"].as<std::string>(), e.c_str());
  }
  ASSERT_EQ(entries.size(), 12u);
  // HMAC entries name their secret file relative to the registry file: make them absolute.
  for (auto& [k, v] : entries) {
    const auto pos = v.find("secret_file: ");
    if (pos != std::string::npos) v.insert(pos + 13, (dir.string() + "/"));
  }
  const std::string topic = unique_name("registry");
  create_topic(topic, 2);
  produce_keyed(topic, entries);
  // A bad entry (key differs from sensor_id) and garbage are refused alone.
  produce_keyed(topic, {{"urn:mismatch", entries[0].second}, {"urn:garbage", "sensors: [ {"}});

  registries::IdentitySource source;
  source.topic.kafka.brokers = bootstrap();
  source.topic.topic = topic;
  source.reload_interval_ms = 0;
  auto store = std::make_shared<registries::IdentityStore>(source, nullptr);
  operators::VerifySignatureConfig cfg;
  cfg.identity = store;
  operators::VerifySignature op(cfg);
  EXPECT_EQ(op.registry()->sensor_count(), 0u);
  ASSERT_TRUE(store->start(&err)) << err;
  const auto deadline = Clock::now() + 60s;
  while (!store->ready() && Clock::now() < deadline) std::this_thread::sleep_for(50ms);
  ASSERT_TRUE(store->ready()) << "initial load of the registry topic never completed";
  EXPECT_EQ(store->topic_refused(), 2u);
  EXPECT_EQ(op.registry()->sensor_count(), 12u);

  std::map<std::string, std::string> by_sensor;
  auto counts = run_verdicts(op, sink.frames, &by_sensor);
  EXPECT_EQ(counts.size(), 1u) << "every reading must be trusted";
  EXPECT_GT(counts["trusted"], 1000u);

  // Tombstone one sensor: it disappears live, the others stay trusted.
  const std::string gone = entries[3].first;
  const auto before = op.registry();
  produce_keyed(topic, {{gone, ""}});
  const auto d2 = Clock::now() + 30s;
  while (op.registry()->find_sensor(gone) != nullptr && Clock::now() < d2) std::this_thread::sleep_for(50ms);
  ASSERT_EQ(op.registry()->find_sensor(gone), nullptr);
  EXPECT_EQ(op.registry()->sensor_count(), 11u);
  by_sensor.clear();
  counts = run_verdicts(op, sink.frames, &by_sensor);
  EXPECT_EQ(by_sensor[gone], "signature.unknown_sensor");
  for (const auto& [s, v] : by_sensor) {
    if (s != gone) {
      EXPECT_EQ(v, "trusted") << s;
    }
  }
  store->stop();
}

}  // namespace
}  // namespace assay::kt
