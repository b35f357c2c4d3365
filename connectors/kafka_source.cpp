#include "connectors/kafka_source.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "connectors/kafka_txn.hpp"
#include "engine/log.hpp"
#include "engine/time.hpp"

namespace assay::connectors {

using engine::log_error;
using engine::log_info;
using engine::log_warn;

KafkaSource::KafkaSource(KafkaSourceConfig config, engine::Metrics& metrics, std::string pipeline)
    : config_(std::move(config)), metrics_(metrics), pipeline_(std::move(pipeline)) {}

KafkaSource::~KafkaSource() { stop(); }

void KafkaSource::set_error(const std::string& e) {
  std::lock_guard<std::mutex> lock(err_mu_);
  if (error_.empty()) error_ = e;
  fatal_.store(true);
}

std::string KafkaSource::error() const {
  std::lock_guard<std::mutex> lock(err_mu_);
  return error_;
}

bool KafkaSource::healthy() const {
  return connected_.load() && !rebalancing_.load() && !fatal_.load();
}

void KafkaSource::error_cb(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* self = static_cast<KafkaSource*>(opaque);
  const auto e = static_cast<rd_kafka_resp_err_t>(err);
  {
    std::lock_guard<std::mutex> lock(self->err_mu_);
    self->last_conn_error_ = reason;
  }
  if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || e == RD_KAFKA_RESP_ERR__TRANSPORT ||
      e == RD_KAFKA_RESP_ERR__RESOLVE) {
    if (self->connected_.exchange(false))
      log_warn("kafka_source", "broker unreachable; waiting (not ready)",
               {{"topic", self->config_.topic}, {"error", reason}});
    return;
  }
  if (e == RD_KAFKA_RESP_ERR__SSL || e == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
    log_error("kafka_source", "TLS/authentication failure", {{"error", reason}});
    self->connected_.store(false);
    return;
  }
  log_warn("kafka_source", "kafka error", {{"code", rd_kafka_err2name(e)}, {"error", reason}});
}

void KafkaSource::rebalance_cb(rd_kafka_t*, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* partitions, void* opaque) {
  static_cast<KafkaSource*>(opaque)->on_rebalance(err, partitions);
}

void KafkaSource::on_rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
  std::string names;
  for (int i = 0; i < parts->cnt; ++i)
    names += (names.empty() ? "" : ",") + std::to_string(parts->elems[i].partition);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) ever_assigned_.store(true);
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && stopping_.load()) {
    // The first assignment, arriving while stop() waits for it: librdkafka's group state is
    // completed with it; the pipeline, which is stopping, never sees these partitions.
    rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts);
    if (e != nullptr) rd_kafka_error_destroy(e);
    return;
  }
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    // Durable operator state first: no record of these partitions is fetched before their
    // state is restored (the assignment below starts the fetching).
    std::vector<engine::Partition> added;
    for (int i = 0; i < parts->cnt; ++i) added.emplace_back(parts->elems[i].partition);
    if (host_ != nullptr && !host_->assigned(added)) {
      set_error("partitions " + names + ": operator state could not be restored");
      fatal_.store(true);
      return;
    }
    rd_kafka_error_t* e = rd_kafka_incremental_assign(rk_, parts);
    if (e != nullptr) {
      log_error("kafka_source", "incremental assign failed", {{"error", rd_kafka_error_string(e)}});
      rd_kafka_error_destroy(e);
    }
    {
      std::lock_guard<std::mutex> lock(assigned_mu_);
      for (int i = 0; i < parts->cnt; ++i) assigned_[parts->elems[i].partition] = true;
    }
    rebalancing_.store(false);
    // Restoring the partitions' state above may have taken longer than idle_timeout_ms (it waits
    // for a killed predecessor's open transaction to time out): that is not idle input.
    assigned_ns_.store(engine::monotonic_ns(), std::memory_order_relaxed);
    log_info("kafka_source", "partitions assigned", {{"topic", config_.topic}, {"partitions", names}});
    return;
  }
  if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
    log_error("kafka_source", "rebalance error", {{"error", rd_kafka_err2str(err)}});
    return;
  }
  rebalancing_.store(true);
  const bool lost = rd_kafka_assignment_lost(rk_) == 1;
  std::vector<engine::Partition> revoked;
  {
    std::lock_guard<std::mutex> lock(assigned_mu_);
    for (int i = 0; i < parts->cnt; ++i) {
      const int32_t p = parts->elems[i].partition;
      // Partitions assigned only while stopping were never the pipeline's: nothing to revoke.
      if (assigned_.erase(p) > 0 || !stopping_.load()) revoked.emplace_back(p);
    }
  }
  // Drop what we polled but did not hand out; in-flight batches are dropped by the runner.
  for (auto p : revoked) {
    auto it = staged_.find(p.value());
    if (it == staged_.end()) continue;
    for (rd_kafka_message_t* m : it->second) rd_kafka_message_destroy(m);
    staged_.erase(it);
  }
  std::map<int32_t, engine::Offset> committable;
  if (host_ != nullptr) committable = host_->revoke(revoked);
  if (!lost && !committable.empty()) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(
        static_cast<int>(committable.size()));
    for (const auto& [p, off] : committable)
      rd_kafka_topic_partition_list_add(list, config_.topic.c_str(), p)->offset = off.value();
    rd_kafka_commit(rk_, list, 0);  // synchronous: the next owner starts here
    rd_kafka_topic_partition_list_destroy(list);
  }
  rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk_, parts);
  if (e != nullptr) rd_kafka_error_destroy(e);
  {
    std::lock_guard<std::mutex> lock(assigned_mu_);
    if (!assigned_.empty()) rebalancing_.store(false);
  }
  log_info("kafka_source", lost ? "partitions lost" : "partitions revoked",
           {{"topic", config_.topic}, {"partitions", names}});
}

