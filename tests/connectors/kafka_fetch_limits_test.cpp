// librdkafka's fetch limits follow engine.max_record_bytes (issue 13, item 5): for every
// allowed value the consumer configuration is accepted by librdkafka and, after librdkafka's
// own adjustments, fetches and receives a record of that size in one piece.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cstdlib>
#include <string>

#include "connectors/kafka_common.hpp"
#include "connectors/kafka_source.hpp"

namespace assay::connectors {
namespace {

uint64_t conf_value(rd_kafka_t* rk, const char* name) {
  char buf[64];
  size_t sz = sizeof buf;
  EXPECT_EQ(rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &sz), RD_KAFKA_CONF_OK) << name;
  return std::strtoull(buf, nullptr, 10);
}

TEST(KafkaFetchLimits, EveryMaxRecordBytesIsFetchableAndAcceptedByLibrdkafka) {
  for (const uint32_t max : {64u, 4096u, 1u << 20, 50u << 20, 100u << 20, 256u << 20}) {
    SCOPED_TRACE("max_record_bytes " + std::to_string(max));
    KafkaClientSettings s;
    s.brokers = "127.0.0.1:9";
    std::map<std::string, std::string> defaults = kafka_fetch_defaults(max);
    defaults["bootstrap.servers"] = s.brokers;
    defaults["group.id"] = "g";
    defaults["log_level"] = "0";
    std::string error;
    rd_kafka_conf_t* conf = make_kafka_conf(s, defaults, &error);
    ASSERT_NE(conf, nullptr) << error;
    char err[512];
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
    if (rk == nullptr) rd_kafka_conf_destroy(conf);
    ASSERT_NE(rk, nullptr) << err;
    EXPECT_GE(conf_value(rk, "max.partition.fetch.bytes"), uint64_t{max});
    EXPECT_GE(conf_value(rk, "fetch.max.bytes"), uint64_t{max});
    EXPECT_GE(conf_value(rk, "queued.max.messages.kbytes") * 1024, uint64_t{max});
    EXPECT_GE(conf_value(rk, "receive.message.max.bytes"), min_receive_message_max_bytes(max));
    // Never below librdkafka's defaults (what a default pipeline had before).
    EXPECT_GE(conf_value(rk, "max.partition.fetch.bytes"), uint64_t{1} << 20);
    EXPECT_GE(conf_value(rk, "fetch.max.bytes"), uint64_t{50} << 20);
    EXPECT_GE(conf_value(rk, "receive.message.max.bytes"), uint64_t{100'000'000});
    rd_kafka_destroy(rk);
  }
}

}  // namespace
}  // namespace assay::connectors
