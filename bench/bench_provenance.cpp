// Provenance overhead: the full Runner (TBB pipeline, offset tracking, memory sinks) with and
// without the provenance operator (hash chain + Merkle leaves + signed checkpoints with the
// defaults every_records 10000 / every_ms 1000), side by side in one run, on three pipelines:
// decode + encode only (BM_Runner), verify_signature (BM_FullPipeline) and the whole chain of
// examples/quality.yaml, verify_signature + calibration + anomaly + drift (BM_QualityPipeline);
// the seal stage alone on four partitions (BM_SealOnly: decode + encode + provenance, whose
// chains are sealed in parallel across partitions); and the consumer's verify_stream
// throughput (records/s) over a stream the pipeline wrote, and the serial step of the v2 chain
// alone (BM_ChainHashV2).
// Run with --benchmark_enable_random_interleaving=true --benchmark_repetitions=N on a shared
// machine and compare medians.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <random>

#include "bench/bench_quality_operators.hpp"
#include "bench/bench_records.hpp"
#include "connectors/memory.hpp"
#include "connectors/stream_verify.hpp"
#include "engine/config.hpp"
#include "engine/log.hpp"
#include "engine/provenance_chain.hpp"
#include "engine/runner.hpp"
#include "operators/anomaly.hpp"
#include "operators/calibration.hpp"
#include "operators/drift.hpp"
#include "operators/provenance.hpp"
#include "operators/verify_signature.hpp"
#include "schemas/reading_generated.h"
#include "schemas/signed_reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace {

using namespace assay;

using benchdata::make_records;

std::shared_ptr<const engine::EngineKey> engine_key() {
  const uint8_t seed[32] = {42};
  return engine::EngineKey::from_seed(seed, "bench");
}

// A simulated Ed25519 fleet (one signature per reading, no faults) with its identity registry,
// calibration certificates and labs' trust list.
struct Fleet {
  std::filesystem::path dir;
  std::vector<std::vector<uint8_t>> frames;
  uint64_t readings = 0, input_bytes = 0;
};

// `per_batch` 0: one SignedReading per reading; else every sensor sends SignedBatches of
// `per_batch` readings.
Fleet make_fleet(uint32_t per_batch) {
  Fleet x;
  x.dir = std::filesystem::temp_directory_path() /
          ("assay-bench-prov-" + std::to_string(getpid()) + "-" + std::to_string(per_batch));
  std::filesystem::create_directories(x.dir);
  sim::SimConfig c;
  c.sensors = 1000;
  c.records = 100000;
  c.seed = 5;
  c.batch_fraction = per_batch == 0 ? 0.0 : 1.0;
  if (per_batch > 0) c.batch_size = per_batch;
  c.registry_path = (x.dir / "sensors.yaml").string();
  c.certs_path = (x.dir / "certificates.yaml").string();
  c.labs_path = (x.dir / "labs.yaml").string();
  std::string err;
  sim::parse_alg_mix("ed25519=1", c.alg_mix, err);
  c.faults = {};
  c.faults.rate.fill(0.0);
  sim::MemoryFrameSink sink;
  sim::SimSummary s;
  if (!sim::run_simulation(c, sink, s, err)) std::abort();
  x.frames = std::move(sink.frames);
  x.readings = s.readings;
  for (const auto& fr : x.frames) x.input_bytes += fr.size();
  return x;
}

const Fleet& fleet() {
  static const Fleet f = make_fleet(0);
  return f;
}

const Fleet& batch_fleet(uint32_t per_batch) {
  static const Fleet f8 = make_fleet(8), f64 = make_fleet(64);
  return per_batch == 8 ? f8 : f64;
}

