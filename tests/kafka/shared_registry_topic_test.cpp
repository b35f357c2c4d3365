// Issue 12 on the real broker: the identity registry comes from a compacted Kafka topic and is
// shared by verify_signature, anomaly, calibration and drift; registry messages produced while
// the pipeline runs (a key revoked, a firmware approval withdrawn, a measuring range narrowed, a
// sensor moved to another redundancy group) reach every operator.
#include "kafka_util.hpp"
#include "tests/operators/shared_registry.hpp"

namespace assay::kt {
namespace {

using testing::SharedRegistryScenario;

// Produces keyed messages (sensor_id -> one registry entry) and waits for delivery.
void produce_entries(const std::string& topic, const SharedRegistryScenario& s, bool changed,
                     int first, int count) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  for (int i = first; i < first + count; ++i) {
    const std::string k = SharedRegistryScenario::id(i), v = s.entry_yaml(i, changed);
    const auto e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_KEY(k.data(), k.size()), RD_KAFKA_V_VALUE(const_cast<char*>(v.data()), v.size()),
        RD_KAFKA_V_END);
    ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  }
  ASSERT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

TEST(SharedRegistryTopic, ATopicChangeReachesEveryOperator) {
  ASSAY_REQUIRE_BROKER();
  SharedRegistryScenario s;
  const std::string topic = unique_name("shared-registry");
  create_topic(topic, 1);
  produce_entries(topic, s, false, 0, SharedRegistryScenario::kSensors);
  // The file is empty of sensors: everything the operators know comes from the topic.
  write_text(s.dir() / "sensors.yaml", "sensors: []\n");
  const std::string file = (s.dir() / "pipeline.yaml").string();
  write_text(file,
             s.pipeline_yaml("registries:\n  identity:\n    file: sensors.yaml\n"
                             "    topic: {brokers: \"" +
                                 bootstrap() + "\", topic: " + topic +
                                 "}\n  calibration: {certificates: certs.yaml, trust: labs.yaml}\n",
                             "", ""));
  SharedRegistryScenario::Outcome before, after;
  double switch_s = 0;
  s.run(
      file, [&] { produce_entries(topic, s, true, 0, 4); }, before, after, switch_s,
      &SharedRegistryScenario::fully_changed);
  SharedRegistryScenario::check(before, after);
  std::cout << "[ kafka ] registry topic change visible to every operator after " << switch_s
            << " s\n";
  std::filesystem::remove_all(s.dir());
}

}  // namespace
}  // namespace assay::kt
