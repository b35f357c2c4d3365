#include "sim/simulator.hpp"

#include <fcntl.h>
#include <openssl/sha.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <numbers>
#include <thread>
#include <vector>

#include "registries/calibration_certificate.hpp"
#include "engine/framing.hpp"
#include "connectors/record_json.hpp"
#include "engine/log.hpp"
#include "engine/files.hpp"
#include "engine/tsan.hpp"
#include "engine/time.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "sim/instrument_records.hpp"
#include "sim/keys.hpp"
#include "sim/rng.hpp"

namespace assay::sim {

namespace {

namespace w = assay::wire;
namespace fs = std::filesystem;

constexpr int64_t kNsPerSec = 1'000'000'000;
constexpr int64_t kNsPerMs = 1'000'000;
constexpr int64_t kNsPerDay = 86400 * kNsPerSec;
constexpr int kStuckRun = 10;
constexpr int kReferenceEvery = 50;
constexpr double kSpikeSigma = 20.0;
constexpr size_t kChunkFrames = 4096;
constexpr int kFirmwareVersions = 3;
constexpr int kLabs = 3;
constexpr uint32_t kOcmfTxRecords = 10;    // records per OCMF transaction
constexpr uint64_t kOcmfSeqPerPage = 256;  // Assay's OCMF seq = PG x 256 + RD index
constexpr int64_t kOcmfMinTamperE4 = 10;   // a tampered RV moves by at least 0.001 kWh

constexpr std::string_view kFaultNames[kFaultCount] = {
    "none", "forged", "tampered", "replay", "unknown_key", "drift", "spike", "stuck", "clock_skew",
    "expired_calibration"};

struct QuantitySpec {
  const char* quantity;
  const char* unit;
  double range_min, range_max;
};

constexpr QuantitySpec kQuantities[] = {
    {"temperature", "Cel", -40, 150},
    {"pressure", "Pa", 80000, 120000},
    {"mass", "kg", 0, 60},
    {"voltage", "V", 0, 400},
};

// What an OCMF meter measures, as Assay's ocmf format maps it (kWh -> kW.h).
constexpr QuantitySpec kOcmfEnergy = {"energy", "kW.h", 0, 1e7};

struct KeySlot {
  std::string key_id;
  std::unique_ptr<SigningKey> key;
  int64_t valid_from = 0, valid_until = 0;
  std::string secret_file;  // HMAC: path written into the registry
  std::array<uint8_t, 32> seed{};
};

struct PlannedReading {
  std::string request_id;        // set on an answer to a verification request
  Answer answer = Answer::kHonest;
  bool unapproved_firmware = false;  // a wrong_firmware instrument after its first request
  uint64_t seq = 0;
  int64_t time_ns = 0;
  double value = 0;
  double u = 0;
  bool reference = false;
  double reference_value = 0;
  Fault label = Fault::kNone;
  char time_status = 'S';    // OCMF: TM status (U for a clock_skew reading)
  int64_t register_e4 = 0;  // OCMF: RV in 0.0001 kWh
};

struct Sensor {
  uint32_t index = 0;
  std::string id, short_id, owner, group;
  int quantity = 0;
  double base = 0, amplitude = 0, period_s = 1, phase = 0, u = 0, static_error = 0;
  bool batch = false, reference_checker = false;
  double reference_value = 0;
  Alg alg = Alg::kEd25519;
  std::vector<KeySlot> keys;
  std::array<uint8_t, 32> firmware{};
  int firmware_version = 0;
  // OCMF: the meter's register model and its pagination / transaction counters (planning).
  std::string charge_point;
  double ocmf_mean_inc = 0;  // mean register increment per reading (kWh)
  int64_t ocmf_offset_e4 = 0;  // static error of the register (0.0001 kWh)
  int64_t register_e4 = 0;
  uint64_t ocmf_pg = 0;      // last PG of a record that counts (one that verifies)
  uint32_t ocmf_tx_pos = 0;  // records of the open transaction so far
  Fault sensor_fault = Fault::kNone;
  bool flashed = false;  // runs unapproved firmware (wrong_firmware, from its first request on)
  uint64_t n_readings = 0;
  uint64_t drift_start_seq = 0;
  double drift_per_reading = 0;
  int64_t phase_offset_ns = 0;
  Rng rng;
  // Planning state.
  int stuck_left = 0;
  double stuck_value = 0;
  std::vector<PlannedReading> pending;
  bool replay_planned = false;  // a replay source exists by the time the next frame is written
  // Write-phase state: the frame a replay re-sends.
  std::vector<uint8_t> replay_bytes;
  std::vector<uint64_t> replay_seqs;
  bool replay_batch = false;
};

struct PlannedFrame {
  uint32_t sensor = 0;
  Fault fault = Fault::kNone;  // frame-level fault (forged, tampered, unknown_key, replay)
  bool batch = false;
  uint8_t key_slot = 0;
  bool store_replay = false;
  uint64_t fault_seed = 0;
  uint64_t ocmf_pg = 0;       // OCMF: PG of the record
  bool ocmf_tx_begin = false;  // OCMF: the record opens a transaction (first RD: TX B)
  bool ocmf_tx_end = false;    // OCMF: the record closes it (last RD: TX E)
  std::vector<PlannedReading> readings;
  std::vector<uint8_t> out;
  bool ok = true;
};

struct Lab {
  std::string lab_id, key_id;
  std::unique_ptr<SigningKey> key;
};

std::string hex(std::span<const uint8_t> b) {
  std::string s;
  connectors::append_hex(s, b);
  return s;
}

std::string fmt_time(int64_t ns) { return engine::format_rfc3339(ns); }

bool write_file(const std::string& path, std::string_view content, mode_t mode, std::string& error) {
  return engine::write_file(path, content, mode, engine::Overwrite::kReplace, error);
}

bool parse_rate_value(std::string_view v, double& out) {
  const char* b = v.data();
  const char* e = v.data() + v.size();
  auto r = std::from_chars(b, e, out);
  return r.ec == std::errc() && r.ptr == e && std::isfinite(out) && out >= 0;
}

double process_cpu_seconds() {
  rusage ru{};
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  auto sec = [](const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

std::array<uint8_t, 32> seed_bytes(Rng& rng) {
  std::array<uint8_t, 32> s{};
  rng.bytes(s.data(), s.size());
  return s;
}

class Simulation {
 public:
  Simulation(const SimConfig& c, FrameSink& sink, SimSummary& summary)
      : c_(c), sink_(sink), sum_(summary) {}

  bool run(std::string& error);

 private:
  bool make_fleet(std::string& error);
  bool choose_answers(std::string& error);
  bool write_side_files(std::string& error);
  void plan_chunk(std::vector<PlannedFrame>& chunk);
  void plan_reading(Sensor& s, uint64_t k, std::vector<PlannedFrame>& chunk);
  void emit_frame(Sensor& s, std::vector<PlannedFrame>& chunk);
  void build_frame(PlannedFrame& f) const;
  void build_ocmf(PlannedFrame& f) const;
  void build_senml_cose(PlannedFrame& f) const;
  uint64_t out_seq(const PlannedFrame& f, size_t i) const;
  const QuantitySpec& quantity_of(const Sensor& s) const {
    return c_.format == SimFormat::kOcmf ? kOcmfEnergy : kQuantities[s.quantity];
  }
  void build_body(flatbuffers::FlatBufferBuilder& fbb, const Sensor& s, const PlannedFrame& f,
                  int tamper_index, double tamper_delta) const;
  bool write_chunk(std::vector<PlannedFrame>& chunk, std::string& error);
  void append_label(uint64_t record, size_t reading, const Sensor& s, uint64_t seq, Fault f);

  const SimConfig& c_;
  FrameSink& sink_;
  SimSummary& sum_;
  std::vector<Sensor> sensors_;
  std::vector<Lab> labs_;
  std::array<std::array<uint8_t, 32>, kFirmwareVersions> firmware_{};
  std::array<uint8_t, 32> unapproved_firmware_{};  // reported by wrong_firmware answers
  std::vector<Answer> answers_;                    // per sensor (with a responder)
  size_t chunk_frames_ = kChunkFrames;
  std::array<std::unique_ptr<SigningKey>, 3> forger_;  // "other key" of forged records
  std::array<std::unique_ptr<SigningKey>, 3> rogue_;   // keys of unknown_key records
  int64_t start_ns_ = 0;
  int64_t interval_ns_ = 0;
  uint64_t max_ticks_ = 0;
  // Planning cursor.
  uint64_t tick_ = 0;
  uint32_t pos_ = 0;
  // Writing.
  uint64_t frame_index_ = 0;
  engine::FrameWriter labels_;
  bool labels_open_ = false;
  std::string label_buf_;
  int64_t wall_start_ = 0;
};

bool Simulation::make_fleet(std::string& error) {
  const uint32_t n = c_.sensors;
  Rng global(c_.seed, 0);
  interval_ns_ = c_.interval_ms * kNsPerMs;
  max_ticks_ = (c_.records + n - 1) / n;
  const int64_t duration = static_cast<int64_t>(max_ticks_) * interval_ns_;
  if (c_.start_time_ns) {
    start_ns_ = *c_.start_time_ns;
  } else {
    // Whole seconds, so that all times print compactly.
    start_ns_ = (engine::now_ns() - duration) / kNsPerSec * kNsPerSec;
  }
  sum_.start_time_ns = start_ns_;
  sum_.end_time_ns = start_ns_ + duration;

  for (int v = 0; v < kFirmwareVersions; ++v) {
    const std::string text =
        "assay-sim firmware v" + std::to_string(v + 1) + " seed " + std::to_string(c_.seed);
    SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), firmware_[v].data());
  }
  {
    const std::string text = "assay-sim unapproved firmware seed " + std::to_string(c_.seed);
    SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), unapproved_firmware_.data());
  }
  for (int a = 0; a < 3; ++a) {
    auto s1 = seed_bytes(global);
    auto s2 = seed_bytes(global);
    forger_[a] = SigningKey::from_seed(static_cast<Alg>(a), s1);
    rogue_[a] = SigningKey::from_seed(static_cast<Alg>(a), s2);
    if (!forger_[a] || !rogue_[a]) {
      error = "key generation failed";
      return false;
    }
  }
  for (int l = 0; l < kLabs; ++l) {
    Lab lab;
    lab.lab_id = "lab-" + std::to_string(l + 1);
    lab.key_id = lab.lab_id + "-k1";
    auto s = seed_bytes(global);
    lab.key = SigningKey::from_seed(Alg::kEd25519, s);
    if (!lab.key) {
      error = "key generation failed";
      return false;
    }
    labs_.push_back(std::move(lab));
  }