namespace {

// Room for what a fetch response adds around one record: the record batch header (61 bytes),
// the record's own header, key and headers, and the response's topic and partition framing.
constexpr uint64_t kFetchOverhead = 64 * 1024;

}  // namespace

uint64_t min_receive_message_max_bytes(uint32_t max_record_bytes) {
  return uint64_t{max_record_bytes} + kFetchOverhead + 512;
}

std::map<std::string, std::string> kafka_fetch_defaults(uint32_t max_record_bytes) {
  // librdkafka's defaults: max.partition.fetch.bytes 1 MiB, fetch.max.bytes 50 MiB (at most
  // queued.max.messages.kbytes), queued.max.messages.kbytes 64 MiB (ours; librdkafka's is
  // 1 GiB). receive.message.max.bytes is left to librdkafka, which raises it to at least
  // fetch.max.bytes + 512 (100 MB by default), so it always admits what these fetch.
  const uint64_t per_partition = std::max<uint64_t>(1 << 20, max_record_bytes + kFetchOverhead);
  const uint64_t per_fetch = std::max<uint64_t>(50 << 20, per_partition);
  const uint64_t queue_kb = std::max<uint64_t>(65536, 2 * per_partition / 1024);
  return {{"max.partition.fetch.bytes", std::to_string(per_partition)},
          {"fetch.max.bytes", std::to_string(per_fetch)},
          {"queued.max.messages.kbytes", std::to_string(queue_kb)}};
}

