#pragma once
// Helpers for the Kafka integration tests (tests/kafka/): child processes with RAII kill, the
// real test broker started by the ctest fixture (ASSAY_KAFKA_DIR), librdkafka producer /
// consumer / admin helpers, decoding of Assay's output records, simulated fleets (cached per
// build dir), raw-socket HTTP GETs.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/framing.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "tests/rejected_readings.hpp"

extern char** environ;

namespace assay::kt {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

#ifdef ASSAY_SANITIZED
inline constexpr bool kSanitized = true;
#else
inline constexpr bool kSanitized = false;
#endif

inline std::string assay_bin() { return ASSAY_BINARY_DIR "/cli/assay"; }

inline std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

inline void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

/// The broker directory of the ctest fixture (empty if not set).
inline std::string kafka_dir() {
  const char* d = std::getenv("ASSAY_KAFKA_DIR");
  return d != nullptr ? d : "";
}

/// Fails the test unless the fixture's broker is there (never skips: the suite's ctest fixture
/// starts it).
#define ASSAY_REQUIRE_BROKER()                                                                 \
  do {                                                                                         \
    if (::assay::kt::kafka_dir().empty() ||                                                    \
        !std::filesystem::exists(::assay::kt::kafka_dir() + "/bootstrap"))                     \
      FAIL() << "no Kafka test broker (ASSAY_KAFKA_DIR unset or not started)";                 \
  } while (0)

inline std::string bootstrap(bool tls = false) {
  return trim(read_text(kafka_dir() + (tls ? "/bootstrap_tls" : "/bootstrap")));
}

/// A fresh work directory under the build dir.
inline fs::path work_dir(const std::string& name) {
  auto p = fs::path(ASSAY_BINARY_DIR) / "test-tmp" / ("kafka-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

/// A topic / group name unique to this process and call.
inline std::string unique_name(const std::string& base) {
  static std::atomic<int> n{0};
  const auto t = std::chrono::system_clock::now().time_since_epoch() / 1ms;
  return "assay-it-" + base + "-" + std::to_string(::getpid()) + "-" + std::to_string(t % 100000000) +
         "-" + std::to_string(n++);
}

// ---- child processes ------------------------------------------------------------------------

/// A child process (posix_spawn) with stdout/stderr to files; SIGKILLed and reaped by the
/// destructor if still running, so no test failure leaves one behind.
class Child {
 public:
  Child(const std::vector<std::string>& argv, const fs::path& out, const fs::path& err,
        const std::map<std::string, std::string>& env = {})
      : out_(out), err_(err) {
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string s = *e;
      const auto eq = s.find('=');
      if (eq != std::string::npos && env.count(s.substr(0, eq)) > 0) continue;
      envs.push_back(s);
    }
    for (const auto& [k, v] : env) envs.push_back(k + "=" + v);
    std::vector<char*> a, e;
    for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
    a.push_back(nullptr);
    for (auto& s : envs) e.push_back(s.data());
    e.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int rc = posix_spawn(&pid_, a[0], &fa, nullptr, a.data(), e.data());
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = -1;
  }
  ~Child() {
    if (pid_ > 0 && !status_) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
    }
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  /// Exit code (128+signal if killed by a signal), if it has exited.
  std::optional<int> poll() {
    if (status_ || pid_ <= 0) return status_;
    int st = 0;
    if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = decode(st);
    return status_;
  }
  bool running() { return pid_ > 0 && !poll(); }
  /// Waits up to `timeout`; nullopt if still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout) {
    const auto end = Clock::now() + timeout;
    while (!poll() && Clock::now() < end) std::this_thread::sleep_for(20ms);
    return poll();
  }
  /// Sends `sig` (if running).
  void signal(int sig) {
    if (running()) ::kill(pid_, sig);
  }
  std::string out() const { return read_text(out_); }
  std::string err() const { return read_text(err_); }

 private:
  static int decode(int st) {
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
    return -1;
  }
  pid_t pid_ = -1;
  std::optional<int> status_;
  fs::path out_, err_;
};

/// Runs a command to completion (killed after `timeout`: returns -1). Output goes to
/// DIR/NAME.out / NAME.err.
inline int run_to_end(const std::vector<std::string>& argv, const fs::path& dir, const std::string& name,
                      std::chrono::milliseconds timeout,
                      const std::map<std::string, std::string>& env = {}) {
  Child c(argv, dir / (name + ".out"), dir / (name + ".err"), env);
  if (!c.started()) return -2;
  auto rc = c.wait_for(timeout);
  return rc ? *rc : -1;
}

/// Waits until `pred` is true or `timeout` passes; returns pred's last value.
template <class F>
bool wait_until(F pred, std::chrono::milliseconds timeout, std::chrono::milliseconds step = 50ms) {
  const auto end = Clock::now() + timeout;
  while (Clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(step);
  }
  return pred();
}

// ---- HTTP (raw socket) ----------------------------------------------------------------------

/// A loopback TCP port that was free a moment ago.
inline int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

/// GET http://127.0.0.1:PORT/PATH; the whole response (headers + body), "" if no answer.
inline std::string http_get(int port, const std::string& path) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return "";
  timeval tv{2, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (::send(s, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      ssize_t n = 0;
      while ((n = ::recv(s, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  ::close(s);
  return out;
}

/// Sum of the values of a Prometheus metric (all label sets) in a /metrics page; -1 if absent.
inline double metric_sum(const std::string& page, const std::string& name) {
  double total = -1;
  std::istringstream in(page);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char c = line[name.size()];
    if (c != '{' && c != ' ') continue;
    const auto sp = line.rfind(' ');
    total = (total < 0 ? 0 : total) + std::strtod(line.c_str() + sp + 1, nullptr);
  }
  return total;
}

/// GET http://127.0.0.1:PORT/PATH; the status code, or -1 if no answer.
inline int http_status(int port, const std::string& path) {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return -1;
  timeval tv{1, 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(s);
    return -1;
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  if (::send(s, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(s);
    return -1;
  }
  char buf[64];
  const ssize_t n = ::recv(s, buf, sizeof buf - 1, 0);
  ::close(s);
  if (n < 12) return -1;
  buf[n] = 0;
  return std::atoi(buf + 9);  // "HTTP/1.1 200 ..."
}

// ---- librdkafka -----------------------------------------------------------------------------

inline rd_kafka_conf_t* base_conf(const std::map<std::string, std::string>& props) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
      ADD_FAILURE() << "conf " << k << ": " << err;
  return c;
}

/// True once the broker's metadata shows `topic` with `partitions` partitions, each with a
/// leader. The controller confirms CreateTopics before the broker serves the new partitions;
/// a client that starts in between is told the topic does not exist.
inline bool topic_ready(rd_kafka_t* rk, const std::string& topic, int partitions) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  bool ready = false;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
      md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topics[0].partition_cnt == partitions) {
    ready = true;
    for (int i = 0; i < md->topics[0].partition_cnt; ++i)
      ready = ready && md->topics[0].partitions[i].leader >= 0 &&
              md->topics[0].partitions[i].err == RD_KAFKA_RESP_ERR_NO_ERROR;
  }
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return ready;
}

/// Creates a topic through the Admin API; returns once the broker serves all its partitions.
inline void create_topic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  ASSERT_NE(rk, nullptr) << err;
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  ASSERT_NE(nt, nullptr) << err;
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  ASSERT_NE(ev, nullptr) << "CreateTopics timed out";
  const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
  size_t n = 0;
  const rd_kafka_topic_result_t** tr = res ? rd_kafka_CreateTopics_result_topics(res, &n) : nullptr;
  EXPECT_EQ(rd_kafka_event_error(ev), RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_event_error_string(ev);
  for (size_t i = 0; i < n; ++i)
    EXPECT_EQ(rd_kafka_topic_result_error(tr[i]), RD_KAFKA_RESP_ERR_NO_ERROR)
        << topic << ": " << (rd_kafka_topic_result_error_string(tr[i]) ?: "");
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  bool ready = topic_ready(rk, topic, partitions);
  while (!ready && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ready = topic_ready(rk, topic, partitions);
  }
  EXPECT_TRUE(ready) << topic << ": created, but the broker does not serve its partitions";
  rd_kafka_destroy(rk);
}

/// Where a produced input record landed.
struct Placement {
  int32_t partition = -1;
  int64_t offset = -1;
};

/// Produces records to a topic and remembers where each landed.
class Producer {
 public:
  explicit Producer(const std::string& topic) : topic_(topic) {
    char err[512];
    rd_kafka_conf_t* c = base_conf({{"bootstrap.servers", bootstrap()},
                                    {"enable.idempotence", "true"},
                                    {"linger.ms", "20"},
                                    {"batch.size", "1000000"},
                                    {"queue.buffering.max.messages", "200000"},
                                    {"log_level", "3"}});
    rd_kafka_conf_set_dr_msg_cb(c, &Producer::dr);
    rd_kafka_conf_set_opaque(c, this);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (rk_ == nullptr) ADD_FAILURE() << err;
  }
  ~Producer() {
    if (rk_ != nullptr) {
      rd_kafka_flush(rk_, 30000);
      rd_kafka_destroy(rk_);
    }
  }
  /// Queues records [first, first+count) of `frames`; placements[i] is filled on delivery.
  void produce(const std::vector<std::vector<uint8_t>>& frames, size_t first, size_t count) {
    if (placements.size() < frames.size()) placements.resize(frames.size());
    for (size_t i = first; i < first + count && i < frames.size(); ++i) {
      const std::string key = "k" + std::to_string(i % 1009);
      for (;;) {
        const auto e = rd_kafka_producev(
            rk_, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(const_cast<uint8_t*>(frames[i].data()), frames[i].size()),
            RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(i)),
            RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
          rd_kafka_poll(rk_, 10);
          continue;
        }
        ADD_FAILURE() << "produce: " << rd_kafka_err2str(e);
        return;
      }
      rd_kafka_poll(rk_, 0);
    }
  }
  /// Waits until everything is delivered; false on a delivery failure.
  bool flush(int timeout_ms = 60000) {
    return rd_kafka_flush(rk_, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR && failed == 0;
  }
  std::vector<Placement> placements;
  std::atomic<uint64_t> failed{0};

 private:
  static void dr(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Producer*>(opaque);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++self->failed;
      return;
    }
    const size_t i = reinterpret_cast<size_t>(m->_private);
    self->placements[i] = Placement{m->partition, m->offset};
  }
  std::string topic_;
  rd_kafka_t* rk_ = nullptr;
};

/// One consumed output message.
struct Message {
  int32_t partition = 0;
  int64_t offset = 0;
  std::string key;
  std::vector<uint8_t> value;
  std::map<std::string, std::string> headers;
};

/// Number of partitions of `topic` (0 if unknown).
inline int partition_count(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  int n = 0;
  if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
    n = md->topics[0].partition_cnt;
  if (md != nullptr) rd_kafka_metadata_destroy(md);
  rd_kafka_topic_destroy(rkt);
  return n;
}

/// High watermarks (end offsets) of every partition of `topic`.
inline std::vector<int64_t> end_offsets(const std::string& topic) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER,
                                base_conf({{"bootstrap.servers", bootstrap()}, {"log_level", "3"}}),
                                err, sizeof err);
  std::vector<int64_t> out;
  if (rk == nullptr) return out;
  const int n = partition_count(rk, topic);
  for (int p = 0; p < n; ++p) {
    int64_t lo = 0, hi = -1;
    rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 10000);
    out.push_back(hi);
  }
  rd_kafka_destroy(rk);
  return out;
}

