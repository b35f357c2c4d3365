// `assay simulate --format ocmf|senml-cose`: determinism across thread counts, every record read
// back with Assay's own strict parsers (formats/), signatures and MACs checked with OpenSSL
// against the written registry, the faulted records failing the way their label says, and the
// OCMF plausibility checks / SenML replay rule passing on the clean streams.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.hpp"
#include "engine/time.hpp"
#include "formats/cose.hpp"
#include "formats/ocmf.hpp"
#include "formats/ocmf_check.hpp"
#include "formats/senml.hpp"
#include "formats/senml_check.hpp"
#include "sim/instrument_records.hpp"
#include "sim/keys.hpp"
#include "sim/simulator.hpp"
#include "sim_test_util.hpp"

namespace {

namespace fs = std::filesystem;
using assay::sim::Alg;
using assay::sim::Fault;
using assay::sim::SimFormat;
using assay::test::read_file;

std::vector<uint8_t> unhex(const std::string& h) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < h.size(); i += 2)
    out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

struct RegKey {
  std::string sensor_id;
  Alg alg = Alg::kEd25519;
  std::vector<uint8_t> key;  // public key (SEC1 / raw Ed25519) or HMAC secret
};

// The registry as written, read with yaml-cpp (independent of the engine's loader).
std::map<std::string, RegKey> load_keys(const fs::path& path) {
  std::map<std::string, RegKey> keys;
  YAML::Node root = YAML::LoadFile(path.string());
  for (const auto& s : root["sensors"]) {
    for (const auto& k : s["keys"]) {
      RegKey rk;
      rk.sensor_id = s["sensor_id"].as<std::string>();
      const std::string alg = k["alg"].as<std::string>();
      rk.alg = alg == "Ed25519" ? Alg::kEd25519 : alg == "EcdsaP256Sha256" ? Alg::kEcdsaP256 : Alg::kHmac;
      if (rk.alg == Alg::kHmac) {
        const std::string secret = read_file(path.parent_path() / k["secret_file"].as<std::string>());
        rk.key = unhex(secret.substr(0, 64));
      } else {
        rk.key = unhex(k["public_key"].as<std::string>());
      }
      keys[k["key_id"].as<std::string>()] = rk;
    }
  }
  return keys;
}

struct Label {
  uint64_t record = 0, reading = 0, seq = 0;
  std::string sensor_id, fault;
};

struct SimRun {
  std::vector<std::vector<uint8_t>> frames;
  std::vector<std::string> keys;
  std::vector<std::vector<Label>> labels;  // per record
  std::string labels_text, registry_text, certs_text;
  std::map<std::string, RegKey> registry;
  assay::sim::SimSummary summary;
};

assay::sim::SimConfig base_config(SimFormat format, uint64_t seed) {
  assay::sim::SimConfig c;
  c.format = format;
  c.seed = seed;
  c.sensors = 24;
  c.records = 2400;
  c.start_time_ns = *assay::engine::parse_rfc3339("2026-03-01T00:00:00Z");
  c.batch_fraction = 0.3;
  c.batch_size = 5;
  c.faults[Fault::kForged] = 0.03;
  c.faults[Fault::kTampered] = 0.03;
  c.faults[Fault::kReplay] = 0.03;
  c.faults[Fault::kUnknownKey] = 0.03;
  c.faults[Fault::kSpike] = 0.01;
  c.faults[Fault::kStuck] = 0.03;
  c.faults[Fault::kClockSkew] = format == SimFormat::kSenmlCose ? 0.0 : 0.01;
  c.faults[Fault::kDrift] = 0.1;
  c.faults[Fault::kExpiredCalibration] = 0.1;
  return c;
}

