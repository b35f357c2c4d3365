// Calibration registry: trust list, signature checks, refusal of each bad certificate kind
// one by one (the rest loads), certificate history, live file reload, the topic overlay.
#include "registries/calibration_registry.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "../operators/calibration_util.hpp"
#include "connectors/kafka_common.hpp"
#include "engine/time.hpp"

namespace assay::registries {
namespace {

namespace fs = std::filesystem;
using testing::kDay;
using testing::kT0;

struct Dir {
  fs::path path = testing::temp_dir("calreg");
  ~Dir() { fs::remove_all(path); }
};

// Removes the line "    <field>: ..." of the certificate with `id` from to_yaml output.
std::string drop_field(const std::string& yaml, const std::string& id, const std::string& field) {
  const size_t start = yaml.find("certificate_id: " + id);
  const size_t at = yaml.find("\n    " + field + ":", start);
  const size_t end = yaml.find('\n', at + 1);
  return yaml.substr(0, at) + yaml.substr(end);
}

TEST(CalibrationRegistry, LoadsSignedCertificatesAndLooksThemUp) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  auto a = testing::make_cert("cert-a", "s1", kT0 - 10 * kDay, kT0 + 10 * kDay);
  auto b = testing::make_cert("cert-b", "s2", kT0 - 10 * kDay, kT0 + 10 * kDay);
  b.correction = {0.25, 1.5, {0.001, -2e-6}};
  testing::sign_cert(a, lab);
  testing::sign_cert(b, lab);
  testing::write_text(d.path / "labs.yaml", testing::labs_yaml({lab}));
  testing::write_text(d.path / "certs.yaml", to_yaml({a, b}));
  std::vector<std::string> trust_refused;
  auto trust = load_trust_list((d.path / "labs.yaml").string(), trust_refused);
  EXPECT_TRUE(trust_refused.empty());
  ASSERT_EQ(trust->size(), 1u);
  CertificatesLoadReport report;
  auto certs = load_certificates_file((d.path / "certs.yaml").string(), *trust, report);
  ASSERT_EQ(certs.size(), 2u);
  EXPECT_TRUE(report.refused.empty());
  // The YAML round trip is exact: the canonical bytes (what the lab signed) are unchanged.
  EXPECT_EQ(canonical_bytes(certs[1]), canonical_bytes(b));
  EXPECT_EQ(certs[1].correction.poly, b.correction.poly);
  CalibrationRegistry reg;
  for (auto& c : certs) reg.put(std::make_shared<const CalibrationCertificate>(c));
  EXPECT_EQ(reg.lookup("s1", kT0).status, CertStatus::kValid);
  EXPECT_EQ(reg.lookup("s1", kT0).cert->certificate_id, "cert-a");
  EXPECT_EQ(reg.lookup("s1", kT0).stable_id, "cert-a");
  EXPECT_EQ(reg.lookup("s3", kT0).status, CertStatus::kNoCertificate);
  EXPECT_EQ(reg.lookup("s3", kT0).cert, nullptr);
}

TEST(CalibrationRegistry, LoadsJson) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  auto c = testing::make_cert("json-1", "s1", kT0 - kDay, kT0 + kDay);
  c.correction = {0.125, 1.5, {0.25}};
  testing::sign_cert(c, lab);
  const std::string json =
      R"({"certificates": [{"certificate_id": "json-1", "sensor_id": "s1", "lab_id": "lab-1",
      "issue_date": ")" +
      engine::format_rfc3339(c.issue_date_ns) + R"(",
      "valid_from": ")" +
      engine::format_rfc3339(c.valid_from_ns) + R"(",
      "valid_until": ")" +
      engine::format_rfc3339(c.valid_until_ns) + R"(",
      "quantity": "temperature", "unit": "Cel",
      "correction": {"offset": 0.125, "gain": 1.5, "poly": [0.25]},
      "expanded_uncertainty": 0.2, "coverage_factor": 2,
      "mpe": {"initial": {"absolute": 0.5, "relative": 0}, "in_service": {"absolute": 1.0, "relative": 0}},
      "measuring_range": {"min": -40, "max": 150}, "conformity": "pass",
      "lab_key_id": "lab-1-k1", "signature_alg": "Ed25519",
      "signature": ")" +
      engine::to_hex(c.signature) + R"("}]})";
  testing::write_text(d.path / "labs.yaml", testing::labs_yaml({lab}));
  testing::write_text(d.path / "certs.json", json);
  std::vector<std::string> tr;
  auto trust = load_trust_list((d.path / "labs.yaml").string(), tr);
  CertificatesLoadReport report;
  auto certs = load_certificates_file((d.path / "certs.json").string(), *trust, report);
  ASSERT_EQ(certs.size(), 1u) << (report.refused.empty() ? "" : report.refused[0].message);
  EXPECT_EQ(canonical_bytes(certs[0]), canonical_bytes(c));
}

