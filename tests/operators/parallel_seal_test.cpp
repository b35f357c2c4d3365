// Sealing per partition in parallel (issue 18 item 2; docs/architecture.md, "Sealing"): the
// runner's seal stage runs the sealing operators of different output partitions concurrently
// and those of one partition one batch at a time, in input order. Tested here:
//  - a sealing operator sees each partition's batches in input order, never two of one
//    partition at once, and batches of different partitions at once when threads allow;
//  - a multi-partition provenance pipeline gives the same sealed outputs whatever
//    engine.threads (1, 2, 4) and engine.batch_size: per partition the same trusted records
//    byte for byte, with the same chain positions, the same checkpoints (tree sizes) and, for
//    one batch size, the same intents; every run's stream verifies (chains, Merkle roots,
//    signatures). The wall clock is the one input that differs between runs: it is in each
//    record's processing_time_ns, which the v2 leaf covers, so the comparison zeroes that field
//    and the two hash fields computed over it (verify_stream checks them in each run);
//  - a partition handed over mid-stream (SourceHost::revoke from inside the source, as a Kafka
//    rebalance does) while batches of it are sealed but not yet written: those are written
//    before the hand-over's final checkpoint, which covers exactly what was written, and the
//    chain continues after the reassignment with every input record exactly once;
//  - exactly-once with aborted transactions while batches are sealed and in flight: the chains
//    are read back from what was committed, and the committed stream holds every input record
//    exactly once and verifies.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../engine/records.hpp"
#include "connectors/memory.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/provenance_chain.hpp"
#include "engine/runner.hpp"
#include "engine/signing_key.hpp"
#include "operators/provenance.hpp"
#include "schemas/trusted_reading_generated.h"

namespace assay::operators {
namespace {

using Records = std::vector<std::vector<uint8_t>>;

std::shared_ptr<const engine::EngineKey> test_key() {
  const uint8_t seed[32] = {7, 1, 8};
  return engine::EngineKey::from_seed(seed, "pseal");
}

// `per_partition` readings for each of `partitions` partitions (five sensors each).
std::vector<Records> make_inputs(int partitions, int per_partition) {
  std::vector<Records> in(static_cast<size_t>(partitions));
  for (int p = 0; p < partitions; ++p)
    for (int i = 0; i < per_partition; ++i)
      in[static_cast<size_t>(p)].push_back(
          testing::make_reading("urn:p" + std::to_string(p) + ":s" + std::to_string(i % 5),
                                static_cast<uint64_t>(i), p * 1000 + i * 0.5));
  return in;
}

// Holds one batch (partition 0, first frame `offset`) in an operator stage until opened: the
// batches read after it go on to the seal stage, then wait for it in front of the write stage.
struct Gate {
  int64_t offset = -1;  // -1: no gate
  std::mutex mu;
  std::condition_variable cv;
  bool open = false, held = false;
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    held = true;
    cv.wait_for(lock, std::chrono::seconds(10), [this] { return open; });  // never hangs a test
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    open = true;
    cv.notify_all();
  }
};

// A stateless operator that holds the gate's batch.
class GateOperator final : public engine::Operator {
 public:
  explicit GateOperator(Gate& gate) : gate_(gate) {}
  std::string_view type() const override { return "gate"; }
  void process(engine::Batch& b, engine::OperatorState*, engine::OperatorContext&) const override {
    if (b.partition.value() == 0 && !b.frames.empty() &&
        b.frames.front().source_offset.value() == gate_.offset)
      gate_.wait();
  }

