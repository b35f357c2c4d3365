// The live instrument register (issue 17) at a million instruments:
//   BM_QualityRegister/register:{0,1}/threads:N — the whole chain of examples/quality.yaml
//     (verify_signature, calibration, anomaly, drift) on the Runner over a simulated Ed25519
//     fleet, without and with `instrument_register` holding 1,000,000 instruments (the fleet's
//     1,000 plus 999,000 more in its identity registry), side by side in one run;
//   BM_RegisterObserve — the register's hot path alone, readings of 1M distinct instruments in
//     random order (every lookup a cache miss): ns per reading;
//   BM_RegisterQuery/<q> — the HTTP endpoint's queries over 1M instruments, answered by the
//     handler, and BM_RegisterHttp — one real GET through the HTTP server (socket, parse, answer).
// Run with --benchmark_enable_random_interleaving=true --benchmark_repetitions=N.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <random>

#include "bench/bench_quality_operators.hpp"
#include "connectors/memory.hpp"
#include "engine/config.hpp"
#include "engine/decode.hpp"
#include "engine/http_server.hpp"
#include "engine/log.hpp"
#include "engine/runner.hpp"
#include "metrology/register.hpp"
#include "operators/anomaly.hpp"
#include "operators/calibration.hpp"
#include "operators/drift.hpp"
#include "operators/verify_signature.hpp"
#include "schemas/reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace {

using namespace assay;

constexpr size_t kInstruments = 1'000'000;

struct Fleet {
  std::filesystem::path dir;
  std::vector<std::vector<uint8_t>> frames;
};

const Fleet& fleet() {
  static Fleet f = [] {
    Fleet x;
    x.dir =
        std::filesystem::temp_directory_path() / ("assay-bench-metro-" + std::to_string(getpid()));
    std::filesystem::create_directories(x.dir);
    sim::SimConfig c;
    c.sensors = 1000;
    c.records = 100000;
    c.seed = 5;
    c.batch_fraction = 0;
    c.registry_path = (x.dir / "sensors.yaml").string();
    c.certs_path = (x.dir / "certificates.yaml").string();
    c.labs_path = (x.dir / "labs.yaml").string();
    std::string err;
    sim::parse_alg_mix("ed25519=1", c.alg_mix, err);
    c.faults.rate.fill(0.0);
    sim::MemoryFrameSink sink;
    sim::SimSummary s;
    if (!sim::run_simulation(c, sink, s, err)) std::abort();
    x.frames = std::move(sink.frames);
    return x;
  }();
  return f;
}

std::string synthetic_id(size_t i) {
  return "urn:assay:bench:instrument:" + std::to_string(i);
}

// The fleet's identity registry plus synthetic instruments up to kInstruments (no keys: the
// register holds them; verify_signature never sees them).
std::shared_ptr<registries::IdentityStore> million_store() {
  static std::shared_ptr<const registries::IdentityRegistry> big = [] {
    registries::RegistryLoadReport rep;
    const auto small =
        registries::load_identity_registry((fleet().dir / "sensors.yaml").string(), rep);
    auto r = std::make_shared<registries::IdentityRegistry>();
    small->for_each_sensor([&](const registries::SensorInfo& s) {
      std::vector<registries::SensorKey> keys;
      for (const auto& k : s.key_ids)
        if (const auto* key = small->find_key(k)) keys.push_back(*key);
      r->put(s, std::move(keys));
    });
    const registries::SensorInfo* proto = nullptr;
    small->for_each_sensor([&](const registries::SensorInfo& s) { proto = &s; });
    for (size_t i = r->sensor_count(); i < kInstruments; ++i) {
      registries::SensorInfo s = *proto;
      s.sensor_id = synthetic_id(i);
      s.key_ids.clear();
      s.owner = "plant-" + std::to_string(i % 7);
      r->put(std::move(s), {});
    }
    return std::shared_ptr<const registries::IdentityRegistry>(std::move(r));
  }();
  auto store = registries::IdentityStore::open((fleet().dir / "sensors.yaml").string());
  store->set_file_registry(big);
  return store;
}