TEST(CalibrationRegistry, RefusesEachBadCertificateOneByOneWithALocatedReason) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  const auto stranger = testing::make_lab("lab-x");  // not in the trust list
  const auto other = testing::make_lab("lab-2");     // trusted, but signs as lab-1 below
  std::vector<CalibrationCertificate> certs;
  auto add = [&](const std::string& id, auto mutate, const testing::TestLab* signer) {
    auto c = testing::make_cert(id, "s-" + id, kT0 - kDay, kT0 + kDay);
    mutate(c);
    if (signer != nullptr) testing::sign_cert(c, *signer);
    certs.push_back(c);
  };
  auto none = [](CalibrationCertificate&) {};
  add("good", none, &lab);
  add(
      "unsigned",
      [&](CalibrationCertificate& c) {
        c.lab_id = lab.lab_id;
        c.lab_key_id = lab.key_id;
      },
      nullptr);
  add("tampered", none, &lab);
  certs.back().correction.offset = 0.5;  // changed after signing
  add("forged", none, &lab);
  certs.back().signature[10] ^= 1;
  add("untrusted", none, &stranger);
  add("wronglab", none, &other);
  certs.back().lab_id = "lab-1";  // claims lab-1 with lab-2's key (signature covers lab_id)
  add(
      "negative-u", [](CalibrationCertificate& c) { c.expanded_uncertainty = -0.1; }, &lab);
  add(
      "nan-u", [](CalibrationCertificate& c) { c.expanded_uncertainty = std::nan(""); }, &lab);
  add(
      "inf-gain", [](CalibrationCertificate& c) { c.correction.gain = INFINITY; }, &lab);
  add(
      "k-zero", [](CalibrationCertificate& c) { c.coverage_factor = 0; }, &lab);
  add(
      "until-before-from",
      [](CalibrationCertificate& c) { c.valid_until_ns = c.valid_from_ns - 1; }, &lab);
  add(
      "range-inverted", [](CalibrationCertificate& c) { std::swap(c.range_min, c.range_max); },
      &lab);
  add(
      "negative-mpe", [](CalibrationCertificate& c) { c.mpe_in_service.absolute = -1; }, &lab);
  add("missing-unit", none, &lab);
  add("good2", none, &lab);
  add("good", none, &lab);  // a second certificate with the same id
  certs.back().sensor_id = "s-dup";
  std::string yaml = to_yaml(certs);
  yaml = drop_field(yaml, "missing-unit", "unit");
  testing::write_text(d.path / "labs.yaml", testing::labs_yaml({lab, other}));
  testing::write_text(d.path / "certs.yaml", yaml);
  std::vector<std::string> tr;
  auto trust = load_trust_list((d.path / "labs.yaml").string(), tr);
  CertificatesLoadReport report;
  auto loaded = load_certificates_file((d.path / "certs.yaml").string(), *trust, report);
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0].certificate_id, "good");
  EXPECT_EQ(loaded[1].certificate_id, "good2");
  EXPECT_EQ(report.loaded, 2u);
  std::map<std::string, RefusedCertificate> by_id;
  for (const auto& r : report.refused) by_id[r.certificate_id] = r;
  ASSERT_EQ(report.refused.size(), certs.size() - 2);
  ASSERT_EQ(by_id.size(), certs.size() - 2);  // loaded: good, good2; refused: the rest
  EXPECT_EQ(by_id["good"].reason, CertRefusal::kInvalid);
  EXPECT_NE(by_id["good"].message.find("duplicate certificate_id"), std::string::npos);
  EXPECT_EQ(by_id["good"].sensor_id, "s-dup");
  by_id.erase("good");
  const std::map<std::string, std::pair<CertRefusal, std::string>> expect = {
      {"unsigned", {CertRefusal::kUnsigned, "unsigned"}},
      {"tampered", {CertRefusal::kBadSignature, "does not verify"}},
      {"forged", {CertRefusal::kBadSignature, "does not verify"}},
      {"untrusted", {CertRefusal::kUntrustedLab, "not in the trust list"}},
      {"wronglab", {CertRefusal::kUntrustedLab, "belongs to lab 'lab-2'"}},
      {"negative-u", {CertRefusal::kInvalid, "must not be negative"}},
      {"nan-u", {CertRefusal::kInvalid, "NaN"}},
      {"inf-gain", {CertRefusal::kInvalid, "infinity"}},
      {"k-zero", {CertRefusal::kInvalid, "coverage factor must be > 0"}},
      {"until-before-from", {CertRefusal::kInvalid, "valid_until is before valid_from"}},
      {"range-inverted", {CertRefusal::kInvalid, "range min is above max"}},
      {"negative-mpe", {CertRefusal::kInvalid, "must not be negative"}},
      {"missing-unit", {CertRefusal::kInvalid, "unit"}},
  };
  for (const auto& [id, want] : expect) {
    ASSERT_TRUE(by_id.count(id)) << id;
    const auto& r = by_id[id];
    EXPECT_EQ(r.reason, want.first) << id << ": " << r.message;
    EXPECT_NE(r.message.find(want.second), std::string::npos) << id << ": " << r.message;
    // Located: file:line:column.
    EXPECT_NE(r.message.find("certs.yaml:"), std::string::npos) << id << ": " << r.message;
    EXPECT_EQ(r.sensor_id, "s-" + id);
  }
}