 private:
  Gate& gate_;
};

// A hand-over of one partition during the run, the way a consumer-group rebalance does it:
// before serving batch `at_batch` the source calls SourceHost::revoke() for `partition`, then
// serves the other partitions for `away_batches` batches, then calls assigned() and serves the
// partition again from the offset revoke() returned (the committed one).
struct HandOver {
  size_t at_batch = 0;
  int32_t partition = 0;
  size_t away_batches = 0;
  std::atomic<bool> in_revoke{false};
  std::atomic<size_t> written_before{0};  // trusted records of the partition when revoke() returned
  std::function<size_t()> count_trusted;  // of the partition, in the trusted sink
  Gate gate;                              // opened once revoke() returned
};

// Serves the partitions in turn, `max_frames` frames at a time; frame offsets are positions in
// their partition.
class PartitionedSource final : public engine::Source {
 public:
  PartitionedSource(const std::vector<Records>& in, HandOver* hand_over = nullptr)
      : in_(in), pos_(in.size(), 0), hand_over_(hand_over) {}
  /// Exactly-once: where rewind() goes back to (the offsets of the last committed transaction).
  std::function<std::map<int32_t, int64_t>()> committed_offsets;
  void rewind() override { rewind_.store(true); }
  bool start(std::string*) override { return true; }
  std::string describe() const override { return "partitioned"; }
  void acknowledge(engine::Partition p, engine::Offset o) override {
    std::lock_guard<std::mutex> lock(mu_);
    committed_[p.value()] = o.value();
  }

  engine::SourceStatus next(engine::Batch& b, size_t max_frames) override {
    if (rewind_.exchange(false)) {
      std::fill(pos_.begin(), pos_.end(), 0);
      for (const auto& [part, next] : committed_offsets())
        pos_[static_cast<size_t>(part)] = static_cast<size_t>(next);
    }
    ++served_;
    if (hand_over_ != nullptr) step_hand_over();
    const size_t n = in_.size();
    for (size_t k = 0; k < n; ++k) {
      const size_t p = (turn_ + k) % n;
      if (away_ && static_cast<int32_t>(p) == hand_over_->partition) continue;
      if (pos_[p] == in_[p].size()) continue;
      turn_ = p + 1;
      b.topic = "in";
      b.partition = engine::Partition(static_cast<int32_t>(p));
      while (b.frames.size() < max_frames && pos_[p] < in_[p].size()) {
        const auto& rec = in_[p][pos_[p]];
        const size_t start = (b.arena.size() + 7) & ~size_t{7};
        b.arena.resize(start + rec.size());
        std::memcpy(b.arena.data() + start, rec.data(), rec.size());
        engine::Frame f;
        f.offset = static_cast<uint32_t>(start);
        f.size = static_cast<uint32_t>(rec.size());
        f.source_offset = engine::Offset(static_cast<int64_t>(pos_[p]));
        b.frames.push_back(f);
        ++pos_[p];
      }
      return engine::SourceStatus::kBatch;
    }
    if (away_) {  // only the handed-over partition is left: take it back now
      back_at_ = served_;
      step_hand_over();
      return engine::SourceStatus::kIdle;
    }
    return engine::SourceStatus::kEnd;
  }

 private:
  void step_hand_over() {
    HandOver& h = *hand_over_;
    const engine::Partition part(h.partition);
    if (served_ == h.at_batch) {
      h.in_revoke.store(true);
      const auto committable = host_->revoke(std::span<const engine::Partition>(&part, 1));
      h.in_revoke.store(false);
      h.gate.release();
      h.written_before.store(h.count_trusted());
      int64_t next = 0;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (auto it = committed_.find(h.partition); it != committed_.end()) next = it->second;
      }
      if (auto it = committable.find(h.partition); it != committable.end())
        next = it->second.value();
      pos_[static_cast<size_t>(h.partition)] = static_cast<size_t>(next);  // the next owner's start
      away_ = true;
      back_at_ = served_ + h.away_batches;
    } else if (away_ && served_ >= back_at_) {
      EXPECT_TRUE(host_->assigned(std::span<const engine::Partition>(&part, 1)));
      away_ = false;
    }
  }

  const std::vector<Records>& in_;
  std::vector<size_t> pos_;
  size_t turn_ = 0, served_ = 0, back_at_ = 0;
  bool away_ = false;
  HandOver* hand_over_;
  std::mutex mu_;
  std::map<int32_t, int64_t> committed_;
  std::atomic<bool> rewind_{false};
};

int32_t chain_of(const std::vector<uint8_t>& rec) {
  return wire::GetTrustedReading(rec.data())->provenance()->source_partition();
}

// The output partition of a trusted record or an attestation.
int32_t partition_of(const std::vector<uint8_t>& rec) {
  engine::Attestation a;
  std::string err;
  if (engine::decode_attestation(rec, &a, &err)) return a.partition;
  return chain_of(rec);
}

