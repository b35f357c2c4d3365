// Records per second through an empty pipeline (decode + encode + route) on one core, from
// memory. Two views: the stages called directly on one batch, and the full Runner (TBB
// pipeline, offset tracking, sinks) limited to one thread.
#include <benchmark/benchmark.h>

#include <random>

#include "bench/bench_records.hpp"
#include "connectors/memory.hpp"
#include "engine/decode.hpp"
#include "engine/encode.hpp"
#include "engine/runner.hpp"
#include "schemas/reading_generated.h"
#include "schemas/signed_reading_generated.h"

namespace {

using namespace assay;

using benchdata::make_records;

void BM_DecodeEncodeRoute(benchmark::State& state) {
  const auto records = make_records(1024);
  connectors::MemorySource src(records, SIZE_MAX);
  engine::Batch b;
  engine::PipelineInfo info{"bench", std::vector<uint8_t>(32, 0), "bench-1"};
  const std::vector<std::string> stages{"decode"};
  std::array<size_t, engine::kRouteCount> routed{};
  for (auto _ : state) {
    b.clear();
    src.next(b, 1024);
    engine::decode_batch(b);
    engine::EncodeContext ctx{info, stages, 0};
    engine::encode_batch(b, ctx);
    for (const auto& o : b.outputs) ++routed[static_cast<size_t>(o.route)];
    benchmark::DoNotOptimize(b.outputs.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * 1024);
  state.counters["trusted"] = static_cast<double>(routed[0]);
}
BENCHMARK(BM_DecodeEncodeRoute);

void BM_RunnerEmptyPipelineOneThread(benchmark::State& state) {
  const auto records = make_records(4096);
  const size_t repeat = 100;
  for (auto _ : state) {
    engine::Metrics metrics;
    engine::Pipeline p;
    p.info = {"bench", std::vector<uint8_t>(32, 0), "bench-1"};
    p.engine.threads = 1;
    p.engine.batch_size = 1024;
    p.source = std::make_unique<connectors::MemorySource>(records, repeat);
    p.sinks[0] = std::make_unique<connectors::MemorySink>(false);
    p.sinks[1] = std::make_unique<connectors::MemorySink>(false);
    p.stage_names = {"decode"};
    engine::Runner runner(p, metrics);
    const auto s = runner.run();
    if (!s.ok || s.trusted != records.size() * repeat) state.SkipWithError("wrong accounting");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * records.size() * repeat));
}
BENCHMARK(BM_RunnerEmptyPipelineOneThread)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