bool KafkaSource::start(std::string* error) {
  const std::string brokers = resolve_brokers(config_.client, {config_.topic});
  std::map<std::string, std::string> defaults = kafka_fetch_defaults(config_.max_record_bytes);
  defaults.insert({{"bootstrap.servers", brokers},
                   {"group.id", config_.group_id},
                   {"partition.assignment.strategy", "cooperative-sticky"},
                   {"enable.auto.commit", "true"},
                   {"auto.commit.interval.ms", "1000"},
                   {"enable.auto.offset.store", "false"},
                   {"auto.offset.reset", "earliest"},
                   {"enable.partition.eof", "false"},
                   {"fetch.wait.max.ms", "50"},
                   {"client.id", "assay-" + pipeline_},
                   {"log_level", "4"}});
  if (txn_) {
    // Exactly-once: offsets are committed only inside the outputs' transactions, and an input
    // that is itself transactional is read as committed.
    defaults["enable.auto.commit"] = "false";
    defaults["isolation.level"] = "read_committed";
  }
  rd_kafka_conf_t* conf = make_kafka_conf(config_.client, defaults, error);
  if (conf == nullptr) return false;
  // These are ours: user properties must not break the no-loss commit protocol.
  char err[512];
  rd_kafka_conf_set(conf, "enable.auto.offset.store", "false", err, sizeof err);
  if (txn_) {
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", err, sizeof err);
  }
  rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_rebalance_cb(conf, &KafkaSource::rebalance_cb);
  rd_kafka_conf_set_error_cb(conf, &KafkaSource::error_cb);
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (rk_ == nullptr) {
    rd_kafka_conf_destroy(conf);  // rd_kafka_new takes ownership only on success
    *error = std::string("cannot create Kafka consumer: ") + err;
    return false;
  }
  rd_kafka_poll_set_consumer(rk_);
  if (txn_) txn_->set_consumer(rk_);
  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(topics, config_.topic.c_str(), RD_KAFKA_PARTITION_UA);
  const rd_kafka_resp_err_t se = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (se != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = std::string("subscribe failed: ") + rd_kafka_err2str(se);
    return false;
  }
  last_message_ns_ = started_ns_ = engine::monotonic_ns();
  log_info("kafka_source", "consumer started",
           {{"topic", config_.topic}, {"group", config_.group_id}, {"brokers", brokers}});
  return true;
}

void KafkaSource::update_lag() {
  const int64_t now = engine::monotonic_ns();
  if (now - last_lag_ns_ < 1'000'000'000) return;
  last_lag_ns_ = now;
  std::vector<int32_t> parts;
  {
    std::lock_guard<std::mutex> lock(assigned_mu_);
    for (const auto& [p, v] : assigned_) parts.push_back(p);
  }
  if (parts.empty()) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (int32_t p : parts) rd_kafka_topic_partition_list_add(list, config_.topic.c_str(), p);
  rd_kafka_position(rk_, list);
  for (int i = 0; i < list->cnt; ++i) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_get_watermark_offsets(rk_, config_.topic.c_str(), list->elems[i].partition, &lo,
                                       &hi) != RD_KAFKA_RESP_ERR_NO_ERROR)
      continue;
    const int64_t pos = list->elems[i].offset >= 0 ? list->elems[i].offset : lo;
    auto& g = lag_gauges_[list->elems[i].partition];
    if (g == nullptr)
      g = &metrics_
               .gauges("assay_kafka_consumer_lag_records",
                       "Records in the partition not yet consumed (high watermark - position)")
               .Add({{"pipeline", pipeline_},
                     {"topic", config_.topic},
                     {"partition", std::to_string(list->elems[i].partition)}});
    g->Set(static_cast<double>(hi > pos ? hi - pos : 0));
  }
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaSource::rewind() {
  rewind_.store(true);
}

