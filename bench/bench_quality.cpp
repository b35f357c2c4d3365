// Readings per second through the quality operators (anomaly + drift; calibration is one line
// in `operators()` once it exists) on one core, 100k sensors in one partition's state.
// The readings of one round (one per sensor, ~2 % of them reference checks, 15 % of the
// sensors in redundancy groups of three) are decoded once; between rounds their seq, time
// and value are rewritten in place (outside the timed region), so every round is a fresh
// reading of every sensor and the state is in steady state (no inserts after round 1).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "connectors/memory.hpp"
#include "engine/decode.hpp"
#include "operators/anomaly.hpp"
#include "operators/drift.hpp"
#include "schemas/common_generated.h"
#include "schemas/reading_generated.h"

namespace {

using namespace assay;

constexpr uint64_t kSeqMark = 0x5EC0'5EC0'5EC0'5EC0ULL;
constexpr int64_t kTimeMark = 0x7173'7173'7173'7173LL;
constexpr double kValueMark = 123456.789012345;

struct Fleet {
  std::vector<engine::Batch> batches;
  // Per reading: where its seq, time and value bytes are in its batch arena.
  struct Pos {
    uint32_t batch, seq, time, value;
  };
  std::vector<Pos> pos;
  std::vector<double> base;
  std::vector<std::string> ids;
};

uint32_t find(const std::vector<uint8_t>& buf, const void* pattern) {
  for (size_t i = 0; i + 8 <= buf.size(); ++i)
    if (std::memcmp(buf.data() + i, pattern, 8) == 0) return static_cast<uint32_t>(i);
  std::abort();
}

// Sensor i's reading is the record at position i; with `shuffled` the sensors (their ids,
// hence their table entries) come in a random order instead of insertion order.
Fleet make_fleet(uint32_t sensors, bool shuffled) {
  Fleet f;
  std::vector<std::vector<uint8_t>> recs;
  std::vector<std::array<uint32_t, 3>> rel;
  std::mt19937_64 rng(1);
  std::vector<uint32_t> name(sensors);
  for (uint32_t i = 0; i < sensors; ++i) name[i] = i;
  if (shuffled) std::shuffle(name.begin(), name.end(), rng);
  for (uint32_t i = 0; i < sensors; ++i) {
    f.ids.push_back("urn:assay:bench:sensor:" + std::to_string(name[i]));
    f.base.push_back(20 + static_cast<double>(rng() % 6000) / 100.0);
    flatbuffers::FlatBufferBuilder b;
    auto id = b.CreateString(f.ids.back());
    wire::ReadingBuilder r(b);
    r.add_sensor_id(id);
    r.add_seq(kSeqMark);
    r.add_time_ns(kTimeMark);
    r.add_value(kValueMark);
    r.add_std_uncertainty(0.1);
    if (i % 50 == 7) {
      r.add_kind(wire::ReadingKind::ReferenceCheck);
      r.add_reference_value(f.base.back());
    }
    wire::FinishReadingBuffer(b, r.Finish());
    recs.emplace_back(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    rel.push_back({find(recs.back(), &kSeqMark), find(recs.back(), &kTimeMark),
                   find(recs.back(), &kValueMark)});
  }
  connectors::MemorySource src(recs);
  size_t k = 0;
  for (;;) {
    engine::Batch b;
    if (src.next(b, 1024) != engine::SourceStatus::kBatch) break;
    engine::decode_batch(b);
    for (size_t j = 0; j < b.frames.size(); ++j, ++k)
      f.pos.push_back({static_cast<uint32_t>(f.batches.size()), b.frames[j].offset + rel[k][0],
                       b.frames[j].offset + rel[k][1], b.frames[j].offset + rel[k][2]});
    f.batches.push_back(std::move(b));
  }
  return f;
}

// Rewrites every reading for round `r` and resets the batches' verdict columns.
void next_round(Fleet& f, uint64_t r, std::mt19937_64& rng) {
  std::normal_distribution<double> noise(0, 0.1);
  const int64_t t = 1'700'000'000'000'000'000 + static_cast<int64_t>(r) * 1'000'000'000;
  for (size_t i = 0; i < f.pos.size(); ++i) {
    auto& p = f.pos[i];
    uint8_t* a = f.batches[p.batch].arena.data();
    const uint64_t seq = r + 1;
    const double v = f.base[i] + noise(rng);
    std::memcpy(a + p.seq, &seq, 8);
    std::memcpy(a + p.time, &t, 8);
    std::memcpy(a + p.value, &v, 8);
  }
  for (auto& b : f.batches) {
    const size_t n = b.row_count();
    std::fill(b.row_anomaly.begin(), b.row_anomaly.end(), 0);
    std::fill(b.row_drift.begin(), b.row_drift.end(), 0);
    std::fill(b.row_reject.begin(), b.row_reject.end(), engine::RejectCode::kNone);
    b.sel.resize(n);
    for (uint32_t j = 0; j < n; ++j) b.sel[j] = j;
    b.alerts.clear();
  }
}

void BM_QualityOperators(benchmark::State& state) {
  const auto sensors = static_cast<uint32_t>(state.range(0));
  Fleet f = make_fleet(sensors, state.range(1) != 0);
  operators::DriftConfig dc;
  const uint32_t grouped = sensors * 15 / 100 / 3 * 3;
  for (uint32_t g = 0; g < grouped; g += 3) {
    auto name = [&](uint32_t k) { return "urn:assay:bench:sensor:" + std::to_string(k); };
    dc.groups.push_back({"g" + std::to_string(g), {name(g), name(g + 1), name(g + 2)}});
  }
  operators::AnomalyConfig ac;
  ac.reject_mask = static_cast<uint32_t>(wire::AnomalyFlag::Replay) |
                   static_cast<uint32_t>(wire::AnomalyFlag::FutureTimestamp);
  const operators::Anomaly anomaly(ac);
  const operators::Drift drift(dc);
  // The operators in pipeline order (calibration goes first once it is merged).
  const std::vector<const engine::Operator*> ops = {&anomaly, &drift};
  std::vector<std::unique_ptr<engine::OperatorState>> states;
  for (const auto* op : ops) states.push_back(op->make_state(engine::Partition(0)));
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "bench", "op");
  engine::PipelineInfo info{"bench", {}, "b"};
  std::mt19937_64 rng(2);
  uint64_t round = 0, rows = 0;
  auto run_round = [&](Fleet& fl, int64_t now) {
    for (auto& b : fl.batches) {
      for (size_t i = 0; i < ops.size(); ++i) {
        engine::OperatorContext ctx{info, probe, static_cast<uint8_t>(i + 1), now, now};
        ops[i]->process(b, states[i].get(), ctx);
        b.compact_selection();
      }
      rows += b.row_count();
    }
  };
  {
    // Warm-up round (untimed) in name order: the tables' entries are laid out in that order,
    // so with `shuffled` the timed rounds access them at random.
    Fleet warm = make_fleet(sensors, false);
    next_round(warm, round++, rng);
    run_round(warm, 1'700'000'000'000'000'000);
    rows = 0;
  }
  for (auto _ : state) {
    state.PauseTiming();
    next_round(f, round, rng);
    const int64_t now = 1'700'000'000'000'000'000 + static_cast<int64_t>(round) * 1'000'000'000;
    ++round;
    state.ResumeTiming();
    run_round(f, now);
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  size_t mem = 0;
  for (const auto& s : states) mem += s->memory_bytes();
  state.counters["state_bytes_per_sensor"] = static_cast<double>(mem) / sensors;
}
// Args: sensors, shuffled (0: stream order = table insertion order; 1: random order, as when
// many partitions' sensors interleave).
BENCHMARK(BM_QualityOperators)
    ->Args({100'000, 0})
    ->Args({100'000, 1})
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