  // Sensor-level faults: exact counts, sensors picked by a seeded shuffle.
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  for (uint32_t i = n; i > 1; --i) std::swap(order[i - 1], order[global.below(i)]);
  auto count_for = [&](Fault f) {
    const double r = c_.faults[f];
    if (r <= 0) return uint32_t{0};
    auto k = static_cast<uint32_t>(std::llround(r * n));
    return std::min(n, std::max<uint32_t>(k, 1));
  };
  const uint32_t n_drift = count_for(Fault::kDrift);
  const uint32_t n_expired = std::min(n - n_drift, count_for(Fault::kExpiredCalibration));

  const double mix_total = c_.alg_mix.ed25519 + c_.alg_mix.ecdsa + c_.alg_mix.hmac;
  const uint32_t groups = static_cast<uint32_t>(n * 0.15 / 3);
  const int64_t key_from = start_ns_ - 30 * kNsPerDay;
  const int64_t key_until = start_ns_ + duration + 365 * kNsPerDay;
  const int64_t batch_span = static_cast<int64_t>(c_.batch_size) * interval_ns_;

  sensors_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Sensor& s = sensors_[i];
    s.index = i;
    s.rng = Rng(c_.seed, uint64_t{i} + 1);
    Rng& r = s.rng;
    char num[16];
    std::snprintf(num, sizeof num, "%06u", i + 1);
    s.id = "urn:assay:sim:" + std::to_string(c_.seed) + ":sensor:" + num;
    s.short_id = std::string("s") + num;
    s.owner = "plant-" + std::to_string(1 + i % 3);
    s.n_readings = c_.records / n + (i < c_.records % n ? 1 : 0);
    s.phase_offset_ns = static_cast<int64_t>(r.below(static_cast<uint64_t>(interval_ns_)));
    const bool grouped = i < groups * 3;
    if (grouped && i % 3 != 0) {
      // Same measurand as the group's first member.
      const Sensor& g = sensors_[i - i % 3];
      s.quantity = g.quantity;
      s.base = g.base;
      s.amplitude = g.amplitude;
      s.period_s = g.period_s;
      s.phase = g.phase;
      s.u = g.u * r.uniform(0.8, 1.25);
      s.group = g.group;
    } else {
      const double q = r.uniform();
      s.quantity = q < 0.4 ? 0 : q < 0.65 ? 1 : q < 0.85 ? 2 : 3;
      switch (s.quantity) {
        case 0: s.base = r.uniform(20, 80); s.amplitude = r.uniform(0.5, 5); s.u = r.uniform(0.05, 0.2); break;
        case 1: s.base = 101325 + r.uniform(-2000, 2000); s.amplitude = r.uniform(50, 500); s.u = r.uniform(5, 20); break;
        case 2: s.base = r.uniform(1, 50); s.amplitude = r.uniform(0.001, 0.05); s.u = r.uniform(0.0005, 0.002); break;
        default: s.base = 230 + r.uniform(-5, 5); s.amplitude = r.uniform(0.5, 3); s.u = r.uniform(0.05, 0.2); break;
      }
      s.period_s = r.uniform(600, 7200);
      s.phase = r.uniform(0, 2 * std::numbers::pi);
      if (grouped) s.group = "line-" + std::to_string(i / 3 + 1) + "-" + kQuantities[s.quantity].quantity;
    }
    const double static_error_draw = r.uniform(-1, 1);
    s.static_error = s.u * static_error_draw;
    s.batch = r.chance(c_.batch_fraction);
    s.reference_checker = r.chance(0.05);
    // The reference standard: a round value near the operating point.
    s.reference_value = std::round(s.base);
    const double a = r.uniform() * mix_total;
    s.alg = a < c_.alg_mix.ed25519 ? Alg::kEd25519
            : a < c_.alg_mix.ed25519 + c_.alg_mix.ecdsa ? Alg::kEcdsaP256
                                                        : Alg::kHmac;
    if (mix_total <= 0) s.alg = Alg::kEd25519;
    if (c_.format == SimFormat::kOcmf) s.alg = Alg::kEcdsaP256;  // every meter: P-256
    sum_.alg_sensors[static_cast<size_t>(s.alg)]++;
    s.firmware_version = static_cast<int>(r.below(kFirmwareVersions));
    s.firmware = firmware_[s.firmware_version];
    const bool rotation = r.chance(0.05);
    const int nkeys = rotation ? 2 : 1;
    for (int k = 0; k < nkeys; ++k) {
      KeySlot slot;
      slot.key_id = s.short_id + "-k" + std::to_string(k + 1);
      slot.seed = seed_bytes(r);  // the key itself is made below, in parallel
      slot.valid_from = key_from;
      slot.valid_until = key_until;
      s.keys.push_back(std::move(slot));
    }
    if (c_.format == SimFormat::kOcmf) {
      // An energy meter: one key named by the meter identity (Assay's OCMF key_id = MS), a
      // register that counts up. Its own random stream: the fleet's other draws are unchanged.
      s.keys.resize(1);
      s.keys[0].key_id = s.id;
      Rng er(c_.seed, 0x4F434D46'00000000ULL + i);
      const double power_kw = er.uniform(3.7, 22.0);
      s.ocmf_mean_inc = power_kw * static_cast<double>(c_.interval_ms) / 3.6e6;
      s.u = std::max(0.05 * s.ocmf_mean_inc, 1e-4);  // sigma of an increment (kWh)
      s.static_error = s.u * static_error_draw;
      s.ocmf_offset_e4 = std::llround(s.static_error * 1e4);
      s.register_e4 = std::llround(er.uniform(100, 50000)) * 10000;
      s.charge_point = "DE*ASY*E" + std::to_string(c_.seed) + "*" + num;
    } else if (rotation) {
      // k1 until 60 % of the run (+ one batch), k2 from 40 %: overlap in the middle.
      s.keys[0].valid_until = start_ns_ + duration * 6 / 10 + batch_span + interval_ns_;
      s.keys[1].valid_from = start_ns_ + duration * 4 / 10;
    }
  }
  // Key generation (an EC scalar multiplication each) in parallel; seeds were drawn in order.
  std::atomic<bool> keys_ok{true};
  tbb::task_arena arena(c_.threads == 0 ? tbb::task_arena::automatic : static_cast<int>(c_.threads));
  arena.execute([&] {
    engine::tsan::parallel_for_chunks(sensors_.size(), 64, [&](size_t begin, size_t end) {
      for (size_t i = begin; i != end; ++i) {
        for (auto& slot : sensors_[i].keys) {
          slot.key = SigningKey::from_seed(sensors_[i].alg, slot.seed);
          if (!slot.key) keys_ok = false;
          slot.seed.fill(0);
        }
      }
    });
  });
  if (!keys_ok) {
    error = "key generation failed";
    return false;
  }
  if (c_.drift_observable) {
    // Observable sensors first, at most one per redundancy group (so that the other members
    // of a group stay a healthy majority).
    std::vector<uint32_t> picked, rest;
    std::vector<std::string> groups_used;
    for (uint32_t i : order) {
      const Sensor& s = sensors_[i];
      const bool in_used_group =
          !s.group.empty() &&
          std::find(groups_used.begin(), groups_used.end(), s.group) != groups_used.end();
      if ((s.reference_checker || !s.group.empty()) && !in_used_group && picked.size() < n_drift) {
        picked.push_back(i);
        if (!s.group.empty()) groups_used.push_back(s.group);
      } else {
        rest.push_back(i);
      }
    }
    order = std::move(picked);
    order.insert(order.end(), rest.begin(), rest.end());
  }
  for (uint32_t j = 0; j < n_drift; ++j) {
    Sensor& s = sensors_[order[j]];
    s.sensor_fault = Fault::kDrift;
    s.drift_start_seq = static_cast<uint64_t>(static_cast<double>(s.n_readings) * s.rng.uniform(0.2, 0.5));
    const double remaining = static_cast<double>(std::max<uint64_t>(1, s.n_readings - s.drift_start_seq));
    // Reaches 6 sigma by the last reading.
    s.drift_per_reading = (s.rng.chance(0.5) ? 6.0 : -6.0) * s.u / remaining;
  }
  for (uint32_t j = n_drift; j < n_drift + n_expired; ++j) sensors_[order[j]].sensor_fault = Fault::kExpiredCalibration;
  return true;
}