inline int64_t sum(const std::vector<int64_t>& v) {
  int64_t s = 0;
  for (int64_t x : v) s += x;
  return s;
}

/// A consumed message, copied (headers included).
inline Message to_message(const rd_kafka_message_t* m) {
  Message msg;
  msg.partition = m->partition;
  msg.offset = m->offset;
  if (m->key != nullptr) msg.key.assign(static_cast<const char*>(m->key), m->key_len);
  const auto* v = static_cast<const uint8_t*>(m->payload);
  msg.value.assign(v, v + m->len);
  rd_kafka_headers_t* h = nullptr;
  if (rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* val = nullptr;
    size_t sz = 0;
    for (size_t i = 0;
         rd_kafka_header_get_all(h, i, &name, &val, &sz) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
      msg.headers[name] = std::string(static_cast<const char*>(val), sz);
  }
  return msg;
}

/// A consumer of its own group that is only assigned partitions (never commits); with
/// `read_committed`, as an exactly-once pipeline's consumers read, reporting partition ends.
/// Null (a test failure added) if it cannot be created.
inline rd_kafka_t* new_reader(bool read_committed) {
  char err[512];
  std::map<std::string, std::string> props{{"bootstrap.servers", bootstrap()},
                                           {"group.id", unique_name("reader")},
                                           {"enable.auto.commit", "false"},
                                           {"enable.partition.eof", read_committed ? "true" : "false"},
                                           {"log_level", "3"}};
  if (read_committed) props["isolation.level"] = "read_committed";
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, base_conf(props), err, sizeof err);
  if (rk == nullptr)
    ADD_FAILURE() << err;
  else
    rd_kafka_poll_set_consumer(rk);
  return rk;
}

