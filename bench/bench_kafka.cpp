// End-to-end readings/s through a real Kafka broker on loopback (issue 3), side by side:
//   (a) bare librdkafka passthrough: a consumer-group member reads the input topic and produces
//       each value to an output topic with the same producer settings as Assay's sink
//       (idempotent, acks=all, linger.ms=5, batch.size=1000000, lz4); done when every record
//       is delivered;
//   (b) `assay run` with a pass-through pipeline (no operators; trusted + rejected routes to
//       Kafka topics); done when the output topics hold one record per input reading;
//   (c) with --eos: the same pipeline with `processing.guarantee: exactly_once` (one
//       transaction every 100 ms carrying the outputs and the input offsets); done when the
//       group's committed input offsets reach the end (they are committed with the outputs).
// Both clocks start before the consumer is created (group join included). Not a ctest: run
// bench/kafka_bench.sh (starts and stops a broker), or this binary with ASSAY_KAFKA_DIR set.
//
// usage: assay_bench_kafka [--records N] [--reps R] [--assay PATH] [--eos] [--restore SENSORS]
//                          [--pipeline quality [--sensors S] [--commit-interval-ms MS]]
//   --restore S: instead, S sensors' anomaly state is written by one run and restored by R later
//   runs of the same group; prints the restore time (the runner's own log line).
//   --pipeline quality: instead, an examples/quality.yaml-like pipeline (verify_signature,
//   calibration, anomaly, drift, provenance; every route a topic) over a simulated fleet of S
//   sensors (default 1000; `assay simulate` writes N readings straight into the input topic,
//   keyed by sensor id), interleaved per repetition: at-least-once with durable state,
//   exactly-once, and at-least-once with `state: {type: none}`; prints readings/s, their
//   ratios, and the changelog bytes each run wrote per input reading.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

extern char** environ;