TEST(CalibrationRegistry, TrustListRefusesBadEntriesAndLoadsTheRest) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  std::string y = testing::labs_yaml({lab});
  y += "  - lab_id: lab-bad\n    key_id: bad-k1\n    alg: Ed25519\n    public_key: \"00ff\"\n";
  y += "  - lab_id: lab-rsa\n    key_id: rsa-k1\n    alg: Rsa\n    public_key: \"00\"\n";
  y += "  - key_id: nolab\n    alg: Ed25519\n    public_key: \"" + engine::to_hex(lab.pub) + "\"\n";
  testing::write_text(d.path / "labs.yaml", y);
  std::vector<std::string> refused;
  auto trust = load_trust_list((d.path / "labs.yaml").string(), refused);
  EXPECT_EQ(trust->size(), 1u);
  ASSERT_EQ(refused.size(), 3u);
  EXPECT_NE(refused[0].find("labs.yaml:"), std::string::npos);
  EXPECT_NE(refused[0].find("64 hex"), std::string::npos);
  EXPECT_NE(refused[1].find("only Ed25519"), std::string::npos);
  EXPECT_NE(refused[2].find("lab_id"), std::string::npos);
  EXPECT_THROW(load_trust_list((d.path / "missing.yaml").string(), refused), engine::ConfigError);
}

TEST(CalibrationRegistry, RevokedOrOutOfWindowLabKeyIsUntrusted) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  auto c = testing::make_cert("c1", "s1", kT0, kT0 + kDay);
  testing::sign_cert(c, lab);
  TrustList trust;
  LabKey k;
  k.lab_id = lab.lab_id;
  k.key_id = lab.key_id;
  k.public_key = lab.pub;
  trust.put(k);
  EXPECT_FALSE(check_signature(c, trust, "here"));
  k.revoked = true;
  trust.put(k);
  auto r = check_signature(c, trust, "here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, CertRefusal::kUntrustedLab);
  k.revoked = false;
  k.valid_from_ns = kT0 + 1;  // the certificate was issued before the key was valid
  trust.put(k);
  r = check_signature(c, trust, "here");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->reason, CertRefusal::kUntrustedLab);
}