// A memory sink that can be slow for one partition and counts the trusted records of the
// handed-over partition written from inside revoke().
class ObservedSink final : public engine::Sink {
 public:
  explicit ObservedSink(HandOver* h = nullptr, int32_t slow_partition = -1)
      : hand_over_(h), slow_(slow_partition) {}
  bool start(std::string* err) override {
    inner_.set_ack(ack_);
    return inner_.start(err);
  }
  bool write(std::span<const uint8_t> record, const engine::OutputMeta& meta,
             uint64_t token) override {
    if (meta.partition == slow_) std::this_thread::sleep_for(std::chrono::microseconds(300));
    if (hand_over_ != nullptr && meta.partition == hand_over_->partition &&
        hand_over_->in_revoke.load())
      written_in_revoke_.fetch_add(1);
    return inner_.write(record, meta, token);
  }
  bool flush(int ms) override { return inner_.flush(ms); }
  std::string describe() const override { return "memory"; }
  engine::SinkCapabilities capabilities() const override { return inner_.capabilities(); }
  // Like a Kafka topic with `partition: source`: one output partition per chain.
  bool read_back(engine::Partition p, size_t n, Records* out, std::string* err) override {
    Records all;
    if (!inner_.read_back(p, n, &all, err)) return false;
    for (auto& rec : all)
      if (partition_of(rec) == p.value()) out->push_back(std::move(rec));
    return true;
  }
  Records records() const { return inner_.records(); }
  size_t written_in_revoke() const { return written_in_revoke_.load(); }

 private:
  connectors::MemorySink inner_;
  HandOver* hand_over_;
  int32_t slow_;
  std::atomic<size_t> written_in_revoke_{0};
};

std::vector<connectors::StoredRecord> stored(const Records& recs) {
  std::vector<connectors::StoredRecord> out;
  for (size_t i = 0; i < recs.size(); ++i) out.push_back({0, static_cast<int64_t>(i), recs[i]});
  return out;
}

connectors::VerifyReport verify(const Records& trusted, const Records& atts) {
  connectors::VerifyOptions o;
  o.public_key = test_key()->public_key();
  return connectors::verify_stream(stored(trusted), stored(atts), o);
}

std::string dump(const connectors::VerifyReport& r) {
  std::string s;
  for (const auto& f : r.findings) s += f.json() + "\n";
  return s;
}

// What one run sealed, per chain (output partition), in order.
struct Sealed {
  std::map<int32_t, Records> trusted;  // processing_time_ns, prev and record hash zeroed
  std::map<int32_t, std::vector<uint64_t>> checkpoints;                   // tree sizes
  std::map<int32_t, std::vector<std::pair<uint64_t, uint64_t>>> intents;  // (first, size)
};

struct RunResult {
  engine::RunSummary summary;
  Records trusted, atts;
  size_t written_in_revoke = 0;  // trusted records of the handed-over partition
};

RunResult run_provenance(const std::vector<Records>& in, int threads, size_t batch,
                         HandOver* hand_over = nullptr, int32_t slow_partition = -1) {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"pseal-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.threads = threads;
  p.engine.batch_size = batch;
  p.engine.max_in_flight = 8;
  p.source = std::make_unique<PartitionedSource>(in, hand_over);
  auto trusted = std::make_unique<ObservedSink>(hand_over, slow_partition);
  auto atts = std::make_unique<ObservedSink>();
  ObservedSink* t = trusted.get();
  ObservedSink* a = atts.get();
  if (hand_over != nullptr)
    hand_over->count_trusted = [t, hand_over] {
      size_t n = 0;
      for (const auto& r : t->records()) n += chain_of(r) == hand_over->partition;
      return n;
    };
  p.sinks[0] = std::move(trusted);
  p.sinks[1] = std::make_unique<connectors::MemorySink>();
  p.sinks[3] = std::move(atts);
  ProvenanceConfig cfg;
  cfg.key = test_key();
  cfg.every_records = 50;
  cfg.every_ms = 600'000;  // checkpoints by record count only: the same in every run
  p.stage_names = {"decode"};
  if (hand_over != nullptr && hand_over->gate.offset >= 0) {
    p.operators.push_back(std::make_unique<GateOperator>(hand_over->gate));
    p.stage_names.push_back("gate");
  }
  p.operators.push_back(std::make_unique<Provenance>(cfg));
  p.stage_names.push_back("provenance");
  RunResult r;
  {
    engine::Runner runner(p, metrics);
    r.summary = runner.run();
  }
  r.trusted = t->records();
  r.atts = a->records();
  r.written_in_revoke = t->written_in_revoke();
  if (hand_over != nullptr) hand_over->count_trusted = nullptr;
  return r;
}