std::shared_ptr<metrology::InstrumentRegister> million_register() {
  static std::shared_ptr<metrology::InstrumentRegister> reg = [] {
    metrology::RegisterConfig cfg;
    cfg.identity = million_store();
    return std::make_shared<metrology::InstrumentRegister>(std::move(cfg));
  }();
  return reg;
}

// range(0): 0 = without, 1 = with the register; range(1): engine threads.
void BM_QualityRegister(benchmark::State& state) {
  engine::set_log_level(engine::LogLevel::kError);
  const Fleet& f = fleet();
  const bool with = state.range(0) != 0;
  auto reg = with ? million_register() : nullptr;
  for (auto _ : state) {
    state.PauseTiming();
    engine::RunSummary s;
    {
      engine::Metrics metrics;
      engine::Pipeline p;
      p.info = {"bench", std::vector<uint8_t>(32, 0), "bench-1"};
      p.engine.threads = static_cast<int>(state.range(1));
      p.engine.batch_size = 1024;
      p.source = std::make_unique<connectors::MemorySource>(f.frames, 1);
      p.sinks[0] = std::make_unique<connectors::MemorySink>(false);
      p.sinks[1] = std::make_unique<connectors::MemorySink>(false);
      p.sinks[2] = std::make_unique<connectors::MemorySink>(false);
      p.stage_names = {"decode"};
      operators::VerifySignatureConfig vc;
      vc.identity = registries::IdentityStore::open((f.dir / "sensors.yaml").string());
      p.operators.push_back(std::make_unique<operators::VerifySignature>(vc));
      p.stage_names.push_back("verify_signature");
      benchdata::add_quality_operators(p, metrics, fleet().dir.string());
      if (with) {
        p.operators.push_back(std::make_unique<metrology::RegisterOperator>(reg));
        p.stage_names.push_back("instrument_register");
      }
      engine::Runner runner(p, metrics);
      state.ResumeTiming();
      s = runner.run();
      state.PauseTiming();
    }
    state.ResumeTiming();
    if (!s.ok || s.trusted + s.rejected != f.frames.size()) state.SkipWithError("wrong accounting");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * f.frames.size()));
  state.SetLabel(with ? "register of 1M instruments" : "no register");
  if (with) state.counters["instruments"] = static_cast<double>(reg->size());
}
BENCHMARK(BM_QualityRegister)
    ->ArgsProduct({{0, 1}, {1, 2}})
    ->ArgNames({"register", "threads"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// Batches of 1,024 decoded readings of 1M distinct instruments, in random order.
const std::vector<engine::Batch>& million_batches() {
  static std::vector<engine::Batch> batches = [] {
    std::vector<size_t> order(kInstruments);
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
    std::vector<std::vector<uint8_t>> recs;
    recs.reserve(kInstruments);
    for (size_t i : order) {
      flatbuffers::FlatBufferBuilder b(256);
      auto id = b.CreateString(synthetic_id(std::max<size_t>(i, 1000)));
      std::array<uint8_t, 32> fw{};
      fw[0] = static_cast<uint8_t>(i % 3);
      auto f = b.CreateVector(fw.data(), fw.size());
      wire::ReadingBuilder r(b);
      r.add_sensor_id(id);
      r.add_seq(1);
      r.add_time_ns(1'767'225'600'000'000'000LL);
      r.add_value(20.0);
      r.add_firmware_sha256(f);
      wire::FinishReadingBuffer(b, r.Finish());
      recs.emplace_back(b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize());
    }
    connectors::MemorySource src(recs);
    std::vector<engine::Batch> out;
    for (;;) {
      engine::Batch batch;
      if (src.next(batch, 1024) != engine::SourceStatus::kBatch) break;
      engine::decode_batch(batch);
      for (auto& s : batch.row_signature) s = static_cast<uint8_t>(wire::SignatureVerdict::Valid);
      out.push_back(std::move(batch));
    }
    return out;
  }();
  return batches;
}

void BM_RegisterObserve(benchmark::State& state) {
  auto reg = million_register();
  const auto& batches = million_batches();
  size_t rows = 0;
  for (auto _ : state) {
    for (const auto& b : batches) {
      reg->observe(b, 1'767'225'600'000'000'000LL);
      rows += b.row_count();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.counters["ns_per_reading"] = benchmark::Counter(
      static_cast<double>(rows), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RegisterObserve)->Unit(benchmark::kMillisecond)->UseRealTime();

// The register after one reading per instrument and 1 % of them e-verified (a third failed).
std::shared_ptr<metrology::InstrumentRegister> populated_register() {
  static std::shared_ptr<metrology::InstrumentRegister> reg = [] {
    auto r = million_register();
    for (const auto& b : million_batches()) r->observe(b, 1'767'225'600'000'000'000LL);
    for (size_t i = 1000; i < kInstruments; i += 100) {
      metrology::Result res;
      res.instrument_id = synthetic_id(i);
      res.outcome = (i / 100) % 3 == 0 ? metrology::Outcome::kFailed : metrology::Outcome::kPassed;
      res.reason = res.outcome == metrology::Outcome::kFailed ? "out_of_tolerance" : "in_tolerance";
      res.result_id = "bench/" + res.instrument_id;
      r->on_result(res);
    }
    return r;
  }();
  return reg;
}

const char* kQueries[] = {
    "/register/summary",
    "/register/instruments?calibration_expires_within_days=30",
    "/register/instruments?verification=failed",
    "/register/instruments?firmware=not_approved&limit=100",
    "/register/instruments?owner=plant-3&limit=1000",
    "/register/instrument?id=urn:assay:bench:instrument:777777",
};

engine::HttpRequest request_of(const std::string& target) {
  engine::HttpRequest req;
  const size_t q = target.find('?');
  req.path = target.substr(0, q);
  std::string rest = q == std::string::npos ? "" : target.substr(q + 1);
  while (!rest.empty()) {
    const size_t amp = rest.find('&');
    const std::string item = rest.substr(0, amp);
    const size_t eq = item.find('=');
    req.query.emplace_back(item.substr(0, eq), item.substr(eq + 1));
    rest = amp == std::string::npos ? "" : rest.substr(amp + 1);
  }
  return req;
}

void BM_RegisterQuery(benchmark::State& state) {
  auto reg = populated_register();
  const std::string target = kQueries[state.range(0)];
  const engine::HttpRequest req = request_of(target);
  size_t bytes = 0;
  for (auto _ : state) {
    const engine::HttpReply r = reg->handle(req);
    if (r.status != 200) state.SkipWithError(("status " + std::to_string(r.status)).c_str());
    bytes = r.body.size();
    benchmark::DoNotOptimize(r.body.data());
  }
  state.SetLabel(target);
  state.counters["body_bytes"] = static_cast<double>(bytes);
  state.counters["instruments"] = static_cast<double>(reg->size());
}
BENCHMARK(BM_RegisterQuery)->DenseRange(0, 5)->Unit(benchmark::kMillisecond)->UseRealTime();

std::string http_get(int port, const std::string& path) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    const std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    (void)!send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return out;
}

// One GET through Assay's HTTP server (connect, request, answer, close).
void BM_RegisterHttp(benchmark::State& state) {
  auto reg = populated_register();
  engine::Metrics metrics;
  engine::HttpServer http("127.0.0.1:0", metrics, nullptr, nullptr);
  std::string err;
  if (!http.start(&err)) {
    state.SkipWithError(err.c_str());
    return;
  }
  http.set_routes(reg->http_routes());
  const std::string target = kQueries[state.range(0)];
  for (auto _ : state) {
    const std::string r = http_get(http.port(), target);
    if (r.compare(0, 12, "HTTP/1.1 200") != 0) state.SkipWithError("no 200");
  }
  state.SetLabel(target);
  http.stop();
}
BENCHMARK(BM_RegisterHttp)->DenseRange(0, 5)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
