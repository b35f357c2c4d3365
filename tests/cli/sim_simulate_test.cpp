// `assay simulate`: determinism, wire validity, signatures against the registry, fault labels.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <map>
#include <set>

#include "registries/calibration_certificate.hpp"
#include "registries/identity_registry.hpp"
#include "connectors/record_json.hpp"
#include "cli/commands.hpp"
#include "engine/time.hpp"
#include "schemas/reading_batch_generated.h"
#include "schemas/reading_generated.h"
#include "schemas/signed_batch_generated.h"
#include "schemas/signed_reading_generated.h"
#include "sim/keys.hpp"
#include "sim/simulator.hpp"
#include "sim_test_util.hpp"

namespace {

namespace fs = std::filesystem;
namespace w = assay::wire;
using assay::cli::cmd_simulate;
using assay::test::read_file;
using assay::test::run_cmd;

constexpr const char* kStart = "2026-03-01T00:00:00Z";

std::vector<std::string> sim_args(const fs::path& dir, std::vector<std::string> extra) {
  std::vector<std::string> a = {"simulate",
                                "--out", (dir / "records.bin").string(),
                                "--registry-out", (dir / "sensors.yaml").string(),
                                "--certs-out", (dir / "certificates.yaml").string(),
                                "--labs-out", (dir / "labs.yaml").string(),
                                "--labels-out", (dir / "labels.jsonl").string(),
                                "--start-time", kStart};
  a.insert(a.end(), extra.begin(), extra.end());
  return a;
}

std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

struct RegKey {
  assay::sim::Alg alg;
  std::vector<uint8_t> key;  // public key or HMAC secret
  int64_t from, until;
};

std::map<std::string, RegKey> load_registry(const fs::path& path) {
  std::map<std::string, RegKey> keys;
  YAML::Node root = YAML::LoadFile(path.string());
  for (const auto& s : root["sensors"]) {
    for (const auto& k : s["keys"]) {
      RegKey rk;
      const std::string alg = k["alg"].as<std::string>();
      rk.alg = alg == "Ed25519" ? assay::sim::Alg::kEd25519
               : alg == "EcdsaP256Sha256" ? assay::sim::Alg::kEcdsaP256
                                          : assay::sim::Alg::kHmac;
      if (rk.alg == assay::sim::Alg::kHmac) {
        std::string secret = read_file(path.parent_path() / k["secret_file"].as<std::string>());
        EXPECT_EQ(secret.size(), 65u);
        rk.key = unhex(secret.substr(0, 64));
      } else {
        rk.key = unhex(k["public_key"].as<std::string>());
      }
      rk.from = *assay::engine::parse_rfc3339(k["valid_from"].as<std::string>());
      rk.until = *assay::engine::parse_rfc3339(k["valid_until"].as<std::string>());
      keys[k["key_id"].as<std::string>()] = rk;
    }
  }
  return keys;
}

struct Label {
  uint64_t record, reading, seq;
  std::string sensor_id, fault;
};

std::vector<Label> load_labels(const fs::path& path) {
  std::vector<Label> out;
  for (const auto& line : assay::test::split_lines(read_file(path))) {
    EXPECT_TRUE(assay::test::JsonCheck::valid(line)) << line;
    YAML::Node n = YAML::Load(line);  // JSON is YAML
    out.push_back({n["record"].as<uint64_t>(), n["reading"].as<uint64_t>(), n["seq"].as<uint64_t>(),
                   n["sensor_id"].as<std::string>(), n["fault"].as<std::string>()});
  }
  return out;
}

TEST(SimSimulate, DeterministicForSeed) {
  const fs::path a = assay::test::temp_dir("sim-det-a");
  const fs::path b = assay::test::temp_dir("sim-det-b");
  const std::vector<std::string> extra = {"--sensors", "30", "--records", "3000", "--seed", "7"};
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(a, extra)), 0);
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(b, extra)), 0);
  for (const char* f : {"records.bin", "sensors.yaml", "certificates.yaml", "labs.yaml", "labels.jsonl"}) {
    const std::string x = read_file(a / f), y = read_file(b / f);
    EXPECT_FALSE(x.empty()) << f;
    EXPECT_TRUE(x == y) << f << " differs between two runs with the same seed";
  }
  // The HMAC secrets too (relative paths in the registry, same file names).
  for (const auto& e : fs::directory_iterator(a / "keys"))
    EXPECT_EQ(read_file(e.path()), read_file(b / "keys" / e.path().filename())) << e.path();
  // A different seed gives different output.
  const fs::path c = assay::test::temp_dir("sim-det-c");
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(c, {"--sensors", "30", "--records", "3000", "--seed", "8"})), 0);
  EXPECT_NE(read_file(a / "records.bin"), read_file(c / "records.bin"));
}

