// The compacted certificates topic accepts DCC documents (dispatched on content): a signed
// DCC is applied live, a changed one is refused with its Kafka location and XML path, and a
// lab removed from the trust list withdraws it. On librdkafka's in-process mock cluster.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <chrono>
#include <random>
#include <thread>

#include "connectors/kafka_common.hpp"
#include "engine/time.hpp"
#include "tests/registries/dcc_util.hpp"

namespace {

using namespace assay;
using namespace assay::testing;
using registries::CertStatus;

void produce(const std::string& topic, const std::string& key, const std::string& value) {
  const std::string bootstrap = connectors::EmbeddedKafka::instance().bootstrap();
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(p, nullptr) << err;
  ASSERT_EQ(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                              RD_KAFKA_V_KEY(key.data(), key.size()),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);
}

TEST(DccTopic, DccDocumentsOnTheCertificatesTopic) {
  TempDir d("topic");
  spit(d / "labs.yaml", trust_yaml({test_lab()}));
  const std::string topic =
      "dcc-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}());
  connectors::EmbeddedKafka::instance().create_topic(topic, 1);
  const std::string doc = slurp(dcc_data("forms/list-expandedUncXMLList.xml"));
  const std::string id = "urn:assay:test:dcc:list-expandedUncXMLList";
  const std::string sensor = "urn:assay:test:sensor:list-expandedUncXMLList";
  produce(topic, id, doc);
  registries::CalibrationStoreConfig cfg;
  cfg.trust_path = d / "labs.yaml";
  cfg.topic_kafka.brokers = "embedded";
  cfg.topic = topic;
  cfg.reload_interval_ms = 0;
  registries::CalibrationStore store(cfg);
  std::string err;
  ASSERT_TRUE(store.start(&err)) << err;
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 1000 && !pred(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pred();
  };
  ASSERT_TRUE(wait_for([&] { return store.ready(); }));
  const int64_t t = *engine::parse_rfc3339("2025-12-01T00:00:00Z");
  const auto found = store.snapshot()->lookup(sensor, t);
  ASSERT_EQ(found.status, CertStatus::kValid);
  EXPECT_NEAR(found.cert->expanded_uncertainty, 0.3, 1e-12);
  // A changed copy of another DCC: refused with the Kafka location and the XML path.
  std::string changed = slurp(dcc_data("forms/real-expandedUnc.xml"));
  changed.replace(changed.find("<si:value>20.5</si:value>"), 25, "<si:value>20.6</si:value>");
  produce(topic, "urn:assay:test:dcc:real-expandedUnc", changed);
  // A DCC under a key that is not its uniqueIdentifier.
  produce(topic, "wrong-key", doc);
  ASSERT_TRUE(wait_for([&] { return store.refused_total() == 2; }));
  const auto refused = store.take_refusals();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].reason, registries::CertRefusal::kBadSignature);
  EXPECT_NE(refused[0].message.find("kafka:" + topic + "/0@"), std::string::npos)
      << refused[0].message;
  EXPECT_NE(refused[0].message.find("/dcc:digitalCalibrationCertificate/ds:Signature"),
            std::string::npos)
      << refused[0].message;
  EXPECT_NE(refused[1].message.find("message key differs"), std::string::npos);
  // The lab leaves the trust list: its topic DCC is withdrawn at the next publish.
  spit(d / "labs.yaml", trust_yaml({real_lab()}));
  ASSERT_TRUE(store.reload_files());
  EXPECT_EQ(store.snapshot()->lookup(sensor, t).status, CertStatus::kNoCertificate);
  store.stop();
}

}  // namespace