namespace {

[[noreturn]] void die(const std::string& m) {
  std::fprintf(stderr, "bench_kafka: %s\n", m.c_str());
  std::exit(1);
}

std::string read_text(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The 1-, 5- and 15-minute load averages ("2.10 1.85 1.60").
std::string loadavg() {
  std::string s = read_text("/proc/loadavg");
  size_t sp = 0;
  for (int i = 0; i < 3 && sp != std::string::npos; ++i) sp = s.find(' ', sp + 1);
  return s.substr(0, sp);
}

// CPU seconds (user + system) a process has used so far (/proc/PID/stat), -1 if unknown.
double proc_cpu_seconds(pid_t pid) {
  const std::string s = read_text("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = s.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {  // fields 14 and 15: utime, stime (ticks)
    if (i == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

// The machine's busy and total CPU time so far (/proc/stat, all cores, seconds).
std::pair<double, double> machine_cpu_seconds() {
  std::istringstream in(read_text("/proc/stat"));
  std::string cpu;
  unsigned long long v[8] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  const double tick = double(sysconf(_SC_CLK_TCK));
  const unsigned long long idle = v[3] + v[4];
  unsigned long long total = 0;
  for (auto x : v) total += x;
  return {double(total - idle) / tick, double(total) / tick};
}

std::string g_bootstrap;
pid_t g_broker_pid = -1;  // the broker's process (ASSAY_KAFKA_DIR/pid), for its CPU time

// The records of a framed record file (u32 length + bytes, repeated).
std::vector<std::string> read_framed(const fs::path& file) {
  std::vector<std::string> frames;
  const std::string s = read_text(file);
  size_t off = 0;
  while (off + 4 <= s.size()) {
    uint32_t len = 0;
    std::memcpy(&len, s.data() + off, 4);
    if (off + 4 + len > s.size()) break;
    frames.emplace_back(s.substr(off + 4, len));
    off += 4 + len;
  }
  return frames;
}

rd_kafka_conf_t* conf(const std::map<std::string, std::string>& props) {
  rd_kafka_conf_t* c = rd_kafka_conf_new();
  char err[512];
  for (const auto& [k, v] : props)
    if (rd_kafka_conf_set(c, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) die(k + ": " + err);
  return c;
}

// Producer settings of Assay's Kafka sink (connectors/kafka_sink.cpp defaults).
std::map<std::string, std::string> sink_like() {
  return {{"bootstrap.servers", g_bootstrap}, {"enable.idempotence", "true"}, {"acks", "all"},
          {"linger.ms", "5"}, {"batch.size", "1000000"}, {"compression.type", "lz4"},
          {"queue.buffering.max.messages", "100000"}, {"log_level", "3"}};
}

void create_topic(const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf({{"bootstrap.servers", g_bootstrap}}), err, sizeof err);
  if (rk == nullptr) die(err);
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &nt, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  if (ev == nullptr || rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) die("create topic " + topic);
  size_t n = 0;
  const auto** tr = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
  for (size_t i = 0; i < n; ++i)
    if (rd_kafka_topic_result_error(tr[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) die("create topic " + topic);
  rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  rd_kafka_destroy(rk);
}

int64_t end_offsets_sum(rd_kafka_t* rk, const std::string& topic, int partitions) {
  int64_t s = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t lo = 0, hi = 0;
    if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
      s += hi;
  }
  return s;
}

std::atomic<uint64_t> g_delivered{0}, g_failed{0};
void dr_count(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
    g_delivered.fetch_add(1, std::memory_order_relaxed);
  else
    g_failed.fetch_add(1, std::memory_order_relaxed);
}

void produce_input(const std::string& topic, const std::vector<std::string>& frames) {
  char err[512];
  auto props = sink_like();
  rd_kafka_conf_t* c = conf(props);
  rd_kafka_conf_set_dr_msg_cb(c, dr_count);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
  if (rk == nullptr) die(err);
  g_delivered = g_failed = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const std::string key = "sensor-" + std::to_string(i % 1000);
    while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_VALUE(const_cast<char*>(frames[i].data()), frames[i].size()),
                             RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_END) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
      rd_kafka_poll(rk, 10);
    rd_kafka_poll(rk, 0);
  }
  rd_kafka_flush(rk, 120000);
  rd_kafka_destroy(rk);
  if (g_failed > 0 || g_delivered != frames.size()) die("input not fully delivered");
}

// (a) bare consume -> produce passthrough; returns seconds until every record is delivered.
double bare_passthrough(const std::string& in, const std::string& out, uint64_t n, const std::string& group) {
  char err[512];
  g_delivered = g_failed = 0;
  const auto t0 = Clock::now();
  rd_kafka_conf_t* pc = conf(sink_like());
  rd_kafka_conf_set_dr_msg_cb(pc, dr_count);
  rd_kafka_t* prod = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  rd_kafka_t* cons = rd_kafka_new(
      RD_KAFKA_CONSUMER,
      conf({{"bootstrap.servers", g_bootstrap}, {"group.id", group}, {"auto.offset.reset", "earliest"},
            {"enable.auto.commit", "true"}, {"fetch.wait.max.ms", "50"},
            {"queued.max.messages.kbytes", "65536"}, {"log_level", "3"}}),
      err, sizeof err);
  if (prod == nullptr || cons == nullptr) die(err);
  rd_kafka_poll_set_consumer(cons);
  rd_kafka_topic_partition_list_t* t = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(t, in.c_str(), RD_KAFKA_PARTITION_UA);
  rd_kafka_subscribe(cons, t);
  rd_kafka_topic_partition_list_destroy(t);
  rd_kafka_topic_t* rkt = rd_kafka_topic_new(prod, out.c_str(), nullptr);
  uint64_t consumed = 0;
  while (g_delivered.load() < n) {
    if (g_failed > 0) die("bare passthrough: delivery failed");
    if (consumed < n) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(cons, 100);
      if (m != nullptr) {
        if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          ++consumed;
          while (rd_kafka_producev(prod, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                   RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
                                   RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(prod, 10);
        }
        rd_kafka_message_destroy(m);
      }
      rd_kafka_poll(prod, 0);
    } else {
      rd_kafka_poll(prod, 10);
    }
  }
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  rd_kafka_topic_destroy(rkt);
  rd_kafka_consumer_close(cons);
  rd_kafka_destroy(cons);
  rd_kafka_flush(prod, 10000);
  rd_kafka_destroy(prod);
  return secs;
}

// (b) `assay run` pass-through; returns seconds until the outputs hold `n` records.
// Sum of `group`'s committed offsets on the 4 partitions of `topic`.
int64_t committed_sum(rd_kafka_t* rk, const std::string& topic) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
  for (int p = 0; p < 4; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p);
  int64_t sum = 0;
  if (rd_kafka_committed(rk, list, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR)
    for (int i = 0; i < list->cnt; ++i)
      sum += list->elems[i].offset > 0 ? list->elems[i].offset : 0;
  rd_kafka_topic_partition_list_destroy(list);
  return sum;
}

double assay_passthrough(const std::string& assay, const fs::path& dir, const std::string& in,
                         const std::string& trusted, const std::string& rejected, uint64_t n,
                         const std::string& group, bool eos = false) {
  const fs::path yaml = dir / (group + ".yaml");
  {
    std::ofstream y(yaml);
    y << "name: bench-kafka\ninput:\n  type: kafka\n  brokers: " << g_bootstrap << "\n  topic: " << in
      << "\n  group_id: " << group << "\n  idle_timeout_ms: 60000\n"
      << "routes:\n  trusted:\n    type: kafka\n    brokers: " << g_bootstrap << "\n    topic: " << trusted
      << "\n  rejected:\n    type: kafka\n    brokers: " << g_bootstrap << "\n    topic: " << rejected
      << "\nengine:\n  batch_size: 1024\n  max_in_flight: 8\n";
    if (eos) y << "processing:\n  guarantee: exactly_once\n  commit_interval_ms: 100\n";
  }
  char err[512];
  rd_kafka_t* admin = rd_kafka_new(RD_KAFKA_PRODUCER, conf({{"bootstrap.servers", g_bootstrap}}), err, sizeof err);
  // Exactly-once: output end offsets also count transaction markers; the committed input
  // offsets (written in the outputs' transactions) say when everything is visible.
  rd_kafka_t* watcher =
      eos ? rd_kafka_new(RD_KAFKA_CONSUMER,
                         conf({{"bootstrap.servers", g_bootstrap}, {"group.id", group}}), err,
                         sizeof err)
          : nullptr;
  const std::string log = (dir / (group + ".log")).string();
  std::vector<std::string> args{assay, "run", yaml.string(), "--no-progress"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  const auto t0 = Clock::now();
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0) die("cannot start " + assay);
  posix_spawn_file_actions_destroy(&fa);
  double secs = -1;
  while (true) {
    const int64_t got =
        eos ? committed_sum(watcher, in)
            : end_offsets_sum(admin, trusted, 4) + end_offsets_sum(admin, rejected, 1);
    if (got >= static_cast<int64_t>(n)) {
      secs = std::chrono::duration<double>(Clock::now() - t0).count();
      break;
    }
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) die("assay run exited early; see " + log);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid, SIGTERM);  // graceful drain; the measurement is done
  int st = 0;
  waitpid(pid, &st, 0);
  rd_kafka_destroy(admin);
  if (watcher != nullptr) rd_kafka_destroy(watcher);
  return secs;
}

// Runs `assay run yaml` to its end (idle timeout); returns its log.
std::string run_assay_to_end(const std::string& assay, const fs::path& yaml, const fs::path& log) {
  const std::string cmd =
      assay + " run " + yaml.string() + " --no-progress > " + log.string() + " 2>&1";
  if (std::system(cmd.c_str()) != 0) die("assay run failed; see " + log.string());
  return read_text(log);
}

// The seconds of the "partition state restored" log lines (summed) and the entries they
// restored (entries=a,b,c summed).
double restore_seconds(const std::string& log, uint64_t* entries) {
  double secs = 0;
  *entries = 0;
  for (size_t p = log.find("partition state restored"); p != std::string::npos;
       p = log.find("partition state restored", p + 1)) {
    const size_t eol = log.find('\n', p);
    const std::string line = log.substr(p, eol == std::string::npos ? std::string::npos : eol - p);
    const auto e = line.find("entries=");
    for (const char* c = line.c_str() + e + 8; e != std::string::npos;) {
      char* end = nullptr;
      *entries += std::strtoull(c, &end, 10);
      if (*end != ',') break;
      c = end + 1;
    }
    secs += std::strtod(line.c_str() + line.find("seconds=") + 8, nullptr);
  }
  if (*entries == 0) die("no state restored in the log");
  return secs;
}

// --restore N: N sensors' anomaly state written to the changelog by one run, then restored by
// later runs of the same group (nothing new to read): the restore time, as the runner logs it
// (every changelog partition read to its end and each entry merged).
int restore_bench(const std::string& assay, const fs::path& dir, uint64_t sensors, int reps) {
  const std::string tag = std::to_string(getpid());
  const fs::path fleet = dir / ("restore-" + std::to_string(sensors) + ".asy");
  const std::string cmd =
      assay + " simulate --out " + fleet.string() + " --records " + std::to_string(sensors) +
      " --sensors " + std::to_string(sensors) +
      " --alg-mix hmac=1 --batch-fraction 0 --seed 2 --start-time 2026-01-01T00:00:00Z"
      " --registry-out " +
      (dir / "restore-sensors.yaml").string() + " --labels-out " +
      (dir / "restore-labels.jsonl").string() + " --certs-out " + (dir / "rc.yaml").string() +
      " --labs-out " + (dir / "rl.yaml").string() + " > " + (dir / "rsim.log").string() + " 2>&1";
  if (std::system(cmd.c_str()) != 0) die("simulate failed: " + cmd);
  const std::vector<std::string> frames = read_framed(fleet);
  const std::string in = "bench-restore-in-" + tag, tr = "bench-restore-t-" + tag,
                    rj = "bench-restore-r-" + tag, group = "bench-restore-" + tag;
  create_topic(in, 4);
  create_topic(tr, 4);
  create_topic(rj, 1);
  produce_input(in, frames);
  const fs::path yaml = dir / "restore.yaml";
  {
    std::ofstream y(yaml);
    y << "name: bench-restore\ninput:\n  type: kafka\n  brokers: " << g_bootstrap
      << "\n  topic: " << in << "\n  group_id: " << group << "\n  idle_timeout_ms: 2000\n"
      << "operators:\n  - type: anomaly\n"
      << "routes:\n  trusted:\n    type: kafka\n    brokers: " << g_bootstrap
      << "\n    topic: " << tr << "\n  rejected:\n    type: kafka\n    brokers: " << g_bootstrap
      << "\n    topic: " << rj << "\n";
  }
  run_assay_to_end(assay, yaml, dir / "restore-0.log");  // writes the state
  std::printf("restore: %llu sensors' anomaly state written by a first run (%zu input records)\n",
              static_cast<unsigned long long>(sensors), frames.size());
  std::vector<double> secs;
  for (int r = 0; r < reps; ++r) {
    const std::string load_before = loadavg();
    const std::string log =
        run_assay_to_end(assay, yaml, dir / ("restore-" + std::to_string(r + 1) + ".log"));
    uint64_t entries = 0;
    secs.push_back(restore_seconds(log, &entries));
    if (entries != sensors)
      die("restored " + std::to_string(entries) + " entries, expected " + std::to_string(sensors));
    std::printf("%-4d restore of %llu entries: %.3f s (%.0f entries/s)  load avg %s -> %s\n", r,
                static_cast<unsigned long long>(sensors), secs.back(), sensors / secs.back(),
                load_before.c_str(), loadavg().c_str());
  }
  std::sort(secs.begin(), secs.end());
  std::printf("median: restore %.3f s, %.0f entries/s\n", secs[secs.size() / 2],
              sensors / secs[secs.size() / 2]);
  return 0;
}

// Changelog topics of consumer group `group` (<group>-<stage>-changelog) and their partition
// counts, from the cluster's metadata.
std::vector<std::pair<std::string, int>> changelog_topics_of(const std::string& group) {
  char err[512];
  rd_kafka_t* rk =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf({{"bootstrap.servers", g_bootstrap}}), err, sizeof err);
  if (rk == nullptr) die(err);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 1, nullptr, &md, 10000) != RD_KAFKA_RESP_ERR_NO_ERROR) die("metadata");
  std::vector<std::pair<std::string, int>> out;
  const std::string prefix = group + "-", suffix = "-changelog";
  for (int i = 0; i < md->topic_cnt; ++i) {
    const std::string name = md->topics[i].topic;
    if (name.size() > prefix.size() + suffix.size() &&
        name.compare(0, prefix.size(), prefix) == 0 &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.emplace_back(name, md->topics[i].partition_cnt);
  }
  rd_kafka_metadata_destroy(md);
  rd_kafka_destroy(rk);
  std::sort(out.begin(), out.end());
  return out;
}

// What a run wrote to its changelog topics: records and key + value bytes as read back by a
// read_committed consumer (what was produced; transaction markers and aborted records are not
// counted), and the bytes of the partitions' log segment files in the broker's data directory
// (lz4-compressed record batches with their headers, markers included; nothing compacted yet:
// only closed segments are compacted and these runs stay in the first one).
struct ChangelogBytes {
  uint64_t records = 0, payload = 0, disk = 0;
  std::map<std::string, uint64_t> per_topic;  ///< records per topic (`<stage>-changelog`)
  std::string topics() const {
    std::string s;
    for (const auto& [t, n] : per_topic) s += (s.empty() ? "" : ", ") + t + " " + std::to_string(n);
    return s;
  }
};

ChangelogBytes changelog_bytes(const std::string& group, const fs::path& kafka_dir) {
  ChangelogBytes cb;
  const auto topics = changelog_topics_of(group);
  if (topics.empty()) return cb;
  char err[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER,
                                conf({{"bootstrap.servers", g_bootstrap},
                                      {"group.id", group + "-bytes"},
                                      {"enable.auto.commit", "false"},
                                      {"enable.partition.eof", "true"},
                                      {"isolation.level", "read_committed"},
                                      {"log_level", "3"}}),
                                err, sizeof err);
  if (rk == nullptr) die(err);
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(16);
  for (const auto& [t, parts] : topics) {
    cb.per_topic[t.substr(group.size() + 1)] = 0;
    for (int p = 0; p < parts; ++p) {
      rd_kafka_topic_partition_list_add(list, t.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      for (const auto& f :
           fs::directory_iterator(kafka_dir / "data" / (t + "-" + std::to_string(p))))
        if (f.path().extension() == ".log") cb.disk += fs::file_size(f.path());
    }
  }
  const int want = list->cnt;
  rd_kafka_assign(rk, list);
  rd_kafka_topic_partition_list_destroy(list);
  std::set<std::pair<std::string, int32_t>> at_end;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (static_cast<int>(at_end.size()) < want) {
    if (Clock::now() > deadline) die("changelog of " + group + " not read to its end");
    rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end.emplace(rd_kafka_topic_name(m->rkt), m->partition);
    } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      ++cb.records;
      ++cb.per_topic[std::string(rd_kafka_topic_name(m->rkt)).substr(group.size() + 1)];
      cb.payload += m->key_len + m->len;
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  return cb;
}

// One timed `assay run`: `t_commit` is when the group's committed input offsets reach `n`
// (the input fully processed and, with exactly-once, its outputs visible); `t_outputs` (with
// `count_topics`, at-least-once) when the sum of those topics' end offsets first reached the
// value it has at the end (every output acknowledged; the existing pass-through criterion).
struct RunTimes {
  double t_commit = -1, t_outputs = -1;
  std::string load_before, load_after;
  double cpu_assay = -1, cpu_broker = -1;  ///< CPU seconds until t_commit
  double machine_busy = -1;                ///< busy fraction of all cores meanwhile
};

RunTimes timed_run(const std::string& assay, const fs::path& yaml, const fs::path& log,
                   const std::string& in, const std::string& group, uint64_t n,
                   const std::vector<std::pair<std::string, int>>& count_topics) {
  char err[512];
  rd_kafka_t* admin =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf({{"bootstrap.servers", g_bootstrap}}), err, sizeof err);
  rd_kafka_t* watcher = rd_kafka_new(
      RD_KAFKA_CONSUMER, conf({{"bootstrap.servers", g_bootstrap}, {"group.id", group}}), err,
      sizeof err);
  if (admin == nullptr || watcher == nullptr) die(err);
  std::vector<std::string> args{assay, "run", yaml.string(), "--no-progress"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  RunTimes rt;
  rt.load_before = loadavg();
  const double broker0 = proc_cpu_seconds(g_broker_pid);
  const auto machine0 = machine_cpu_seconds();
  pid_t pid = -1;
  const auto t0 = Clock::now();
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ) != 0)
    die("cannot start " + assay);
  posix_spawn_file_actions_destroy(&fa);
  std::vector<std::pair<double, int64_t>> series;  // (seconds, outputs so far)
  while (true) {
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    if (!count_topics.empty()) {
      int64_t outs = 0;
      for (const auto& [topic, parts] : count_topics) outs += end_offsets_sum(admin, topic, parts);
      series.emplace_back(t, outs);
    }
    if (committed_sum(watcher, in) >= static_cast<int64_t>(n)) {
      rt.t_commit = std::chrono::duration<double>(Clock::now() - t0).count();
      rt.cpu_assay = proc_cpu_seconds(pid);
      rt.cpu_broker = proc_cpu_seconds(g_broker_pid) - broker0;
      const auto machine1 = machine_cpu_seconds();
      rt.machine_busy = (machine1.first - machine0.first) / (machine1.second - machine0.second);
      break;
    }
    int st = 0;
    if (waitpid(pid, &st, WNOHANG) == pid) die("assay run exited early; see " + log.string());
    if (t > 900) die("assay run did not finish in 900 s; see " + log.string());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  rt.load_after = loadavg();
  if (!count_topics.empty()) {
    // Every output is acknowledged before the offsets after it are committed: the count now
    // is the final one.
    int64_t final_outs = 0;
    for (const auto& [topic, parts] : count_topics)
      final_outs += end_offsets_sum(admin, topic, parts);
    for (const auto& [t, outs] : series)
      if (outs >= final_outs) {
        rt.t_outputs = t;
        break;
      }
    if (rt.t_outputs < 0) rt.t_outputs = rt.t_commit;
  }
  kill(pid, SIGTERM);  // graceful drain; the measurement is done
  int st = 0;
  waitpid(pid, &st, 0);
  rd_kafka_destroy(admin);
  rd_kafka_destroy(watcher);
  return rt;
}

// --pipeline quality: at-least-once vs exactly-once (and at-least-once without durable state)
// on an examples/quality.yaml-like pipeline; see the file comment.
int quality_bench(const std::string& assay, const fs::path& kafka_dir, const fs::path& dir,
                  uint64_t records, uint64_t sensors, int reps, int commit_interval_ms) {
  const std::string tag = std::to_string(getpid());
  const std::string in = "bench-q-in-" + tag;
  create_topic(in, 4);
  const fs::path reg = dir / "q-sensors.yaml", certs = dir / "q-certs.yaml",
                 labs = dir / "q-labs.yaml", labels = dir / "q-labels.jsonl",
                 key = dir / "q-engine";
  // The default fleet of `assay simulate` (Ed25519 / ECDSA P-256 / HMAC sensors, a fifth
  // sending SignedBatch of 8 readings, the default faults), straight into the input topic.
  const std::string sim =
      assay + " simulate --brokers " + g_bootstrap + " --topic " + in + " --records " +
      std::to_string(records) + " --sensors " + std::to_string(sensors) +
      " --seed 1 --start-time 2026-01-01T00:00:00Z --registry-out " + reg.string() +
      " --certs-out " + certs.string() + " --labs-out " + labs.string() + " --labels-out " +
      labels.string() + " > " + (dir / "q-simulate.log").string() + " 2>&1";
  const auto ts = Clock::now();
  if (std::system(sim.c_str()) != 0) die("simulate failed: " + sim);
  const double sim_s = std::chrono::duration<double>(Clock::now() - ts).count();
  fs::remove(key.string() + ".key");
  fs::remove(key.string() + ".pub");
  if (std::system(
          (assay + " keygen --alg ed25519 --out " + key.string() + " > /dev/null 2>&1").c_str()) !=
      0)
    die("keygen failed");
  uint64_t readings = 0;
  {
    std::ifstream f(labels);
    std::string line;
    while (std::getline(f, line)) ++readings;
  }
  char err[512];
  rd_kafka_t* admin =
      rd_kafka_new(RD_KAFKA_PRODUCER, conf({{"bootstrap.servers", g_bootstrap}}), err, sizeof err);
  const uint64_t n = static_cast<uint64_t>(end_offsets_sum(admin, in, 4));
  rd_kafka_destroy(admin);
  std::printf(
      "input: %llu records (%llu readings, %llu sensors) in topic %s (4 partitions, key = sensor "
      "id); "
      "simulated in %.1f s\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(readings),
      static_cast<unsigned long long>(sensors), in.c_str(), sim_s);
  struct Mode {
    const char* name;
    bool eos, state;
  };
  const std::vector<Mode> modes{{"at-least-once", false, true},
                                {"exactly-once", true, true},
                                {"at-least-once, state: none", false, false}};
  std::vector<std::vector<double>> rates(modes.size()), rates_out(modes.size());
  std::vector<std::vector<double>> cpu_assay(modes.size()),
      cpu_broker(modes.size());  // s per 1M readings
  std::vector<ChangelogBytes> bytes(modes.size());
  std::printf("%-4s %-28s %9s %12s %12s %10s  %s\n", "rep", "what", "seconds", "readings/s",
              "records/s", "out-secs", "load avg before -> after");
  for (int r = 0; r < reps; ++r) {
    for (size_t k = 0; k < modes.size(); ++k) {
      const size_t m = (k + r) % modes.size();  // rotate the order per repetition
      const Mode& mode = modes[m];
      const std::string run = "bench-q-" + tag + "-" + std::to_string(r) + "-" + std::to_string(m);
      const std::string tr = run + "-trusted", rj = run + "-rejected", al = run + "-alerts",
                        at = run + "-attestations";
      create_topic(tr, 4);
      create_topic(rj, 1);
      create_topic(al, 1);
      create_topic(at, 4);
      const fs::path yaml = dir / (run + ".yaml");
      {
        std::ofstream y(yaml);
        auto route = [&](const char* name, const std::string& topic, bool source) {
          y << "  " << name << ": {type: kafka, brokers: \"" << g_bootstrap
            << "\", topic: " << topic << (source ? ", partition: source" : "") << "}\n";
        };
        y << "name: bench-quality\ninput:\n  type: kafka\n  brokers: " << g_bootstrap
          << "\n  topic: " << in << "\n  group_id: " << run << "\n  idle_timeout_ms: 60000\n"
          << "operators:\n"
          << "  - type: verify_signature\n    registry: " << reg.string() << "\n"
          << "  - type: calibration\n    certificates: " << certs.string()
          << "\n    trust: " << labs.string() << "\n    registry: " << reg.string() << "\n"
          << "    reject: [no_certificate, certificate_expired, certificate_not_yet_valid,\n"
          << "             outside_measuring_range, quantity_mismatch, unit_mismatch, "
             "firmware_not_approved]\n"
          << "  - type: anomaly\n    registry: " << reg.string() << "\n    rate_limit: {rate: 0}\n"
          << "    clock_skew_tolerance_ms: 31536000000\n"
          << "  - type: drift\n    registry: " << reg.string() << "\n"
          << "  - type: provenance\n    key: " << key.string() << ".key\n"
          << "    checkpoint: {every_records: 10000, every_ms: 1000}\n"
          << "routes:\n";
        // Provenance chains: one per source partition (docs/provenance.md).
        route("trusted", tr, true);
        route("rejected", rj, false);
        route("alerts", al, false);
        route("attestations", at, true);
        y << "engine:\n  batch_size: 1024\n  max_in_flight: 8\n";
        if (mode.eos)
          y << "processing:\n  guarantee: exactly_once\n  commit_interval_ms: "
            << commit_interval_ms << "\n";
        if (!mode.state) y << "state: {type: none}\n";
      }
      const RunTimes rt =
          timed_run(assay, yaml, dir / (run + ".log"), in, run, n,
                    mode.eos ? std::vector<std::pair<std::string, int>>{}
                             : std::vector<std::pair<std::string, int>>{{tr, 4}, {rj, 1}});
      rates[m].push_back(readings / rt.t_commit);
      rates_out[m].push_back(readings / (mode.eos ? rt.t_commit : rt.t_outputs));
      char out_s[32] = "-";
      if (!mode.eos) std::snprintf(out_s, sizeof out_s, "%.2f", rt.t_outputs);
      std::printf("%-4d %-28s %9.2f %12.0f %12.0f %10s  %s -> %s\n", r, mode.name, rt.t_commit,
                  readings / rt.t_commit, n / rt.t_commit, out_s, rt.load_before.c_str(),
                  rt.load_after.c_str());
      cpu_assay[m].push_back(rt.cpu_assay * 1e6 / readings);
      cpu_broker[m].push_back(rt.cpu_broker * 1e6 / readings);
      std::printf(
          "     cpu until committed: assay %.2f s, broker %.2f s (per 1M readings: %.2f + %.2f s); "
          "machine busy %.0f %% of both cores\n",
          rt.cpu_assay, rt.cpu_broker, cpu_assay[m].back(), cpu_broker[m].back(),
          rt.machine_busy * 100);
      const ChangelogBytes cb = changelog_bytes(run, kafka_dir);
      std::printf(
          "     changelog (records: %s): %llu records, %llu key+value bytes, %llu bytes on disk; "
          "per reading: %.3f records, %.1f key+value bytes, %.1f bytes on disk\n",
          cb.topics().c_str(), static_cast<unsigned long long>(cb.records),
          static_cast<unsigned long long>(cb.payload), static_cast<unsigned long long>(cb.disk),
          double(cb.records) / readings, double(cb.payload) / readings, double(cb.disk) / readings);
      std::fflush(stdout);
      bytes[m] = cb;
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double alos = median(rates[0]), eos = median(rates[1]), none = median(rates[2]);
  const double alos_out = median(rates_out[0]), none_out = median(rates_out[2]);
  std::printf(
      "median readings/s (input offsets committed): at-least-once %.0f, exactly-once %.0f, "
      "at-least-once without state %.0f\n",
      alos, eos, none);
  std::printf(
      "ratio exactly-once / at-least-once = %.2f (target >= 0.85); "
      "at-least-once with / without durable state = %.2f\n",
      eos / alos, alos / none);
  std::printf(
      "at-least-once by outputs acknowledged (no commit wait): with state %.0f, without %.0f "
      "readings/s; exactly-once / that = %.2f; with / without state = %.2f\n",
      alos_out, none_out, eos / alos_out, alos_out / none_out);
  for (size_t m = 0; m < modes.size(); ++m)
    std::printf("median cpu per 1M readings (%s): assay %.2f s, broker %.2f s\n", modes[m].name,
                median(cpu_assay[m]), median(cpu_broker[m]));
  for (size_t m = 0; m < 2; ++m)
    std::printf(
        "changelog written per input reading (%s, last repetition): %.3f records, %.1f key+value "
        "bytes, %.1f bytes on disk (per input record: %.1f key+value bytes)\n",
        modes[m].name, double(bytes[m].records) / readings, double(bytes[m].payload) / readings,
        double(bytes[m].disk) / readings, double(bytes[m].payload) / n);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 1000000;
  int reps = 3;
  bool eos = false;
  uint64_t restore_sensors = 0;
  std::string pipeline = "passthrough";
  uint64_t sensors = 1000;
  int commit_interval_ms = 100;
  std::string assay = (fs::path(argv[0]).parent_path() / ".." / "engine" / "cli" / "assay").string();
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--eos") {
      eos = true;
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      break;
    }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--records") records = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--assay") assay = argv[i + 1];
    else if (a == "--restore")
      restore_sensors = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--pipeline")
      pipeline = argv[i + 1];
    else if (a == "--sensors")
      sensors = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--commit-interval-ms")
      commit_interval_ms = std::atoi(argv[i + 1]);
    else die("unknown option " + a);
  }
  const char* kdir = std::getenv("ASSAY_KAFKA_DIR");
  if (kdir == nullptr) die("set ASSAY_KAFKA_DIR to a running broker (scripts/kafka/broker.sh start DIR)");
  g_bootstrap = read_text(fs::path(kdir) / "bootstrap");
  while (!g_bootstrap.empty() && (g_bootstrap.back() == '\n' || g_bootstrap.back() == ' ')) g_bootstrap.pop_back();
  if (fs::exists(fs::path(kdir) / "pid"))
    g_broker_pid = std::atoi(read_text(fs::path(kdir) / "pid").c_str());
  const fs::path dir = fs::path(kdir) / "bench";
  fs::create_directories(dir);
  if (restore_sensors > 0) return restore_bench(assay, dir, restore_sensors, reps);
  if (pipeline == "quality")
    return quality_bench(assay, kdir, dir, records, sensors, reps, commit_interval_ms);
  if (pipeline != "passthrough") die("--pipeline must be passthrough or quality");

