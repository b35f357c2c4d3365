#include "connectors/compacted_topic.hpp"

#include <random>

#include "engine/log.hpp"

namespace assay::connectors {

CompactedTopicFollower::CompactedTopicFollower(KafkaClientSettings client, std::string topic,
                                               OnMessage on_message,
                                               std::function<void()> on_change)
    : client_(std::move(client)),
      topic_(std::move(topic)),
      on_message_(std::move(on_message)),
      on_change_(std::move(on_change)) {}

CompactedTopicFollower::~CompactedTopicFollower() {
  stop();
}

bool CompactedTopicFollower::start(std::string* error) {
  const std::string brokers = resolve_brokers(client_, {topic_});
  const std::string group = "assay-follower-" + std::to_string(std::random_device{}());
  rd_kafka_conf_t* conf = make_kafka_conf(client_,
                                          {{"bootstrap.servers", brokers},
                                           {"group.id", group},
                                           {"enable.auto.commit", "false"},
                                           {"enable.partition.eof", "false"},
                                           {"log_level", "4"}},
                                          error);
  if (conf == nullptr) return false;
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);
    *error = std::string("cannot create consumer for topic '") + topic_ + "': " + err;
    return false;
  }
  int partitions = 0;
  switch (check_topic(rk_, topic_, 10000, &partitions)) {
    case TopicCheck::kExists:
      break;
    case TopicCheck::kMissing:
      *error = "topic '" + topic_ + "' does not exist";
      return false;
    case TopicCheck::kUnreachable:
      *error = "topic '" + topic_ + "': broker unreachable";
      return false;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    // Where "caught up" is: a partition whose end is not known would count as caught up empty.
    const rd_kafka_resp_err_t qe = query_watermarks(rk_, topic_, p, &lo, &hi, 10000);
    if (qe != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(list);
      *error = "topic '" + topic_ + "': cannot query the offsets of partition " +
               std::to_string(p) + ": " + rd_kafka_err2str(qe);
      return false;
    }
    if (hi > lo) start_high_[p] = hi;
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk_, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (start_high_.empty()) caught_up_.store(true);
  thread_ = std::thread([this] { loop(); });
  return true;
}

void CompactedTopicFollower::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (rk_ != nullptr) {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
}

void CompactedTopicFollower::loop() {
  bool dirty = false;
  while (!stop_.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, dirty ? 0 : 100);
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const std::string where = "kafka:" + topic_ + "/" + std::to_string(m->partition) + "@" +
                                  std::to_string(m->offset);
        const std::string_view key(static_cast<const char*>(m->key), m->key_len);
        std::optional<std::string_view> value;
        if (m->len != 0 && m->payload != nullptr)
          value = std::string_view(static_cast<const char*>(m->payload), m->len);
        on_message_(key, value, where);
        dirty = true;
        auto it = start_high_.find(m->partition);
        if (it != start_high_.end() && m->offset + 1 >= it->second) start_high_.erase(it);
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        engine::log_warn("compacted_topic", "consume error",
                         {{"topic", topic_}, {"error", rd_kafka_message_errstr(m)}});
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    if (!caught_up_.load() && !start_high_.empty()) {
      rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
      for (const auto& [p, hi] : start_high_)
        rd_kafka_topic_partition_list_add(list, topic_.c_str(), p);
      rd_kafka_position(rk_, list);
      for (int i = 0; i < list->cnt; ++i)
        if (list->elems[i].offset >= start_high_[list->elems[i].partition])
          start_high_.erase(list->elems[i].partition);
      rd_kafka_topic_partition_list_destroy(list);
    }
    // Publish before declaring the initial load complete, so that ready() implies applied.
    if (dirty && on_change_) on_change_();
    dirty = false;
    if (!caught_up_.load() && start_high_.empty()) {
      caught_up_.store(true);
      engine::log_info("compacted_topic", "initial load complete", {{"topic", topic_}});
    }
  }
}

}  // namespace assay::connectors
