#include "connectors/registry_topic.hpp"

#include <chrono>
#include <random>

#include "engine/log.hpp"

namespace assay::connectors {

RegistryTopicFollower::RegistryTopicFollower(KafkaClientSettings client, std::string topic,
                                             std::function<void()> on_change)
    : client_(std::move(client)), topic_(std::move(topic)), on_change_(std::move(on_change)) {}

RegistryTopicFollower::~RegistryTopicFollower() { stop(); }

bool RegistryTopicFollower::start(std::string* error) {
  const std::string brokers = resolve_brokers(client_, {topic_});
  const std::string group = "assay-registry-" + std::to_string(std::random_device{}());
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
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
    *error = std::string("cannot create registry consumer: ") + err;
    return false;
  }
  int partitions = 0;
  switch (check_topic(rk_, topic_, 10000, &partitions)) {
    case TopicCheck::kExists: break;
    case TopicCheck::kMissing: *error = "registry topic '" + topic_ + "' does not exist"; return false;
    case TopicCheck::kUnreachable:
      *error = "registry topic '" + topic_ + "': broker unreachable";
      return false;
  }
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    rd_kafka_query_watermark_offsets(rk_, topic_.c_str(), p, &lo, &hi, 5000);
    if (hi > lo) start_high_[p] = hi;
    rd_kafka_topic_partition_list_add(list, topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  rd_kafka_assign(rk_, list);  // no group membership: a plain reader of every partition
  rd_kafka_topic_partition_list_destroy(list);
  if (start_high_.empty()) caught_up_.store(true);
  thread_ = std::thread([this] { loop(); });
  return true;
}

void RegistryTopicFollower::stop() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (rk_ != nullptr) {
    rd_kafka_consumer_close(rk_);
    rd_kafka_destroy(rk_);
    rk_ = nullptr;
  }
}

void RegistryTopicFollower::apply(const rd_kafka_message_t* m) {
  const std::string key(static_cast<const char*>(m->key), m->key_len);
  if (key.empty()) {
    ++refused_;
    engine::log_error("registry_topic", "entry without a key refused",
                      {{"topic", topic_}, {"offset", std::to_string(m->offset)}});
    return;
  }
  if (m->len == 0 || m->payload == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    overlay_[key] = std::nullopt;  // tombstone
    ++applied_;
    return;
  }
  const std::string where = "kafka:" + topic_ + "/" + std::to_string(m->partition) + "@" +
                            std::to_string(m->offset);
  try {
    const engine::ConfigNode node = engine::ConfigNode::load_string(
        std::string(static_cast<const char*>(m->payload), m->len), where);
    RegistryLoadReport report;
    SensorEntry e = parse_sensor_entry(node, report);
    for (const auto& r : report.refused)
      engine::log_error("registry_topic", "key refused", {{"detail", r}});
    if (e.sensor.sensor_id != key) {
      ++refused_;
      engine::log_error("registry_topic", "entry refused: message key differs from sensor_id",
                        {{"where", where}, {"key", key}});
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    overlay_[key] = std::move(e);
    ++applied_;
  } catch (const engine::ConfigError& e) {
    ++refused_;
    engine::log_error("registry_topic", "entry refused", {{"error", e.what()}});
  }
}

void RegistryTopicFollower::loop() {
  bool dirty = false;
  while (!stop_.load()) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, dirty ? 0 : 100);
    if (m != nullptr) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        apply(m);
        dirty = true;
        auto it = start_high_.find(m->partition);
        if (it != start_high_.end() && m->offset + 1 >= it->second) start_high_.erase(it);
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        engine::log_warn("registry_topic", "consume error", {{"error", rd_kafka_message_errstr(m)}});
      }
      rd_kafka_message_destroy(m);
      continue;
    }
    // Queue drained: partitions whose position passed their start watermark (e.g. ending in
    // control records or compacted gaps) are caught up too.
    if (!caught_up_.load() && !start_high_.empty()) {
      rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
      for (const auto& [p, hi] : start_high_) rd_kafka_topic_partition_list_add(list, topic_.c_str(), p);
      rd_kafka_position(rk_, list);
      for (int i = 0; i < list->cnt; ++i)
        if (list->elems[i].offset >= start_high_[list->elems[i].partition])
          start_high_.erase(list->elems[i].partition);
      rd_kafka_topic_partition_list_destroy(list);
    }
    // Publish once for everything applied since the last publish.
    if (!caught_up_.load() && start_high_.empty()) {
      caught_up_.store(true);
      engine::log_info("registry_topic", "initial load complete",
                       {{"topic", topic_}, {"entries", std::to_string(applied_.load())}});
    }
    if (dirty && on_change_) on_change_();
    dirty = false;
  }
}

void RegistryTopicFollower::apply_to(IdentityRegistry& registry) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [sensor, entry] : overlay_) {
    if (entry)
      registry.put(entry->sensor, entry->keys);
    else
      registry.erase(sensor);
  }
}

}  // namespace assay::connectors
