#pragma once
// Issue 12's scenario: one identity registry, four operators (verify_signature, anomaly,
// calibration, drift). The registry changes while the pipeline runs — a key is revoked, a
// firmware approval is withdrawn, a measuring range narrows, a sensor moves to another
// redundancy group — and every operator must act on the new version. Used with the registry
// as a file (tests/operators) and as a compacted topic (tests/kafka, real broker).
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "calibration_util.hpp"
#include "connectors/builtin.hpp"
#include "connectors/memory.hpp"
#include "crypto/ed25519.hpp"
#include "engine/bytes.hpp"
#include "engine/pipeline.hpp"
#include "engine/runner.hpp"
#include "engine/time.hpp"
#include "operators/builtin.hpp"
#include "registries/pipeline.hpp"
#include "schemas/alert_generated.h"
#include "schemas/rejected_record_generated.h"
#include "schemas/signed_reading_generated.h"
#include "schemas/trusted_reading_generated.h"

namespace assay::testing {

class SharedRegistryScenario {
 public:
  static constexpr int kSensors = 9;
  // s1: key revoked; s2: firmware no longer approved; s3: measuring range narrows to 0..10;
  // s4: moves from group G1 (s4, s5, s6 at ~20) to G2 (s7, s8, s9 at ~50).
  SharedRegistryScenario() : dir_(temp_dir("shared-registry")), lab_(make_lab("lab")) {
    for (int i = 0; i < kSensors; ++i) crypto::ed25519_keypair(pub_[i].data(), priv_[i].data());
    now_ = engine::now_ns();
    write_text(dir_ / "labs.yaml", labs_yaml({lab_}));
    std::vector<registries::CalibrationCertificate> certs;
    for (int i = 0; i < kSensors; ++i) {
      auto c = make_cert("c-" + id(i), id(i), now_ - 10 * kDay, now_ + 10 * kDay);
      sign_cert(c, lab_);
      certs.push_back(std::move(c));
    }
    write_text(dir_ / "certs.yaml", registries::to_yaml(certs));
    write_text(dir_ / "sensors.yaml", registry_yaml(false));
    write_text(dir_ / "in.asy", "");  // the pipeline's nominal input (replaced by a queue)
  }

  const std::filesystem::path& dir() const { return dir_; }
  static std::string id(int i) { return "s" + std::to_string(i + 1); }

  // One sensor's registry entry (a list item of `sensors:`, or a topic message's value).
  std::string entry_yaml(int i, bool changed) const {
    std::string y = "sensor_id: " + id(i) + "\nquantity: temperature\nunit: Cel\n";
    const bool narrow = changed && i == 2;
    y +=
        narrow ? "measuring_range: {min: 0, max: 10}\n" : "measuring_range: {min: -40, max: 150}\n";
    const bool withdrawn = changed && i == 1;
    y += "approved_firmware: [\"" + engine::to_hex(withdrawn ? kFirmwareB : kFirmwareA) + "\"]\n";
    const char* group = i >= 3 && i <= 5 ? "G1" : i >= 6 ? "G2" : "";
    if (changed && i == 3) group = "G2";
    if (*group != '\0') y += "redundancy_group: " + std::string(group) + "\n";
    y += "keys:\n  - key_id: k-" + id(i) + "\n    alg: Ed25519\n    public_key: \"" +
         engine::to_hex(pub_[i]) + "\"\n";
    if (changed && i == 0) y += "    revoked: true\n";
    return y;
  }
  std::string registry_yaml(bool changed) const {
    std::string y = "sensors:\n";
    for (int i = 0; i < kSensors; ++i) {
      const std::string e = entry_yaml(i, changed);
      size_t start = 0;
      bool first = true;
      while (start < e.size()) {
        const size_t nl = e.find('\n', start);
        y += (first ? "  - " : "    ") + e.substr(start, nl - start) + "\n";
        first = false;
        start = nl + 1;
      }
    }
    return y;
  }

  // A pipeline with the four operators; `registries` is its registry wiring: either a
  // `registries:` section or per-operator keys (`registry_keys`, `calibration_keys`).
  std::string pipeline_yaml(const std::string& registries_section, const std::string& registry_keys,
                            const std::string& calibration_keys) const {
    const std::string d = dir_.string();
    return "name: shared-registry\n" + registries_section + "input: {type: file, path: " + d +
           "/in.asy}\n"
           "routes:\n  trusted: {type: file, path: " +
           d +
           "/t.asy}\n"
           "  rejected: {type: file, path: " +
           d +
           "/r.asy}\n"
           "  alerts: {type: file, path: " +
           d +
           "/a.asy}\n"
           "operators:\n"
           "  - type: verify_signature\n" +
           registry_keys + "  - type: anomaly\n" + registry_keys +
           "    rate_limit: {rate: 0}\n"
           "  - type: calibration\n" +
           calibration_keys + "  - type: drift\n" + registry_keys +
           "    redundancy: {persistence: 2, min_others: 2, max_age_ms: 600000}\n";
  }