bool Simulation::choose_answers(std::string& error) {
  if (!c_.responder) return true;
  chunk_frames_ = 64;
  const uint32_t n = static_cast<uint32_t>(sensors_.size());
  answers_.assign(n, Answer::kHonest);
  Rng r(c_.seed, 0xA5A5'0001ULL);  // its own stream: the faults are unchanged
  std::vector<uint32_t> order(n);
  for (uint32_t i = 0; i < n; ++i) order[i] = i;
  for (uint32_t i = n; i > 1; --i) std::swap(order[i - 1], order[r.below(i)]);
  uint32_t next = 0;
  for (size_t a = 1; a < kAnswerCount; ++a) {
    const double rate = c_.answer_rates[a];
    if (rate <= 0) continue;
    const auto k = std::max<uint32_t>(1, static_cast<uint32_t>(std::llround(rate * n)));
    for (uint32_t j = 0; j < k && next < n; ++j) answers_[order[next++]] = static_cast<Answer>(a);
  }
  std::unordered_map<std::string, uint32_t> index;
  for (const Sensor& s : sensors_) index.emplace(s.id, s.index);
  c_.responder->set_fleet(std::move(index), answers_);
  if (!c_.answers_path.empty()) {
    std::string text;
    for (const Sensor& s : sensors_) {
      text += "{\"sensor_id\":";
      connectors::append_json_string(text, s.id);
      text += ",\"answer\":\"";
      text += answer_name(answers_[s.index]);
      text += "\",\"fault\":\"";
      text += fault_name(s.sensor_fault);
      text += "\"}\n";
    }
    if (!write_file(c_.answers_path, text, 0644, error)) return false;
  }
  return true;
}

bool Simulation::write_side_files(std::string& error) {
  const int64_t duration = sum_.end_time_ns - start_ns_;
  // HMAC secrets.
  fs::path keys_dir;
  fs::path registry_dir;
  if (!c_.registry_path.empty()) {
    registry_dir = fs::path(c_.registry_path).parent_path();
    if (registry_dir.empty()) registry_dir = ".";
  }
  if (!c_.keys_dir.empty()) {
    keys_dir = c_.keys_dir;
  } else if (!c_.registry_path.empty()) {
    keys_dir = registry_dir / "keys";
  }
  bool any_hmac = false;
  for (const auto& s : sensors_) any_hmac = any_hmac || s.alg == Alg::kHmac;
  if (any_hmac && !keys_dir.empty()) {
    std::error_code ec;
    fs::create_directories(keys_dir, ec);
    if (ec) {
      error = "cannot create " + keys_dir.string() + ": " + ec.message();
      return false;
    }
    for (auto& s : sensors_) {
      if (s.alg != Alg::kHmac) continue;
      for (auto& k : s.keys) {
        const fs::path file = keys_dir / (k.key_id + ".secret");
        if (!write_file(file.string(), hex(k.key->secret()) + "\n", 0600, error)) return false;
        std::error_code ec2;
        fs::path rel;
        if (!registry_dir.empty()) {
          rel = fs::absolute(file, ec2).lexically_normal().lexically_relative(
              fs::absolute(registry_dir, ec2).lexically_normal());
        }
        k.secret_file = (ec2 || rel.empty()) ? fs::absolute(file, ec2).string() : rel.string();
      }
    }
  }

  if (!c_.registry_path.empty()) {
    std::string y = "# Identity registry written by `assay simulate --seed " + std::to_string(c_.seed) + "`\n";
    y += "sensors:\n";
    std::string fw = "[";
    for (int v = 0; v < kFirmwareVersions; ++v) {
      if (v != 0) fw += ", ";
      fw += "\"" + hex(firmware_[v]) + "\"";
    }
    fw += "]";
    for (const auto& s : sensors_) {
      const auto& q = quantity_of(s);
      y += "  - sensor_id: " + registries::yaml_scalar(s.id) + "\n";
      y += "    owner: " + registries::yaml_scalar(s.owner) + "\n";
      if (!s.group.empty()) y += "    redundancy_group: " + registries::yaml_scalar(s.group) + "\n";
      y += std::string("    quantity: ") + q.quantity + "\n";
      y += std::string("    unit: ") + q.unit + "\n";
      y += "    measuring_range: {min: " + registries::yaml_double(q.range_min) +
           ", max: " + registries::yaml_double(q.range_max) + "}\n";
      y += "    approved_firmware: " + fw + "\n";
      y += "    keys:\n";
      for (const auto& k : s.keys) {
        y += "      - key_id: " + registries::yaml_scalar(k.key_id) + "\n";
        y += std::string("        alg: ") + std::string(alg_registry_name(s.alg)) + "\n";
        if (s.alg == Alg::kHmac) {
          y += "        secret_file: " + registries::yaml_scalar(k.secret_file) + "\n";
        } else {
          y += "        public_key: \"" + hex(k.key->public_key()) + "\"\n";
        }
        y += "        valid_from: " + fmt_time(k.valid_from) + "\n";
        y += "        valid_until: " + fmt_time(k.valid_until) + "\n";
        y += "        revoked: false\n";
      }
    }
    if (!write_file(c_.registry_path, y, 0644, error)) return false;
  }

  if (!c_.labs_path.empty()) {
    std::string y = "labs:\n";
    for (const auto& l : labs_) {
      y += "  - lab_id: " + l.lab_id + "\n";
      y += "    key_id: " + l.key_id + "\n";
      y += "    alg: Ed25519\n";
      y += "    public_key: \"" + hex(l.key->public_key()) + "\"\n";
    }
    if (!write_file(c_.labs_path, y, 0644, error)) return false;
  }

  if (!c_.certs_path.empty()) {
    std::vector<registries::CalibrationCertificate> certs;
    certs.reserve(sensors_.size());
    for (const auto& s : sensors_) {
      const auto& q = quantity_of(s);
      const Lab& lab = labs_[s.index % kLabs];
      registries::CalibrationCertificate c;
      char num[16];
      std::snprintf(num, sizeof num, "%06u", s.index + 1);
      c.certificate_id = "urn:assay:sim:" + std::to_string(c_.seed) + ":cert:" + num;
      c.sensor_id = s.id;
      c.lab_id = lab.lab_id;
      if (s.sensor_fault == Fault::kExpiredCalibration) {
        c.valid_from_ns = start_ns_ - 400 * kNsPerDay;
        c.valid_until_ns = start_ns_ - kNsPerDay;
      } else {
        c.valid_from_ns = start_ns_ - 180 * kNsPerDay;
        c.valid_until_ns = start_ns_ + duration + 185 * kNsPerDay;
      }
      c.issue_date_ns = c.valid_from_ns;
      c.quantity = q.quantity;
      c.unit = q.unit;
      // Corrected value = raw - static error.
      c.correction.offset = -s.static_error;
      c.correction.gain = 1;
      c.expanded_uncertainty = s.u;  // U (k = 2) of the calibration: half the reading's sigma
      c.coverage_factor = 2;
      c.mpe_initial = {3 * s.u, 0};
      c.mpe_in_service = {6 * s.u, 0};
      c.range_min = q.range_min;
      c.range_max = q.range_max;
      c.conformity = "pass";
      c.lab_key_id = lab.key_id;
      c.signature_alg = "Ed25519";
      certs.push_back(std::move(c));
    }
    // Each lab signs the canonical bytes of its certificates (in parallel; Ed25519 is deterministic).
    std::atomic<bool> signed_ok{true};
    tbb::task_arena arena(c_.threads == 0 ? tbb::task_arena::automatic : static_cast<int>(c_.threads));
    arena.execute([&] {
      engine::tsan::parallel_for_chunks(certs.size(), 64, [&](size_t begin, size_t end) {
        for (size_t i = begin; i != end; ++i) {
          auto& c = certs[i];
          const std::string canon = registries::canonical_bytes(c);
          if (!labs_[i % kLabs].key->sign({reinterpret_cast<const uint8_t*>(canon.data()), canon.size()}, c.signature))
            signed_ok = false;
        }
      });
    });
    if (!signed_ok) {
      error = "certificate signing failed";
      return false;
    }
    if (!write_file(c_.certs_path, registries::to_yaml(certs), 0644, error)) return false;
  }
  return true;
}

void Simulation::plan_chunk(std::vector<PlannedFrame>& chunk) {
  const uint32_t n = static_cast<uint32_t>(sensors_.size());
  while (chunk.size() < chunk_frames_ && tick_ < max_ticks_) {
    Sensor& s = sensors_[pos_];
    if (tick_ < s.n_readings) plan_reading(s, tick_, chunk);
    if (++pos_ == n) {
      pos_ = 0;
      ++tick_;
    }
  }
}

void Simulation::plan_reading(Sensor& s, uint64_t k, std::vector<PlannedFrame>& chunk) {
  Rng& r = s.rng;
  PlannedReading pr;
  pr.seq = k + 1;
  pr.time_ns = start_ns_ + static_cast<int64_t>(k) * interval_ns_ + s.phase_offset_ns;
  pr.u = s.u;
  const double t = static_cast<double>(pr.time_ns - start_ns_) / 1e9;
  const double truth = s.base + s.amplitude * std::sin(2 * std::numbers::pi * t / s.period_s + s.phase);
  double bias = s.static_error;
  if (s.sensor_fault == Fault::kDrift && pr.seq > s.drift_start_seq) {
    bias += s.drift_per_reading * static_cast<double>(pr.seq - s.drift_start_seq);
    pr.label = Fault::kDrift;
  }
  if (s.sensor_fault == Fault::kExpiredCalibration) pr.label = Fault::kExpiredCalibration;
  // Only Assay's own records can mark a reference check.
  pr.reference = c_.format == SimFormat::kAssay && s.reference_checker && pr.seq % kReferenceEvery == 0;
  if (pr.reference) pr.reference_value = s.reference_value;
  pr.value = (pr.reference ? s.reference_value : truth) + bias + s.u * r.normal();
  if (s.sensor_fault == Fault::kNone) {
    const auto& f = c_.faults;
    if (s.stuck_left > 0) {
      --s.stuck_left;
      pr.value = s.stuck_value;
      pr.label = Fault::kStuck;
    } else if (r.chance(f[Fault::kStuck] / kStuckRun)) {
      s.stuck_left = kStuckRun - 1;
      s.stuck_value = pr.value;
      pr.label = Fault::kStuck;
    } else if (r.chance(f[Fault::kSpike])) {
      pr.value += (r.chance(0.5) ? kSpikeSigma : -kSpikeSigma) * s.u;
      pr.label = Fault::kSpike;
    } else if (r.chance(f[Fault::kClockSkew])) {
      const double minutes = r.uniform(10, 30);
      const auto skew = static_cast<int64_t>(minutes * 60 * kNsPerSec);
      pr.time_ns += r.chance(0.5) ? skew : -skew;
      pr.label = Fault::kClockSkew;
    }
  }
  if (c_.responder && c_.responder->pending()) {
    if (auto req = c_.responder->take(s.index)) {
      const Answer a = answers_[s.index];
      if (a != Answer::kSilent) {
        // The instrument measures the reference standard the request names: its error (the
        // static error its certificate corrects, any drift) plus noise; a drifted answer is off
        // by answer_drift_sigma standard uncertainties.
        pr.time_ns = start_ns_ + static_cast<int64_t>(k) * interval_ns_ + s.phase_offset_ns;
        pr.reference = true;
        pr.reference_value = req->reference_value;
        pr.value = req->reference_value + bias + s.u * r.normal();
        if (a == Answer::kDrifted) pr.value += c_.answer_drift_sigma * s.u;
        pr.request_id = req->request_id;
        pr.answer = a;
        if (a == Answer::kWrongFirmware) s.flashed = true;
        if (pr.label != Fault::kDrift && pr.label != Fault::kExpiredCalibration) pr.label = Fault::kNone;
        if (s.stuck_left > 0) s.stuck_left = 0;
        if (a == Answer::kDuplicate && !req->repeat) {
          req->repeat = true;  // answered again at the next reading
          c_.responder->requeue(s.index, std::move(*req));
        }
      }
    }
  }
  pr.unapproved_firmware = s.flashed;
  if (c_.format != SimFormat::kAssay) {
    // The instrument formats carry milliseconds (OCMF's TM; SenML's float offsets stay exact).
    pr.time_ns -= ((pr.time_ns % kNsPerMs) + kNsPerMs) % kNsPerMs;
  }
  if (c_.format == SimFormat::kOcmf) {
    // The register counts the energy of the interval; faults change the increment, so the
    // register never falls: stuck = no increment, spike = +20 sigma once, drift = a gain that
    // ramps to +/-50 % by the last reading; clock_skew = the skewed time with status U.
    double inc = s.ocmf_mean_inc * (1 + 0.3 * std::sin(2 * std::numbers::pi * t / s.period_s + s.phase)) +
                 s.u * r.normal();
    if (inc < 0) inc = 0;
    if (pr.label == Fault::kDrift) {
      const double remaining = static_cast<double>(std::max<uint64_t>(1, s.n_readings - s.drift_start_seq));
      const double ramp = static_cast<double>(pr.seq - s.drift_start_seq) / remaining;
      inc *= 1 + (s.drift_per_reading < 0 ? -0.5 : 0.5) * ramp;
    } else if (pr.label == Fault::kStuck) {
      inc = 0;
    } else if (pr.label == Fault::kSpike) {
      inc += kSpikeSigma * s.u;
    } else if (pr.label == Fault::kClockSkew) {
      pr.time_status = 'U';
    }
    s.register_e4 += std::llround(inc * 1e4);
    pr.register_e4 = s.register_e4 + s.ocmf_offset_e4;
    pr.value = static_cast<double>(pr.register_e4) / 1e4;
    pr.u = s.u;
  }
  s.pending.push_back(pr);
  if (!s.batch || s.pending.size() >= c_.batch_size || pr.seq == s.n_readings) emit_frame(s, chunk);
}

void Simulation::emit_frame(Sensor& s, std::vector<PlannedFrame>& chunk) {
  Rng& r = s.rng;
  PlannedFrame f;
  f.sensor = s.index;
  f.batch = s.batch;
  f.readings = std::move(s.pending);
  s.pending.clear();
  if (s.keys.size() > 1) {
    const bool k1 = f.readings.back().time_ns < s.keys[0].valid_until;
    const bool k2 = f.readings.front().time_ns >= s.keys[1].valid_from;
    f.key_slot = (k1 && k2) ? static_cast<uint8_t>(r.below(2)) : k2 ? 1 : 0;
  }
  f.fault_seed = r.next();
  if (s.sensor_fault == Fault::kNone) {
    const auto& fr = c_.faults;
    if (s.replay_planned && r.chance(fr[Fault::kReplay])) {
      PlannedFrame rep;
      rep.sensor = s.index;
      rep.fault = Fault::kReplay;
      rep.batch = s.batch;
      chunk.push_back(std::move(rep));
    }
    const double x = r.uniform();
    const double p1 = fr[Fault::kForged], p2 = p1 + fr[Fault::kTampered], p3 = p2 + fr[Fault::kUnknownKey];
    if (x < p1) {
      f.fault = Fault::kForged;
    } else if (x < p2) {
      f.fault = Fault::kTampered;
    } else if (x < p3) {
      f.fault = Fault::kUnknownKey;
    }
  }
  if (c_.format == SimFormat::kOcmf) {
    // A forged, tampered or unknown-key record never verifies, so it takes the meter's next
    // PG and transaction position without consuming them: the next record that verifies
    // continues the pagination and the transaction without a gap.
    f.ocmf_pg = s.ocmf_pg + 1;
    f.ocmf_tx_begin = s.ocmf_tx_pos == 0;
    f.ocmf_tx_end = s.ocmf_tx_pos + 1 == kOcmfTxRecords || f.readings.back().seq == s.n_readings;
    if (f.fault == Fault::kNone) {
      s.ocmf_pg = f.ocmf_pg;
      s.ocmf_tx_pos = f.ocmf_tx_end ? 0 : s.ocmf_tx_pos + 1;
    }
  }
  bool clean = f.fault == Fault::kNone;
  for (auto& pr : f.readings) {
    if (f.fault != Fault::kNone) pr.label = f.fault;
    clean = clean && pr.label == Fault::kNone;
  }
  if (clean && (!s.replay_planned || r.chance(0.1))) {
    f.store_replay = true;
    s.replay_planned = true;
  }
  chunk.push_back(std::move(f));
}

void Simulation::build_body(flatbuffers::FlatBufferBuilder& fbb, const Sensor& s, const PlannedFrame& f,
                            int tamper_index, double tamper_delta) const {
  fbb.Clear();
  const auto& q = kQuantities[s.quantity];
  auto one = [&](const PlannedReading& pr, double delta) {
    auto sid = fbb.CreateString(s.id);
    auto qty = fbb.CreateString(q.quantity);
    auto unit = fbb.CreateString(q.unit);
    const auto& firmware = pr.unapproved_firmware ? unapproved_firmware_ : s.firmware;
    auto fw = fbb.CreateVector(firmware.data(), firmware.size());
    auto rid = pr.request_id.empty() ? flatbuffers::Offset<flatbuffers::String>()
                                     : fbb.CreateString(pr.request_id);
    w::ReadingBuilder b(fbb);
    b.add_sensor_id(sid);
    b.add_seq(pr.seq);
    b.add_time_ns(pr.time_ns);
    b.add_quantity(qty);
    b.add_unit(unit);
    b.add_value(pr.value + delta);
    b.add_std_uncertainty(pr.u);
    b.add_firmware_sha256(fw);
    if (pr.reference) {
      b.add_kind(w::ReadingKind::ReferenceCheck);
      b.add_reference_value(pr.reference_value);
    }
    if (!rid.IsNull()) b.add_request_id(rid);
    return b.Finish();
  };
  if (!f.batch) {
    auto root = one(f.readings[0], tamper_index == 0 ? tamper_delta : 0.0);
    w::FinishReadingBuffer(fbb, root);
    return;
  }
  std::vector<flatbuffers::Offset<w::Reading>> offs;
  offs.reserve(f.readings.size());
  for (size_t i = 0; i < f.readings.size(); ++i)
    offs.push_back(one(f.readings[i], static_cast<int>(i) == tamper_index ? tamper_delta : 0.0));
  auto vec = fbb.CreateVector(offs);
  auto root = w::CreateReadingBatch(fbb, vec);
  w::FinishReadingBatchBuffer(fbb, root);
}

uint64_t Simulation::out_seq(const PlannedFrame& f, size_t i) const {
  switch (c_.format) {
    case SimFormat::kOcmf: return f.ocmf_pg * kOcmfSeqPerPage + i;
    case SimFormat::kSenmlCose: return static_cast<uint64_t>(f.readings[i].time_ns);
    default: return f.readings[i].seq;
  }
}

void Simulation::build_ocmf(PlannedFrame& f) const {
  thread_local std::vector<OcmfEntry> entries;
  thread_local std::vector<uint8_t> sig;
  thread_local std::vector<uint8_t> der;
  const Sensor& s = sensors_[f.sensor];
  const size_t n = f.readings.size();
  entries.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const PlannedReading& pr = f.readings[i];
    OcmfEntry& e = entries[i];
    e.time_ns = pr.time_ns;
    e.time_status = pr.time_status;
    e.tx = (i == 0 && f.ocmf_tx_begin) ? 'B' : (i + 1 == n && f.ocmf_tx_end) ? 'E' : 'C';
    e.register_e4 = pr.register_e4;
  }
  Rng fr(f.fault_seed, 7);
  const std::string meter = f.fault == Fault::kUnknownKey ? s.id + "-k9" : s.id;
  const std::string firmware = "1.0." + std::to_string(s.firmware_version + 1);
  OcmfPayloadSpec spec{meter, firmware, s.charge_point, f.ocmf_pg, entries};
  std::string payload = ocmf_payload(spec);
  const std::span<const uint8_t> body(reinterpret_cast<const uint8_t*>(payload.data()), payload.size());
  const auto ecdsa = static_cast<size_t>(Alg::kEcdsaP256);
  bool ok = true;
  switch (f.fault) {
    case Fault::kForged:
      if (fr.chance(0.5)) {
        // Random r and s of the right shape (below the group order, non-zero).
        sig.resize(64);
        fr.bytes(sig.data(), sig.size());
        sig[0] &= 0x7F;
        sig[32] &= 0x7F;
        sig[31] |= 1;
        sig[63] |= 1;
      } else {
        ok = forger_[ecdsa]->sign(body, sig);
      }
      break;
    case Fault::kUnknownKey:
      ok = rogue_[ecdsa]->sign(body, sig);
      break;
    case Fault::kTampered: {
      ok = s.keys[0].key->sign(body, sig);
      const size_t idx = fr.below(n);
      const int64_t delta = std::max<int64_t>(kOcmfMinTamperE4, std::llround(s.u * fr.uniform(3, 10) * 1e4));
      entries[idx].register_e4 += fr.chance(0.5) ? delta : -delta;
      payload = ocmf_payload(spec);
      break;
    }
    default:
      ok = s.keys[0].key->sign(body, sig);
      break;
  }
  ok = ok && ecdsa_p1363_to_der(sig, der);
  const std::string rec = ocmf_record(payload, der);
  f.out.assign(rec.begin(), rec.end());
  f.ok = ok;
}

