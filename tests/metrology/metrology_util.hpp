#pragma once
// Shared set-up of the metrology tests: a small simulated fleet's identity registry,
// calibration certificates and labs (written by the simulator), live stores over them, a plan,
// an engine key, and builders of response readings.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "engine/signing_key.hpp"
#include "engine/time.hpp"
#include "metrology/campaign.hpp"
#include "registries/calibration_registry.hpp"
#include "registries/identity_store.hpp"
#include "schemas/reading_generated.h"
#include "sim/frame_sink.hpp"
#include "sim/simulator.hpp"

namespace assay::metrology::testing {

namespace fs = std::filesystem;

/// 2026-01-01T00:00:00Z: the simulated fleet's first reading.
inline constexpr int64_t kStart = 1'767'225'600'000'000'000;
inline constexpr int64_t kSecond = 1'000'000'000;
inline constexpr int64_t kDay = 86'400 * kSecond;

inline fs::path temp_dir(const std::string& tag) {
  const fs::path d =
      fs::temp_directory_path() / ("assay-metro-" + tag + "-" + std::to_string(getpid()) + "-" +
                                   std::to_string(std::random_device{}()));
  fs::create_directories(d);
  return d;
}

inline void write_text(const fs::path& p, const std::string& s) {
  std::ofstream f(p, std::ios::binary);
  f << s;
}

/// A simulated fleet's side files and live stores over them.
struct Fleet {
  /// Removes `dir` when the last copy of the fleet goes (declared first: destroyed last).
  std::shared_ptr<const fs::path> owner;
  fs::path dir;
  std::shared_ptr<registries::IdentityStore> identity;
  std::shared_ptr<registries::CalibrationStore> calibration;
  std::vector<std::string> temperature;  ///< ids of the temperature sensors (range -40..150 Cel)
  std::vector<std::string> other;        ///< ids of the others
  std::vector<std::vector<uint8_t>> frames;  ///< the simulated records (signed)

