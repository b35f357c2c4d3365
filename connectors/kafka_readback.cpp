#include "connectors/kafka_readback.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include "engine/log.hpp"

namespace assay::connectors {
namespace {

rd_kafka_t* make_reader(const KafkaClientSettings& settings, const std::string& topic,
                        std::string* error, bool committed = true) {
  const std::string brokers = resolve_brokers(settings, {topic});
  rd_kafka_conf_t* conf = make_kafka_conf(
      settings,
      {{"bootstrap.servers", brokers},
       {"group.id", "assay-readback-" + std::to_string(getpid())},  // assign() only: never joins
       {"enable.auto.commit", "false"},
       {"enable.partition.eof", "true"},
       // The end of a partition is found by a fetch that returns nothing: do not wait long.
       {"fetch.wait.max.ms", "10"},
       // What exactly-once pipelines wrote in aborted transactions is never read back.
       {"isolation.level", committed ? "read_committed" : "read_uncommitted"},
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

}  // namespace

std::string unfinished_read(const std::string& topic, int timeout_ms,
                            const std::map<int32_t, int64_t>& high,
                            const std::map<int32_t, int64_t>& next,
                            const std::string& last_transient) {
  std::string s = "timed out after " + std::to_string(timeout_ms) + " ms reading " + topic + ":";
  const char* sep = " ";
  for (const auto& [p, hi] : high) {
    const auto it = next.find(p);
    s += sep;
    s += "partition " + std::to_string(p) + " at offset " +
         (it == next.end() ? std::string("?") : std::to_string(it->second)) + " of " +
         std::to_string(hi);
    sep = ", ";
  }
  if (high.empty()) s += " every partition read";
  s += last_transient.empty() ? "; no broker error seen" : "; last broker error: " + last_transient;
  return s;
}

namespace {

// Calls `fn` for every record of the given partitions (one assignment) up to their high
// watermarks at the time of the call, in offset order per partition.
// With max_records > 0, only the last max_records offsets of each partition; *whole (if given)
// says whether that window reached back to the log start of every partition.
bool each_in_partitions(rd_kafka_t* rk, const std::string& topic, const std::vector<int32_t>& parts,
                        size_t max_records, const KafkaRecordFn& fn, std::string* error,
                        int timeout_ms, bool* whole = nullptr) {
  if (whole != nullptr) *whole = true;
  std::map<int32_t, int64_t> high;  // partitions still to read -> high watermark
  std::map<int32_t, int64_t> next;  // partitions still to read -> next offset expected
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(parts.size()));
  for (int32_t p : parts) {
    int64_t lo = 0, hi = 0;
    const rd_kafka_resp_err_t err = query_watermarks(rk, topic, p, &lo, &hi, timeout_ms);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_topic_partition_list_destroy(list);
      *error = "cannot query the offsets of " + topic + "/" + std::to_string(p) + ": " +
               rd_kafka_err2str(err);
      return false;
    }
    int64_t start = lo;
    if (max_records > 0 && hi - static_cast<int64_t>(max_records) > lo) {
      start = hi - static_cast<int64_t>(max_records);
      if (whole != nullptr) *whole = false;
    }
    if (start >= hi) continue;
    high[p] = hi;
    next[p] = start;
    rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = start;
  }
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  if (!high.empty()) err = rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    *error = std::string("cannot assign the partitions: ") + rd_kafka_err2str(err);
    return false;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool ok = true;
  std::string last_transient;  // the last error the consumer recovers from by itself
  while (ok && !high.empty()) {
    if (std::chrono::steady_clock::now() > deadline) {
      *error = unfinished_read(topic, timeout_ms, high, next, last_transient);
      ok = false;
      break;
    }
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    auto it = high.find(m->partition);
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      // The end of what may be read now: the high watermark, or (read_committed) the last
      // stable offset when a transaction is still open beyond it.
      if (it != high.end()) high.erase(it);
    } else if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The consumer recovers from a broker restarting or a leader moving by itself: only
      // other errors end the read (and the deadline, if it does not recover).
      if (!is_transient_kafka_error(m->err)) {
        *error = "reading " + topic + "/" + std::to_string(m->partition) + ": " +
                 rd_kafka_message_errstr(m);
        ok = false;
      } else {
        last_transient = rd_kafka_message_errstr(m);
      }
    } else if (it != high.end()) {
      if (m->offset < it->second)
        fn(m->partition, m->offset,
           std::span<const uint8_t>(static_cast<const uint8_t*>(m->payload), m->len));
      next[m->partition] = m->offset + 1;
      if (m->offset >= it->second - 1) high.erase(it);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_assign(rk, nullptr);
  return ok;
}

// The same, appending partition by partition, in offset order.
bool read_partitions(rd_kafka_t* rk, const std::string& topic, const std::vector<int32_t>& parts,
                     size_t max_records, std::vector<StoredRecord>* out, std::string* error,
                     int timeout_ms, bool* whole = nullptr) {
  std::map<int32_t, std::vector<StoredRecord>> got;
  const bool ok = each_in_partitions(
      rk, topic, parts, max_records,
      [&](int32_t p, int64_t o, std::span<const uint8_t> b) {
        got[p].push_back(StoredRecord{p, o, {b.begin(), b.end()}});
      },
      error, timeout_ms, whole);
  for (auto& [p, recs] : got)
    for (auto& r : recs) out->push_back(std::move(r));
  return ok;
}

// Waits until no transaction is open on the given partitions: their last stable offset (what
// a read_committed reader may read up to) reaches their high watermark. A transaction left open
// by an instance that died keeps committed records written after it (by the partition's next
// owner) invisible until the broker aborts it (transaction.timeout.ms); reading the tail of a
// chain or a changelog in that window would miss them, and a chain continued from there would
// fork. Only for partitions this instance owns (no live writer). `committed` is the
// read_committed reader.
bool wait_stable(rd_kafka_t* committed, const KafkaClientSettings& settings,
                 const std::string& topic, const std::vector<int32_t>& parts, std::string* error,
                 int timeout_ms) {
  rd_kafka_t* all = nullptr;  // read_uncommitted: its query answers the high watermark
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::milliseconds(timeout_ms);
  bool ok = true, warned = false;
  for (;;) {
    int32_t open_part = -1;
    int64_t lso = 0, hw = 0;
    for (int32_t p : parts) {
      int64_t lo = 0;
      const int left = static_cast<int>(std::max<int64_t>(
          1, std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                                   std::chrono::steady_clock::now())
                 .count()));
      rd_kafka_resp_err_t err = query_watermarks(committed, topic, p, &lo, &lso, left);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR && all == nullptr) {
        all = make_reader(settings, topic, error, false);
        if (all == nullptr) return false;
      }
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) err = query_watermarks(all, topic, p, &lo, &hw, left);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        *error = "cannot query the offsets of " + topic + "/" + std::to_string(p) + ": " +
                 rd_kafka_err2str(err);
        ok = false;
        break;
      }
      if (lso < hw) {
        open_part = p;
        break;
      }
    }
    if (!ok || open_part < 0) break;
    const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
    if (std::chrono::steady_clock::now() > deadline) {
      *error = topic + "/" + std::to_string(open_part) +
               ": a transaction is still open at offset " + std::to_string(lso) +
               " (high watermark " + std::to_string(hw) + ") after " + std::to_string(waited) +
               " ms; records committed after it cannot be read yet (a dead instance's "
               "transaction is aborted by the broker after its transaction.timeout.ms; one open "
               "far longer is a hanging transaction: "
               "docs/operations.md, 'A transaction that stays open')";
      ok = false;
      break;
    }
    if (!warned && waited >= 1000) {
      warned = true;
      engine::log_warn("kafka", "waiting for an open transaction to end before reading back",
                       {{"topic", topic},
                        {"partition", std::to_string(open_part)},
                        {"last_stable_offset", std::to_string(lso)},
                        {"high_watermark", std::to_string(hw)}});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (all != nullptr) rd_kafka_destroy(all);
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
  if (!wait_stable(rk, settings, topic, {partition}, error, timeout_ms)) {
    rd_kafka_destroy(rk);
    return false;
  }
  if (max_records == 0) {
    const bool ok = read_partitions(rk, topic, {partition}, 0, out, error, timeout_ms);
    rd_kafka_destroy(rk);
    return ok;
  }
  // The last max_records *records*: the last offsets of a partition written by exactly-once
  // pipelines may be transaction markers or records of aborted transactions, which a
  // read_committed reader never returns, so the window of offsets widens until it holds
  // max_records records or reaches the log start.
  bool ok = true;
  for (size_t window = max_records;;
       window = window < (size_t{1} << 40) ? window * 4 + 16 : window) {
    std::vector<StoredRecord> got;
    bool whole = true;
    ok = read_partitions(rk, topic, {partition}, window, &got, error, timeout_ms, &whole);
    if (!ok) break;
    if (got.size() >= max_records || whole) {
      const size_t skip = got.size() > max_records ? got.size() - max_records : 0;
      for (size_t i = skip; i < got.size(); ++i) out->push_back(std::move(got[i]));
      break;
    }
  }
  rd_kafka_destroy(rk);
  return ok;
}

bool for_each_kafka_record_in(const KafkaClientSettings& settings, const std::string& topic,
                              const std::vector<int32_t>& partitions, const KafkaRecordFn& fn,
                              std::string* error, int timeout_ms) {
  rd_kafka_t* rk = make_reader(settings, topic, error);
  if (rk == nullptr) return false;
  const bool ok = wait_stable(rk, settings, topic, partitions, error, timeout_ms) &&
                  each_in_partitions(rk, topic, partitions, 0, fn, error, timeout_ms);
  rd_kafka_destroy(rk);
  return ok;
}

bool for_each_kafka_record(const KafkaClientSettings& settings, const std::string& topic,
                           const KafkaRecordFn& fn, std::string* error) {
  rd_kafka_t* rk = make_reader(settings, topic, error);
  if (rk == nullptr) return false;
  int n = 0;
  const TopicCheck c = check_topic(rk, topic, 10000, &n);
  bool ok = c == TopicCheck::kExists;
  if (!ok)
    *error = c == TopicCheck::kMissing ? "topic '" + topic + "' does not exist"
                                       : "cannot reach the Kafka cluster";
  for (int p = 0; ok && p < n; ++p)  // one partition at a time: nothing is buffered
    ok = each_in_partitions(rk, topic, {p}, 0, fn, error, 120000);
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
  std::vector<int32_t> parts;
  for (int p = 0; p < n; ++p) parts.push_back(p);
  if (ok) ok = read_partitions(rk, topic, parts, 0, out, error, 120000);
  rd_kafka_destroy(rk);
  return ok;
}

}  // namespace assay::connectors