TEST(SimSimulate, DeterministicAcrossThreadCounts) {
  const fs::path a = assay::test::temp_dir("sim-thr-a");
  const fs::path b = assay::test::temp_dir("sim-thr-b");
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(a, {"--sensors", "20", "--records", "2000", "--threads", "1"})), 0);
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(b, {"--sensors", "20", "--records", "2000", "--threads", "2"})), 0);
  EXPECT_TRUE(read_file(a / "records.bin") == read_file(b / "records.bin"));
  EXPECT_TRUE(read_file(a / "labels.jsonl") == read_file(b / "labels.jsonl"));
}

TEST(SimSimulate, FramesVerifySignaturesAndLabels) {
  const fs::path dir = assay::test::temp_dir("sim-verify");
  const uint64_t kRecords = 6000;
  ASSERT_EQ(run_cmd(cmd_simulate,
                    sim_args(dir, {"--sensors", "50", "--records", std::to_string(kRecords), "--seed", "3",
                                   "--fault", "forged=0.04", "--fault", "tampered=0.04", "--fault", "replay=0.04",
                                   "--fault", "unknown_key=0.04", "--fault", "spike=0.02", "--fault", "stuck=0.05",
                                   "--fault", "clock_skew=0.02", "--fault", "drift=0.1", "--fault",
                                   "expired_calibration=0.1"})),
            0);
  const auto keys = load_registry(dir / "sensors.yaml");
  EXPECT_GE(keys.size(), 50u);
  const auto frames = assay::test::read_frames(dir / "records.bin");
  const auto labels = load_labels(dir / "labels.jsonl");
  ASSERT_FALSE(frames.empty());

  // Labels grouped by record.
  std::vector<std::vector<const Label*>> by_record(frames.size());
  for (const auto& l : labels) {
    ASSERT_LT(l.record, frames.size());
    by_record[l.record].push_back(&l);
  }
  std::map<std::string, uint64_t> fault_readings, fault_frames;
  std::map<std::string, uint64_t> last_seq;
  std::set<std::vector<uint8_t>> seen;
  uint64_t total_readings = 0, batches = 0, new_readings = 0, reference_checks = 0;
  for (size_t i = 0; i < frames.size(); ++i) {
    const auto& f = frames[i];
    const auto& ls = by_record[i];
    ASSERT_FALSE(ls.empty()) << "record " << i << " has no label";
    const std::string fault = ls[0]->fault;
    fault_frames[fault]++;
    std::string json;
    ASSERT_TRUE(assay::connectors::record_to_json(f, json)) << json;
    ASSERT_TRUE(assay::test::JsonCheck::valid(json));

    const bool is_batch = assay::connectors::root_type_name(f) == "SignedBatch";
    std::span<const uint8_t> body, sig;
    std::string key_id;
    std::vector<const w::Reading*> readings;
    if (is_batch) {
      flatbuffers::Verifier v(f.data(), f.size());
      ASSERT_TRUE(w::VerifySignedBatchBuffer(v));
      const auto* sb = w::GetSignedBatch(f.data());
      body = {sb->body()->data(), sb->body()->size()};
      sig = {sb->signature()->data(), sb->signature()->size()};
      key_id = sb->key_id()->str();
      EXPECT_EQ(reinterpret_cast<uintptr_t>(body.data()) % 8, reinterpret_cast<uintptr_t>(f.data()) % 8);
      flatbuffers::Verifier vb(body.data(), body.size());
      ASSERT_TRUE(w::VerifyReadingBatchBuffer(vb));
      for (const auto* r : *w::GetReadingBatch(body.data())->readings()) readings.push_back(r);
      ++batches;
    } else {
      flatbuffers::Verifier v(f.data(), f.size());
      ASSERT_TRUE(w::VerifySignedReadingBuffer(v)) << "record " << i;
      const auto* sr = w::GetSignedReading(f.data());
      body = {sr->body()->data(), sr->body()->size()};
      sig = {sr->signature()->data(), sr->signature()->size()};
      key_id = sr->key_id()->str();
      flatbuffers::Verifier vb(body.data(), body.size());
      ASSERT_TRUE(w::VerifyReadingBuffer(vb));
      readings.push_back(w::GetReading(body.data()));
    }
    ASSERT_EQ(readings.size(), ls.size()) << "record " << i;
    for (size_t k = 0; k < readings.size(); ++k) {
      EXPECT_EQ(ls[k]->reading, k);
      EXPECT_EQ(ls[k]->seq, readings[k]->seq());
      EXPECT_EQ(ls[k]->sensor_id, readings[k]->sensor_id()->str());
      EXPECT_EQ(readings[k]->firmware_sha256()->size(), 32u);
      if (readings[k]->kind() == w::ReadingKind::ReferenceCheck) ++reference_checks;
      fault_readings[ls[k]->fault]++;
    }
    total_readings += readings.size();

    // Signature against the registry.
    const auto it = keys.find(key_id);
    bool verifies = false;
    if (it != keys.end()) {
      verifies = assay::sim::verify_signature(it->second.alg, it->second.key, body, sig);
      for (const auto* r : readings) {
        EXPECT_GE(r->time_ns(), it->second.from - 3600'000'000'000LL) << key_id;
        EXPECT_LE(r->time_ns(), it->second.until + 3600'000'000'000LL) << key_id;
      }
    }
    if (fault == "forged" || fault == "tampered") {
      EXPECT_NE(it, keys.end());
      EXPECT_FALSE(verifies) << fault << " record " << i << " verifies";
    } else if (fault == "unknown_key") {
      EXPECT_EQ(it, keys.end()) << key_id;
    } else {
      EXPECT_TRUE(verifies) << fault << " record " << i << " key " << key_id << " does not verify";
    }

    // Replays are exact copies of an earlier record; new records have strictly increasing seq.
    if (fault == "replay") {
      EXPECT_TRUE(seen.count(f)) << "replay record " << i << " is not a copy of an earlier one";
    } else {
      for (const auto* r : readings) {
        const std::string sid = r->sensor_id()->str();
        EXPECT_GT(r->seq(), last_seq[sid]) << sid;
        EXPECT_EQ(r->seq(), last_seq[sid] + 1) << sid;
        last_seq[sid] = r->seq();
        ++new_readings;
      }
      seen.insert(f);
    }
  }
  EXPECT_EQ(labels.size(), total_readings);
  EXPECT_EQ(new_readings, kRecords);
  EXPECT_GT(batches, 0u);
  EXPECT_GT(reference_checks, 0u);

  // Rates roughly as asked (frame-level faults are per record).
  const double nframes = static_cast<double>(frames.size());
  for (const char* f : {"forged", "tampered", "replay", "unknown_key"}) {
    EXPECT_GT(fault_frames[f], 0.4 * 0.04 * nframes) << f;
    EXPECT_LT(fault_frames[f], 2.0 * 0.04 * nframes) << f;
  }
  const double nread = static_cast<double>(total_readings);
  EXPECT_GT(fault_readings["spike"], 0.3 * 0.02 * nread);
  EXPECT_LT(fault_readings["spike"], 2.0 * 0.02 * nread);
  EXPECT_GT(fault_readings["stuck"], 0.3 * 0.05 * nread);
  EXPECT_LT(fault_readings["stuck"], 2.5 * 0.05 * nread);
  EXPECT_GT(fault_readings["clock_skew"], 0.3 * 0.02 * nread);
  EXPECT_GT(fault_readings["drift"], 0u);
  // 10 % of 50 sensors = 5 expired sensors, all their readings labelled.
  std::set<std::string> expired_sensors, drift_sensors;
  for (const auto& l : labels) {
    if (l.fault == "expired_calibration") expired_sensors.insert(l.sensor_id);
    if (l.fault == "drift") drift_sensors.insert(l.sensor_id);
  }
  EXPECT_EQ(expired_sensors.size(), 5u);
  EXPECT_EQ(drift_sensors.size(), 5u);
  EXPECT_EQ(fault_readings["expired_calibration"], 5u * kRecords / 50);
}

// The registry is the contract with the engine's registry loader: every entry must load.
TEST(SimSimulate, RegistryLoadsInEngineLoader) {
  const fs::path dir = assay::test::temp_dir("sim-registry");
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(dir, {"--sensors", "200", "--records", "200"})), 0);
  assay::registries::RegistryLoadReport report;
  auto reg = assay::registries::load_identity_registry((dir / "sensors.yaml").string(), report);
  ASSERT_TRUE(reg);
  for (const auto& r : report.refused) ADD_FAILURE() << r;
  EXPECT_EQ(reg->sensor_count(), 200u);
  const auto keys = load_registry(dir / "sensors.yaml");
  EXPECT_EQ(reg->key_count(), keys.size());
  EXPECT_GT(keys.size(), 200u) << "some sensors rotate keys";
  const auto* s = reg->find_sensor("urn:assay:sim:1:sensor:000001");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->approved_firmware.size(), 3u);
  EXPECT_TRUE(s->range_min.has_value());
}

