// Readings/s through the full pipeline (Runner + verify_signature) on simulated fleets:
//  - Mixed: the simulator's default algorithm mix, 1 and 2 worker threads;
//  - Flood: the same honest records plus an equal number of forged records from a few
//    forging sensors mixed in; the counter honest_per_s is what honest sensors get. Every
//    forged record is verified (none is throttled: verdicts never depend on timing).
// Run: build/bench/assay_bench_verify --benchmark_min_time=3 --benchmark_repetitions=3
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "connectors/memory.hpp"
#include "engine/log.hpp"
#include "engine/runner.hpp"
#include "operators/verify_signature.hpp"
#include "schemas/signed_reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace {

using namespace assay;
namespace fs = std::filesystem;

struct Fleet {
  fs::path dir;
  std::vector<std::vector<uint8_t>> honest;
  std::vector<std::vector<uint8_t>> flood;  // honest + forged, interleaved
  size_t readings = 0;
};

const Fleet& fleet(const std::string& mix) {
  static std::map<std::string, Fleet> cache;
  auto it = cache.find(mix);
  if (it != cache.end()) return it->second;
  Fleet& f = cache[mix];
  f.dir = fs::temp_directory_path() / ("assay-bench-verify-" + std::to_string(getpid()) + "-" + mix);
  fs::create_directories(f.dir);
  sim::SimConfig c;
  c.sensors = 1000;
  c.records = 100000;
  c.seed = 5;
  c.batch_fraction = 0;  // one signature per reading: the expensive case
  c.registry_path = (f.dir / "sensors.yaml").string();
  std::string err;
  sim::parse_alg_mix(mix, c.alg_mix, err);
  for (const char* x : {"forged=0", "tampered=0", "unknown_key=0", "replay=0", "clock_skew=0"})
    sim::parse_fault(x, c.faults, err);
  sim::MemoryFrameSink sink;
  sim::SimSummary s;
  if (!sim::run_simulation(c, sink, s, err)) std::abort();
  f.honest = std::move(sink.frames);
  f.readings = s.readings;
  // Flood: 10 forging sensors send as many records as the whole honest fleet, each a copy of
  // one of their own honest records with a corrupted signature, interleaved with honest ones.
  std::mt19937_64 rng(9);
  std::vector<size_t> forger_frames;
  std::set<std::string> forgers;
  for (size_t i = 0; i < f.honest.size() && forgers.size() < 10; ++i) {
    const auto* sr = wire::GetSignedReading(f.honest[i].data());
    forgers.insert(sr->key_id()->str());
  }
  for (size_t i = 0; i < f.honest.size(); ++i)
    if (forgers.count(wire::GetSignedReading(f.honest[i].data())->key_id()->str())) forger_frames.push_back(i);
  for (size_t i = 0; i < f.honest.size(); ++i) {
    f.flood.push_back(f.honest[i]);
    auto forged = f.honest[forger_frames[rng() % forger_frames.size()]];
    const auto* sr = wire::GetSignedReading(forged.data());
    const size_t sig_off = static_cast<size_t>(sr->signature()->data() - forged.data());
    forged[sig_off + (rng() % 32)] ^= 0x5a;
    f.flood.push_back(std::move(forged));
  }
  return f;
}

void run(benchmark::State& state, const std::string& mix, bool flood) {
  engine::set_log_level(engine::LogLevel::kError);
  const Fleet& f = fleet(mix);
  const auto& frames = flood ? f.flood : f.honest;
  uint64_t trusted = 0, rejected = 0;
  for (auto _ : state) {
    engine::Metrics metrics;
    engine::Pipeline p;
    p.info = {"bench", std::vector<uint8_t>(32, 0), "b"};
    p.engine.threads = static_cast<int>(state.range(0));
    p.source = std::make_unique<connectors::MemorySource>(frames);
    p.sinks[0] = std::make_unique<connectors::MemorySink>(false);
    p.sinks[1] = std::make_unique<connectors::MemorySink>(false);
    operators::VerifySignatureConfig cfg;
    cfg.identity = registries::IdentityStore::open((f.dir / "sensors.yaml").string());
    p.operators.push_back(std::make_unique<operators::VerifySignature>(cfg));
    p.stage_names = {"decode", "verify_signature"};
    engine::Runner runner(p, metrics);
    const auto s = runner.run();
    trusted += s.trusted;
    rejected += s.rejected;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * frames.size()));
  state.counters["honest_per_s"] =
      benchmark::Counter(static_cast<double>(trusted), benchmark::Counter::kIsRate);
  state.counters["rejected"] = static_cast<double>(rejected) / static_cast<double>(state.iterations());
}

void BM_VerifyMixed(benchmark::State& s) { run(s, "ed25519=0.5,ecdsa=0.3,hmac=0.2", false); }
void BM_VerifyMixedFlood(benchmark::State& s) { run(s, "ed25519=0.5,ecdsa=0.3,hmac=0.2", true); }
void BM_VerifyEd25519(benchmark::State& s) { run(s, "ed25519=1", false); }
void BM_VerifyEd25519Flood(benchmark::State& s) { run(s, "ed25519=1", true); }
BENCHMARK(BM_VerifyMixed)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VerifyMixedFlood)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VerifyEd25519)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_VerifyEd25519Flood)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