TEST(CalibrationRegistry, HistorySelectsTheCertificateValidAtTheReadingsTime) {
  CalibrationRegistry reg;
  auto put = [&](const std::string& id, int64_t from, int64_t until) {
    reg.put(
        std::make_shared<const CalibrationCertificate>(testing::make_cert(id, "s1", from, until)));
  };
  // 2023: [T0, T0+100d]; 2024: [T0+100d+1, T0+200d]; overlapping recalibration [T0+150d, T0+300d].
  put("c2", kT0 + 100 * kDay + 1, kT0 + 200 * kDay);
  put("c1", kT0, kT0 + 100 * kDay);
  put("c3", kT0 + 150 * kDay, kT0 + 300 * kDay);
  auto at = [&](int64_t t) { return reg.lookup("s1", t); };
  EXPECT_EQ(at(kT0 - 1).status, CertStatus::kNotYetValid);
  EXPECT_EQ(at(kT0 - 1).cert->certificate_id, "c1");
  EXPECT_EQ(at(kT0).cert->certificate_id, "c1");               // boundary: inclusive
  EXPECT_EQ(at(kT0 + 100 * kDay).cert->certificate_id, "c1");  // boundary: inclusive
  EXPECT_EQ(at(kT0 + 100 * kDay + 1).cert->certificate_id, "c2");
  EXPECT_EQ(at(kT0 + 160 * kDay).cert->certificate_id, "c3");  // newest calibration wins
  EXPECT_EQ(at(kT0 + 250 * kDay).cert->certificate_id, "c3");
  EXPECT_EQ(at(kT0 + 300 * kDay + 1).status, CertStatus::kExpired);
  EXPECT_EQ(at(kT0 + 300 * kDay + 1).cert->certificate_id, "c3");  // the one that expired last
  // A gap between two certificates is "expired" (the earlier one ran out).
  CalibrationRegistry gap;
  gap.put(std::make_shared<const CalibrationCertificate>(
      testing::make_cert("g1", "s", kT0, kT0 + kDay)));
  gap.put(std::make_shared<const CalibrationCertificate>(
      testing::make_cert("g2", "s", kT0 + 3 * kDay, kT0 + 4 * kDay)));
  EXPECT_EQ(gap.lookup("s", kT0 + 2 * kDay).status, CertStatus::kExpired);
  EXPECT_EQ(gap.lookup("s", kT0 + 2 * kDay).cert->certificate_id, "g1");
  // Tombstone and replace.
  EXPECT_TRUE(reg.erase("c3"));
  EXPECT_FALSE(reg.erase("c3"));
  EXPECT_EQ(at(kT0 + 160 * kDay).cert->certificate_id, "c2");
  EXPECT_EQ(at(kT0 + 250 * kDay).status, CertStatus::kExpired);
  EXPECT_EQ(reg.certificate_count(), 2u);
  auto moved = testing::make_cert("c1", "s2", kT0, kT0 + kDay);  // same id, other sensor
  reg.put(std::make_shared<const CalibrationCertificate>(moved));
  EXPECT_EQ(reg.certificate_count(), 2u);
  EXPECT_EQ(reg.lookup("s2", kT0).cert->certificate_id, "c1");
  EXPECT_EQ(at(kT0).status, CertStatus::kNotYetValid);
}

TEST(CalibrationRegistry, FlatIndexAgreesWithTheMap) {
  // Two identical registries, one finalized (flat open-addressing index, keys inline or long),
  // must answer every lookup the same, including unknown sensors.
  CalibrationRegistry map, flat;
  std::mt19937_64 rng(7);
  std::vector<std::string> ids;
  for (int i = 0; i < 3000; ++i) {
    std::string id = "sensor-" + std::to_string(i);
    if (i % 3 == 0) id += "-with-a-long-suffix-that-does-not-fit-inline-" + std::to_string(i * 7);
    ids.push_back(id);
    const int n = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < n; ++k) {
      const int64_t from = kT0 + static_cast<int64_t>(rng() % 100) * kDay;
      const int64_t until = from + static_cast<int64_t>(1 + rng() % 50) * kDay;
      auto c = std::make_shared<const CalibrationCertificate>(
          testing::make_cert(id + "#" + std::to_string(k), id, from, until));
      map.put(c);
      flat.put(c);
    }
  }
  flat.finalize();
  for (int q = 0; q < 20000; ++q) {
    const std::string& id =
        q % 10 == 0 ? std::string("nobody-") + std::to_string(q) : ids[rng() % ids.size()];
    const int64_t t = kT0 + static_cast<int64_t>(rng() % 200) * kDay;
    const CertLookup a = map.lookup(id, t), b = flat.lookup(id, t);
    ASSERT_EQ(a.status, b.status) << id;
    ASSERT_EQ(a.cert, b.cert) << id;
    ASSERT_EQ(a.stable_id, b.stable_id) << id;
    if (a.cert != nullptr) {
      ASSERT_EQ(b.hot->cert, b.cert);
      ASSERT_EQ(b.hot->quantity, "temperature");
      ASSERT_EQ(b.hot->valid_from_ns, b.cert->valid_from_ns);
    }
  }
  // A put after finalize() is seen (the index is dropped until the next finalize()).
  flat.put(std::make_shared<const CalibrationCertificate>(
      testing::make_cert("late", "late-sensor", kT0, kT0 + kDay)));
  EXPECT_EQ(flat.lookup("late-sensor", kT0).status, CertStatus::kValid);
  flat.finalize();
  EXPECT_EQ(flat.lookup("late-sensor", kT0).status, CertStatus::kValid);
}

