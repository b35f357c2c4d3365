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
//   --restore S: instead, S sensors' anomaly state is written by one run and restored by R later
//   runs of the same group; prints the restore time (the runner's own log line).
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

std::string g_bootstrap;

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
    const std::string log =
        run_assay_to_end(assay, yaml, dir / ("restore-" + std::to_string(r + 1) + ".log"));
    uint64_t entries = 0;
    secs.push_back(restore_seconds(log, &entries));
    if (entries != sensors)
      die("restored " + std::to_string(entries) + " entries, expected " + std::to_string(sensors));
    std::printf("%-4d restore of %llu entries: %.3f s (%.0f entries/s)\n", r,
                static_cast<unsigned long long>(sensors), secs.back(), sensors / secs.back());
  }
  std::sort(secs.begin(), secs.end());
  std::printf("median: restore %.3f s, %.0f entries/s\n", secs[secs.size() / 2],
              sensors / secs[secs.size() / 2]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t records = 1000000;
  int reps = 3;
  bool eos = false;
  uint64_t restore_sensors = 0;
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
    else die("unknown option " + a);
  }
  const char* kdir = std::getenv("ASSAY_KAFKA_DIR");
  if (kdir == nullptr) die("set ASSAY_KAFKA_DIR to a running broker (scripts/kafka/broker.sh start DIR)");
  g_bootstrap = read_text(fs::path(kdir) / "bootstrap");
  while (!g_bootstrap.empty() && (g_bootstrap.back() == '\n' || g_bootstrap.back() == ' ')) g_bootstrap.pop_back();
  const fs::path dir = fs::path(kdir) / "bench";
  fs::create_directories(dir);
  if (restore_sensors > 0) return restore_bench(assay, dir, restore_sensors, reps);

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