  // Signed readings of every sensor for rounds [first, first + n).
  std::vector<std::vector<uint8_t>> rounds(int first, int n) const {
    std::vector<std::vector<uint8_t>> out;
    for (int r = first; r < first + n; ++r) {
      for (int i = 0; i < kSensors; ++i) {
        ReadingSpec s;
        s.sensor = id(i);
        s.seq = static_cast<uint64_t>(r + 1);
        s.time_ns = now_ + static_cast<int64_t>(r) * 1'000'000'000;
        s.value = (i >= 6 ? 50.0 : 20.0) + 0.01 * ((r * 7 + i) % 5);
        s.firmware.assign(kFirmwareA.begin(), kFirmwareA.end());
        const auto body = build_reading(s);
        std::vector<uint8_t> sig(64);
        crypto::ed25519_sign(priv_[i].data(), body.data(), body.size(), sig.data());
        flatbuffers::FlatBufferBuilder fbb;
        fbb.ForceVectorAlignment(body.size(), 1, 8);
        const auto b = fbb.CreateVector(body);
        const auto k = fbb.CreateString("k-" + id(i));
        const auto sv = fbb.CreateVector(sig);
        wire::SignedReadingBuilder sb(fbb);
        sb.add_body(b);
        sb.add_key_id(k);
        sb.add_alg(wire::SignatureAlg::Ed25519);
        sb.add_signature(sv);
        wire::FinishSignedReadingBuffer(fbb, sb.Finish());
        out.emplace_back(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
      }
    }
    return out;
  }

  // What came out, by sensor: "trusted" or the reject reason of each reading, and alert kinds.
  struct Outcome {
    std::map<std::string, std::map<std::string, int>> verdicts;  // sensor -> verdict -> count
    std::map<std::string, std::map<std::string, int>> alarms;    // sensor -> alert kind -> alarms
  };

  // Runs the pipeline file `pipeline_file`: rounds 0..9, then `change()` (which must change
  // the registry), waits until the identity registry published a new snapshot, then rounds
  // 10..19. Returns the outcomes of both phases and the delay of the switch.
  // `applied` (optional) says when the whole change is visible (a topic's messages may be
  // applied one at a time); by default the first new snapshot is the change.
  void run(const std::string& pipeline_file, const std::function<void()>& change, Outcome& before,
           Outcome& after, double& switch_seconds,
           const std::function<bool(const registries::IdentityRegistry&)>& applied = {}) {
    engine::Registries reg;
    operators::register_builtin_operators(reg.operators);
    connectors::register_builtin_connectors(reg);
    registries::register_sections(reg);
    engine::Metrics metrics;
    std::unique_ptr<engine::Pipeline> p = engine::load_pipeline(pipeline_file, reg, metrics);
    ASSERT_TRUE(p->warnings.empty()) << p->warnings.front();
    const auto stores = p->services.all<registries::IdentityStore>();
    ASSERT_EQ(stores.size(), 1u) << "the four operators must share one identity registry";
    const auto identity = stores.front();
    auto source = std::make_unique<connectors::QueueSource>();
    connectors::QueueSource* queue = source.get();
    p->source = std::move(source);
    std::array<connectors::MemorySink*, 3> sinks{};
    for (size_t r = 0; r < 3; ++r) {
      auto s = std::make_unique<connectors::MemorySink>();
      sinks[r] = s.get();
      p->sinks[r] = std::move(s);
    }
    engine::Runner runner(*p, metrics);
    engine::RunSummary summary;
    std::thread worker([&] { summary = runner.run(); });
    auto feed = [&](int first, int n) {
      for (auto& f : rounds(first, n)) queue->push(std::move(f));
      const uint64_t want = static_cast<uint64_t>((first + n) * kSensors);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (runner.stats().frames_in.load() < want && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      EXPECT_EQ(runner.stats().frames_in.load(), want);
    };
    // Wait for the topic's initial content (if any) before the first records.
    for (int i = 0; i < 6000 && !identity->ready(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    feed(0, 10);
    const size_t t0 = sinks[0]->count(), r0 = sinks[1]->count(), a0 = sinks[2]->count();
    const uint64_t generation = identity->generation();
    const auto changed_at = std::chrono::steady_clock::now();
    change();
    auto done = [&] {
      if (identity->generation() == generation) return false;
      return !applied || applied(*identity->current());
    };
    while (!done() && std::chrono::steady_clock::now() - changed_at < std::chrono::seconds(60))
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    EXPECT_TRUE(done()) << "the registry change was not published within 60 s";
    switch_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - changed_at).count();
    feed(10, 10);
    queue->close();
    worker.join();
    ASSERT_TRUE(summary.ok) << summary.error;
    collect(*sinks[0], *sinks[1], *sinks[2], 0, t0, 0, r0, 0, a0, before);
    collect(*sinks[0], *sinks[1], *sinks[2], t0, SIZE_MAX, r0, SIZE_MAX, a0, SIZE_MAX, after);
  }

  // The checks: before the change everything is trusted and no drift alarm; after it every
  // operator acts on the new registry.
  static void check(const Outcome& before, const Outcome& after) {
    for (int i = 0; i < kSensors; ++i) {
      const auto& v = before.verdicts.at(id(i));
      EXPECT_EQ(v.size(), 1u) << id(i);
      EXPECT_EQ(v.count("trusted") ? v.at("trusted") : 0, 10) << id(i);
    }
    EXPECT_TRUE(before.alarms.empty());
    auto only = [&](int i, const std::string& verdict) {
      const auto& v = after.verdicts.at(id(i));
      EXPECT_EQ(v.size(), 1u) << id(i) << " got " << v.begin()->first;
      EXPECT_EQ(v.count(verdict) ? v.at(verdict) : 0, 10) << id(i) << " expected " << verdict;
    };
    only(0, "signature.key_revoked");              // verify_signature
    only(1, "calibration.firmware_not_approved");  // calibration (through its identity)
    only(2, "anomaly.outside_physical_range");     // anomaly
    for (int i = 3; i < kSensors; ++i) only(i, "trusted");
    // drift: s4 now compares with G2 (values ~50) and raises a redundancy alarm; nobody else.
    ASSERT_EQ(after.alarms.count("s4"), 1u);
    EXPECT_GE(after.alarms.at("s4").count("drift.redundancy"), 1u);
    EXPECT_EQ(after.alarms.size(), 1u);
  }

 private:
  static void collect(const connectors::MemorySink& t, const connectors::MemorySink& r,
                      const connectors::MemorySink& a, size_t t_from, size_t t_to, size_t r_from,
                      size_t r_to, size_t a_from, size_t a_to, Outcome& out) {
    const auto trusted = t.records(), rejected = r.records(), alerts = a.records();
    for (size_t k = t_from; k < std::min(t_to, trusted.size()); ++k)
      out.verdicts[wire::GetTrustedReading(trusted[k].data())->sensor_id()->str()]["trusted"]++;
    for (size_t k = r_from; k < std::min(r_to, rejected.size()); ++k) {
      const auto* rr = wire::GetRejectedRecord(rejected[k].data());
      out.verdicts[rr->sensor_id() ? rr->sensor_id()->str() : "?"][rr->reason()->str()]++;
    }
    for (size_t k = a_from; k < std::min(a_to, alerts.size()); ++k) {
      const auto* al = wire::GetAlert(alerts[k].data());
      if (al->level() == wire::AlertLevel::Alarm && al->kind()->str().rfind("drift.", 0) == 0)
        out.alarms[al->sensor_id()->str()][al->kind()->str()]++;
    }
  }

  /// True once `r` holds every change of registry_yaml(true).
 public:
  static bool fully_changed(const registries::IdentityRegistry& r) {
    const auto* k1 = r.find_key("k-s1");
    const auto* s2 = r.find_sensor("s2");
    const auto* s3 = r.find_sensor("s3");
    const auto* s4 = r.find_sensor("s4");
    return k1 != nullptr && k1->revoked && s2 != nullptr && !s2->approved_firmware.empty() &&
           s2->approved_firmware[0] == kFirmwareB && s3 != nullptr && s3->range_max == 10.0 &&
           s4 != nullptr && s4->redundancy_group == "G2";
  }

 private:
  static constexpr std::array<uint8_t, 32> kFirmwareA = {0xAA, 0xAA, 0xAA, 0xAA};
  static constexpr std::array<uint8_t, 32> kFirmwareB = {0xBB, 0xBB, 0xBB, 0xBB};
  std::filesystem::path dir_;
  TestLab lab_;
  std::array<std::array<uint8_t, 32>, kSensors> pub_{}, priv_{};
  int64_t now_ = 0;
};

}  // namespace assay::testing