// Serves `records` `repeat` times, one batch per partition in turn over `partitions`
// partitions (frame offsets count per partition), like a topic with that many partitions.
class PartitionedMemorySource final : public engine::Source {
 public:
  PartitionedMemorySource(const std::vector<std::vector<uint8_t>>& records, size_t repeat,
                          int partitions)
      : records_(records), repeat_(repeat), next_offset_(static_cast<size_t>(partitions), 0) {}
  bool start(std::string*) override { return true; }
  std::string describe() const override { return "memory:partitioned"; }
  engine::SourceStatus next(engine::Batch& b, size_t max_frames) override {
    if (records_.empty() || round_ >= repeat_) return engine::SourceStatus::kEnd;
    const size_t part = turn_++ % next_offset_.size();
    b.topic = "partitioned";
    b.partition = engine::Partition(static_cast<int32_t>(part));
    while (b.frames.size() < max_frames && round_ < repeat_) {
      const auto& rec = records_[pos_];
      const size_t start = (b.arena.size() + 7) & ~size_t{7};
      b.arena.resize(start + rec.size());
      std::memcpy(b.arena.data() + start, rec.data(), rec.size());
      engine::Frame f;
      f.offset = static_cast<uint32_t>(start);
      f.size = static_cast<uint32_t>(rec.size());
      f.source_offset = engine::Offset(next_offset_[part]++);
      b.frames.push_back(f);
      if (++pos_ == records_.size()) {
        pos_ = 0;
        ++round_;
      }
    }
    return engine::SourceStatus::kBatch;
  }

 private:
  const std::vector<std::vector<uint8_t>>& records_;
  size_t repeat_, round_ = 0, pos_ = 0, turn_ = 0;
  std::vector<int64_t> next_offset_;
};

// Counts what is written per output partition, like a topic with one partition per chain;
// reads back only a partition it holds nothing of (each chain starts empty), so provenance can
// start a chain on every partition without the sink keeping the records.
class PartitionCountingSink final : public engine::Sink {
 public:
  bool start(std::string*) override { return true; }
  bool write(std::span<const uint8_t>, const engine::OutputMeta& meta, uint64_t token) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++count_[meta.partition];
    }
    if (ack_) ack_(token, true);
    return true;
  }
  bool flush(int) override { return true; }
  std::string describe() const override { return "memory:counting"; }
  engine::SinkCapabilities capabilities() const override { return {true, true, false}; }
  bool read_back(engine::Partition p, size_t, std::vector<std::vector<uint8_t>>*,
                 std::string* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (count_[p.value()] == 0) return true;
    *error = "a counting sink cannot read back";
    return false;
  }

 private:
  std::mutex mu_;
  std::map<int32_t, uint64_t> count_;
};

// Which operators run before provenance.
enum class Chain { kEmpty, kVerify, kQuality };

// Runs the pipeline once; returns the summary. `keep` keeps the outputs in the sinks. With
// `timing`, only the run itself is timed: building the pipeline (registries, certificates)
// and tearing it down are not throughput.
engine::RunSummary run_once(const std::vector<std::vector<uint8_t>>& records, size_t repeat,
                            bool provenance, int threads, bool keep, Chain chain,
                            benchmark::State* timing = nullptr,
                            std::vector<std::vector<uint8_t>>* trusted = nullptr,
                            std::vector<std::vector<uint8_t>>* atts = nullptr, int partitions = 1,
                            size_t batch_size = 1024, const Fleet* source = nullptr,
                            uint64_t* out_bytes = nullptr, bool signed_bytes_once = true,
                            bool grouped = false) {
  if (timing != nullptr) timing->PauseTiming();
  engine::RunSummary s;
  {
    engine::Metrics metrics;
    engine::Pipeline p;
    p.info = {"bench", std::vector<uint8_t>(32, 0), "bench-1"};
    p.engine.threads = threads;
    p.engine.batch_size = batch_size;
    p.engine.signed_bytes_once = signed_bytes_once;
    p.engine.trusted_grouped = grouped;
    if (partitions > 1)
      p.source = std::make_unique<PartitionedMemorySource>(records, repeat, partitions);
    else
      p.source = std::make_unique<connectors::MemorySource>(records, repeat);
    if (partitions > 1 && !keep)
      p.sinks[0] = std::make_unique<PartitionCountingSink>();
    else
      p.sinks[0] = std::make_unique<connectors::MemorySink>(keep);
    p.sinks[1] = std::make_unique<connectors::MemorySink>(keep);
    p.sinks[2] = std::make_unique<connectors::MemorySink>(false);
    p.stage_names = {"decode"};
    if (chain != Chain::kEmpty) {
      operators::VerifySignatureConfig vc;
      // (The fleet is simulated on first use, never inside the timed part.)
      const Fleet& src = source != nullptr ? *source : fleet();
      vc.identity = registries::IdentityStore::open((src.dir / "sensors.yaml").string());
      p.operators.push_back(std::make_unique<operators::VerifySignature>(vc));
      p.stage_names.push_back("verify_signature");
    }
    if (chain == Chain::kQuality)
      benchdata::add_quality_operators(p, metrics, fleet().dir.string());
    if (provenance) {
      p.sinks[3] = std::make_unique<connectors::MemorySink>(true);
      operators::ProvenanceConfig cfg;
      cfg.key = engine_key();
      p.operators.push_back(std::make_unique<operators::Provenance>(cfg));
      p.stage_names.push_back("provenance");
    }
    engine::Runner runner(p, metrics);
    if (timing != nullptr) timing->ResumeTiming();
    s = runner.run();
    if (timing != nullptr) timing->PauseTiming();
    if (trusted != nullptr) *trusted = static_cast<connectors::MemorySink&>(*p.sinks[0]).records();
    if (atts != nullptr && provenance)
      *atts = static_cast<connectors::MemorySink&>(*p.sinks[3]).records();
    if (out_bytes != nullptr && (partitions <= 1 || keep)) {  // trusted + attestations
      *out_bytes = static_cast<connectors::MemorySink&>(*p.sinks[0]).bytes();
      if (provenance) *out_bytes += static_cast<connectors::MemorySink&>(*p.sinks[3]).bytes();
    }
  }
  if (timing != nullptr) timing->ResumeTiming();
  return s;
}