void Simulation::build_senml_cose(PlannedFrame& f) const {
  thread_local std::vector<SenmlEntry> entries;
  thread_local std::vector<uint8_t> sig;
  const Sensor& s = sensors_[f.sensor];
  const KeySlot& slot = s.keys[f.key_slot];
  const auto& q = kQuantities[s.quantity];
  const size_t n = f.readings.size();
  entries.resize(n);
  for (size_t i = 0; i < n; ++i) entries[i] = {f.readings[i].time_ns, f.readings[i].value};
  const std::string base_name = s.id + ":";
  std::vector<uint8_t> payload = senml_pack_cbor(base_name, q.quantity, q.unit, entries);
  const bool mac = s.alg == Alg::kHmac;
  const int cose_alg = s.alg == Alg::kEd25519 ? -8 : s.alg == Alg::kEcdsaP256 ? -7 : 5;
  const std::vector<uint8_t> prot = cose_protected_header(cose_alg);
  const std::vector<uint8_t> tbs = cose_to_be_signed(mac, prot, payload);
  const auto alg_index = static_cast<size_t>(s.alg);
  Rng fr(f.fault_seed, 7);
  std::string key_id = slot.key_id;
  bool ok = !payload.empty() && !prot.empty() && !tbs.empty();
  switch (f.fault) {
    case Fault::kForged:
      if (fr.chance(0.5)) {
        sig.resize(signature_size(s.alg));
        fr.bytes(sig.data(), sig.size());
      } else {
        ok = ok && forger_[alg_index]->sign(tbs, sig);
      }
      break;
    case Fault::kUnknownKey:
      key_id = s.short_id + "-k9";
      ok = ok && rogue_[alg_index]->sign(tbs, sig);
      break;
    case Fault::kTampered: {
      ok = ok && slot.key->sign(tbs, sig);
      const size_t idx = fr.below(n);
      entries[idx].value += (fr.chance(0.5) ? 1 : -1) * f.readings[idx].u * fr.uniform(3, 10);
      payload = senml_pack_cbor(base_name, q.quantity, q.unit, entries);
      break;
    }
    default:
      ok = ok && slot.key->sign(tbs, sig);
      break;
  }
  f.out = cose_message(mac, prot, key_id, payload, sig);
  f.ok = ok && !f.out.empty();
}