/// Reads every message of `topic` from the beginning up to the current end offsets.
inline std::vector<Message> consume_all(const std::string& topic, int timeout_ms = 120000) {
  std::vector<Message> out;
  const std::vector<int64_t> ends = end_offsets(topic);
  rd_kafka_t* rk = new_reader(false);
  if (rk == nullptr) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(ends.size()));
  std::map<int32_t, int64_t> remaining;  // partition -> end offset still to reach
  for (size_t p = 0; p < ends.size(); ++p) {
    if (ends[p] <= 0) continue;
    rd_kafka_topic_partition_list_add(list, topic.c_str(), static_cast<int32_t>(p))->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    remaining[static_cast<int32_t>(p)] = ends[p];
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!remaining.empty() && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      auto it = remaining.find(m->partition);
      if (it != remaining.end() && m->offset + 1 >= it->second) remaining.erase(it);
      out.push_back(to_message(m));
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_TRUE(remaining.empty()) << "timed out reading " << topic;
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

/// Committed offsets of `group` for every partition of `topic` (-1001 = none).
inline std::vector<int64_t> committed_offsets(const std::string& group, const std::string& topic,
                                              int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(
      RD_KAFKA_CONSUMER,
      base_conf({{"bootstrap.servers", bootstrap()}, {"group.id", group}, {"log_level", "3"}}), err,
      sizeof err);
  std::vector<int64_t> out;
  if (rk == nullptr) return out;
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
  for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  const auto e = rd_kafka_committed(rk, list, 20000);
  EXPECT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(e);
  for (int i = 0; i < list->cnt; ++i) out.push_back(list->elems[i].offset);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_destroy(rk);
  return out;
}

// ---- records ----------------------------------------------------------------------------------

/// Reads all frames of a framed record file.
inline std::vector<std::vector<uint8_t>> read_frames(const fs::path& p) {
  return engine::read_frame_file(p.string());
}

/// Readings expected from one input frame (1 for a SignedReading or anything undecodable).
inline uint32_t readings_in_frame(const std::vector<uint8_t>& f) {
  if (f.size() >= 8 && std::memcmp(f.data() + 4, wire::SignedBatchIdentifier(), 4) == 0) {
    flatbuffers::Verifier v(f.data(), f.size());
    if (!wire::VerifySignedBatchBuffer(v)) return 1;
    const auto* body = wire::GetSignedBatch(f.data())->body();
    std::vector<uint8_t> aligned(body->begin(), body->end());  // copy: bodies may be misaligned
    flatbuffers::Verifier bv(aligned.data(), aligned.size());
    if (!wire::VerifyReadingBatchBuffer(bv)) return 1;
    const auto* r = wire::GetReadingBatch(aligned.data())->readings();
    return r != nullptr && r->size() > 0 ? r->size() : 1;
  }
  return 1;
}

/// An output record decoded: where its input was and which reading of it.
struct OutputRef {
  bool ok = false;
  int32_t partition = -1;
  int64_t offset = -1;
  uint32_t reading = 0;            ///< the (first) reading
  std::vector<uint32_t> readings;  ///< every reading it stands for
  std::string sensor_id;
  std::string reason;    // rejected only
  std::string instance;  // trusted only: provenance instance_id (which `assay run` wrote it)
};

inline OutputRef decode_output(const Message& m) {
  OutputRef r;
  const auto& v = m.value;
  if (v.size() < 8) return r;
  // Copy into 8-byte-aligned storage for the verifier.
  std::vector<uint64_t> buf((v.size() + 7) / 8);
  std::memcpy(buf.data(), v.data(), v.size());
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  flatbuffers::Verifier ver(p, v.size(), 64, 1u << 20);
  if (std::memcmp(p + 4, wire::TrustedReadingIdentifier(), 4) == 0) {
    if (!wire::VerifyTrustedReadingBuffer(ver)) return r;
    const auto* t = wire::GetTrustedReading(p);
    if (t->provenance() == nullptr) return r;
    r.partition = t->provenance()->source_partition();
    r.offset = t->provenance()->source_offset();
    r.reading = t->reading_index();
    r.readings = {r.reading};
    if (const auto* g = t->group_reading_indexes(); g != nullptr)  // a grouped record
      r.readings.assign(g->begin(), g->end());
    r.sensor_id = t->sensor_id() ? t->sensor_id()->str() : "";
    r.instance = t->provenance()->instance_id() ? t->provenance()->instance_id()->str() : "";
    r.ok = true;
  } else if (std::memcmp(p + 4, wire::RejectedRecordIdentifier(), 4) == 0) {
    if (!wire::VerifyRejectedRecordBuffer(ver)) return r;
    const auto* j = wire::GetRejectedRecord(p);
    r.partition = j->source_partition();
    r.offset = j->source_offset();
    r.reading = j->reading_index();
    r.readings = testing::rejected_readings(j);
    r.sensor_id = j->sensor_id() ? j->sensor_id()->str() : "";
    r.reason = j->reason()->str();
    r.ok = true;
  }
  return r;
}

/// The input readings a set of output records stands for (a rejected record may stand for
/// several readings of one input: `reading_indexes`).
inline size_t readings_of(const std::vector<Message>& msgs) {
  size_t n = 0;
  for (const Message& m : msgs) n += decode_output(m).readings.size();
  return n;
}

/// Input reading identity: (partition, offset, reading index).
using ReadingKey = std::tuple<int32_t, int64_t, uint32_t>;

/// Expected readings of the produced input.
inline std::map<ReadingKey, size_t> expected_readings(const std::vector<std::vector<uint8_t>>& frames,
                                                      const std::vector<Placement>& placements) {
  std::map<ReadingKey, size_t> out;
  for (size_t i = 0; i < frames.size(); ++i) {
    const uint32_t n = readings_in_frame(frames[i]);
    for (uint32_t k = 0; k < n; ++k) out[{placements[i].partition, placements[i].offset, k}] = i;
  }
  return out;
}

/// Accounting of outputs against the expected input readings.
struct Accounting {
  uint64_t expected = 0, outputs = 0, missing = 0, duplicates = 0, unknown = 0, undecodable = 0;
  std::map<ReadingKey, int> seen;
};

/// Exactly-once accounting: every expected reading in exactly one output, nothing else.
inline void expect_each_reading_once(const Accounting& a) {
  EXPECT_EQ(a.missing, 0u);
  EXPECT_EQ(a.duplicates, 0u);
  EXPECT_EQ(a.unknown, 0u);
  EXPECT_EQ(a.undecodable, 0u);
}

inline Accounting account(const std::map<ReadingKey, size_t>& expected,
                          const std::vector<const std::vector<Message>*>& outputs) {
  Accounting a;
  a.expected = expected.size();
  for (const auto* msgs : outputs) {
    for (const Message& m : *msgs) {
      ++a.outputs;
      const OutputRef r = decode_output(m);
      if (!r.ok) {
        ++a.undecodable;
        continue;
      }
      for (uint32_t reading : r.readings) {
        const ReadingKey k{r.partition, r.offset, reading};
        if (expected.count(k) == 0) {
          ++a.unknown;
          continue;
        }
        if (++a.seen[k] > 1) ++a.duplicates;
      }
    }
  }
  for (const auto& [k, i] : expected)
    if (a.seen.count(k) == 0) ++a.missing;
  return a;
}

// ---- simulated fleets ---------------------------------------------------------------------------

/// A simulated fleet (deterministic: fixed seed and start time), generated once per build dir
/// and reused by later tests.
struct Fleet {
  fs::path dir;
  fs::path records() const { return dir / "fleet.asy"; }
  fs::path registry() const { return dir / "sensors.yaml"; }
  fs::path labels() const { return dir / "labels.jsonl"; }
};

inline Fleet simulated_fleet(const std::string& name, const std::vector<std::string>& extra) {
  Fleet f;
  f.dir = fs::path(ASSAY_BINARY_DIR) / "test-tmp" / ("kafka-fleet-" + name);
  if (fs::exists(f.dir / "done")) return f;
  const fs::path tmp = f.dir.string() + ".tmp" + std::to_string(::getpid());
  fs::remove_all(tmp);
  fs::create_directories(tmp);
  std::vector<std::string> argv{assay_bin(), "simulate", "--out", (tmp / "fleet.asy").string(),
                                "--registry-out", (tmp / "sensors.yaml").string(),
                                "--certs-out", (tmp / "certificates.yaml").string(),
                                "--labs-out", (tmp / "labs.yaml").string(),
                                "--labels-out", (tmp / "labels.jsonl").string(),
                                "--start-time", "2026-01-01T00:00:00Z", "--threads", "2"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const int rc = run_to_end(argv, tmp, "simulate", 300s);
  EXPECT_EQ(rc, 0) << read_text(tmp / "simulate.err");
  if (rc != 0) return f;
  write_text(tmp / "done", "ok\n");
  fs::remove_all(f.dir);
  std::error_code ec;
  fs::rename(tmp, f.dir, ec);
  if (ec) fs::remove_all(tmp);  // another process won the race: use its copy
  return f;
}

/// Fault label per input frame ("none" unless a reading of it has a fault), from labels.jsonl.
inline std::vector<std::string> frame_labels(const fs::path& labels, size_t frames) {
  std::vector<std::string> out(frames, "none");
  std::ifstream in(labels);
  std::string line;
  while (std::getline(in, line)) {
    const auto r = line.find("\"record\":");
    const auto f = line.find("\"fault\":\"");
    if (r == std::string::npos || f == std::string::npos) continue;
    const size_t rec = std::strtoull(line.c_str() + r + 9, nullptr, 10);
    const std::string fault = line.substr(f + 9, line.find('"', f + 9) - (f + 9));
    if (rec < frames && fault != "none") out[rec] = fault;
  }
  return out;
}

// The sensor id of a SignedReading frame ("" for anything else).
inline std::string frame_sensor(const std::vector<uint8_t>& f) {
  std::vector<uint64_t> buf((f.size() + 7) / 8);
  std::memcpy(buf.data(), f.data(), f.size());
  const auto* p = reinterpret_cast<const uint8_t*>(buf.data());
  flatbuffers::Verifier v(p, f.size());
  if (f.size() < 8 || std::memcmp(p + 4, wire::SignedReadingIdentifier(), 4) != 0 ||
      !wire::VerifySignedReadingBuffer(v))
    return "";
  const auto* body = wire::GetSignedReading(p)->body();
  std::vector<uint64_t> b((body->size() + 7) / 8);
  std::memcpy(b.data(), body->data(), body->size());
  flatbuffers::Verifier bv(reinterpret_cast<const uint8_t*>(b.data()), body->size());
  if (!wire::VerifyReadingBuffer(bv)) return "";
  const auto* r = wire::GetReading(b.data());
  return r->sensor_id() ? r->sensor_id()->str() : "";
}

// Produces frames[idx...] to `topic`, each to partition hash(sensor) % partitions (a sensor's
// readings stay in one partition, as with keyed producers); returns where each landed.
/// Produces frames[idx[j]] keyed and partitioned by sensor id, or by `partition_key(sensor)`
/// when given (e.g. the redundancy group, to co-partition a group's members).
inline std::vector<Placement> produce_by_sensor(
    const std::string& topic, int partitions, const std::vector<std::vector<uint8_t>>& frames,
    const std::vector<size_t>& idx,
    const std::function<std::string(const std::string&)>& partition_key = nullptr) {
  std::vector<Placement> out(idx.size());
  char err[512];
  rd_kafka_conf_t* conf = base_conf(
      {{"bootstrap.servers", bootstrap()}, {"enable.idempotence", "true"}, {"log_level", "3"}});
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* o = static_cast<std::vector<Placement>*>(opaque);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
      (*o)[reinterpret_cast<size_t>(m->_private)] = Placement{m->partition, m->offset};
  });
  rd_kafka_conf_set_opaque(conf, &out);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) {
    ADD_FAILURE() << err;
    return {};
  }
  for (size_t j = 0; j < idx.size(); ++j) {
    const size_t i = idx[j];
    const std::string sensor = frame_sensor(frames[i]);
    const std::string pkey = partition_key ? partition_key(sensor) : sensor;
    const int32_t part = static_cast<int32_t>(std::hash<std::string>{}(pkey) % partitions);
    for (;;) {
      const auto e = rd_kafka_producev(
          rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(part),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<uint8_t*>(frames[i].data()), frames[i].size()),
          RD_KAFKA_V_KEY(sensor.data(), sensor.size()),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(j)), RD_KAFKA_V_END);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ADD_FAILURE() << rd_kafka_err2str(e);
        break;
      }
      rd_kafka_poll(rk, 10);
    }
    rd_kafka_poll(rk, 0);
  }
  EXPECT_EQ(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(rk);
  for (const Placement& p : out) EXPECT_GE(p.offset, 0) << "a record was not delivered";
  return out;
}

