// Deterministic verdicts (issue 14): the same simulated input through verify_signature +
// anomaly + drift, served over three partitions with a broker-like record time on every frame,
// gives byte-identical trusted, rejected and alerts outputs (per partition, in order) whatever
// engine.threads and engine.batch_size, and whatever the wall clock says. The only fields
// that may differ are the processing-time fields, which are zeroed before comparing:
// Provenance.processing_time_ns (trusted), RejectedRecord.processing_time_ns and Alert.time_ns
// (the wall clock of the batch that produced them; docs/drift-anomaly.md, "Time").
// drift's redundancy groups share state across partitions, so they are tested on one partition.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "connectors/memory.hpp"
#include "engine/decode.hpp"
#include "engine/runner.hpp"
#include "operators/anomaly.hpp"
#include "operators/drift.hpp"
#include "operators/verify_signature.hpp"
#include "schemas/alert_generated.h"
#include "schemas/common_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxPartitions = 3;

// One input record with where and when a broker would have put it.
struct Input {
  std::vector<uint8_t> bytes;
  int32_t partition = 0;
  int64_t record_time_ns = 0;
};

// Serves the inputs partition by partition in input order, `max_frames` at a time, each frame
// with its record time (as LogAppendTime), rotating over the partitions.
class TimedSource final : public engine::Source {
 public:
  explicit TimedSource(const std::vector<Input>& inputs, int partitions) : partitions_(partitions) {
    for (const Input& in : inputs) queues_[in.partition].push_back(&in);
  }
  bool start(std::string*) override { return true; }
  engine::SourceStatus next(engine::Batch& b, size_t max_frames) override {
    for (int k = 0; k < partitions_; ++k) {
      const int p = (turn_ + k) % partitions_;
      auto& q = queues_[p];
      if (pos_[p] == q.size()) continue;
      turn_ = p + 1;
      b.topic = "in";
      b.partition = engine::Partition(p);
      while (b.frames.size() < max_frames && pos_[p] < q.size()) {
        const Input& in = *q[pos_[p]];
        const size_t start = (b.arena.size() + 7) & ~size_t{7};
        b.arena.resize(start + in.bytes.size());
        std::memcpy(b.arena.data() + start, in.bytes.data(), in.bytes.size());
        engine::Frame f;
        f.offset = static_cast<uint32_t>(start);
        f.size = static_cast<uint32_t>(in.bytes.size());
        f.source_offset = engine::Offset(static_cast<int64_t>(pos_[p]));
        f.record_time_ns = in.record_time_ns;
        f.record_time_type = engine::RecordTimeType::kLogAppendTime;
        b.frames.push_back(f);
        ++pos_[p];
      }
      return engine::SourceStatus::kBatch;
    }
    return engine::SourceStatus::kEnd;
  }
  std::string describe() const override { return "timed"; }

 private:
  std::vector<const Input*> queues_[kMaxPartitions];
  size_t pos_[kMaxPartitions] = {};
  int partitions_;
  int turn_ = 0;
};

struct Fleet {
  fs::path dir;
  std::vector<Input> inputs;
  ~Fleet() { fs::remove_all(dir); }
};