void Simulation::build_frame(PlannedFrame& f) const {
  if (f.fault == Fault::kReplay) return;  // bytes copied at write time
  if (c_.format == SimFormat::kOcmf) return build_ocmf(f);
  if (c_.format == SimFormat::kSenmlCose) return build_senml_cose(f);
  thread_local flatbuffers::FlatBufferBuilder inner(1024);
  thread_local flatbuffers::FlatBufferBuilder outer(1024);
  thread_local std::vector<uint8_t> sig;
  const Sensor& s = sensors_[f.sensor];
  const KeySlot* slot_p = &s.keys[f.key_slot];
  Alg frame_alg = s.alg;
  for (const auto& pr : f.readings) {
    if (pr.answer == Answer::kWrongKey && !pr.request_id.empty() && sensors_.size() > 1) {
      // Another instrument's valid key signs this instrument's answer.
      const Sensor& other = sensors_[(f.sensor + 1) % sensors_.size()];
      slot_p = &other.keys[0];
      frame_alg = other.alg;
    }
  }
  const KeySlot& slot = *slot_p;
  const auto alg_index = static_cast<size_t>(frame_alg);
  build_body(inner, s, f, -1, 0.0);
  std::span<const uint8_t> body(inner.GetBufferPointer(), inner.GetSize());
  Rng fr(f.fault_seed, 7);
  std::string key_id = slot.key_id;
  bool ok = true;
  switch (f.fault) {
    case Fault::kForged:
      if (fr.chance(0.5)) {
        sig.resize(signature_size(s.alg));
        fr.bytes(sig.data(), sig.size());
      } else {
        ok = forger_[alg_index]->sign(body, sig);
      }
      break;
    case Fault::kUnknownKey:
      key_id = s.short_id + "-k9";
      ok = rogue_[alg_index]->sign(body, sig);
      break;
    case Fault::kTampered: {
      ok = slot.key->sign(body, sig);
      const int idx = static_cast<int>(fr.below(f.readings.size()));
      const double delta = (fr.chance(0.5) ? 1 : -1) * f.readings[idx].u * fr.uniform(3, 10);
      build_body(inner, s, f, idx, delta);
      body = {inner.GetBufferPointer(), inner.GetSize()};
      break;
    }
    default: ok = slot.key->sign(body, sig); break;
  }
  outer.Clear();
  outer.ForceVectorAlignment(body.size(), 1, 8);
  auto bodyv = outer.CreateVector(body.data(), body.size());
  auto kid = outer.CreateString(key_id);
  auto sigv = outer.CreateVector(sig.data(), sig.size());
  const auto alg = static_cast<w::SignatureAlg>(frame_alg);
  if (f.batch) {
    w::FinishSignedBatchBuffer(outer, w::CreateSignedBatch(outer, bodyv, kid, alg, sigv));
  } else {
    w::FinishSignedReadingBuffer(outer, w::CreateSignedReading(outer, bodyv, kid, alg, sigv));
  }
  f.out.assign(outer.GetBufferPointer(), outer.GetBufferPointer() + outer.GetSize());
  f.ok = ok;
}

