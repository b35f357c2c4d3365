#include "connectors/kafka_common.hpp"

#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "engine/log.hpp"

namespace assay::connectors {

bool is_sensitive_property(const std::string& name) {
  for (const char* s : {"password", "secret", "key.pem", "keystore", "sasl.oauthbearer.config",
                        "ssl.key", "token"})
    if (name.find(s) != std::string::npos) return true;
  return false;
}

KafkaClientSettings parse_kafka_settings(const engine::ConfigNode& c) {
  KafkaClientSettings s;
  s.brokers = c.get("brokers").as_string();
  if (s.brokers.empty()) c.get("brokers").fail("must be host:port[,host:port...] or 'embedded'");
  s.embedded_partitions = static_cast<int>(c.get_int("embedded_partitions", 4, 1, 1024));
  if (auto props = c.maybe("properties")) {
    for (const std::string& k : props->keys()) {
      const engine::ConfigNode v = props->get(k);
      const std::string suffix = "_file";
      if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0) {
        // NAME_file: PATH -> NAME = contents of PATH (e.g. a Kubernetes secret).
        std::string val = v.read_file(1 << 20);  // names the key and location, not a value
        while (!val.empty() && (val.back() == '\n' || val.back() == '\r')) val.pop_back();
        s.properties[k.substr(0, k.size() - suffix.size())] = val;
      } else {
        s.properties[k] = v.as_string();
      }
    }
  }
  return s;
}

rd_kafka_conf_t* make_kafka_conf(const KafkaClientSettings& settings,
                                 const std::map<std::string, std::string>& defaults,
                                 std::string* error) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
      *error = is_sensitive_property(k) ? "invalid value for Kafka property '" + k + "'"
                                        : "Kafka property '" + k + "': " + err;
      return false;
    }
    return true;
  };
  for (const auto& [k, v] : defaults)
    if (!set(k, v)) return rd_kafka_conf_destroy(conf), nullptr;
  for (const auto& [k, v] : settings.properties)
    if (!set(k, v)) return rd_kafka_conf_destroy(conf), nullptr;
  return conf;
}

EmbeddedKafka& EmbeddedKafka::instance() {
  static EmbeddedKafka instance;
  return instance;
}

EmbeddedKafka::EmbeddedKafka() {
  char err[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) rd_kafka_conf_destroy(conf);  // ownership passes only on success
  if (rk_ != nullptr) cluster_ = rd_kafka_mock_cluster_new(rk_, 1);
  if (cluster_ != nullptr) bootstrap_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  engine::log_info("kafka", "embedded Kafka cluster started (in-process, for demos)",
                   {{"bootstrap", bootstrap_}, {"hint", "kcat -b " + bootstrap_ + " -L"}});
}

EmbeddedKafka::~EmbeddedKafka() {
  if (cluster_ != nullptr) rd_kafka_mock_cluster_destroy(cluster_);
  if (rk_ != nullptr) rd_kafka_destroy(rk_);
}

void EmbeddedKafka::create_topic(const std::string& topic, int partitions) {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  if (cluster_ != nullptr) rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1);
}

std::string resolve_brokers(const KafkaClientSettings& s, const std::vector<std::string>& topics) {
  if (s.brokers != "embedded") return s.brokers;
  EmbeddedKafka& e = EmbeddedKafka::instance();
  for (const auto& t : topics) e.create_topic(t, s.embedded_partitions);
  return e.bootstrap();
}

TopicCheck check_topic(rd_kafka_t* rk, const std::string& topic, int timeout_ms, int* partitions) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms);
  TopicCheck out = TopicCheck::kUnreachable;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md != nullptr) {
    out = TopicCheck::kMissing;
    for (int i = 0; i < md->topic_cnt; ++i) {
      if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
          md->topics[i].partition_cnt > 0) {
        out = TopicCheck::kExists;
        if (partitions != nullptr) *partitions = md->topics[i].partition_cnt;
      }
    }
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return out;
}

bool is_transient_kafka_error(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:  // metadata not (yet again) known
    case RD_KAFKA_RESP_ERR__WAIT_COORD:
    case RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION:
    case RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_REPLICA_NOT_AVAILABLE:
    case RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION:
    case RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR:
    case RD_KAFKA_RESP_ERR_FENCED_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_UNKNOWN_LEADER_EPOCH:
    case RD_KAFKA_RESP_ERR_OFFSET_NOT_AVAILABLE:  // a new leader's high watermark not yet known
      return true;
    default:
      return false;
  }
}

rd_kafka_resp_err_t query_watermarks(rd_kafka_t* rk, const std::string& topic, int32_t partition,
                                     int64_t* low, int64_t* high, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 1));
  std::chrono::milliseconds pause{50};
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        rk, topic.c_str(), partition, low, high, static_cast<int>(std::max<int64_t>(left, 1)));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || !is_transient_kafka_error(err)) return err;
    if (Clock::now() + pause >= deadline) return err;
    std::this_thread::sleep_for(pause);
    // librdkafka answers from its metadata cache: a topic or partition that a restarting
    // broker did not know for a moment stays "Unknown partition" there (until the periodic
    // refresh, minutes later) unless the topic's metadata is asked for again.
    const auto rest =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (rest > 0) check_topic(rk, topic, static_cast<int>(std::min<int64_t>(rest, 2000)), nullptr);
    pause = std::min(pause * 2, std::chrono::milliseconds(1000));
  }
}

bool KafkaProducer::start(const KafkaClientSettings& client, const std::string& topic,
                          const ProducerOptions& options, std::string* error) {
  if (rk_ != nullptr) return true;
  const std::string brokers = resolve_brokers(client, {topic});
  std::map<std::string, std::string> defaults = options.defaults;
  defaults["bootstrap.servers"] = brokers;
  rd_kafka_conf_t* conf = make_kafka_conf(client, defaults, error);
  if (conf == nullptr) return false;
  char err[512];
  // The resolved brokers win over a `bootstrap.servers` in the user's properties.
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set_opaque(conf, options.opaque);
  if (options.on_delivery != nullptr) rd_kafka_conf_set_dr_msg_cb(conf, options.on_delivery);
  if (options.on_error != nullptr) rd_kafka_conf_set_error_cb(conf, options.on_error);
  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
    *error = std::string("cannot create Kafka producer: ") + err;
    return false;
  }
  rkt_ = rd_kafka_topic_new(rk_, topic.c_str(), nullptr);
  check_ = TopicCheck::kExists;
  partitions_ = 0;
  if (options.topic_check_timeout_ms > 0)
    check_ = check_topic(rk_, topic, options.topic_check_timeout_ms, &partitions_);
  if (check_ == TopicCheck::kMissing) {
    *error = "topic '" + topic + "' does not exist";
    stop_flush_ms_ = 0;
    stop();
    return false;
  }
  stop_flush_ms_ = options.stop_flush_ms;
  stop_poller_.store(false);
  if (options.poll_interval_ms > 0) {
    const int interval = options.poll_interval_ms;
    poller_ = std::thread([this, interval] {
      while (!stop_poller_.load(std::memory_order_relaxed)) rd_kafka_poll(rk_, interval);
    });
  }
  return true;
}

void KafkaProducer::stop() {
  if (rk_ == nullptr) return;
  if (stop_flush_ms_ > 0) rd_kafka_flush(rk_, stop_flush_ms_);
  stop_poller_.store(true);
  if (poller_.joinable()) poller_.join();
  if (rkt_ != nullptr) rd_kafka_topic_destroy(rkt_);
  rkt_ = nullptr;
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

}  // namespace assay::connectors