// Exactly-once, after an aborted transaction: every assigned partition back to its committed
// offset (the beginning when none), and nothing read beyond it is handed out.
bool KafkaSource::do_rewind() {
  for (auto& [p, q] : staged_)
    for (rd_kafka_message_t* m : q) rd_kafka_message_destroy(m);
  staged_.clear();
  rd_kafka_topic_partition_list_t* list = nullptr;
  if (rd_kafka_assignment(rk_, &list) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  bool ok = true;
  if (list->cnt > 0) {
    ok = rd_kafka_committed(rk_, list, 30000) == RD_KAFKA_RESP_ERR_NO_ERROR;
    for (int i = 0; ok && i < list->cnt; ++i)
      if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    if (ok) {
      rd_kafka_error_t* e = rd_kafka_seek_partitions(rk_, list, 30000);
      if (e != nullptr) {
        ok = false;
        rd_kafka_error_destroy(e);
      }
    }
  }
  log_info("kafka_source", ok ? "rewound to the committed offsets" : "rewind failed",
           {{"topic", config_.topic}, {"partitions", std::to_string(list->cnt)}});
  rd_kafka_topic_partition_list_destroy(list);
  return ok;
}

engine::SourceStatus KafkaSource::next(engine::Batch& b, size_t max_frames) {
  if (fatal_.load()) return engine::SourceStatus::kFailed;
  if (rewind_.exchange(false) && !do_rewind()) {
    set_error("cannot rewind to the committed offsets after an aborted transaction");
    return engine::SourceStatus::kFailed;
  }
  const int64_t now = engine::monotonic_ns();
  // Checks the topic at start, and probes the cluster again after a disconnect (so the source
  // becomes healthy again even when no record arrives after an outage).
  if ((!topic_checked_ || !connected_.load()) && now >= next_check_ns_) {
    int parts = 0;
    const TopicCheck check = check_topic(rk_, config_.topic, 1000, &parts);
    if (check == TopicCheck::kExists) {
      if (!connected_.load() && topic_checked_)
        log_info("kafka_source", "broker reachable again", {{"topic", config_.topic}});
      topic_checked_ = true;
      connected_.store(true);
      backoff_ms_ = 250;
    } else if (check == TopicCheck::kMissing && !topic_checked_) {
      set_error("topic '" + config_.topic + "' does not exist");
      return engine::SourceStatus::kFailed;
    } else {
      connected_.store(false);
      if (!topic_checked_)
        log_warn("kafka_source", "broker unreachable; retrying",
                 {{"topic", config_.topic}, {"retry_in_ms", std::to_string(backoff_ms_)}});
      next_check_ns_ = now + static_cast<int64_t>(backoff_ms_) * 1'000'000;
      backoff_ms_ = std::min(backoff_ms_ * 2, 10000);
    }
  }
  if (!topic_checked_) {
    // Never reached the cluster. With an idle timeout (a bounded run) give up after it, with
    // the last connection error (e.g. a refused TLS handshake); else keep retrying (not ready).
    if (config_.idle_timeout_ms > 0 &&
        now - started_ns_ > static_cast<int64_t>(config_.idle_timeout_ms) * 1'000'000) {
      std::string last;
      {
        std::lock_guard<std::mutex> lock(err_mu_);
        last = last_conn_error_;
      }
      set_error("could not reach the Kafka cluster for topic '" + config_.topic + "' within " +
                std::to_string(config_.idle_timeout_ms) + " ms (idle_timeout_ms)" +
                (last.empty() ? std::string() : "; last error: " + last));
      return engine::SourceStatus::kFailed;
    }
    // Serve librdkafka's events (error callbacks come through the consumer queue).
    if (rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 0)) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        staged_[m->partition].push_back(m);
      else
        rd_kafka_message_destroy(m);
    }
    return engine::SourceStatus::kIdle;
  }
  // The idle clock only runs while the source is connected and owns its partitions: a broker
  // outage or a rebalance does not mean the input is exhausted.
  if (!connected_.load() || rebalancing_.load()) last_message_ns_ = now;
  // Poll: block up to poll_timeout for the first message, then take what is ready.
  size_t polled = 0;
  int timeout = config_.poll_timeout_ms;
  size_t staged_total = 0;
  for (const auto& [p, q] : staged_) staged_total += q.size();
  while (staged_total + polled < max_frames * 4) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, timeout);
    timeout = 0;
    if (m == nullptr) break;
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || m->err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
        set_error("topic '" + config_.topic + "' does not exist");
      } else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        log_warn("kafka_source", "consume error", {{"error", rd_kafka_message_errstr(m)}});
      }
      rd_kafka_message_destroy(m);
      if (fatal_.load()) return engine::SourceStatus::kFailed;
      continue;
    }
    connected_.store(true);
    staged_[m->partition].push_back(m);
    ++polled;
  }
  update_lag();
  // Hand out the fullest partition's messages as one batch.
  auto best = staged_.end();
  for (auto it = staged_.begin(); it != staged_.end(); ++it)
    if (!it->second.empty() && (best == staged_.end() || it->second.size() > best->second.size()))
      best = it;
  if (best == staged_.end()) {
    // (An assignment in the poll above restarts the clock; `now` is from before that poll.)
    last_message_ns_ = std::max(last_message_ns_, assigned_ns_.load(std::memory_order_relaxed));
    if (config_.idle_timeout_ms > 0 &&
        now - last_message_ns_ > static_cast<int64_t>(config_.idle_timeout_ms) * 1'000'000)
      return engine::SourceStatus::kEnd;
    return engine::SourceStatus::kIdle;
  }
  last_message_ns_ = engine::monotonic_ns();
  b.topic = config_.topic;
  b.partition = engine::Partition(best->first);
  auto& q = best->second;
  // Bound the arena as the file source does, so a batch of large records stays reasonable.
  const size_t max_bytes = std::max<size_t>(size_t{8} << 20, size_t{config_.max_record_bytes} * 2);
  while (!q.empty() && b.frames.size() < max_frames && b.arena.size() < max_bytes) {
    rd_kafka_message_t* m = q.front();
    q.pop_front();
    // A record over engine.max_record_bytes keeps only its first max_record_bytes bytes and
    // is rejected as frame.too_large before decoding (as for file input); its offset is
    // committed like any other once that rejected output is acknowledged.
    const bool too_large = m->len > config_.max_record_bytes;
    const size_t keep = too_large ? config_.max_record_bytes : m->len;
    const size_t start = (b.arena.size() + 7) & ~size_t{7};
    b.arena.resize(start + keep);
    if (keep > 0) std::memcpy(b.arena.data() + start, m->payload, keep);
    engine::Frame f;
    f.offset = static_cast<uint32_t>(start);
    f.size = static_cast<uint32_t>(keep);
    f.source_offset = engine::Offset(m->offset);
    // The record time: the message timestamp (ms), with its type. LogAppendTime is the
    // broker's; CreateTime is whatever the producer wrote (docs/drift-anomaly.md, "Time").
    rd_kafka_timestamp_type_t tstype = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    const int64_t ts_ms = rd_kafka_message_timestamp(m, &tstype);
    if (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts_ms > 0 &&
        ts_ms <= INT64_MAX / 1'000'000) {
      f.record_time_ns = ts_ms * 1'000'000;
      f.record_time_type = tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME
                               ? engine::RecordTimeType::kLogAppendTime
                               : engine::RecordTimeType::kCreateTime;
    }
    if (too_large) f.pre_reject = engine::RejectCode::kFrameTooLarge;
    b.frames.push_back(f);
    rd_kafka_message_destroy(m);
  }
  if (q.empty()) staged_.erase(best);
  return engine::SourceStatus::kBatch;
}