TEST(CalibrationStore, ReloadsTheFileLiveKeepsThePreviousOnABrokenFileAndQueuesRefusals) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  auto a = testing::make_cert("a", "s1", kT0, kT0 + kDay);
  testing::sign_cert(a, lab);
  testing::write_text(d.path / "labs.yaml", testing::labs_yaml({lab}));
  testing::write_text(d.path / "certs.yaml", to_yaml({a}));
  CalibrationStoreConfig cfg;
  cfg.certificates_path = (d.path / "certs.yaml").string();
  cfg.trust_path = (d.path / "labs.yaml").string();
  cfg.reload_interval_ms = 20;
  CalibrationStore store(cfg);
  EXPECT_FALSE(store.has_refusals());
  const std::string_view id_a = store.snapshot()->lookup("s1", kT0).stable_id;
  ASSERT_EQ(id_a, "a");
  std::string err;
  ASSERT_TRUE(store.start(&err)) << err;
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 500 && !pred(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pred();
  };
  // A new certificate for s2 and an unsigned one appear: s2 becomes known, the bad one is
  // refused and queued for an alert.
  auto b = testing::make_cert("b", "s2", kT0, kT0 + kDay);
  testing::sign_cert(b, lab);
  auto bad = testing::make_cert("bad", "s3", kT0, kT0 + kDay);
  bad.lab_id = lab.lab_id;
  bad.lab_key_id = lab.key_id;
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a distinct mtime
  testing::write_text(d.path / "certs.yaml", to_yaml({a, b, bad}));
  ASSERT_TRUE(
      wait_for([&] { return store.snapshot()->lookup("s2", kT0).status == CertStatus::kValid; }));
  ASSERT_TRUE(wait_for([&] { return store.has_refusals(); }));
  auto refused = store.take_refusals();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(refused[0].certificate_id, "bad");
  EXPECT_EQ(refused[0].reason, CertRefusal::kUnsigned);
  EXPECT_FALSE(store.has_refusals());
  EXPECT_EQ(store.refused_total(), 1u);
  // A broken file is refused as a whole; the previous snapshot stays.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::write_text(d.path / "certs.yaml", "certificates: [ {unclosed\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(store.snapshot()->lookup("s2", kT0).status, CertStatus::kValid);
  // Removing a lab from the trust list withdraws its certificates.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  testing::write_text(d.path / "certs.yaml", to_yaml({a, b}));
  testing::write_text(d.path / "labs.yaml", "labs: []\n");
  ASSERT_TRUE(wait_for([&] { return store.snapshot()->certificate_count() == 0; }));
  store.stop();
  // The stable id outlives every snapshot that held it.
  EXPECT_EQ(id_a, "a");
}

TEST(CalibrationStore, AMissingFileIsAConfigError) {
  Dir d;
  CalibrationStoreConfig cfg;
  cfg.certificates_path = (d.path / "nope.yaml").string();
  cfg.trust_path = (d.path / "labs.yaml").string();
  testing::write_text(d.path / "labs.yaml", "labs: []\n");
  EXPECT_THROW(CalibrationStore s(cfg), engine::ConfigError);
  cfg.certificates_path.clear();
  cfg.trust_path = (d.path / "nolabs.yaml").string();
  EXPECT_THROW(CalibrationStore s(cfg), engine::ConfigError);
}

TEST(InternPool, ViewsAreStableAndShared) {
  InternPool pool;
  const std::string_view a = pool.intern("cert-1");
  for (int i = 0; i < 10000; ++i) pool.intern("c" + std::to_string(i));
  EXPECT_EQ(pool.intern(std::string("cert-1")).data(), a.data());
  EXPECT_EQ(a, "cert-1");
  EXPECT_EQ(pool.size(), 10001u);
}

}  // namespace
}  // namespace assay::registries