  // Input: small SignedReading records (HMAC, no batches), one reading each.
  const fs::path fleet = dir / ("fleet-" + std::to_string(records) + ".asy");
  if (!fs::exists(fleet)) {
    const std::string cmd = assay + " simulate --out " + fleet.string() + ".tmp --records " +
                            std::to_string(records) + " --sensors 1000 --alg-mix hmac=1 --batch-fraction 0"
                            " --seed 1 --start-time 2026-01-01T00:00:00Z --registry-out " +
                            (dir / "sensors.yaml").string() + " --certs-out " + (dir / "certs.yaml").string() +
                            " --labs-out " + (dir / "labs.yaml").string() + " --labels-out " +
                            (dir / "labels.jsonl").string() + " > " +
                            (dir / "simulate.log").string() + " 2>&1";
    if (std::system(cmd.c_str()) != 0) die("simulate failed: " + cmd);
    fs::rename(fleet.string() + ".tmp", fleet);
  }
  const std::vector<std::string> frames = read_framed(fleet);
  double bytes = 0;
  for (const auto& f : frames) bytes += f.size();
  const std::string tag = std::to_string(getpid());
  const std::string in = "bench-in-" + tag;
  create_topic(in, 4);
  const auto tp = Clock::now();
  produce_input(in, frames);
  const double produce_s = std::chrono::duration<double>(Clock::now() - tp).count();
  std::printf("input: %zu SignedReading records (%.0f bytes avg) in topic %s (4 partitions); produced in %.2f s\n",
              frames.size(), bytes / frames.size(), in.c_str(), produce_s);
  std::printf("%-4s %-28s %10s %14s\n", "rep", "what", "seconds", "readings/s");
  std::vector<double> bare_rates, assay_rates, eos_rates;
  const uint64_t n = frames.size();
  for (int r = 0; r < reps; ++r) {
    const std::string out = "bench-bare-out-" + tag + "-" + std::to_string(r);
    create_topic(out, 4);
    const double b = bare_passthrough(in, out, n, "bench-bare-" + tag + "-" + std::to_string(r));
    bare_rates.push_back(n / b);
    std::printf("%-4d %-28s %10.2f %14.0f\n", r, "bare librdkafka passthrough", b, n / b);
    std::fflush(stdout);
    const std::string tr = "bench-assay-trusted-" + tag + "-" + std::to_string(r);
    const std::string rj = "bench-assay-rejected-" + tag + "-" + std::to_string(r);
    create_topic(tr, 4);
    create_topic(rj, 1);
    const double a = assay_passthrough(assay, dir, in, tr, rj, n, "bench-assay-" + tag + "-" + std::to_string(r));
    assay_rates.push_back(n / a);
    std::printf("%-4d %-28s %10.2f %14.0f\n", r, "assay run (pass-through)", a, n / a);
    std::fflush(stdout);
    if (eos) {
      const std::string etr = tr + "-eos", erj = rj + "-eos";
      create_topic(etr, 4);
      create_topic(erj, 1);
      const double e = assay_passthrough(assay, dir, in, etr, erj, n,
                                         "bench-eos-" + tag + "-" + std::to_string(r), true);
      eos_rates.push_back(n / e);
      std::printf("%-4d %-28s %10.2f %14.0f\n", r, "assay run (exactly-once)", e, n / e);
      std::fflush(stdout);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double mb = median(bare_rates), ma = median(assay_rates);
  std::printf("median: bare %.0f readings/s, assay %.0f readings/s, ratio assay/bare = %.2f (target >= 0.80)\n",
              mb, ma, ma / mb);
  if (eos) {
    const double me = median(eos_rates);
    std::printf(
        "median: assay exactly-once %.0f readings/s, ratio exactly-once/at-least-once = %.2f\n", me,
        me / ma);
  }
  return 0;
}