template <class T>
void zero_field(std::vector<uint8_t>& rec, const T* t, flatbuffers::voffset_t field) {
  const uint8_t* at = reinterpret_cast<const flatbuffers::Table*>(t)->GetAddressOf(field);
  if (at != nullptr) std::memset(rec.data() + (at - rec.data()), 0, 8);
}

Sealed sealed(const RunResult& r) {
  Sealed s;
  for (std::vector<uint8_t> rec : r.trusted) {
    const auto* prov = wire::GetTrustedReading(rec.data())->provenance();
    const int32_t chain = prov->source_partition();
    zero_field(rec, prov, wire::Provenance::VT_PROCESSING_TIME_NS);
    engine::ChainFields f;
    EXPECT_TRUE(engine::find_chain_fields(rec, &f));
    std::fill_n(rec.begin() + static_cast<long>(f.prev_hash), 32, 0);
    std::fill_n(rec.begin() + static_cast<long>(f.record_hash), 32, 0);
    s.trusted[chain].push_back(std::move(rec));
  }
  for (const auto& bytes : r.atts) {
    engine::Attestation a;
    std::string err;
    EXPECT_TRUE(engine::decode_attestation(bytes, &a, &err)) << err;
    if (a.kind == engine::AttestationKind::kCheckpoint)
      s.checkpoints[a.partition].push_back(a.size);
    else if (a.kind == engine::AttestationKind::kIntent)
      s.intents[a.partition].emplace_back(a.first, a.size);
  }
  return s;
}

// A sealing operator that records, per partition, the batches it sealed (first frame offset)
// and how many seal() calls overlapped, in all and within one partition.
struct SealProbe {
  std::mutex mu;
  std::map<int32_t, std::vector<int64_t>> order;
  std::map<int32_t, int> active;
  int active_all = 0, max_all = 0, max_same = 0;
};

class ProbeSealer final : public engine::Operator {
 public:
  explicit ProbeSealer(SealProbe& probe) : probe_(probe) {}
  std::string_view type() const override { return "probe_sealer"; }
  std::unique_ptr<engine::OperatorState> make_state(engine::Partition) const override {
    return std::make_unique<engine::OperatorState>();
  }
  void process(engine::Batch&, engine::OperatorState*, engine::OperatorContext&) const override {}
  bool seals() const override { return true; }
  bool seal(engine::Batch& b, engine::OperatorState*, engine::OperatorContext&,
            std::string*) const override {
    const int32_t p = b.partition.value();
    {
      std::lock_guard<std::mutex> lock(probe_.mu);
      probe_.max_same = std::max(probe_.max_same, ++probe_.active[p]);
      probe_.max_all = std::max(probe_.max_all, ++probe_.active_all);
      probe_.order[p].push_back(b.frames.front().source_offset.value());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a slow chain step
    std::lock_guard<std::mutex> lock(probe_.mu);
    --probe_.active[p];
    --probe_.active_all;
    return true;
  }

 private:
  SealProbe& probe_;
};

TEST(ParallelSeal, PartitionsSealConcurrentlyEachInInputOrder) {
  const auto in = make_inputs(4, 400);
  SealProbe probe;
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"pseal-probe", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.threads = 4;
  p.engine.batch_size = 8;
  p.engine.max_in_flight = 16;
  p.source = std::make_unique<PartitionedSource>(in);
  p.sinks[0] = std::make_unique<connectors::MemorySink>(false);
  p.sinks[1] = std::make_unique<connectors::MemorySink>(false);
  p.operators.push_back(std::make_unique<ProbeSealer>(probe));
  p.stage_names = {"decode", "probe_sealer"};
  engine::Runner runner(p, metrics);
  const engine::RunSummary s = runner.run();
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.trusted, 1600u);
  ASSERT_EQ(probe.order.size(), 4u);
  for (const auto& [part, firsts] : probe.order) {
    ASSERT_EQ(firsts.size(), 50u) << "partition " << part;
    for (size_t i = 0; i < firsts.size(); ++i)
      EXPECT_EQ(firsts[i], static_cast<int64_t>(8 * i)) << "partition " << part << " batch " << i;
  }
  EXPECT_EQ(probe.max_same, 1) << "two batches of one partition were sealed at once";
  if (std::thread::hardware_concurrency() >= 2) {  // (TBB runs one thread on one core)
    EXPECT_GE(probe.max_all, 2) << "no two partitions were ever sealed at the same time";
  }
  std::printf("seal() calls at once: at most %d\n", probe.max_all);
}

