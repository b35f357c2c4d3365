#include "connectors/kafka_readback.hpp"

#include <unistd.h>

#include <chrono>

namespace assay::connectors {
namespace {

rd_kafka_t* make_reader(const KafkaClientSettings& settings, const std::string& topic,
                        std::string* error) {
  const std::string brokers = resolve_brokers(settings, {topic});
  rd_kafka_conf_t* conf = make_kafka_conf(
      settings,
      {{"bootstrap.servers", brokers},
       {"group.id", "assay-readback-" + std::to_string(getpid())},  // assign() only: never joins
       {"enable.auto.commit", "false"},
       {"enable.partition.eof", "true"},
       {"auto.offset.reset", "earliest"},
       {"client.id", "assay-readback"}},
      error);
  if (conf == nullptr) return nullptr;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    *error = std::string("cannot create Kafka reader: ") + err;
  }
  return rk;
}

bool read_partition(rd_kafka_t* rk, const std::string& topic, int32_t partition, size_t max_records,
                    std::vector<StoredRecord>* out, std::string* error, int timeout_ms) {
  int64_t lo = 0, hi = 0;
  rd_kafka_resp_err_t err =
      rd_kafka_query_watermark_offsets(rk, topic.c_str(), partition, &lo, &hi, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = "cannot query the offsets of " + topic + "/" + std::to_string(partition) + ": " +
             rd_kafka_err2str(err);
    return false;
  }
  int64_t start = lo;
  if (max_records > 0 && hi - static_cast<int64_t>(max_records) > lo)
    start = hi - static_cast<int64_t>(max_records);
  if (start >= hi) return true;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = start;
  err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = std::string("cannot assign the partition: ") + rd_kafka_err2str(err);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool done = false, ok = true;
  while (!done) {
    if (std::chrono::steady_clock::now() > deadline) {
      *error = "timed out reading " + topic + "/" + std::to_string(partition);
      ok = false;
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      done = m->offset >= hi;
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      *error =
          "reading " + topic + "/" + std::to_string(partition) + ": " + rd_kafka_message_errstr(m);
      ok = false;
      done = true;
    } else {
      if (m->offset < hi) {
        const auto* p = static_cast<const uint8_t*>(m->payload);
        out->push_back(StoredRecord{partition, m->offset, {p, p + m->len}});
      }
      done = m->offset >= hi - 1;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk, nullptr);
  return ok;
}

}  // namespace

int kafka_partition_count(const KafkaClientSettings& settings, const std::string& topic,
                          std::string* error) {
  rd_kafka_t* rk = make_reader(settings, topic, error);
  if (rk == nullptr) return 0;
  int n = 0;
  const TopicCheck c = check_topic(rk, topic, 10000, &n);
  rd_kafka_destroy(rk);
  if (c != TopicCheck::kExists) {
    *error = c == TopicCheck::kMissing ? "topic '" + topic + "' does not exist"
                                       : "cannot reach the Kafka cluster";
    return 0;
  }
  return n;
}

bool read_kafka_partition(const KafkaClientSettings& settings, const std::string& topic,
                          int32_t partition, size_t max_records, std::vector<StoredRecord>* out,
                          std::string* error, int timeout_ms) {
  rd_kafka_t* rk = make_reader(settings, topic, error);
  if (rk == nullptr) return false;
  const bool ok = read_partition(rk, topic, partition, max_records, out, error, timeout_ms);
  rd_kafka_destroy(rk);
  return ok;
}

bool read_kafka_topic(const KafkaClientSettings& settings, const std::string& topic,
                      std::vector<StoredRecord>* out, std::string* error) {
  rd_kafka_t* rk = make_reader(settings, topic, error);
  if (rk == nullptr) return false;
  int n = 0;
  const TopicCheck c = check_topic(rk, topic, 10000, &n);
  bool ok = c == TopicCheck::kExists;
  if (!ok)
    *error = c == TopicCheck::kMissing ? "topic '" + topic + "' does not exist"
                                       : "cannot reach the Kafka cluster";
  for (int p = 0; ok && p < n; ++p) ok = read_partition(rk, topic, p, 0, out, error, 60000);
  rd_kafka_destroy(rk);
  return ok;
}

}  // namespace assay::connectors