/// Reads every message of `topic` as a read_committed consumer (what an exactly-once
/// pipeline's consumers see), up to the end of what may be read now.
inline std::vector<Message> consume_committed(const std::string& topic, int timeout_ms = 120000) {
  std::vector<Message> out;
  const std::vector<int64_t> ends = end_offsets(topic);
  rd_kafka_t* rk = new_reader(true);
  if (rk == nullptr) return out;
  rd_kafka_topic_partition_list_t* list =
      rd_kafka_topic_partition_list_new(static_cast<int>(ends.size()));
  std::set<int32_t> remaining;
  for (size_t p = 0; p < ends.size(); ++p) {
    rd_kafka_topic_partition_list_add(list, topic.c_str(), static_cast<int32_t>(p))->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    remaining.insert(static_cast<int32_t>(p));
  }
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!remaining.empty() && Clock::now() < deadline) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      remaining.erase(m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      out.push_back(to_message(m));
    }
    rd_kafka_message_destroy(m);
  }
  EXPECT_TRUE(remaining.empty()) << "timed out reading " << topic << " (read_committed)";
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return out;
}

// ---- pipelines ---------------------------------------------------------------------------------

/// Topics and settings of one Kafka-to-Kafka pipeline.
struct PipelineSpec {
  std::string name = "kafka-it";
  std::string brokers;
  std::string input, group;
  std::string trusted, rejected, alerts;  // "" = route not configured
  std::string registry;                   // "" = no operators (pass-through)
  int idle_timeout_ms = 4000;
  int metrics_port = 0;                   // 0 = no metrics listener
  std::string properties;                 // YAML block lines for `properties:` ("" = none)
  std::string input_properties;           // extra source-only properties (YAML lines)
  std::string engine_extra;               // extra `engine:` settings (YAML lines)
};