  /// The sensor's registry entry.
  const registries::SensorInfo& info(const std::string& id) const {
    return *identity->current()->find_sensor(id);
  }
};

/// Simulates `sensors` sensors (seed 3) with `expired` of them past their certificate.
inline Fleet make_fleet(uint32_t sensors = 40, double expired = 0, uint64_t records = 0) {
  Fleet f;
  f.dir = temp_dir("fleet");
  f.owner = std::shared_ptr<const fs::path>(new fs::path(f.dir), [](const fs::path* p) {
    std::error_code ec;
    fs::remove_all(*p, ec);
    delete p;
  });
  sim::SimConfig c;
  c.sensors = sensors;
  c.records = records == 0 ? sensors : records;
  c.seed = 3;
  c.start_time_ns = kStart;
  c.alg_mix = {1, 0, 0};
  c.registry_path = (f.dir / "sensors.yaml").string();
  c.certs_path = (f.dir / "certificates.yaml").string();
  c.labs_path = (f.dir / "labs.yaml").string();
  std::string err;
  for (const char* spec : {"drift=0", "forged=0", "tampered=0", "replay=0", "unknown_key=0"})
    EXPECT_TRUE(sim::parse_fault(spec, c.faults, err));
  c.faults[sim::Fault::kExpiredCalibration] = expired;
  sim::MemoryFrameSink sink;
  sim::SimSummary summary;
  EXPECT_TRUE(sim::run_simulation(c, sink, summary, err)) << err;
  f.frames = std::move(sink.frames);
  f.identity = registries::IdentityStore::open(c.registry_path);
  registries::CalibrationStoreConfig cc;
  cc.certificates_path = c.certs_path;
  cc.trust_path = c.labs_path;
  cc.identity = f.identity;
  cc.reload_interval_ms = 0;
  f.calibration = std::make_shared<registries::CalibrationStore>(std::move(cc));
  f.identity->current()->for_each_sensor([&](const registries::SensorInfo& s) {
    (s.quantity == "temperature" ? f.temperature : f.other).push_back(s.sensor_id);
  });
  std::sort(f.temperature.begin(), f.temperature.end());
  std::sort(f.other.begin(), f.other.end());
  return f;
}

/// A deterministic engine key.
inline std::shared_ptr<const engine::EngineKey> test_key(uint8_t fill = 7) {
  std::array<uint8_t, 32> seed{};
  seed.fill(fill);
  return engine::EngineKey::from_seed(seed, "engine-test");
}

/// A plan over `instruments` with two temperature cases (20 and 60 Cel, MPE 2 Cel).
inline std::string plan_yaml(const std::vector<std::string>& instruments,
                             int64_t timeout_ms = 5000) {
  std::string y =
      "plan: {id: thermo-q1, title: Remote verification of thermometers, authority: PTB, "
      "decision_rule: guarded}\n"
      "groups:\n"
      "  - id: line-3\n"
      "    instruments:\n";
  for (const auto& i : instruments) y += "      - \"" + i + "\"\n";
  y += "    cases:\n"
       "      - {id: tc-20, reference_value: 20, mpe: 2.0, quantity: temperature, unit: Cel, "
       "stimulus: bath 20 Cel}\n"
       "      - {id: tc-60, reference_value: 60, mpe: {absolute: 1.5, relative: 0.01}}\n"
       "schedule: {start: now, response_timeout_ms: " +
       std::to_string(timeout_ms) + "}\n";
  return y;
}

/// A campaign service over `fleet` running `plan` (no scheduler thread: tests issue campaigns).
inline std::shared_ptr<CampaignService> make_service(const Fleet& fleet,
                                                     const VerificationPlan& plan,
                                                     MemoryPublisher** publisher = nullptr) {
  CampaignConfig cfg;
  cfg.plan = plan;
  cfg.key = test_key();
  auto pub = std::make_unique<MemoryPublisher>();
  if (publisher != nullptr) *publisher = pub.get();
  cfg.publisher = std::move(pub);
  cfg.identity = fleet.identity;
  cfg.calibration = fleet.calibration;
  cfg.pipeline_name = "test";
  cfg.instance_id = "test-1";
  cfg.schedule = false;
  return std::make_shared<CampaignService>(std::move(cfg));
}

/// What a response reading says.
struct Answer {
  std::string sensor;
  std::string request_id;
  double value = 20;
  double reference = 20;
  double u = 0.1;
  bool reference_check = true;
  std::vector<uint8_t> firmware;  ///< empty: none
  int64_t time_ns = kStart + kSecond;
  std::string quantity = "temperature";
  std::string unit = "Cel";
};

/// A Reading buffer (identifier ARDG) for `a`.
inline std::vector<uint8_t> response(const Answer& a) {
  flatbuffers::FlatBufferBuilder fbb;
  auto id = fbb.CreateString(a.sensor);
  auto rid = fbb.CreateString(a.request_id);
  auto q = fbb.CreateString(a.quantity);
  auto un = fbb.CreateString(a.unit);
  auto fw = a.firmware.empty() ? flatbuffers::Offset<flatbuffers::Vector<uint8_t>>()
                               : fbb.CreateVector(a.firmware);
  wire::ReadingBuilder b(fbb);
  b.add_sensor_id(id);
  b.add_seq(100);
  b.add_time_ns(a.time_ns);
  b.add_quantity(q);
  b.add_unit(un);
  b.add_value(a.value);
  b.add_std_uncertainty(a.u);
  if (!fw.IsNull()) b.add_firmware_sha256(fw);
  if (a.reference_check) {
    b.add_kind(wire::ReadingKind::ReferenceCheck);
    b.add_reference_value(a.reference);
  }
  b.add_request_id(rid);
  wire::FinishReadingBuffer(fbb, b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

/// The certificate's correction for `sensor`: the raw value that corrects to `target`.
inline double raw_for(const Fleet& f, const std::string& sensor, double target) {
  const auto found = f.calibration->snapshot()->lookup(sensor, kStart + kSecond);
  if (found.hot == nullptr) return target;
  return (target - found.hot->offset) / found.hot->gain;
}

}  // namespace assay::metrology::testing