void Simulation::append_label(uint64_t record, size_t reading, const Sensor& s, uint64_t seq, Fault f) {
  label_buf_ += "{\"record\":";
  label_buf_ += std::to_string(record);
  label_buf_ += ",\"reading\":";
  label_buf_ += std::to_string(reading);
  label_buf_ += ",\"sensor_id\":";
  connectors::append_json_string(label_buf_, s.id);
  label_buf_ += ",\"seq\":";
  label_buf_ += std::to_string(seq);
  label_buf_ += ",\"fault\":\"";
  label_buf_ += fault_name(f);
  label_buf_ += "\"}\n";
}

bool Simulation::write_chunk(std::vector<PlannedFrame>& chunk, std::string& error) {
  for (auto& f : chunk) {
    Sensor& s = sensors_[f.sensor];
    if (!f.ok) {
      error = "signing failed for " + s.id;
      return false;
    }
    size_t nread = 0;
    if (f.fault == Fault::kReplay) {
      if (s.replay_bytes.empty()) continue;  // cannot happen: planned only after a source
      if (!sink_.write(s.replay_bytes, s.id)) {
        error = "write failed: " + sink_.error();
        return false;
      }
      nread = s.replay_seqs.size();
      for (size_t i = 0; i < nread; ++i)
        if (labels_open_) append_label(frame_index_, i, s, s.replay_seqs[i], Fault::kReplay);
      sum_.fault_readings[static_cast<size_t>(Fault::kReplay)] += nread;
      (s.replay_batch ? sum_.signed_batches : sum_.signed_readings)++;
    } else {
      if (!sink_.write(f.out, s.id)) {
        error = "write failed: " + sink_.error();
        return false;
      }
      nread = f.readings.size();
      for (size_t i = 0; i < nread; ++i) {
        if (labels_open_) append_label(frame_index_, i, s, out_seq(f, i), f.readings[i].label);
        sum_.fault_readings[static_cast<size_t>(f.readings[i].label)]++;
      }
      (f.batch ? sum_.signed_batches : sum_.signed_readings)++;
      if (f.store_replay) {
        s.replay_bytes = f.out;
        s.replay_seqs.clear();
        for (size_t i = 0; i < f.readings.size(); ++i) s.replay_seqs.push_back(out_seq(f, i));
        s.replay_batch = f.batch;
      }
    }
    sum_.alg_frames[static_cast<size_t>(s.alg)]++;
    sum_.readings += nread;
    ++sum_.frames;
    ++frame_index_;
    if (c_.rate > 0) {
      const double target = static_cast<double>(sum_.readings) / c_.rate;
      const double elapsed = static_cast<double>(engine::monotonic_ns() - wall_start_) / 1e9;
      if (target > elapsed + 0.001) std::this_thread::sleep_for(std::chrono::duration<double>(target - elapsed));
    }
  }
  if (labels_open_ && !label_buf_.empty()) {
    if (!labels_.write_raw({reinterpret_cast<const uint8_t*>(label_buf_.data()), label_buf_.size()})) {
      error = "cannot write labels: " + labels_.error();
      return false;
    }
    label_buf_.clear();
  }
  return true;
}

