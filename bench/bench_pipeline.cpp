// Records per second through an empty pipeline (decode + encode + route) on one core, from
// memory. Two views: the stages called directly on one batch, and the full Runner (TBB
// pipeline, offset tracking, sinks) limited to one thread.
#include <benchmark/benchmark.h>

#include <random>

#include "connectors/memory.hpp"
#include "engine/decode.hpp"
#include "engine/encode.hpp"
#include "engine/runner.hpp"
#include "schemas/reading_generated.h"
#include "schemas/signed_reading_generated.h"

namespace {

using namespace assay;

std::vector<std::vector<uint8_t>> make_records(size_t n) {
  std::vector<std::vector<uint8_t>> out;
  std::mt19937_64 rng(1);
  for (size_t i = 0; i < n; ++i) {
    flatbuffers::FlatBufferBuilder rb;
    auto id = rb.CreateString("urn:assay:bench:sensor:" + std::to_string(i % 1000));
    auto q = rb.CreateString("temperature");
    auto u = rb.CreateString("Cel");
    std::vector<uint8_t> fw(32, 7);
    auto fwv = rb.CreateVector(fw);
    wire::ReadingBuilder r(rb);
    r.add_sensor_id(id);
    r.add_seq(i);
    r.add_time_ns(1'700'000'000'000'000'000 + static_cast<int64_t>(i));
    r.add_quantity(q);
    r.add_unit(u);
    r.add_value(20.0 + (rng() % 1000) / 100.0);
    r.add_std_uncertainty(0.05);
    r.add_firmware_sha256(fwv);
    wire::FinishReadingBuffer(rb, r.Finish());
    flatbuffers::FlatBufferBuilder sb;
    sb.ForceVectorAlignment(rb.GetSize(), 1, 8);
    auto body = sb.CreateVector(rb.GetBufferPointer(), rb.GetSize());
    auto key = sb.CreateString("k" + std::to_string(i % 1000));
    auto sig = sb.CreateVector(std::vector<uint8_t>(64, 3));
    wire::FinishSignedReadingBuffer(
        sb, wire::CreateSignedReading(sb, body, key, wire::SignatureAlg::Ed25519, sig));
    out.emplace_back(sb.GetBufferPointer(), sb.GetBufferPointer() + sb.GetSize());
  }
  return out;
}

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