TEST(ParallelSeal, SameSealedOutputsWhateverThreadsAndBatchSizes) {
  const auto in = make_inputs(4, 600);
  const RunResult ref_run = run_provenance(in, 1, 16);
  ASSERT_TRUE(ref_run.summary.ok) << ref_run.summary.error;
  ASSERT_EQ(ref_run.trusted.size(), 2400u);
  const auto ref_report = verify(ref_run.trusted, ref_run.atts);
  ASSERT_TRUE(ref_report.ok()) << dump(ref_report);
  EXPECT_EQ(ref_report.chains, 4u);
  const Sealed ref = sealed(ref_run);
  ASSERT_EQ(ref.trusted.size(), 4u);
  for (const auto& [part, recs] : ref.trusted) {
    ASSERT_EQ(recs.size(), 600u);
    // The chain positions follow the input order: chain_index i is the partition's frame i.
    for (size_t i = 0; i < recs.size(); ++i) {
      const auto* prov = wire::GetTrustedReading(recs[i].data())->provenance();
      EXPECT_EQ(prov->chain_index(), i);
      EXPECT_EQ(prov->source_offset(), static_cast<int64_t>(i));
    }
    // every_records 50: the sizes 50, 100, .., 600 (the last at the final stop).
    std::vector<uint64_t> sizes;
    for (uint64_t n = 50; n <= 600; n += 50) sizes.push_back(n);
    EXPECT_EQ(ref.checkpoints.at(part), sizes) << "partition " << part;
  }
  const std::pair<int, size_t> runs[] = {{2, 16}, {4, 16}, {2, 16}, {2, 7}, {4, 256}, {1, 7}};
  for (const auto& [threads, batch] : runs) {
    const RunResult r = run_provenance(in, threads, batch);
    ASSERT_TRUE(r.summary.ok) << r.summary.error;
    const auto report = verify(r.trusted, r.atts);
    EXPECT_TRUE(report.ok()) << "threads " << threads << " batch " << batch << "\n" << dump(report);
    const Sealed s = sealed(r);
    EXPECT_TRUE(s.trusted == ref.trusted)
        << "trusted differs: threads " << threads << " batch " << batch;
    EXPECT_EQ(s.checkpoints, ref.checkpoints) << "threads " << threads << " batch " << batch;
    if (batch == 16) {
      EXPECT_EQ(s.intents, ref.intents) << "threads " << threads;
    }
  }
}