bool Simulation::run(std::string& error) {
  wall_start_ = engine::monotonic_ns();
  if (!make_fleet(error) || !choose_answers(error) || !write_side_files(error)) return false;
  if (c_.on_side_files_written) c_.on_side_files_written();
  if (!c_.labels_path.empty()) {
    if (!labels_.open(c_.labels_path)) {
      error = labels_.error();
      return false;
    }
    labels_open_ = true;
  }
  // Pipeline: while chunk k is signed by the arena's threads, this thread writes chunk k-1 and
  // plans chunk k+1. Planning and writing stay sequential, so the output does not depend on
  // the number of threads.
  tbb::task_arena arena(c_.threads == 0 ? tbb::task_arena::automatic : static_cast<int>(c_.threads));
  // One signing thread at a time, which runs the chunk's parallel signing in the arena. (A
  // thread rather than a task_group task: its start and join order the chunk's hand-over for
  // ThreadSanitizer too; starting one thread per chunk is negligible next to signing it.)
  std::thread signer;
  // Two chunk slots: one being signed, one being written/planned. The signing thread refers to
  // its slot by address, so nothing is moved while it runs.
  std::array<std::vector<PlannedFrame>, 2> slots;
  std::array<std::vector<std::pair<uint32_t, uint32_t>>, 2> orders;
  auto sign_async = [&](size_t slot) {
    std::vector<PlannedFrame>* chunk = &slots[slot];
    std::vector<std::pair<uint32_t, uint32_t>>* order = &orders[slot];
    // Frames of one sensor next to each other, so a thread reuses its signing context.
    order->clear();
    for (uint32_t i = 0; i < chunk->size(); ++i) order->emplace_back((*chunk)[i].sensor, i);
    std::sort(order->begin(), order->end());
    signer = std::thread([this, chunk, order, &arena] {
      arena.execute([&] {
        engine::tsan::parallel_for_chunks(order->size(), 32, [&](size_t begin, size_t end) {
          for (size_t i = begin; i != end; ++i) build_frame((*chunk)[(*order)[i].second]);
        });
      });
    });
  };
  auto wait_signing = [&] {
    if (signer.joinable()) signer.join();
  };
  size_t cur = 0;
  plan_chunk(slots[cur]);
  if (!slots[cur].empty()) sign_async(cur);
  while (!slots[cur].empty()) {
    const size_t nxt = cur ^ 1;
    slots[nxt].clear();
    plan_chunk(slots[nxt]);
    wait_signing();
    if (!slots[nxt].empty()) sign_async(nxt);
    if (!write_chunk(slots[cur], error)) {
      wait_signing();
      return false;
    }
    cur = nxt;
  }
  wait_signing();
  if (!sink_.flush()) {
    error = "flush failed: " + sink_.error();
    return false;
  }
  if (labels_open_ && !labels_.close()) {
    error = "cannot write labels: " + labels_.error();
    return false;
  }
  sum_.wall_seconds = static_cast<double>(engine::monotonic_ns() - wall_start_) / 1e9;
  return true;
}

}  // namespace

std::string_view sim_format_name(SimFormat f) {
  switch (f) {
    case SimFormat::kOcmf: return "ocmf";
    case SimFormat::kSenmlCose: return "senml-cose";
    default: return "assay";
  }
}