TEST(SimSimulate, CertificatesAreSignedByTrustedLabs) {
  const fs::path dir = assay::test::temp_dir("sim-certs");
  ASSERT_EQ(run_cmd(cmd_simulate, sim_args(dir, {"--sensors", "40", "--records", "400", "--fault",
                                                 "expired_calibration=0.1"})),
            0);
  std::map<std::string, std::vector<uint8_t>> lab_keys;
  for (const auto& l : YAML::LoadFile((dir / "labs.yaml").string())["labs"]) {
    EXPECT_EQ(l["alg"].as<std::string>(), "Ed25519");
    lab_keys[l["key_id"].as<std::string>()] = unhex(l["public_key"].as<std::string>());
  }
  EXPECT_EQ(lab_keys.size(), 3u);
  const int64_t start = *assay::engine::parse_rfc3339(kStart);
  int expired = 0;
  const auto certs = YAML::LoadFile((dir / "certificates.yaml").string())["certificates"];
  ASSERT_EQ(certs.size(), 40u);
  for (const auto& n : certs) {
    assay::registries::CalibrationCertificate c;
    c.certificate_id = n["certificate_id"].as<std::string>();
    c.sensor_id = n["sensor_id"].as<std::string>();
    c.lab_id = n["lab_id"].as<std::string>();
    c.issue_date_ns = *assay::engine::parse_rfc3339(n["issue_date"].as<std::string>());
    c.valid_from_ns = *assay::engine::parse_rfc3339(n["valid_from"].as<std::string>());
    c.valid_until_ns = *assay::engine::parse_rfc3339(n["valid_until"].as<std::string>());
    c.quantity = n["quantity"].as<std::string>();
    c.unit = n["unit"].as<std::string>();
    c.correction.offset = n["correction"]["offset"].as<double>();
    c.correction.gain = n["correction"]["gain"].as<double>();
    for (const auto& p : n["correction"]["poly"]) c.correction.poly.push_back(p.as<double>());
    c.expanded_uncertainty = n["expanded_uncertainty"].as<double>();
    c.coverage_factor = n["coverage_factor"].as<double>();
    c.mpe_initial = {n["mpe"]["initial"]["absolute"].as<double>(), n["mpe"]["initial"]["relative"].as<double>()};
    c.mpe_in_service = {n["mpe"]["in_service"]["absolute"].as<double>(),
                        n["mpe"]["in_service"]["relative"].as<double>()};
    c.range_min = n["measuring_range"]["min"].as<double>();
    c.range_max = n["measuring_range"]["max"].as<double>();
    c.conformity = n["conformity"].as<std::string>();
    c.lab_key_id = n["lab_key_id"].as<std::string>();
    c.signature_alg = n["signature_alg"].as<std::string>();
    const auto sig = unhex(n["signature"].as<std::string>());
    const std::string canon = assay::registries::canonical_bytes(c);
    ASSERT_TRUE(lab_keys.count(c.lab_key_id));
    EXPECT_TRUE(assay::sim::verify_signature(assay::sim::Alg::kEd25519, lab_keys[c.lab_key_id],
                                             {reinterpret_cast<const uint8_t*>(canon.data()), canon.size()}, sig))
        << c.certificate_id;
    if (c.valid_until_ns < start) ++expired;
    EXPECT_LT(c.valid_from_ns, c.valid_until_ns);
  }
  EXPECT_EQ(expired, 4);
}