SimRun simulate(assay::sim::SimConfig c, unsigned threads, const std::string& name) {
  SimRun run;
  const fs::path dir = assay::test::temp_dir(name);
  c.threads = threads;
  c.registry_path = (dir / "sensors.yaml").string();
  c.certs_path = (dir / "certificates.yaml").string();
  c.labs_path = (dir / "labs.yaml").string();
  c.labels_path = (dir / "labels.jsonl").string();
  assay::sim::MemoryFrameSink sink;
  std::string error;
  EXPECT_TRUE(assay::sim::run_simulation(c, sink, run.summary, error)) << error;
  run.frames = std::move(sink.frames);
  run.keys = std::move(sink.keys);
  run.labels_text = read_file(dir / "labels.jsonl");
  run.registry_text = read_file(dir / "sensors.yaml");
  run.certs_text = read_file(dir / "certificates.yaml");
  run.registry = load_keys(dir / "sensors.yaml");
  run.labels.resize(run.frames.size());
  for (const std::string& line : assay::test::split_lines(run.labels_text)) {
    const auto j = nlohmann::json::parse(line);
    Label l{j["record"].get<uint64_t>(), j["reading"].get<uint64_t>(), j["seq"].get<uint64_t>(),
            j["sensor_id"].get<std::string>(), j["fault"].get<std::string>()};
    EXPECT_LT(l.record, run.frames.size());
    if (l.record < run.frames.size()) {
      EXPECT_EQ(l.reading, run.labels[l.record].size());
      run.labels[l.record].push_back(l);
    }
  }
  fs::remove_all(dir);
  return run;
}

// The frame-level fault of a record ("" if none: its readings carry only value-level labels).
std::string frame_fault(const std::vector<Label>& ls) {
  for (const char* f : {"forged", "tampered", "replay", "unknown_key"})
    if (!ls.empty() && ls[0].fault == f) return f;
  return "";
}

std::span<const uint8_t> bytes(const std::vector<uint8_t>& v) { return {v.data(), v.size()}; }

class SimFormats : public testing::TestWithParam<std::tuple<SimFormat, uint64_t>> {};

TEST_P(SimFormats, DeterministicAcrossThreadCounts) {
  const auto [format, seed] = GetParam();
  const SimRun a = simulate(base_config(format, seed), 1, "simfmt-det-a");
  const SimRun b = simulate(base_config(format, seed), 3, "simfmt-det-b");
  ASSERT_FALSE(a.frames.empty());
  EXPECT_EQ(a.frames, b.frames);
  EXPECT_EQ(a.keys, b.keys);
  EXPECT_EQ(a.labels_text, b.labels_text);
  EXPECT_EQ(a.registry_text, b.registry_text);
  EXPECT_EQ(a.certs_text, b.certs_text);
  // Another seed gives other records.
  const SimRun c = simulate(base_config(format, seed + 100), 2, "simfmt-det-c");
  EXPECT_NE(a.frames, c.frames);
}

INSTANTIATE_TEST_SUITE_P(Formats, SimFormats,
                         testing::Combine(testing::Values(SimFormat::kOcmf, SimFormat::kSenmlCose),
                                          testing::Values(uint64_t{1}, uint64_t{7})),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param) == SimFormat::kOcmf ? "ocmf" : "senml") +
                                  "_seed" + std::to_string(std::get<1>(info.param));
                         });

class SimOcmf : public testing::TestWithParam<uint64_t> {};