// range(0): 0 = without, 1 = with provenance; range(1): engine threads.
void BM_Runner(benchmark::State& state) {
  static const auto records = make_records(4096);
  const size_t repeat = 100;
  const bool prov = state.range(0) != 0;
  for (auto _ : state) {
    const auto s = run_once(records, repeat, prov, static_cast<int>(state.range(1)), false,
                            Chain::kEmpty, &state);
    if (!s.ok || s.trusted != records.size() * repeat) state.SkipWithError("wrong accounting");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size() * repeat));
  state.SetLabel(prov ? "with provenance" : "without provenance");
}
BENCHMARK(BM_Runner)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"provenance", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The seal stage alone: decode + encode (+ provenance) on four partitions, whose chains are
// sealed in parallel (issue 18: two threads >= 1.7x one thread with provenance). Smaller
// batches make the seal step's share larger (one signed intent per batch).
// range(0): 0 = without, 1 = with provenance; range(1): engine threads; range(2): batch size.
void BM_SealOnly(benchmark::State& state) {
  static const auto records = make_records(4096);
  const size_t repeat = 100;
  const bool prov = state.range(0) != 0;
  for (auto _ : state) {
    const auto s =
        run_once(records, repeat, prov, static_cast<int>(state.range(1)), false, Chain::kEmpty,
                 &state, nullptr, nullptr, /*partitions=*/4, static_cast<size_t>(state.range(2)));
    if (!s.ok || s.trusted != records.size() * repeat) state.SkipWithError("wrong accounting");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size() * repeat));
  state.SetLabel(prov ? "with provenance, 4 partitions" : "without provenance, 4 partitions");
}
BENCHMARK(BM_SealOnly)
    ->ArgsProduct({{0, 1}, {1, 2}, {1024, 64}})
    ->ArgNames({"provenance", "threads", "batch"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A pipeline over the simulated fleet, with and without provenance.
void run_fleet(benchmark::State& state, Chain chain) {
  engine::set_log_level(engine::LogLevel::kError);
  const Fleet& f = fleet();
  const bool prov = state.range(0) != 0;
  for (auto _ : state) {
    const auto s =
        run_once(f.frames, 1, prov, static_cast<int>(state.range(1)), false, chain, &state);
    if (!s.ok || s.trusted != f.frames.size()) state.SkipWithError("wrong accounting");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.frames.size()));
  state.SetLabel(prov ? "with provenance" : "without provenance");
}

// The full pipeline: verify_signature (Ed25519, one signature per reading) with and without
// provenance. range(0): provenance off/on; range(1): engine threads.
void BM_FullPipeline(benchmark::State& state) {
  run_fleet(state, Chain::kVerify);
}
BENCHMARK(BM_FullPipeline)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"provenance", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The whole chain of examples/quality.yaml: verify_signature, calibration, anomaly, drift.
void BM_QualityPipeline(benchmark::State& state) {
  run_fleet(state, Chain::kQuality);
}
BENCHMARK(BM_QualityPipeline)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"provenance", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// SignedBatch fleets (issue 18): every sensor sends SignedBatches of 8 or 64 readings (Ed25519),
// through verify_signature, with and without provenance; one TrustedReading per reading with the
// signed bytes carried once (engine.signed_bytes: once) or in every one (every, the v1 layout),
// or one grouped TrustedReading per batch (engine.trusted_records: grouped). Counters: input
// and output (trusted + attestations) bytes per reading.
// range(0): provenance off/on; range(1): threads; range(2): readings per batch; range(3):
// layout, 0 = every, 1 = once, 2 = grouped. engine.batch_size: 1,024 readings per batch (128 or
// 16 records).
void BM_SignedBatchFleet(benchmark::State& state) {
  engine::set_log_level(engine::LogLevel::kError);
  const Fleet& f = batch_fleet(static_cast<uint32_t>(state.range(2)));
  const bool prov = state.range(0) != 0;
  // About 1,024 readings per engine batch, as with one reading per record.
  const size_t batch_frames = 1024 / static_cast<size_t>(state.range(2));
  uint64_t out = 0;
  for (auto _ : state) {
    const auto s = run_once(f.frames, 1, prov, static_cast<int>(state.range(1)), false,
                            Chain::kVerify, &state, nullptr, nullptr, 1, batch_frames, &f, &out,
                            state.range(3) != 0, state.range(3) == 2);
    if (!s.ok || s.trusted != f.readings) state.SkipWithError("wrong accounting");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.readings));
  state.counters["in_B_per_reading"] =
      static_cast<double>(f.input_bytes) / static_cast<double>(f.readings);
  state.counters["out_B_per_reading"] = static_cast<double>(out) / static_cast<double>(f.readings);
  state.SetLabel(std::string(prov ? "with provenance" : "without provenance") +
                 (state.range(3) == 2   ? ", grouped"
                  : state.range(3) != 0 ? ", once"
                                        : ", every"));
}
BENCHMARK(BM_SignedBatchFleet)
    ->ArgsProduct({{0, 1}, {1, 2}, {8, 64}, {2, 1, 0}})
    ->ArgNames({"provenance", "threads", "per_batch", "layout"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Consumer side: verify_stream over 409,600 records and their checkpoints (in memory).
void BM_VerifyStream(benchmark::State& state) {
  static const auto records = make_records(4096);
  std::vector<std::vector<uint8_t>> t, a;
  const auto s = run_once(records, 100, true, 2, true, Chain::kEmpty, nullptr, &t, &a);
  if (!s.ok) state.SkipWithError(s.error.c_str());
  std::vector<connectors::StoredRecord> ts, as;
  for (size_t i = 0; i < t.size(); ++i) ts.push_back({0, static_cast<int64_t>(i), std::move(t[i])});
  for (size_t i = 0; i < a.size(); ++i) as.push_back({0, static_cast<int64_t>(i), std::move(a[i])});
  connectors::VerifyOptions opt;
  opt.public_key = engine_key()->public_key();
  for (auto _ : state) {
    const auto rep = connectors::verify_stream(ts, as, opt);
    if (!rep.ok()) {
      state.SkipWithError(("stream does not verify: " + rep.findings[0].json()).c_str());
      break;
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ts.size()));
  state.counters["attestations"] = static_cast<double>(as.size());  // checkpoints and intents
}
BENCHMARK(BM_VerifyStream)->Unit(benchmark::kMillisecond)->UseRealTime();

// The serial step of chain format v2 alone: one record hash over a fixed 86-byte input
// (docs/provenance.md), what bounds the seal stage of one partition.
void BM_ChainHashV2(benchmark::State& state) {
  engine::Hash32 head{}, leaf{};
  leaf[0] = 1;
  uint64_t i = 0;
  for (auto _ : state) {
    head = engine::chain_hash_v2(i++, head, leaf);
    benchmark::DoNotOptimize(head);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ChainHashV2);

}  // namespace

BENCHMARK_MAIN();