// Partition 1 is handed over mid-stream, at engine.threads 1, 2 and 4, and once (threads 2) with
// partition 0's batch at offset 48 held in an operator stage: the batches read after it, among
// them one of partition 1, are sealed and wait for it in front of the write stage when revoke()
// comes (3 partitions in turn, 8 frames a batch: read #19 is partition 0's at offset 48, #20
// partition 1's, revoke() before read #23; at most 8 batches in flight).
TEST(ParallelSeal, HandOverWritesWhatIsSealedAndCheckpointsExactlyThat) {
  const auto in = make_inputs(3, 900);
  // (The gated run needs a second thread while one is held: TBB gives none on one core.)
  const bool two_threads = std::thread::hardware_concurrency() >= 2;
  for (const auto& [threads, gated] : {std::pair{1, false}, {2, false}, {4, false}, {2, true}}) {
    if (gated && !two_threads) continue;
    HandOver h;
    h.at_batch = gated ? 23 : 30;
    h.partition = 1;
    h.away_batches = 12;
    if (gated) h.gate.offset = 48;
    const RunResult r = run_provenance(in, threads, 8, &h, /*slow_partition=*/gated ? -1 : 0);
    ASSERT_TRUE(r.summary.ok) << r.summary.error;
    // Every input record exactly once, each chain in input order.
    std::map<int32_t, std::vector<int64_t>> offsets;
    for (const auto& rec : r.trusted) {
      const auto* prov = wire::GetTrustedReading(rec.data())->provenance();
      offsets[prov->source_partition()].push_back(prov->source_offset());
    }
    ASSERT_EQ(offsets.size(), 3u);
    for (const auto& [part, offs] : offsets) {
      ASSERT_EQ(offs.size(), 900u) << "partition " << part << ", threads " << threads;
      for (size_t i = 0; i < offs.size(); ++i)
        ASSERT_EQ(offs[i], static_cast<int64_t>(i)) << "partition " << part;
    }
    const auto report = verify(r.trusted, r.atts);
    EXPECT_TRUE(report.ok()) << "threads " << threads << "\n" << dump(report);
    EXPECT_EQ(report.chains, 3u);
    // The hand-over's final checkpoint covers exactly what was written of the chain by then.
    const size_t before = h.written_before.load();
    EXPECT_GT(before, 0u);
    EXPECT_LT(before, 900u);
    const Sealed s = sealed(r);
    const auto& sizes = s.checkpoints.at(1);
    EXPECT_NE(std::find(sizes.begin(), sizes.end(), before), sizes.end())
        << "no checkpoint of size " << before << " (threads " << threads << ")";
    std::printf(
        "threads %d%s: %zu records of the chain when handed over, %zu of them written by "
        "revoke() (sealed, not yet written)\n",
        threads, gated ? " (gated)" : "", before, r.written_in_revoke);
    if (gated) {
      EXPECT_TRUE(h.gate.held) << "the gate's batch never came";
      // Partition 1's batch read after the held one (read #20, offsets 48..55) is sealed and
      // written by revoke() (with any earlier one the write stage had not reached yet): the
      // chain holds its first 56 records when it is handed over.
      EXPECT_GE(r.written_in_revoke, 8u) << "revoke() found no sealed batch waiting";
      EXPECT_EQ(before, 56u);
    }
  }
}

// ---- exactly-once --------------------------------------------------------------------------

class FakeTransactions;

// An output of a transactional pipeline: what is written becomes visible (records(),
// read_back(), one output partition per chain like a Kafka topic) only when the transaction
// commits; an aborted transaction's records are dropped.
class TxnSink final : public engine::Sink {
 public:
  bool start(std::string*) override { return true; }
  bool write(std::span<const uint8_t> record, const engine::OutputMeta&, uint64_t) override {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.emplace_back(record.begin(), record.end());
    return true;
  }
  bool flush(int) override { return true; }
  std::string describe() const override { return "txn-memory"; }
  engine::SinkCapabilities capabilities() const override { return {true, true, true}; }
  bool read_back(engine::Partition p, size_t, Records* out, std::string*) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& rec : committed_)
      if (partition_of(rec) == p.value()) out->push_back(rec);
    return true;
  }
  void end(bool commit) {
    std::lock_guard<std::mutex> lock(mu_);
    if (commit) committed_.insert(committed_.end(), pending_.begin(), pending_.end());
    pending_.clear();
  }
  Records committed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return committed_;
  }

 private:
  mutable std::mutex mu_;
  Records pending_, committed_;
};

// Commits or aborts the TxnSinks' transactions together; the commits numbered in `abort_at`
// abort instead (as a broker does after an abortable error).
class FakeTransactions final : public engine::Transactions {
 public:
  explicit FakeTransactions(std::vector<TxnSink*> sinks, std::set<int> abort_at)
      : sinks_(std::move(sinks)), abort_at_(std::move(abort_at)) {}
  std::string describe() const override { return "fake-txn"; }
  bool start(std::string*) override { return true; }
  void stop() override {}
  bool begin(std::string*) override { return true; }
  engine::TxnStatus commit(const std::map<int32_t, engine::Offset>& offsets,
                           std::string* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (abort_at_.count(++commits_) > 0) {
      for (TxnSink* s : sinks_) s->end(false);
      *error = "injected abort";
      ++aborts_;
      return engine::TxnStatus::kAborted;
    }
    for (TxnSink* s : sinks_) s->end(true);
    for (const auto& [part, off] : offsets) offsets_[part] = off.value();
    return engine::TxnStatus::kOk;
  }
  engine::TxnStatus abort(std::string*) override {
    for (TxnSink* s : sinks_) s->end(false);
    return engine::TxnStatus::kOk;
  }
  std::map<int32_t, int64_t> offsets() const {
    std::lock_guard<std::mutex> lock(mu_);
    return offsets_;
  }
  int commits() const {
    std::lock_guard<std::mutex> lock(mu_);
    return commits_;
  }
  int aborts() const {
    std::lock_guard<std::mutex> lock(mu_);
    return aborts_;
  }