// ---- the certificates topic, on librdkafka's in-process mock cluster --------------------

namespace assay::registries {
namespace {

void produce(const std::string& topic, const std::string& key,
             const std::optional<std::string>& value) {
  const std::string bootstrap = connectors::EmbeddedKafka::instance().bootstrap();
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(p, nullptr) << err;
  void* payload = value ? const_cast<char*>(value->data()) : nullptr;
  const size_t len = value ? value->size() : 0;
  const rd_kafka_resp_err_t e =
      rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(0),
                        RD_KAFKA_V_KEY(key.data(), key.size()), RD_KAFKA_V_VALUE(payload, len),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
  ASSERT_EQ(e, RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_flush(p, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(p);
}

// One certificate as a topic message value (the item of to_yaml's list, unindented).
std::string message_value(const CalibrationCertificate& c) {
  std::string y = to_yaml({c});
  y = y.substr(y.find("- ") + 2);
  std::string out;
  size_t pos = 0;
  while (pos < y.size()) {
    size_t end = y.find('\n', pos);
    std::string line = y.substr(pos, end - pos);
    if (line.rfind("    ", 0) == 0) line = line.substr(4);
    out += line + "\n";
    pos = end + 1;
  }
  return out;
}

TEST(CalibrationStore, FollowsACertificatesTopicWithTombstonesAndRefusals) {
  Dir d;
  const auto lab = testing::make_lab("lab-1");
  testing::write_text(d.path / "labs.yaml", testing::labs_yaml({lab}));
  auto fromfile = testing::make_cert("f1", "s1", kT0, kT0 + kDay);
  testing::sign_cert(fromfile, lab);
  testing::write_text(d.path / "certs.yaml", to_yaml({fromfile}));
  const std::string topic =
      "certs-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}());
  connectors::EmbeddedKafka::instance().create_topic(topic, 1);
  auto t1 = testing::make_cert("t1", "s2", kT0, kT0 + kDay);
  testing::sign_cert(t1, lab);
  produce(topic, "t1", message_value(t1));
  CalibrationStoreConfig cfg;
  cfg.certificates_path = (d.path / "certs.yaml").string();
  cfg.trust_path = (d.path / "labs.yaml").string();
  cfg.topic_kafka.brokers = "embedded";
  cfg.topic = topic;
  cfg.reload_interval_ms = 0;
  CalibrationStore store(cfg);
  std::string err;
  ASSERT_TRUE(store.start(&err)) << err;
  auto wait_for = [&](auto pred) {
    for (int i = 0; i < 1000 && !pred(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return pred();
  };
  ASSERT_TRUE(wait_for([&] { return store.ready(); }));
  // Ready implies the topic's content at start is applied.
  EXPECT_EQ(store.snapshot()->lookup("s2", kT0).status, CertStatus::kValid);
  EXPECT_EQ(store.snapshot()->lookup("s1", kT0).status, CertStatus::kValid);
  // Live: a tombstone removes the file's certificate; a forged one is refused with an alert.
  produce(topic, "f1", std::nullopt);
  ASSERT_TRUE(wait_for(
      [&] { return store.snapshot()->lookup("s1", kT0).status == CertStatus::kNoCertificate; }));
  auto forged = testing::make_cert("t2", "s3", kT0, kT0 + kDay);
  testing::sign_cert(forged, lab);
  forged.mpe_in_service.absolute = 100;  // widened after signing
  produce(topic, "t2", message_value(forged));
  produce(topic, "wrong-key", message_value(t1));
  ASSERT_TRUE(wait_for([&] { return store.refused_total() == 2; }));
  auto refused = store.take_refusals();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].reason, CertRefusal::kBadSignature);
  EXPECT_NE(refused[0].message.find("kafka:" + topic + "/0@"), std::string::npos)
      << refused[0].message;
  EXPECT_EQ(refused[1].reason, CertRefusal::kInvalid);
  EXPECT_NE(refused[1].message.find("message key differs"), std::string::npos);
  EXPECT_EQ(store.snapshot()->lookup("s3", kT0).status, CertStatus::kNoCertificate);
  store.stop();
}

}  // namespace
}  // namespace assay::registries