TEST_P(SimOcmf, RecordsParseVerifyAndPassTheChecks) {
  const SimRun run = simulate(base_config(SimFormat::kOcmf, GetParam()), 2, "simfmt-ocmf");
  namespace f = assay::formats;
  // Every meter has one P-256 key whose key_id is its sensor id (= MS).
  for (const auto& [kid, k] : run.registry) {
    EXPECT_EQ(kid, k.sensor_id);
    EXPECT_EQ(k.alg, Alg::kEcdsaP256);
  }
  EXPECT_NE(run.registry_text.find("quantity: energy"), std::string::npos);
  EXPECT_NE(run.registry_text.find("unit: kW.h"), std::string::npos);
  f::OcmfChecker checker;
  f::OcmfCheckState state;
  std::map<std::string, size_t> per_fault;
  std::set<std::vector<uint8_t>> seen;
  size_t multi = 0, tx_end = 0;
  for (size_t i = 0; i < run.frames.size(); ++i) {
    const auto& ls = run.labels[i];
    ASSERT_FALSE(ls.empty());
    f::OcmfRecord rec;
    ASSERT_EQ(f::parse_ocmf(bytes(run.frames[i]), {}, rec), f::OcmfError::kNone) << i;
    ASSERT_EQ(rec.readings.size(), ls.size());
    EXPECT_EQ(rec.algorithm, f::OcmfAlgorithm::kSecp256r1Sha256);
    EXPECT_EQ(rec.pagination_context, 'T');
    multi += rec.readings.size() > 1;
    std::string buf;
    const std::string signer(f::ocmf_signer_id(rec, buf));
    const std::string fault = frame_fault(ls);
    ++per_fault[fault];
    EXPECT_EQ(run.keys[i], ls[0].sensor_id);
    for (size_t k = 0; k < ls.size(); ++k) {
      // The label's seq is Assay's OCMF seq (PG x 256 + RD index), the unit kWh, status G.
      EXPECT_EQ(ls[k].seq, rec.pagination * 256 + k);
      EXPECT_EQ(rec.readings[k].unit, "kWh");
      EXPECT_EQ(rec.readings[k].status, 'G');
      // (A record-level label hides a skew of one of its readings.)
      if (fault.empty()) {
        EXPECT_EQ(rec.readings[k].time_status == f::OcmfTimeStatus::kUnknown, ls[k].fault == "clock_skew");
      }
      tx_end += rec.readings[k].tx == f::OcmfTx::kEnd;
    }
    if (fault == "unknown_key") {
      EXPECT_NE(signer, ls[0].sensor_id);
      EXPECT_EQ(run.registry.count(signer), 0u);
      continue;
    }
    ASSERT_EQ(signer, ls[0].sensor_id);
    const RegKey& key = run.registry.at(signer);
    const bool verified = assay::sim::verify_signature(Alg::kEcdsaP256, key.key, rec.payload, rec.signature_raw());
    if (fault == "forged" || fault == "tampered") {
      EXPECT_FALSE(verified) << fault << " record " << i;
      continue;
    }
    ASSERT_TRUE(verified) << "record " << i;
    // Records that verify reach the checks, in order (one state: they are per meter inside).
    const f::OcmfCheckResult res = checker.check(state, rec, signer);
    if (fault == "replay") {
      EXPECT_TRUE(seen.count(run.frames[i])) << "a replay re-sends earlier bytes";
      EXPECT_EQ(res.first, f::OcmfCheck::kPaginationReplay) << i;
      continue;
    }
    EXPECT_FALSE(seen.count(run.frames[i]));
    seen.insert(run.frames[i]);
    bool skewed = false;
    for (const auto& l : ls) skewed = skewed || l.fault == "clock_skew";
    if (skewed) {
      EXPECT_EQ(res.mask & ~(1u << static_cast<unsigned>(f::OcmfCheck::kTimeUnsynchronized)), 0u) << i;
      EXPECT_NE(res.mask, 0u);
    } else {
      EXPECT_TRUE(res.ok()) << "record " << i << ": " << f::ocmf_check_name(res.first) << " at RD "
                            << res.reading;
    }
  }
  for (const char* ff : {"", "forged", "tampered", "replay", "unknown_key"}) EXPECT_GT(per_fault[ff], 0u) << ff;
  EXPECT_GT(multi, 0u);
  EXPECT_GT(tx_end, 0u);
  EXPECT_EQ(state.meter_count(), 24u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SimOcmf, testing::Values(uint64_t{1}, uint64_t{7}));

class SimSenmlCose : public testing::TestWithParam<uint64_t> {};

TEST_P(SimSenmlCose, MessagesParseVerifyAndPassTheReplayRule) {
  const SimRun run = simulate(base_config(SimFormat::kSenmlCose, GetParam()), 2, "simfmt-senml");
  namespace f = assay::formats;
  f::SenmlReplayChecker checker;
  f::SenmlReplayState state;
  std::map<std::string, size_t> per_fault;
  std::map<f::CoseAlgorithm, size_t> per_alg;
  std::set<std::vector<uint8_t>> seen;
  for (size_t i = 0; i < run.frames.size(); ++i) {
    const auto& ls = run.labels[i];
    ASSERT_FALSE(ls.empty());
    f::CoseMessage m;
    ASSERT_EQ(f::parse_cose(bytes(run.frames[i]), {}, m), f::CoseError::kNone) << i;
    EXPECT_TRUE(m.tagged);
    ASSERT_TRUE(m.has_content_type);
    EXPECT_EQ(m.content_format, f::kSenmlCborContentFormat);
    EXPECT_FALSE(m.kid_protected);
    ++per_alg[m.algorithm];
    EXPECT_EQ(m.kind == f::CoseKind::kMac0, m.algorithm == f::CoseAlgorithm::kHmac256);
    // The signed bytes as the engine builds them equal the simulator's own Sig/MAC_structure.
    std::vector<uint8_t> tbs(f::cose_to_be_signed_size(m));
    ASSERT_EQ(f::cose_build_to_be_signed(m, tbs), tbs.size());
    EXPECT_EQ(tbs, assay::sim::cose_to_be_signed(m.kind == f::CoseKind::kMac0, m.protected_header, m.payload));
    f::SenmlPack pack;
    ASSERT_EQ(f::parse_senml_cbor(m.payload, {}, pack), f::SenmlError::kNone) << i;
    ASSERT_EQ(pack.records.size(), ls.size());
    for (size_t k = 0; k < ls.size(); ++k) {
      const auto& r = pack.records[k];
      // name = "<sensor_id>:<quantity>"; the label's seq is the reading's time in ns.
      ASSERT_GT(r.name.size(), ls[k].sensor_id.size() + 1);
      EXPECT_EQ(r.name.substr(0, ls[k].sensor_id.size() + 1), ls[k].sensor_id + ":");
      EXPECT_EQ(static_cast<uint64_t>(r.time_ns), ls[k].seq);
      EXPECT_EQ(r.time_ns % 1'000'000, 0);
      EXPECT_FALSE(r.unit.empty());
      EXPECT_EQ(r.kind, f::SenmlValueKind::kNumber);
    }
    EXPECT_EQ(run.keys[i], ls[0].sensor_id);
    const std::string fault = frame_fault(ls);
    ++per_fault[fault];
    const std::string kid(m.kid.begin(), m.kid.end());
    const auto key = run.registry.find(kid);
    if (fault == "unknown_key") {
      EXPECT_EQ(key, run.registry.end()) << kid;
      continue;
    }
    ASSERT_NE(key, run.registry.end()) << kid;
    EXPECT_EQ(key->second.sensor_id, ls[0].sensor_id);
    const Alg want = m.algorithm == f::CoseAlgorithm::kEdDSA  ? Alg::kEd25519
                     : m.algorithm == f::CoseAlgorithm::kES256 ? Alg::kEcdsaP256
                                                               : Alg::kHmac;
    EXPECT_EQ(key->second.alg, want);
    const bool verified = assay::sim::verify_signature(want, key->second.key, tbs, m.signature);
    if (fault == "forged" || fault == "tampered") {
      EXPECT_FALSE(verified) << fault << " record " << i;
      continue;
    }
    ASSERT_TRUE(verified) << "record " << i;
    const f::SenmlCheckResult res = checker.check(state, pack);
    if (fault == "replay") {
      EXPECT_TRUE(seen.count(run.frames[i]));
      EXPECT_EQ(res.check, f::SenmlCheck::kReplay);
    } else {
      EXPECT_TRUE(res.ok()) << "record " << i;
      EXPECT_FALSE(seen.count(run.frames[i]));
      seen.insert(run.frames[i]);
    }
  }
  for (const char* ff : {"", "forged", "tampered", "replay", "unknown_key"}) EXPECT_GT(per_fault[ff], 0u) << ff;
  EXPECT_EQ(per_alg.size(), 3u);
  EXPECT_EQ(state.sensor_count(), 24u);
}

INSTANTIATE_TEST_SUITE_P(Seeds, SimSenmlCose, testing::Values(uint64_t{1}, uint64_t{7}));

TEST(SimFormatsEncoding, SenmlTimesResolveExactly) {
  // Whole seconds as integers, sub-second offsets as floats, and a new bt once the offset
  // would reach 2^20 s: every time resolves to the exact nanosecond.
  const int64_t t0 = 1'772'323'200'000'000'000;  // 2026-03-01
  std::vector<assay::sim::SenmlEntry> e = {{t0 + 123'456'789, 1.5},
                                           {t0 + 2'000'000'000, -2},
                                           {t0 + 999'999'999'999, 3},
                                           {t0 + (int64_t{1} << 20) * 1'000'000'000 + 1, 4},
                                           {t0 + 90'000'000'000'000 + 7'000'000, 5}};
  const auto cbor = assay::sim::senml_pack_cbor("urn:x:s1:", "temperature", "Cel", e);
  assay::formats::SenmlPack pack;
  ASSERT_EQ(assay::formats::parse_senml_cbor(cbor, {}, pack), assay::formats::SenmlError::kNone);
  ASSERT_EQ(pack.records.size(), e.size());
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(pack.records[i].time_ns, e[i].time_ns) << i;
    EXPECT_EQ(pack.records[i].value, e[i].value);
    EXPECT_EQ(pack.records[i].name, "urn:x:s1:temperature");
    EXPECT_EQ(pack.records[i].unit, "Cel");
  }
}

TEST(SimFormatsEncoding, OcmfDerRoundTrip) {
  std::vector<uint8_t> rs(64, 0);
  rs[31] = 1;     // r = 1 (leading zeros dropped)
  rs[32] = 0x80;  // s with the high bit set (DER needs a 0x00 pad)
  rs[63] = 2;
  std::vector<uint8_t> der;
  ASSERT_TRUE(assay::sim::ecdsa_p1363_to_der(rs, der));
  const std::vector<uint8_t> want_prefix = {0x30, 0x26, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00, 0x80};
  ASSERT_GE(der.size(), want_prefix.size());
  EXPECT_TRUE(std::equal(want_prefix.begin(), want_prefix.end(), der.begin()));
  const std::string payload = R"({"FV":"1.0","MS":"m1","PG":"T1","RD":[{"TM":"2026-03-01T00:00:00,000+0000 S","ST":"G"}]})";
  const std::string rec = assay::sim::ocmf_record(payload, der);
  assay::formats::OcmfRecord r;
  ASSERT_EQ(assay::formats::parse_ocmf({reinterpret_cast<const uint8_t*>(rec.data()), rec.size()}, {}, r),
            assay::formats::OcmfError::kNone);
  EXPECT_TRUE(std::equal(rs.begin(), rs.end(), r.signature_raw().begin(), r.signature_raw().end()));
}

TEST(SimFormatsConfig, RefusedCombinations) {
  std::string error;
  auto c = base_config(SimFormat::kSenmlCose, 1);
  c.faults[Fault::kClockSkew] = 0.01;
  EXPECT_FALSE(assay::sim::validate(c, error));
  EXPECT_NE(error.find("clock_skew"), std::string::npos);
  c = base_config(SimFormat::kOcmf, 1);
  c.batch_size = 257;
  EXPECT_FALSE(assay::sim::validate(c, error));
  c.batch_size = 256;
  EXPECT_TRUE(assay::sim::validate(c, error)) << error;
  SimFormat f{};
  EXPECT_FALSE(assay::sim::parse_sim_format("cbor", f, error));
  EXPECT_TRUE(assay::sim::parse_sim_format("senml-cose", f, error));
  EXPECT_EQ(f, SimFormat::kSenmlCose);
}

TEST(SimFormatsCli, FormatOption) {
  const fs::path dir = assay::test::temp_dir("simfmt-cli");
  auto args = [&](std::vector<std::string> extra) {
    std::vector<std::string> a = {"simulate", "--out", (dir / "r.bin").string(), "--registry-out",
                                  (dir / "sensors.yaml").string(), "--certs-out", (dir / "c.yaml").string(),
                                  "--labs-out", (dir / "l.yaml").string(), "--labels-out",
                                  (dir / "labels.jsonl").string(), "--sensors", "5", "--records", "50",
                                  "--start-time", "2026-03-01T00:00:00Z"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  };
  using assay::test::run_cmd;
  using assay::cli::cmd_simulate;
  EXPECT_EQ(run_cmd(cmd_simulate, args({"--format", "ocmf"})), 0);
  const auto frames = assay::test::read_frames(dir / "r.bin");
  ASSERT_FALSE(frames.empty());
  EXPECT_EQ(std::string(frames[0].begin(), frames[0].begin() + 5), "OCMF|");
  // senml-cose: clock_skew is off by default, refused when asked for.
  EXPECT_EQ(run_cmd(cmd_simulate, args({"--format", "senml-cose"})), 0);
  EXPECT_NE(run_cmd(cmd_simulate, args({"--format", "senml-cose", "--fault", "clock_skew=0.1"})), 0);
  EXPECT_NE(run_cmd(cmd_simulate, args({"--format", "ocmf", "--alg-mix", "hmac=1"})), 0);
  EXPECT_NE(run_cmd(cmd_simulate, args({"--format", "xml"})), 0);
  fs::remove_all(dir);
}

}  // namespace