 private:
  std::vector<TxnSink*> sinks_;
  std::set<int> abort_at_;
  mutable std::mutex mu_;
  int commits_ = 0, aborts_ = 0;
  std::map<int32_t, int64_t> offsets_;
};

// Exactly-once with sealing in parallel: transactions abort mid-stream, three times (batches of
// every partition sealed and in flight); the runner drops them, forgets the chains' states and
// rewinds; the chains continue from what was committed, and the committed stream holds every
// input record exactly once and verifies.
TEST(ParallelSeal, AbortedTransactionRereadsTheChainsAndLosesNothing) {
  const auto in = make_inputs(3, 600);
  for (const int threads : {1, 2, 4}) {
    engine::Metrics metrics;
    engine::Pipeline p;
    p.info = {"pseal-txn", std::vector<uint8_t>(32, 0), "test-1"};
    p.engine.threads = threads;
    p.engine.batch_size = 8;
    p.engine.max_in_flight = 8;
    p.engine.exactly_once = true;
    // 0 (below what a config accepts): a commit after every batch, so that the commits
    // numbered 4, 9 and 15 happen however fast the run is (with 1 ms, a fast run finished in
    // fewer than 15 commits and saw two aborts).
    p.engine.commit_interval_ms = 0;
    auto source = std::make_unique<PartitionedSource>(in);
    PartitionedSource* src = source.get();
    p.source = std::move(source);
    auto trusted = std::make_unique<TxnSink>();
    auto rejected = std::make_unique<TxnSink>();
    auto atts = std::make_unique<TxnSink>();
    TxnSink* t = trusted.get();
    TxnSink* a = atts.get();
    auto txn = std::make_shared<FakeTransactions>(
        std::vector<TxnSink*>{trusted.get(), rejected.get(), atts.get()}, std::set<int>{4, 9, 15});
    src->committed_offsets = [txn] { return txn->offsets(); };
    p.sinks[0] = std::move(trusted);
    p.sinks[1] = std::move(rejected);
    p.sinks[3] = std::move(atts);
    p.txn = txn;
    ProvenanceConfig cfg;
    cfg.key = test_key();
    cfg.every_records = 50;
    cfg.every_ms = 600'000;
    p.operators.push_back(std::make_unique<Provenance>(cfg));
    p.stage_names = {"decode", "provenance"};
    engine::RunSummary s;
    {
      engine::Runner runner(p, metrics);
      s = runner.run();
    }
    ASSERT_TRUE(s.ok) << s.error;
    EXPECT_EQ(txn->aborts(), 3) << "threads " << threads;
    EXPECT_GT(txn->commits(), 5) << "threads " << threads;
    const Records trusted_out = t->committed();
    std::map<int32_t, std::vector<int64_t>> offsets;
    for (const auto& rec : trusted_out) {
      const auto* prov = wire::GetTrustedReading(rec.data())->provenance();
      offsets[prov->source_partition()].push_back(prov->source_offset());
    }
    ASSERT_EQ(offsets.size(), 3u);
    for (const auto& [part, offs] : offsets) {
      ASSERT_EQ(offs.size(), 600u) << "partition " << part << ", threads " << threads;
      for (size_t i = 0; i < offs.size(); ++i)
        ASSERT_EQ(offs[i], static_cast<int64_t>(i)) << "partition " << part;
    }
    const auto report = verify(trusted_out, a->committed());
    EXPECT_TRUE(report.ok()) << "threads " << threads << "\n" << dump(report);
    EXPECT_EQ(report.chains, 3u);
    std::printf("threads %d: %d commits, %d aborted, %zu trusted records committed\n", threads,
                txn->commits(), txn->aborts(), trusted_out.size());
  }
}

}  // namespace
}  // namespace assay::operators