// A simulated fleet with forgeries, tampering, replays, spikes, clock skew and drift; each
// record goes to the partition of its sensor, with a record time that advances with the
// input (the fleet's time span spread evenly over the records, plus 0.2 s of latency).
std::unique_ptr<Fleet> simulate(int partitions) {
  auto f = std::make_unique<Fleet>();
  f->dir = fs::temp_directory_path() /
           ("assay-det-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
  fs::create_directories(f->dir);
  sim::SimConfig c;
  c.sensors = 60;
  c.records = 6000;
  c.seed = 14;
  c.registry_path = (f->dir / "sensors.yaml").string();
  std::string err;
  for (const char* spec : {"forged=0.05", "tampered=0.02", "replay=0.02", "spike=0.01",
                           "clock_skew=0.02", "drift=0.1"})
    EXPECT_TRUE(sim::parse_fault(spec, c.faults, err)) << err;
  sim::MemoryFrameSink sink;
  sim::SimSummary summary;
  EXPECT_TRUE(sim::run_simulation(c, sink, summary, err)) << err;
  std::vector<int64_t> times;
  for (auto& bytes : sink.frames) {
    engine::Batch b;
    b.arena = bytes;
    engine::Frame fr;
    fr.size = static_cast<uint32_t>(bytes.size());
    b.frames.push_back(fr);
    engine::decode_batch(b);
    Input in;
    if (b.row_count() > 0 && b.row_reading[0] != nullptr) {
      const std::string_view id = b.row_reading[0]->sensor_id()->string_view();
      in.partition =
          static_cast<int32_t>(std::hash<std::string_view>{}(id) % static_cast<size_t>(partitions));
      times.push_back(b.row_reading[0]->time_ns());
    }
    in.bytes = std::move(bytes);
    f->inputs.push_back(std::move(in));
  }
  std::sort(times.begin(), times.end());
  const int64_t lo = times[times.size() / 100], hi = times[times.size() - 1 - times.size() / 100];
  const auto n = static_cast<int64_t>(f->inputs.size());
  for (int64_t i = 0; i < n; ++i)
    f->inputs[static_cast<size_t>(i)].record_time_ns = lo + (hi - lo) / n * i + 200'000'000;
  return f;
}

// Route outputs per partition, in order, with the processing-time fields zeroed.
struct Outputs {
  std::map<int32_t, std::vector<std::vector<uint8_t>>> trusted, rejected, alerts;
  bool operator==(const Outputs&) const = default;
};

// Zeroes the 8-byte field `field` of the table `t` (if present) in `rec`. (A generated table
// type is a flatbuffers::Table, inherited privately.)
template <class T>
void zero_field(std::vector<uint8_t>& rec, const T* t, flatbuffers::voffset_t field) {
  const uint8_t* p = reinterpret_cast<const flatbuffers::Table*>(t)->GetAddressOf(field);
  if (p != nullptr) std::memset(rec.data() + (p - rec.data()), 0, 8);
}

// `groups`: drift also compares redundancy groups (the registry's), whose state crosses
// partitions (see the test below).
Outputs run(const Fleet& f, int partitions, int threads, size_t batch_size, bool groups) {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"det-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.threads = threads;
  p.engine.batch_size = batch_size;
  p.source = std::make_unique<TimedSource>(f.inputs, partitions);
  connectors::MemorySink* sinks[3];
  for (int i = 0; i < 3; ++i) {
    auto s = std::make_unique<connectors::MemorySink>();
    sinks[i] = s.get();
    p.sinks[i] = std::move(s);
  }
  const auto identity = registries::IdentityStore::open((f.dir / "sensors.yaml").string());
  VerifySignatureConfig vc;
  vc.identity = identity;
  vc.chunk = 64;
  p.operators.push_back(std::make_unique<VerifySignature>(vc));
  AnomalyConfig ac;
  ac.identity = identity;
  ac.reject_mask = static_cast<uint32_t>(wire::AnomalyFlag::Replay) |
                   static_cast<uint32_t>(wire::AnomalyFlag::FutureTimestamp) |
                   static_cast<uint32_t>(wire::AnomalyFlag::RateLimited);
  ac.rate = 2;  // tight enough that some bursts of a sensor's records are rate limited
  ac.burst = 3;
  p.operators.push_back(std::make_unique<Anomaly>(ac));
  DriftConfig dc;
  if (groups) dc.identity = identity;
  p.operators.push_back(std::make_unique<Drift>(dc));
  p.stage_names = {"decode", "verify_signature", "anomaly", "drift"};
  engine::Runner runner(p, metrics);
  const engine::RunSummary s = runner.run();
  EXPECT_TRUE(s.ok) << s.error;
  Outputs o;
  for (auto rec : sinks[0]->records()) {
    const auto* prov = wire::GetTrustedReading(rec.data())->provenance();
    const int32_t part = prov->source_partition();
    zero_field(rec, prov, wire::Provenance::VT_PROCESSING_TIME_NS);
    o.trusted[part].push_back(std::move(rec));
  }
  for (auto rec : sinks[1]->records()) {
    const auto* rr = wire::GetRejectedRecord(rec.data());
    const int32_t part = rr->source_partition();
    zero_field(rec, rr, wire::RejectedRecord::VT_PROCESSING_TIME_NS);
    o.rejected[part].push_back(std::move(rec));
  }
  for (auto rec : sinks[2]->records()) {
    const auto* a = wire::GetAlert(rec.data());
    const int32_t part = a->source_partition();
    zero_field(rec, a, wire::Alert::VT_TIME_NS);
    o.alerts[part].push_back(std::move(rec));
  }
  return o;
}

// Ten runs in all: threads 1, 2, 4 and batch sizes 1, 7, 256, 1024, each compared with the
// first.
void expect_same_outputs(const Fleet& fleet, int partitions, bool groups, const Outputs& ref) {
  const std::pair<int, size_t> runs[] = {{2, 1024}, {4, 1024}, {1, 7}, {2, 7},  {4, 7},
                                         {2, 256},  {4, 256},  {4, 1}, {1, 256}};
  for (const auto& [threads, batch] : runs) {
    const Outputs o = run(fleet, partitions, threads, batch, groups);
    EXPECT_TRUE(o.trusted == ref.trusted)
        << "trusted differs: threads " << threads << " batch " << batch;
    EXPECT_TRUE(o.rejected == ref.rejected)
        << "rejected differs: threads " << threads << " batch " << batch;
    EXPECT_TRUE(o.alerts == ref.alerts)
        << "alerts differ: threads " << threads << " batch " << batch;
  }
}

TEST(Determinism, SameInputSameOutputsWhateverThreadsAndBatchSizes) {
  const auto fleet = simulate(3);
  const Outputs ref = run(*fleet, 3, 1, 1024, /*groups=*/false);
  // The input exercises the checks whose verdicts could depend on timing.
  std::map<std::string, int> reasons;
  size_t trusted = 0;
  for (const auto& [part, recs] : ref.rejected)
    for (const auto& rec : recs) ++reasons[wire::GetRejectedRecord(rec.data())->reason()->str()];
  for (const auto& [part, recs] : ref.trusted) trusted += recs.size();
  for (const auto& [r, n] : reasons) std::printf("rejected %s: %d\n", r.c_str(), n);
  EXPECT_EQ(ref.trusted.size(), 3u);
  EXPECT_GT(trusted, 1000u);
  EXPECT_GT(reasons["signature.bad"], 0);
  EXPECT_GT(reasons["anomaly.replay"], 0);
  EXPECT_GT(reasons["anomaly.rate_limited"], 0);
  EXPECT_GT(reasons["anomaly.future_timestamp"], 0);
  EXPECT_EQ(reasons["signature.throttled"], 0);
  // (Without calibration columns or groups drift raises nothing here; the next test has alerts.)
  expect_same_outputs(*fleet, 3, false, ref);
}

// drift's redundancy groups compare a member with the latest values of the others, a state
// shared by every partition: deterministic when a group's members are in one partition (the
// documented deployment: partition the input topic by redundancy group), as here.
TEST(Determinism, RedundancyGroupsOnOnePartitionAreDeterministicToo) {
  const auto fleet = simulate(1);
  const Outputs ref = run(*fleet, 1, 1, 1024, /*groups=*/true);
  size_t alerts = 0;
  for (const auto& [part, recs] : ref.alerts) alerts += recs.size();
  EXPECT_GT(alerts, 0u);
  expect_same_outputs(*fleet, 1, true, ref);
}

}  // namespace
}  // namespace assay::operators