inline std::string pipeline_yaml(const PipelineSpec& s) {
  std::ostringstream y;
  auto props = [&](const std::string& indent, const std::string& extra) {
    if (s.properties.empty() && extra.empty()) return;
    y << indent << "properties:\n";
    for (const std::string* block : {&s.properties, &extra}) {
      std::istringstream in(*block);
      std::string l;
      while (std::getline(in, l))
        if (!l.empty()) y << indent << "  " << l << "\n";
    }
  };
  y << "name: " << s.name << "\n";
  y << "input:\n  type: kafka\n  brokers: " << s.brokers << "\n  topic: " << s.input
    << "\n  group_id: " << s.group << "\n  idle_timeout_ms: " << s.idle_timeout_ms << "\n";
  props("  ", s.input_properties);
  if (!s.registry.empty())
    y << "operators:\n  - type: verify_signature\n    registry: " << s.registry << "\n";
  y << "routes:\n";
  for (auto [route, topic] : {std::pair{"trusted", &s.trusted}, std::pair{"rejected", &s.rejected},
                              std::pair{"alerts", &s.alerts}}) {
    if (topic->empty()) continue;
    y << "  " << route << ":\n    type: kafka\n    brokers: " << s.brokers << "\n    topic: " << *topic
      << "\n";
    props("    ", "");
  }
  y << "engine:\n  batch_size: 1024\n  max_in_flight: 8\n";
  {
    std::istringstream in(s.engine_extra);
    std::string l;
    while (std::getline(in, l))
      if (!l.empty()) y << "  " << l << "\n";
  }
  if (s.metrics_port > 0) y << "metrics:\n  listen: 127.0.0.1:" << s.metrics_port << "\n";
  return y.str();
}

/// Parses an unsigned integer field from the summary JSON.
inline int64_t json_int(const std::string& json, const std::string& key) {
  const auto p = json.find("\"" + key + "\":");
  if (p == std::string::npos) return -1;
  return std::strtoll(json.c_str() + p + key.size() + 3, nullptr, 10);
}

}  // namespace assay::kt