void KafkaSource::acknowledge(engine::Partition partition, engine::Offset next_offset) {
  if (txn_) return;  // exactly-once: offsets go with the outputs' transactions
  if (rk_ == nullptr) return;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(list, config_.topic.c_str(), partition.value())->offset =
      next_offset.value();
  rd_kafka_offsets_store(rk_, list);  // committed by auto-commit; errors for revoked partitions are fine
  rd_kafka_topic_partition_list_destroy(list);
}

void KafkaSource::stop() {
  if (rk_ == nullptr) return;
  for (auto& [p, q] : staged_)
    for (rd_kafka_message_t* m : q) rd_kafka_message_destroy(m);
  staged_.clear();
  // librdkafka 2.0.2 (Debian 12) aborts the process when a consumer that has joined its group
  // but not yet received its first assignment is destroyed: the cooperative-sticky assignor's
  // state is still null (librdkafka issue 4312, fixed in 2.3.0). That is a SIGTERM during a
  // rebalance, e.g. a scale-down while an instance joins. A source stopped before its first
  // assignment therefore waits for it (bounded; not while the cluster is unreachable), without
  // handing it to the pipeline; records fetched meanwhile are dropped, their offsets not stored.
  // A consumer that has never reached the cluster (unreachable, TLS refused) has not joined:
  // it stops at once instead of waiting out the bound.
  if (!ever_assigned_.load()) {
    stopping_.store(true);
    const int64_t until = engine::monotonic_ns() + 15'000'000'000LL;
    while (!ever_assigned_.load() && engine::monotonic_ns() < until) {
      if (!topic_checked_) {
        int parts = 0;
        if (check_topic(rk_, config_.topic, 1000, &parts) == TopicCheck::kUnreachable) break;
        topic_checked_ = true;  // reachable: the consumer may be joining; wait for it
        connected_.store(true);
      }
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, 100);
      if (m != nullptr) rd_kafka_message_destroy(m);
      if (!connected_.load() && topic_checked_) break;  // down: the join cannot complete
    }
    if (!ever_assigned_.load())
      log_warn("kafka_source", "stopping before the group gave this instance an assignment",
               {{"topic", config_.topic}, {"group", config_.group_id}});
  }
  if (!txn_) rd_kafka_commit(rk_, nullptr, 0);  // stored offsets, synchronously
  if (txn_) txn_->set_consumer(nullptr);
  rd_kafka_consumer_close(rk_);          // leaves the group (revokes through the callback)
  rd_kafka_destroy(rk_);
  rk_ = nullptr;
}