bool parse_sim_format(std::string_view name, SimFormat& format, std::string& error) {
  for (SimFormat f : {SimFormat::kAssay, SimFormat::kOcmf, SimFormat::kSenmlCose}) {
    if (name == sim_format_name(f)) {
      format = f;
      return true;
    }
  }
  error = "--format: unknown format '" + std::string(name) + "' (assay, ocmf, senml-cose)";
  return false;
}

uint32_t max_batch_size(SimFormat f) {
  switch (f) {
    case SimFormat::kOcmf: return 256;
    case SimFormat::kSenmlCose: return 1024;
    default: return 65536;
  }
}

std::string_view fault_name(Fault f) {
  const auto i = static_cast<size_t>(f);
  return i < kFaultCount ? kFaultNames[i] : std::string_view("?");
}

bool parse_fault(std::string_view spec, FaultRates& rates, std::string& error) {
  const auto eq = spec.find('=');
  if (eq == std::string_view::npos) {
    error = "--fault: expected NAME=RATE, got '" + std::string(spec) + "'";
    return false;
  }
  const std::string_view name = spec.substr(0, eq);
  double v = 0;
  if (!parse_rate_value(spec.substr(eq + 1), v) || v > 1) {
    error = "--fault " + std::string(name) + ": rate must be a number in [0,1]";
    return false;
  }
  for (size_t i = 1; i < kFaultCount; ++i) {
    if (kFaultNames[i] == name) {
      rates.rate[i] = v;
      return true;
    }
  }
  error = "--fault: unknown fault '" + std::string(name) +
          "' (forged, tampered, replay, unknown_key, drift, spike, stuck, clock_skew, expired_calibration)";
  return false;
}

bool parse_alg_mix(std::string_view spec, AlgMix& mix, std::string& error) {
  AlgMix m{0, 0, 0};
  size_t start = 0;
  while (start <= spec.size()) {
    size_t end = spec.find(',', start);
    if (end == std::string_view::npos) end = spec.size();
    const std::string_view item = spec.substr(start, end - start);
    const auto eq = item.find('=');
    double v = 0;
    if (eq == std::string_view::npos || !parse_rate_value(item.substr(eq + 1), v)) {
      error = "--alg-mix: expected ed25519=F,ecdsa=F,hmac=F, got '" + std::string(item) + "'";
      return false;
    }
    const std::string_view name = item.substr(0, eq);
    if (name == "ed25519") {
      m.ed25519 = v;
    } else if (name == "ecdsa" || name == "ecdsa-p256") {
      m.ecdsa = v;
    } else if (name == "hmac") {
      m.hmac = v;
    } else {
      error = "--alg-mix: unknown algorithm '" + std::string(name) + "' (ed25519, ecdsa, hmac)";
      return false;
    }
    start = end + 1;
  }
  if (m.ed25519 + m.ecdsa + m.hmac <= 0) {
    error = "--alg-mix: the fractions must not all be zero";
    return false;
  }
  mix = m;
  return true;
}

bool validate(const SimConfig& c, std::string& error) {
  if (c.sensors == 0 || c.sensors > 10'000'000) {
    error = "--sensors must be in 1..10000000";
    return false;
  }
  if (c.records == 0) {
    error = "--records must be at least 1";
    return false;
  }
  if (c.interval_ms <= 0 || c.interval_ms > 86'400'000) {
    error = "--interval-ms must be in 1..86400000";
    return false;
  }
  if (c.batch_size == 0 || c.batch_size > 65536) {
    error = "--batch-size must be in 1..65536";
    return false;
  }
  if (!(c.batch_fraction >= 0 && c.batch_fraction <= 1)) {
    error = "--batch-fraction must be in [0,1]";
    return false;
  }
  if (!(c.rate >= 0) || !std::isfinite(c.rate)) {
    error = "--rate must be >= 0";
    return false;
  }
  if (c.batch_size > max_batch_size(c.format)) {
    error = "--batch-size must be at most " + std::to_string(max_batch_size(c.format)) + " with --format " +
            std::string(sim_format_name(c.format));
    return false;
  }
  if (c.format != SimFormat::kAssay && c.responder) {
    error = "answering verification requests needs --format assay";
    return false;
  }
  if (c.format == SimFormat::kSenmlCose && c.faults[Fault::kClockSkew] > 0) {
    error = "clock_skew cannot be simulated with --format senml-cose (a sensor's SenML times must "
            "strictly increase: a skewed time is a replay); use --fault clock_skew=0";
    return false;
  }
  double frame_faults = 0;
  for (Fault f : {Fault::kForged, Fault::kTampered, Fault::kUnknownKey}) frame_faults += c.faults[f];
  if (frame_faults > 1) {
    error = "forged + tampered + unknown_key rates must not exceed 1";
    return false;
  }
  if (c.faults[Fault::kDrift] + c.faults[Fault::kExpiredCalibration] > 1) {
    error = "drift + expired_calibration (fractions of sensors) must not exceed 1";
    return false;
  }
  return true;
}

bool run_simulation(const SimConfig& config, FrameSink& sink, SimSummary& summary, std::string& error) {
  summary = SimSummary{};
  summary.format = config.format;
  if (!validate(config, error)) return false;
  const double cpu0 = process_cpu_seconds();
  Simulation sim(config, sink, summary);
  const bool ok = sim.run(error);
  summary.cpu_seconds = process_cpu_seconds() - cpu0;
  return ok;
}

std::string format_summary(const SimSummary& s) {
  char buf[256];
  std::string o;
  const bool own = s.format == SimFormat::kAssay;
  std::snprintf(buf, sizeof buf,
                "simulate: %llu readings in %llu %s (%llu %s, %llu %s) in %.3f s "
                "(%.0f readings/s)\n",
                static_cast<unsigned long long>(s.readings), static_cast<unsigned long long>(s.frames),
                own ? "frames" : (s.format == SimFormat::kOcmf ? "OCMF records" : "COSE messages"),
                static_cast<unsigned long long>(s.signed_readings), own ? "SignedReading" : "single-reading",
                static_cast<unsigned long long>(s.signed_batches), own ? "SignedBatch" : "batch", s.wall_seconds,
                s.wall_seconds > 0 ? static_cast<double>(s.readings) / s.wall_seconds : 0.0);
  o += buf;
  std::snprintf(buf, sizeof buf, "  cpu time: %.3f s (%.0f readings per cpu-second)\n", s.cpu_seconds,
                s.cpu_seconds > 0 ? static_cast<double>(s.readings) / s.cpu_seconds : 0.0);
  o += buf;
  o += "  simulated time: " + engine::format_rfc3339(s.start_time_ns) + " .. " +
       engine::format_rfc3339(s.end_time_ns) + "\n";
  o += "  readings per label:";
  for (size_t i = 0; i < kFaultCount; ++i) {
    o += " ";
    o += kFaultNames[i];
    o += "=" + std::to_string(s.fault_readings[i]);
  }
  o += "\n  sensors per alg:";
  for (size_t a = 0; a < 3; ++a)
    o += " " + std::string(alg_registry_name(static_cast<Alg>(a))) + "=" + std::to_string(s.alg_sensors[a]);
  o += "\n  frames per alg:";
  for (size_t a = 0; a < 3; ++a)
    o += " " + std::string(alg_registry_name(static_cast<Alg>(a))) + "=" + std::to_string(s.alg_frames[a]);
  o += "\n";
  return o;
}

}  // namespace assay::sim
