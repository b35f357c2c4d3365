// verify_signature against the simulator: every forged/tampered record is a bad signature,
// no honest record is, verdicts are identical on every crypto backend; registry refusals,
// revocation and live reload.
#include "tests/rejected_readings.hpp"
#include "operators/verify_signature.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <cstring>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "../crypto/json_mini.hpp"
#include "connectors/memory.hpp"
#include "engine/runner.hpp"
#include "schemas/rejected_record_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::operators {
namespace {

namespace fs = std::filesystem;

struct Fleet {
  fs::path dir;
  std::vector<std::vector<uint8_t>> frames;
  // (frame, reading) -> fault label
  std::map<std::pair<int64_t, uint32_t>, std::string> labels;
  ~Fleet() { fs::remove_all(dir); }
};

std::unique_ptr<Fleet> simulate(uint32_t sensors, uint64_t records, uint64_t seed) {
  auto f = std::make_unique<Fleet>();
  f->dir = fs::temp_directory_path() /
           ("assay-vs-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
  fs::create_directories(f->dir);
  sim::SimConfig c;
  c.sensors = sensors;
  c.records = records;
  c.seed = seed;
  c.registry_path = (f->dir / "sensors.yaml").string();
  c.labels_path = (f->dir / "labels.jsonl").string();
  sim::FaultRates& r = c.faults;
  (void)r;
  std::string err;
  EXPECT_TRUE(sim::parse_fault("forged=0.02", c.faults, err)) << err;
  EXPECT_TRUE(sim::parse_fault("tampered=0.02", c.faults, err)) << err;
  EXPECT_TRUE(sim::parse_fault("unknown_key=0.01", c.faults, err)) << err;
  sim::MemoryFrameSink sink;
  sim::SimSummary summary;
  EXPECT_TRUE(sim::run_simulation(c, sink, summary, err)) << err;
  f->frames = std::move(sink.frames);
  std::ifstream in(c.labels_path);
  std::string line;
  while (std::getline(in, line)) {
    const json_mini::Value v = json_mini::parse(line);
    f->labels[{v["record"].integer(), static_cast<uint32_t>(v["reading"].integer())}] = v["fault"].str();
  }
  return f;
}

struct Outcome {
  std::map<std::pair<int64_t, uint32_t>, std::string> verdict;  // "trusted" or the reject reason
  engine::RunSummary summary;
};

Outcome run(const Fleet& f, const std::string& backend, const std::string& registry_override = "",
            const std::vector<std::vector<uint8_t>>* frames = nullptr, int threads = 0,
            size_t batch_size = 256) {
  engine::Metrics metrics;
  engine::Pipeline p;
  p.info = {"vs-test", std::vector<uint8_t>(32, 0), "test-1"};
  p.engine.batch_size = batch_size;
  p.engine.threads = threads;
  p.source = std::make_unique<connectors::MemorySource>(frames != nullptr ? *frames : f.frames);
  auto trusted = std::make_unique<connectors::MemorySink>();
  auto rejected = std::make_unique<connectors::MemorySink>();
  auto* t = trusted.get();
  auto* r = rejected.get();
  p.sinks[0] = std::move(trusted);
  p.sinks[1] = std::move(rejected);
  VerifySignatureConfig cfg;
  cfg.identity = registries::IdentityStore::open(
      registry_override.empty() ? (f.dir / "sensors.yaml").string() : registry_override);
  EXPECT_TRUE(crypto::parse_backend(backend, cfg.backend));
  cfg.chunk = 64;
  p.operators.push_back(std::make_unique<VerifySignature>(cfg));
  p.stage_names = {"decode", "verify_signature"};
  engine::Runner runner(p, metrics);
  Outcome o;
  o.summary = runner.run();
  for (const auto& rec : t->records()) {
    const auto* tr = wire::GetTrustedReading(rec.data());
    EXPECT_EQ(tr->signature_verdict(), wire::SignatureVerdict::Valid);
    o.verdict[{tr->provenance()->source_offset(), tr->reading_index()}] = "trusted";
  }
  for (const auto& rec : r->records()) {
    const auto* rr = wire::GetRejectedRecord(rec.data());
    for (uint32_t i : testing::rejected_readings(rr))
      o.verdict[{rr->source_offset(), i}] = rr->reason()->str();
  }
  return o;
}

TEST(VerifySignature, ForgedAndTamperedAreBadAndNoHonestRecordIs) {
  const auto fleet = simulate(120, 30000, 11);
  const Outcome o = run(*fleet, "auto");
  ASSERT_TRUE(o.summary.ok) << o.summary.error;
  ASSERT_EQ(o.summary.rows_in, o.summary.trusted + o.summary.rejected);
  ASSERT_EQ(o.verdict.size(), fleet->labels.size());
  std::map<std::string, std::map<std::string, int>> table;  // label -> verdict -> count
  // Frames holding a clock-skewed reading: one signature covers the whole SignedBatch, so a
  // reading outside the key's window makes the batch (all its readings) not valid at time.
  std::set<int64_t> skewed_frames;
  for (const auto& [pos, label] : fleet->labels)
    if (label == "clock_skew") skewed_frames.insert(pos.first);
  for (const auto& [pos, label] : fleet->labels) {
    if (skewed_frames.count(pos.first) != 0 && o.verdict.at(pos) == "signature.key_not_valid_at_time") {
      ++table["clock_skew"]["signature.key_not_valid_at_time"];
      continue;
    }
    auto it = o.verdict.find(pos);
    ASSERT_NE(it, o.verdict.end()) << "record " << pos.first << "/" << pos.second << " missing";
    ++table[label][it->second];
  }
  for (const auto& [label, verdicts] : table) {
    for (const auto& [v, n] : verdicts) {
      if (label == "forged" || label == "tampered") {
        EXPECT_EQ(v, "signature.bad") << label << " got " << v << " x" << n;
      } else if (label == "unknown_key") {
        EXPECT_EQ(v, "signature.unknown_key") << label << " got " << v << " x" << n;
      } else if (label == "clock_skew") {
        // A skewed clock may push a reading outside its key's validity window: that is the
        // only non-trusted verdict allowed for it.
        EXPECT_TRUE(v == "trusted" || v == "signature.key_not_valid_at_time") << v;
      } else {
        EXPECT_EQ(v, "trusted") << "honest (" << label << ") record got " << v << " x" << n;
      }
    }
  }
  EXPECT_GT(table["forged"]["signature.bad"], 0);
  EXPECT_GT(table["tampered"]["signature.bad"], 0);
  EXPECT_GT(table["none"]["trusted"], 20000);
}

TEST(VerifySignature, EveryBackendGivesTheSameVerdicts) {
  const auto fleet = simulate(60, 6000, 12);
  const Outcome reference = run(*fleet, "openssl");
  for (crypto::Backend b : crypto::supported_backends()) {
    const std::string name(crypto::backend_name(b));
    const Outcome o = run(*fleet, name);
    ASSERT_TRUE(o.summary.ok);
    EXPECT_EQ(o.verdict, reference.verdict) << "backend " << name;
  }
}

TEST(VerifySignature, ForgeryFloodNeverRejectsAnHonestRecordOfTheAttackedKeys) {
  const auto fleet = simulate(40, 4000, 15);
  // Three keys are flooded: 4 forged copies of their records per honest record of the fleet.
  std::vector<std::vector<uint8_t>> frames;
  std::set<std::string> attacked;
  std::vector<size_t> victim_frames;
  for (size_t i = 0; i < fleet->frames.size(); ++i) {
    const auto bytes = fleet->frames[i];
    if (bytes.size() < 8 || std::memcmp(bytes.data() + 4, "ASRD", 4) != 0) continue;
    const auto* sr = wire::GetSignedReading(bytes.data());
    if (sr->alg() != wire::SignatureAlg::Ed25519) continue;
    if (attacked.size() < 3) attacked.insert(sr->key_id()->str());
    if (attacked.count(sr->key_id()->str())) victim_frames.push_back(i);
  }
  ASSERT_EQ(attacked.size(), 3u);
  std::mt19937 rng(5);
  std::set<int64_t> forged_offsets;
  std::map<int64_t, int64_t> honest_offset;  // offset in `frames` -> offset in the fleet
  for (size_t i = 0; i < fleet->frames.size(); ++i) {
    honest_offset[static_cast<int64_t>(frames.size())] = static_cast<int64_t>(i);
    frames.push_back(fleet->frames[i]);
    for (int k = 0; k < 4; ++k) {
      auto forged = fleet->frames[victim_frames[rng() % victim_frames.size()]];
      const auto* sr = wire::GetSignedReading(forged.data());
      forged[static_cast<size_t>(sr->signature()->data() - forged.data()) + rng() % 64] ^= 0x11;
      forged_offsets.insert(static_cast<int64_t>(frames.size()));
      frames.push_back(std::move(forged));
    }
  }
  // The verdicts without the flood.
  const Outcome quiet = run(*fleet, "auto");
  ASSERT_TRUE(quiet.summary.ok);
  size_t attacked_honest = 0;
  std::map<int64_t, std::string> frame_key;
  for (const auto& [off, orig] : honest_offset) {
    const auto& b = fleet->frames[static_cast<size_t>(orig)];
    if (std::memcmp(b.data() + 4, "ASRD", 4) == 0)
      frame_key[off] = wire::GetSignedReading(b.data())->key_id()->str();
  }
  // Under the flood, with any thread count and batch size: every forged record is verified
  // and rejected as a bad signature (none is throttled), and every other record gets exactly
  // the verdict it gets without the flood, honest records of the attacked keys included.
  for (const auto& [threads, batch] : std::vector<std::pair<int, size_t>>{{1, 256}, {2, 7}, {2, 1024}}) {
    const Outcome o = run(*fleet, "auto", "", &frames, threads, batch);
    ASSERT_TRUE(o.summary.ok);
    for (int64_t off : forged_offsets)
      ASSERT_EQ(o.verdict.at({off, 0}), "signature.bad") << "forged record " << off;
    attacked_honest = 0;
    for (const auto& [pos, v] : o.verdict) {
      const auto it = honest_offset.find(pos.first);
      if (it == honest_offset.end()) continue;
      const std::string& before = quiet.verdict.at({it->second, pos.second});
      ASSERT_EQ(v, before) << "record " << it->second << "/" << pos.second << " (threads "
                           << threads << ", batch " << batch << ")";
      const auto k = frame_key.find(pos.first);
      if (k != frame_key.end() && attacked.count(k->second) != 0 && v == "trusted")
        ++attacked_honest;
    }
  }
  EXPECT_GT(attacked_honest, 100u) << "honest records of the attacked keys are trusted";
}

TEST(VerifySignature, RegistryRefusesBadEntriesButLoadsTheRest) {
  const auto fleet = simulate(20, 200, 13);
  std::ifstream in(fleet->dir / "sensors.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string y = ss.str();
  // Corrupt the first Ed25519 public key (not a point / wrong length) and append a sensor
  // with an unknown algorithm.
  const auto pos = y.find("public_key: \"");
  ASSERT_NE(pos, std::string::npos);
  y.replace(pos + 13, 4, "zzzz");
  y += "  - sensor_id: urn:bad\n    keys:\n      - key_id: bad-k1\n        alg: Rsa4096\n        public_key: \"00\"\n";
  const fs::path bad = fleet->dir / "bad.yaml";
  std::ofstream(bad) << y;
  registries::RegistryLoadReport report;
  auto reg = registries::load_identity_registry(bad.string(), report);
  ASSERT_EQ(report.refused.size(), 2u);
  EXPECT_NE(report.refused[0].find("bad.yaml:"), std::string::npos) << report.refused[0];
  EXPECT_NE(report.refused[0].find("public_key"), std::string::npos) << report.refused[0];
  EXPECT_NE(report.refused[1].find("unknown alg 'Rsa4096'"), std::string::npos) << report.refused[1];
  EXPECT_EQ(report.sensors, 21u);      // every sensor still loads
  EXPECT_EQ(reg->sensor_count(), 21u);
  EXPECT_EQ(reg->find_key("bad-k1"), nullptr);
}

TEST(VerifySignature, RevokedKeyAndLiveReload) {
  const auto fleet = simulate(10, 500, 14);
  const fs::path path = fleet->dir / "sensors.yaml";
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string original = ss.str();
  std::string revoked = original;
  size_t n = 0;
  for (size_t p = revoked.find("revoked: false"); p != std::string::npos;
       p = revoked.find("revoked: false", p + 1), ++n)
    revoked.replace(p, 14, "revoked: true ");
  ASSERT_GT(n, 0u);
  const fs::path rpath = fleet->dir / "revoked.yaml";
  std::ofstream(rpath) << revoked;
  const Outcome o = run(*fleet, "auto", rpath.string());
  for (const auto& [pos, v] : o.verdict) {
    if (fleet->labels.at(pos) == "none") {
      EXPECT_EQ(v, "signature.key_revoked");
    }
  }

  // Live reload: an operator watching a file picks up a change without a restart.
  VerifySignatureConfig cfg;
  const fs::path live = fleet->dir / "live.yaml";
  std::ofstream(live) << original;
  auto store = registries::IdentityStore::open(live.string(), 50);
  cfg.identity = store;
  VerifySignature op(cfg);
  std::string err;
  ASSERT_TRUE(store->start(&err));
  const auto before = op.registry();
  const size_t k = original.find("key_id: ") + 8;
  std::string first_key = original.substr(k, original.find('\n', k) - k);
  if (!first_key.empty() && first_key.front() == '"') first_key = first_key.substr(1, first_key.size() - 2);
  ASSERT_NE(before->find_key(first_key), nullptr) << first_key;
  EXPECT_FALSE(before->find_key(first_key)->revoked);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(live) << revoked;
  for (int i = 0; i < 100 && op.registry() == before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(op.registry(), before) << "registry was not reloaded";
  EXPECT_TRUE(op.registry()->find_key(first_key)->revoked);
  // A broken file is refused and the previous snapshot stays.
  const auto good = op.registry();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::ofstream(live) << "sensors: [ {sensor_id: x, keys: [ {key_id: ";
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(op.registry(), good);
  store->stop();
}

}  // namespace
}  // namespace assay::operators