std::unique_ptr<engine::Source> KafkaSource::from_config(const engine::ConfigNode& c,
                                                         engine::BuildContext& ctx) {
  KafkaSourceConfig cfg;
  cfg.client = parse_kafka_settings(c);
  cfg.topic = c.get("topic").as_string();
  if (cfg.topic.empty()) c.get("topic").fail("must name the input topic");
  cfg.group_id = c.get_string("group_id", "assay-" + ctx.pipeline.name);
  cfg.poll_timeout_ms = static_cast<int>(c.get_int("poll_timeout_ms", 100, 1, 60000));
  cfg.idle_timeout_ms = static_cast<int>(c.get_int("idle_timeout_ms", 0, 0, 86400000));
  cfg.max_record_bytes = ctx.engine.max_record_bytes;
  // librdkafka cannot receive a response above receive.message.max.bytes: set lower than a
  // record of max_record_bytes needs, the input would stall on the first such record.
  // (librdkafka also refuses one below fetch.max.bytes + 512, but only when the client is
  // created: checked here too, so that `lint` says so with the location.)
  auto number = [&](const std::string& name) -> std::optional<uint64_t> {
    const auto it = cfg.client.properties.find(name);
    if (it == cfg.client.properties.end()) return std::nullopt;
    char* end = nullptr;
    const unsigned long long v = std::strtoull(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') return std::nullopt;  // librdkafka says why
    return v;
  };
  if (const auto receive = number("receive.message.max.bytes")) {
    const uint64_t fetch =
        number("fetch.max.bytes")
            .value_or(
                std::stoull(kafka_fetch_defaults(cfg.max_record_bytes).at("fetch.max.bytes")));
    const uint64_t need =
        std::max(min_receive_message_max_bytes(cfg.max_record_bytes), fetch + 512);
    if (*receive < need) {
      const engine::ConfigNode props = c.get("properties");
      (props.has("receive.message.max.bytes") ? props.get("receive.message.max.bytes")
                                              : props.get("receive.message.max.bytes_file"))
          .fail("must be at least " + std::to_string(need) +
                " to receive a record of engine.max_record_bytes (" +
                std::to_string(cfg.max_record_bytes) + ") and a fetch of fetch.max.bytes (" +
                std::to_string(fetch) + ") with their framing");
    }
  }
  auto source = std::make_unique<KafkaSource>(std::move(cfg), ctx.metrics, ctx.pipeline.name);
  if (ctx.engine.exactly_once) {
    // One transactional producer per instance, shared by the Kafka routes and the state
    // changelog (they find it under this key); its id is unique per live instance.
    source->txn_ = ctx.services.add("kafka-transactions",
                                    std::make_shared<KafkaTransactions>(
                                        source->config_.client, source->config_.topic,
                                        source->config_.group_id + "-" + ctx.pipeline.instance_id,
                                        10000));  // transaction.timeout.ms: a dead instance's open
                                                  // transaction is aborted after 10 s
  }
  return source;
}

}  // namespace assay::connectors