TEST(SimSimulate, CanonicalBytesFormat) {
  assay::registries::CalibrationCertificate c;
  c.certificate_id = "c1";
  c.sensor_id = "s\n1";
  c.lab_id = "lab";
  c.issue_date_ns = 5;
  c.correction.poly = {0.5, 1e-9};
  c.coverage_factor = 2;
  const std::string s = assay::registries::canonical_bytes(c);
  EXPECT_EQ(s.rfind("assay-calibration-certificate-v1\ncertificate_id=c1\nsensor_id=s\\n1\nlab_id=lab\n", 0), 0u);
  EXPECT_NE(s.find("\nissue_date_ns=5\n"), std::string::npos);
  EXPECT_NE(s.find("\ncorrection.poly=0.5,1.0000000000000001e-09\n"), std::string::npos);
  EXPECT_NE(s.find("\ncoverage_factor=2\n"), std::string::npos);
  EXPECT_EQ(s.find("signature="), std::string::npos);
  EXPECT_NE(s.find("\nsignature_alg=Ed25519\n"), std::string::npos);
}

TEST(SimSimulate, EcdsaSignaturesAreDeterministicAndValid) {
  std::array<uint8_t, 32> seed{};
  seed[0] = 1;
  auto k = assay::sim::SigningKey::from_seed(assay::sim::Alg::kEcdsaP256, seed);
  ASSERT_TRUE(k);
  ASSERT_EQ(k->public_key().size(), 65u);
  EXPECT_EQ(k->public_key()[0], 0x04);
  const std::string msg = "hello";
  std::span<const uint8_t> m(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
  std::vector<uint8_t> s1, s2;
  ASSERT_TRUE(k->sign(m, s1));
  ASSERT_TRUE(k->sign(m, s2));
  EXPECT_EQ(s1, s2);
  EXPECT_TRUE(assay::sim::verify_signature(assay::sim::Alg::kEcdsaP256, k->public_key(), m, s1));
  s1[10] ^= 1;
  EXPECT_FALSE(assay::sim::verify_signature(assay::sim::Alg::kEcdsaP256, k->public_key(), m, s1));
}

TEST(SimSimulate, UsageErrors) {
  EXPECT_EQ(run_cmd(cmd_simulate, {"simulate"}), 2);  // --out missing
  EXPECT_EQ(run_cmd(cmd_simulate, {"simulate", "--out", "x.bin", "--fault", "bogus=0.1"}), 2);
  EXPECT_EQ(run_cmd(cmd_simulate, {"simulate", "--out", "x.bin", "--fault", "forged=2"}), 2);
  EXPECT_EQ(run_cmd(cmd_simulate, {"simulate", "--out", "x.bin", "--alg-mix", "rsa=1"}), 2);
  EXPECT_EQ(run_cmd(cmd_simulate, {"simulate", "--out", "x.bin", "--start-time", "yesterday"}), 2);
  EXPECT_EQ(run_cmd(cmd_simulate, {"simulate", "--out", "x.bin", "--sensors", "0"}), 2);
  std::string out;
  EXPECT_EQ(assay::test::run_capture(cmd_simulate, {"simulate", "--help"}, out), 0);
  EXPECT_NE(out.find("--fault"), std::string::npos);
  const fs::path dir = assay::test::temp_dir("sim-io");
  auto args = sim_args(dir, {"--records", "10"});
  args[2] = (dir / "no-such-dir" / "x.bin").string();
  EXPECT_EQ(run_cmd(cmd_simulate, args), 1);
}

TEST(SimSimulate, MemorySinkAndKeysDir) {
  const fs::path dir = assay::test::temp_dir("sim-mem");
  assay::sim::SimConfig c;
  c.sensors = 10;
  c.records = 100;
  c.start_time_ns = 0;
  c.registry_path = (dir / "reg" / "sensors.yaml").string();
  fs::create_directories(dir / "reg");
  c.keys_dir = (dir / "secrets").string();
  c.alg_mix = {0, 0, 1};
  assay::sim::MemoryFrameSink sink;
  assay::sim::SimSummary sum;
  std::string err;
  ASSERT_TRUE(assay::sim::run_simulation(c, sink, sum, err)) << err;
  EXPECT_EQ(sink.frames.size(), sum.frames);
  EXPECT_EQ(sum.alg_sensors[2], 10u);
  const std::string reg = read_file(c.registry_path);
  EXPECT_NE(reg.find("secret_file: ../secrets/s000001-k1.secret"), std::string::npos) << reg.substr(0, 600);
  struct stat st {};
  ASSERT_EQ(::stat((dir / "secrets" / "s000001-k1.secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(sink.keys[0].rfind("urn:assay:sim:1:sensor:", 0), 0u);
}

}  // namespace

namespace {

TEST(SimSimulate, RatePacesOutput) {
  assay::sim::SimConfig c;
  c.sensors = 4;
  c.records = 300;
  c.rate = 1000;  // readings per second -> about 0.3 s
  c.start_time_ns = 0;
  assay::sim::MemoryFrameSink sink;
  assay::sim::SimSummary sum;
  std::string err;
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(assay::sim::run_simulation(c, sink, sum, err)) << err;
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(s, 0.25);
  EXPECT_GE(sum.readings, 300u);
}

}  // namespace
