// The Kafka source gives every frame its record time (the "now" of anomaly's time-based
// checks, docs/drift-anomaly.md "Time"): the message timestamp with its type. With CreateTime
// it is whatever the producer wrote (here: timestamps from 2001, out of order); with
// LogAppendTime it is the broker's append time, whatever the producer wrote.
#include "connectors/kafka_source.hpp"
#include "engine/batch.hpp"
#include "engine/metrics.hpp"
#include "engine/time.hpp"
#include "kafka_util.hpp"

namespace assay::kt {
namespace {

void create_topic_with_timestamp_type(const std::string& topic, const char* type) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), 1, 1, err, sizeof err);
  ASSERT_NE(nt, nullptr) << err;
  ASSERT_EQ(rd_kafka_NewTopic_set_config(nt, "message.timestamp.type", type),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  ASSERT_NE(ev, nullptr) << "CreateTopics timed out";
  EXPECT_EQ(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_event_error_string(ev);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  EXPECT_TRUE(wait_until([&] { return topic_ready(rk, topic, 1); }, 30s)) << topic;
  rd_kafka_destroy(rk);
}

// Produces one small record per timestamp (ms) to partition 0, in order.
void produce_at(const std::string& topic, const std::vector<int64_t>& ts_ms) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  for (int64_t ts : ts_ms) {
    const std::string value = "record-" + std::to_string(ts);
    ASSERT_EQ(rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                                RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  EXPECT_EQ(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
}

// The first `n` frames the Kafka source hands out for `topic`.
std::vector<engine::Frame> consume_frames(const std::string& topic, size_t n) {
  engine::Metrics metrics;
  connectors::KafkaSourceConfig c;
  c.client.brokers = bootstrap();
  c.topic = topic;
  c.group_id = unique_name("record-time");
  connectors::KafkaSource src(c, metrics, "record-time");
  std::string err;
  EXPECT_TRUE(src.start(&err)) << err;
  std::vector<engine::Frame> out;
  wait_until(
      [&] {
        engine::Batch b;
        if (src.next(b, 100) == engine::SourceStatus::kBatch)
          out.insert(out.end(), b.frames.begin(), b.frames.end());
        return out.size() >= n;
      },
      60s, 1ms);
  src.stop();
  return out;
}

TEST(KafkaRecordTime, CreateTimeIsWhatTheProducerWrote) {
  const std::string topic = unique_name("record-time-create");
  create_topic_with_timestamp_type(topic, "CreateTime");
  const std::vector<int64_t> ts = {1'000'000'000'000, 1'000'000'005'000, 999'999'000'000};
  produce_at(topic, ts);
  const auto frames = consume_frames(topic, ts.size());
  ASSERT_EQ(frames.size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(frames[i].source_offset.value(), static_cast<int64_t>(i));
    EXPECT_EQ(frames[i].record_time_type, engine::RecordTimeType::kCreateTime);
    EXPECT_EQ(frames[i].record_time_ns, ts[i] * 1'000'000) << i;
  }
}

TEST(KafkaRecordTime, LogAppendTimeIsTheBrokersAppendTime) {
  const std::string topic = unique_name("record-time-append");
  create_topic_with_timestamp_type(topic, "LogAppendTime");
  const int64_t before = engine::now_ns();
  // A producer (a forger) writes timestamps from 2001: the broker overwrites them.
  produce_at(topic, {1'000'000'000'000, 1'000'000'005'000});
  const int64_t after = engine::now_ns();
  const auto frames = consume_frames(topic, 2);
  ASSERT_EQ(frames.size(), 2u);
  for (const auto& f : frames) {
    EXPECT_EQ(f.record_time_type, engine::RecordTimeType::kLogAppendTime);
    // The broker's clock, at millisecond resolution (same machine; 1 s of slack).
    EXPECT_GE(f.record_time_ns, before - 1'000'000'000);
    EXPECT_LE(f.record_time_ns, after + 1'000'000'000);
  }
  EXPECT_LE(frames[0].record_time_ns, frames[1].record_time_ns);
}

}  // namespace
}  // namespace assay::kt
