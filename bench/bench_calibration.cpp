// Readings/s through operator `calibration` alone on one core, 100k sensors, one signed
// certificate each (loaded and signature-checked from a file at set-up, like production):
//  - BM_Calibration/guarded: Calibration::process on batches of 1024 rows, readings spread
//    over all sensors (the certificate lookup misses the caches as it would in a real fleet),
//    with a ReferenceCheck every 50th reading; includes the column writes and rejections.
//    /registry:1 adds the identity registry (approved firmware, quantity/unit, range): one
//    more lookup per reading.
//  - BM_CalibrationEvaluate: evaluate_calibration alone (the decision without the batch).
//  - BM_LoadCertificates/dcc:0: a CalibrationStore loading 100k lab-signed YAML certificates
//    from one file (trust list, parse, Ed25519 batch verification, snapshot), as at start or
//    on a reload. /dcc:1: the same from a directory of 100k DCC XML files, each with an
//    enveloped XMLDSig signature (ECDSA P-256, exclusive C14N, signed at set-up with xmlsec)
//    verified against the lab's X.509 certificate. ASSAY_BENCH_DCC_DIR keeps the generated
//    DCC directory between runs (it is reused when it holds the expected number of files).
//  - BM_ImportDcc: one DCC import from memory (parse, XMLDSig, mapping; the ECDSA check as a
//    batch of one). BM_ImportDccBatch/N: runs of N with the ECDSA checks batched, as a
//    directory load does them (items_per_second).
// Run: build/bench/assay_bench_calibration --benchmark_min_time=2
#include <benchmark/benchmark.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tbb/parallel_for.h>
#include <xmlsec/crypto.h>
#include <xmlsec/xmldsig.h>
#include <xmlsec/xmlsec.h>
#include <xmlsec/xmltree.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include "registries/calibration_certificate.hpp"
#include "registries/dcc.hpp"
#include "crypto/ed25519.hpp"
#include "engine/bytes.hpp"
#include "engine/log.hpp"
#include "operators/anomaly.hpp"
#include "operators/calibration.hpp"
#include "operators/drift.hpp"
#include "schemas/reading_generated.h"

namespace {

using namespace assay;
namespace fs = std::filesystem;

// 100k by default; ASSAY_BENCH_SENSORS overrides (e.g. 1000 to see the cache-resident cost).
const uint32_t kSensors = [] {
  const char* e = std::getenv("ASSAY_BENCH_SENSORS");
  return e != nullptr ? static_cast<uint32_t>(std::stoul(e)) : 100000u;
}();
constexpr int64_t kT0 = 1'700'000'000'000'000'000;
constexpr int64_t kDay = 86'400'000'000'000;

struct World {
  fs::path dir;
  std::unique_ptr<operators::Calibration> op;
  std::unique_ptr<operators::Calibration> op_registry;  // same, plus the identity registry
  World() = default;
  World(World&&) = default;
  ~World() {
    if (!dir.empty()) fs::remove_all(dir);
  }
  // One reading per sensor, shuffled, packed 8-byte aligned in one arena like a Batch's.
  std::vector<uint64_t> arena;
  std::vector<const wire::Reading*> readings;
};

std::string sensor_id(uint32_t i) {
  return "urn:assay:bench:sensor:" + std::to_string(i);
}

World& world() {
  static World w = [] {
    World w;
    w.dir = fs::temp_directory_path() / ("assay-bench-cal-" + std::to_string(getpid()));
    fs::create_directories(w.dir);
    uint8_t pub[32], priv[32];
    crypto::ed25519_keypair(pub, priv);
    std::vector<registries::CalibrationCertificate> certs(kSensors);
    tbb::parallel_for(uint32_t{0}, kSensors, [&](uint32_t i) {
      auto& c = certs[i];
      c.certificate_id = "urn:assay:bench:cert:" + std::to_string(i);
      c.sensor_id = sensor_id(i);
      c.lab_id = "lab-1";
      c.lab_key_id = "lab-1-k1";
      c.issue_date_ns = c.valid_from_ns = kT0 - 100 * kDay;
      c.valid_until_ns = kT0 + 100 * kDay;
      c.quantity = "temperature";
      c.unit = "Cel";
      c.correction = {0.01 * (i % 7), 1.0 + 1e-4 * (i % 5), {i % 3 == 0 ? 1e-5 : 0.0}};
      c.expanded_uncertainty = 0.1;
      c.mpe_initial = {0.5, 0.001};
      c.mpe_in_service = {1.0, 0.002};
      c.range_min = -40;
      c.range_max = 150;
      c.conformity = "pass";
      const std::string canon = registries::canonical_bytes(c);
      c.signature.resize(64);
      crypto::ed25519_sign(priv, reinterpret_cast<const uint8_t*>(canon.data()), canon.size(),
                           c.signature.data());
    });
    std::ofstream(w.dir / "certs.yaml") << registries::to_yaml(certs);
    std::ofstream(w.dir / "labs.yaml")
        << "labs:\n  - lab_id: lab-1\n    key_id: lab-1-k1\n    alg: Ed25519\n    public_key: \""
        << engine::to_hex(std::span<const uint8_t>(pub, 32)) << "\"\n";
    {
      std::string y = "sensors:\n";
      for (uint32_t i = 0; i < kSensors; ++i) {
        y += "  - sensor_id: " + sensor_id(i) +
             "\n    quantity: temperature\n    unit: Cel\n    measuring_range: {min: -40, max: "
             "150}\n"
             "    approved_firmware: [\"" +
             std::string(64, 'a') + "\", \"" + std::string(64, 'b') + "\"]\n";
      }
      std::ofstream(w.dir / "sensors.yaml") << y;
    }
    registries::CalibrationStoreConfig sc;
    sc.certificates_path = (w.dir / "certs.yaml").string();
    sc.trust_path = (w.dir / "labs.yaml").string();
    sc.reload_interval_ms = 0;
    const auto t0 = std::chrono::steady_clock::now();
    operators::CalibrationConfig cfg;
    cfg.store = std::make_shared<registries::CalibrationStore>(std::move(sc));
    w.op = std::make_unique<operators::Calibration>(cfg);
    std::fprintf(stderr, "loaded and verified %u certificates in %.2f s\n", kSensors,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (w.op->store().snapshot()->certificate_count() != kSensors) std::abort();
    std::mt19937_64 rng(3);
    std::vector<uint32_t> order(kSensors);
    for (uint32_t i = 0; i < kSensors; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    std::normal_distribution<double> noise(0, 0.05);
    std::vector<std::vector<uint8_t>> bufs;
    for (uint32_t k = 0; k < kSensors; ++k) {
      const uint32_t i = order[k];
      flatbuffers::FlatBufferBuilder fbb;
      auto id = fbb.CreateString(sensor_id(i));
      auto q = fbb.CreateString("temperature");
      auto u = fbb.CreateString("Cel");
      const std::vector<uint8_t> bb(32, 0xbb);
      auto fw = fbb.CreateVector(bb);
      wire::ReadingBuilder rb(fbb);
      rb.add_sensor_id(id);
      rb.add_seq(k + 1);
      rb.add_time_ns(kT0 + k);
      rb.add_quantity(q);
      rb.add_unit(u);
      rb.add_value(25 + noise(rng));
      rb.add_std_uncertainty(0.05);
      rb.add_firmware_sha256(fw);
      if (k % 50 == 0) {
        rb.add_kind(wire::ReadingKind::ReferenceCheck);
        rb.add_reference_value(25);
      }
      wire::FinishReadingBuffer(fbb, rb.Finish());
      bufs.emplace_back(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
    }
    size_t words = 0;
    for (const auto& b : bufs) words += (b.size() + 7) / 8;
    w.arena.resize(words);
    size_t at = 0;
    for (const auto& b : bufs) {
      std::memcpy(w.arena.data() + at, b.data(), b.size());
      w.readings.push_back(wire::GetReading(w.arena.data() + at));
      at += (b.size() + 7) / 8;
    }
    return w;
  }();
  return w;
}

operators::Calibration& with_registry(World& w) {
  if (!w.op_registry) {
    registries::CalibrationStoreConfig sc;
    sc.certificates_path = (w.dir / "certs.yaml").string();
    sc.trust_path = (w.dir / "labs.yaml").string();
    sc.identity = registries::IdentityStore::open((w.dir / "sensors.yaml").string());
    sc.reload_interval_ms = 0;
    operators::CalibrationConfig cfg;
    cfg.store = std::make_shared<registries::CalibrationStore>(std::move(sc));
    w.op_registry = std::make_unique<operators::Calibration>(cfg);
  }
  return *w.op_registry;
}

void BM_Calibration(benchmark::State& state) {
  World& w = world();  // logs the load (certificates, parse_s, verify_s)
  operators::Calibration& op = state.range(0) != 0 ? with_registry(w) : *w.op;
  engine::set_log_level(engine::LogLevel::kError);
  constexpr uint32_t kRows = 1024;
  engine::Batch b;
  engine::PipelineInfo info{"bench", {}, "bench-1"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "bench", "calibration");
  engine::OperatorContext ctx{info, probe, 1, kT0, 0};
  size_t next = 0, rows = 0, rejected = 0;
  for (auto _ : state) {
    state.PauseTiming();
    b.clear();
    for (uint32_t r = 0; r < kRows; ++r) {
      b.frames.push_back(engine::Frame{});
      b.add_row(r, 0, w.readings[next]);
      next = (next + 1) % w.readings.size();
    }
    state.ResumeTiming();
    op.process(b, nullptr, ctx);
    rows += kRows;
    for (uint32_t r = 0; r < kRows; ++r) rejected += b.row_reject[r] != engine::RejectCode::kNone;
  }
  state.counters["readings_per_s"] =
      benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["rejected_frac"] = static_cast<double>(rejected) / static_cast<double>(rows);
}
// Arg 0: certificates only; 1: with the identity registry (firmware, quantity/unit, range).
BENCHMARK(BM_Calibration)->Arg(0)->Arg(1)->ArgName("registry")->Unit(benchmark::kMicrosecond);

void BM_CalibrationEvaluate(benchmark::State& state) {
  World& w = world();  // logs the load (certificates, parse_s, verify_s)
  engine::set_log_level(engine::LogLevel::kError);
  const auto snap = w.op->store().snapshot();
  size_t next = 0, n = 0;
  for (auto _ : state) {
    for (int i = 0; i < 1024; ++i) {
      const auto r = operators::evaluate_calibration(*w.readings[next], *snap, nullptr,
                                                     operators::DecisionRule::kGuarded, false);
      benchmark::DoNotOptimize(r);
      next = (next + 1) % w.readings.size();
    }
    n += 1024;
  }
  state.counters["readings_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CalibrationEvaluate)->Unit(benchmark::kMicrosecond);

// The whole quality chain of issue 5 on one core: calibration (with the identity registry) ->
// anomaly -> drift, 100k sensors, one reading per sensor per round in a shuffled order (every
// lookup a cache miss), batches of 1024 rows. Between rounds (untimed) every reading gets the
// next seq, time and a new value in place, so each round is new data against warm state.
void BM_QualityChain(benchmark::State& state) {
  World& w = world();
  operators::Calibration& cal = with_registry(w);
  engine::set_log_level(engine::LogLevel::kError);
  operators::DriftConfig dc;
  const uint32_t grouped = kSensors * 15 / 100 / 3 * 3;  // 15 % in groups of three
  for (uint32_t g = 0; g < grouped; g += 3)
    dc.groups.push_back(
        {"g" + std::to_string(g), {sensor_id(g), sensor_id(g + 1), sensor_id(g + 2)}});
  operators::AnomalyConfig ac;
  ac.reject_mask = static_cast<uint32_t>(wire::AnomalyFlag::Replay) |
                   static_cast<uint32_t>(wire::AnomalyFlag::FutureTimestamp);
  const operators::Anomaly anomaly(ac);
  const operators::Drift drift(dc);
  const std::vector<const engine::Operator*> ops = {&cal, &anomaly, &drift};
  std::vector<std::unique_ptr<engine::OperatorState>> states;
  for (const auto* op : ops) states.push_back(op->make_state(engine::Partition(0)));
  engine::PipelineInfo info{"bench", {}, "bench-1"};
  engine::Metrics metrics;
  engine::OperatorProbe probe(metrics, "bench", "quality");
  constexpr uint32_t kRows = 1024;
  std::vector<engine::Batch> batches((w.readings.size() + kRows - 1) / kRows);
  // Arg 0: readings in sensor order (the order the tables were filled: a fleet reporting in a
  // fixed cycle); 1: the world's shuffled order (every lookup a cache miss: the worst case).
  std::vector<const wire::Reading*> order = w.readings;
  if (state.range(0) == 0) {
    auto index = [](const wire::Reading* r) {
      const std::string_view id = r->sensor_id()->string_view();
      return std::stoul(std::string(id.substr(id.rfind(':') + 1)));
    };
    std::sort(order.begin(), order.end(),
              [&](const wire::Reading* a, const wire::Reading* b) { return index(a) < index(b); });
  }
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 0.05);
  uint64_t round = 0, rows = 0, kept = 0;
  auto next_round = [&] {
    ++round;
    for (const wire::Reading* r : order) {
      // The readings live in the bench's own mutable arena.
      auto* t = reinterpret_cast<flatbuffers::Table*>(const_cast<wire::Reading*>(r));
      t->SetField<uint64_t>(wire::Reading::VT_SEQ, r->seq() + 1, 0);
      t->SetField<int64_t>(wire::Reading::VT_TIME_NS, r->time_ns() + 1'000'000'000, 0);
      t->SetField<double>(wire::Reading::VT_VALUE, 25 + noise(rng), 0);
    }
    size_t next = 0;
    for (auto& b : batches) {
      b.clear();
      for (uint32_t k = 0; k < kRows && next < order.size(); ++k, ++next) {
        b.frames.push_back(engine::Frame{});
        b.add_row(k, 0, order[next]);
      }
    }
  };
  auto run_round = [&] {
    const int64_t now = order.front()->time_ns();
    for (auto& b : batches) {
      for (size_t i = 0; i < ops.size(); ++i) {
        engine::OperatorContext ctx{info, probe, static_cast<uint8_t>(i + 1), now, now};
        ops[i]->process(b, states[i].get(), ctx);
        b.compact_selection();
      }
      rows += b.row_count();
      kept += b.sel.size();
    }
  };
  next_round();  // warm-up round (untimed): every sensor's state exists
  run_round();
  rows = kept = 0;
  for (auto _ : state) {
    state.PauseTiming();
    next_round();
    state.ResumeTiming();
    run_round();
  }
  state.SetItemsProcessed(static_cast<int64_t>(rows));
  state.counters["kept_frac"] =
      rows > 0 ? static_cast<double>(kept) / static_cast<double>(rows) : 0;
  size_t mem = 0;
  for (const auto& st : states)
    if (st) mem += st->memory_bytes();
  state.counters["state_bytes_per_sensor"] = static_cast<double>(mem) / kSensors;
}
BENCHMARK(BM_QualityChain)->Arg(0)->Arg(1)->ArgName("shuffled")->Unit(benchmark::kMillisecond);


// ---- loading 100k certificates: YAML file vs a directory of DCC files -------------------

// A TEST lab: an EC P-256 key and a self-signed certificate (PEM), made here.
struct BenchLab {
  std::string key_pem, cert_pem;
};

BenchLab make_bench_lab() {
  EVP_PKEY* pkey = EVP_EC_gen("P-256");
  X509* x = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  ASN1_TIME_set(X509_getm_notBefore(x), 1'600'000'000);  // 2020
  ASN1_TIME_set(X509_getm_notAfter(x), 4'000'000'000);   // 2096
  X509_set_pubkey(x, pkey);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Assay Bench Lab"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_sign(x, pkey, EVP_sha256());
  auto pem = [](auto write) {
    BIO* b = BIO_new(BIO_s_mem());
    write(b);
    char* p = nullptr;
    const long n = BIO_get_mem_data(b, &p);
    std::string s(p, static_cast<size_t>(n));
    BIO_free(b);
    return s;
  };
  BenchLab lab;
  lab.key_pem = pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, pkey, nullptr, nullptr, 0, nullptr, nullptr); });
  lab.cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, x); });
  X509_free(x);
  EVP_PKEY_free(pkey);
  return lab;
}

// A DCC 3.2 document of the schema's structure for one sensor (a 5-point temperature table
// with expanded uncertainties and acceptance limits, a validity range and a recalibration
// period), with an enveloped signature template.
std::string bench_dcc(uint32_t i) {
  const std::string id = std::to_string(i);
  const double e = 0.01 * (i % 7);
  char err[128];
  std::snprintf(err, sizeof err, "%.3f %.3f %.3f %.3f %.3f", e + 0.05, e + 0.04, e + 0.03,
                e + 0.02, e + 0.01);
  return R"(<?xml version="1.0" encoding="UTF-8"?>
<dcc:digitalCalibrationCertificate xmlns:dcc="https://ptb.de/dcc" xmlns:si="https://ptb.de/si" schemaVersion="3.2.1">
  <dcc:administrativeData>
    <dcc:dccSoftware><dcc:software><dcc:name><dcc:content>bench</dcc:content></dcc:name><dcc:release>1</dcc:release></dcc:software></dcc:dccSoftware>
    <dcc:coreData>
      <dcc:countryCodeISO3166_1>DE</dcc:countryCodeISO3166_1>
      <dcc:usedLangCodeISO639_1>en</dcc:usedLangCodeISO639_1>
      <dcc:mandatoryLangCodeISO639_1>en</dcc:mandatoryLangCodeISO639_1>
      <dcc:uniqueIdentifier>urn:assay:bench:dcc:)" + id + R"(</dcc:uniqueIdentifier>
      <dcc:beginPerformanceDate>2023-01-10</dcc:beginPerformanceDate>
      <dcc:endPerformanceDate>2023-01-10</dcc:endPerformanceDate>
      <dcc:performanceLocation>laboratory</dcc:performanceLocation>
    </dcc:coreData>
    <dcc:items><dcc:item>
      <dcc:name><dcc:content lang="en">Temperature sensor</dcc:content></dcc:name>
      <dcc:identifications>
        <dcc:identification><dcc:issuer>manufacturer</dcc:issuer><dcc:value>SN-)" + id + R"(</dcc:value></dcc:identification>
        <dcc:identification><dcc:issuer>customer</dcc:issuer><dcc:value>)" + sensor_id(i) + R"(</dcc:value></dcc:identification>
      </dcc:identifications>
    </dcc:item></dcc:items>
    <dcc:calibrationLaboratory>
      <dcc:calibrationLaboratoryCode>bench-lab</dcc:calibrationLaboratoryCode>
      <dcc:contact><dcc:name><dcc:content>Bench Lab</dcc:content></dcc:name><dcc:eMail>lab@example.invalid</dcc:eMail>
        <dcc:location><dcc:city>Testtown</dcc:city><dcc:countryCode>DE</dcc:countryCode></dcc:location></dcc:contact>
    </dcc:calibrationLaboratory>
    <dcc:respPersons><dcc:respPerson><dcc:person><dcc:name><dcc:content>Test Person</dcc:content></dcc:name></dcc:person></dcc:respPerson></dcc:respPersons>
    <dcc:customer><dcc:name><dcc:content>Bench</dcc:content></dcc:name><dcc:location><dcc:city>Testtown</dcc:city></dcc:location></dcc:customer>
    <dcc:statements>
      <dcc:statement refType="basic_recalibration"><dcc:declaration><dcc:content lang="en">Recalibration</dcc:content></dcc:declaration><dcc:period>P2Y</dcc:period></dcc:statement>
      <dcc:statement refType="basic_validityRange"><dcc:declaration><dcc:content lang="en">Range</dcc:content></dcc:declaration><dcc:data>
        <dcc:quantity refType="basic_validityRangeMin"><si:real><si:value>-40</si:value><si:unit>\degreecelsius</si:unit></si:real></dcc:quantity>
        <dcc:quantity refType="basic_validityRangeMax"><si:real><si:value>150</si:value><si:unit>\degreecelsius</si:unit></si:real></dcc:quantity>
      </dcc:data></dcc:statement>
    </dcc:statements>
  </dcc:administrativeData>
  <dcc:measurementResults><dcc:measurementResult>
    <dcc:name><dcc:content lang="en">Results</dcc:content></dcc:name>
    <dcc:results><dcc:result><dcc:name><dcc:content lang="en">Table</dcc:content></dcc:name><dcc:data><dcc:list>
      <dcc:quantity refType="basic_referenceValue"><si:realListXMLList><si:valueXMLList>-20 20 60 100 140</si:valueXMLList><si:unitXMLList>\degreecelsius</si:unitXMLList></si:realListXMLList></dcc:quantity>
      <dcc:quantity refType="basic_measurementError"><si:realListXMLList><si:valueXMLList>)" + err + R"(</si:valueXMLList><si:unitXMLList>\kelvin</si:unitXMLList>
        <si:expandedUncXMLList><si:uncertaintyXMLList>0.1</si:uncertaintyXMLList><si:coverageFactorXMLList>2</si:coverageFactorXMLList><si:coverageProbabilityXMLList>0.95</si:coverageProbabilityXMLList></si:expandedUncXMLList></si:realListXMLList>
        <dcc:measurementMetaData><dcc:metaData refType="basic_conformity"><dcc:declaration><dcc:content lang="en">Conformity</dcc:content></dcc:declaration><dcc:conformityXMLList>pass</dcc:conformityXMLList><dcc:data>
          <dcc:quantity refType="basic_acceptanceLimitLower"><si:realListXMLList><si:valueXMLList>-1</si:valueXMLList><si:unitXMLList>\kelvin</si:unitXMLList></si:realListXMLList></dcc:quantity>
          <dcc:quantity refType="basic_acceptanceLimitUpper"><si:realListXMLList><si:valueXMLList>1</si:valueXMLList><si:unitXMLList>\kelvin</si:unitXMLList></si:realListXMLList></dcc:quantity>
        </dcc:data></dcc:metaData></dcc:measurementMetaData>
      </dcc:quantity>
    </dcc:list></dcc:data></dcc:result></dcc:results>
  </dcc:measurementResult></dcc:measurementResults>
  <ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo>
    <ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/>
    <ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"/>
    <ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms>
    <ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference>
  </ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>
</dcc:digitalCalibrationCertificate>
)";
}

// The directory of kSensors signed DCCs and its trust list (made once; kept between runs
// when ASSAY_BENCH_DCC_DIR names a directory).
struct DccWorld {
  std::string dir, trust;
};

DccWorld& dcc_world() {
  static DccWorld w = [] {
    DccWorld w;
    const char* keep = std::getenv("ASSAY_BENCH_DCC_DIR");
    const fs::path base = keep != nullptr ? fs::path(keep) : world().dir / "dcc";
    fs::create_directories(base / "certs");
    w.dir = (base / "certs").string();
    w.trust = (base / "labs.yaml").string();
    size_t have = 0;
    for (const auto& e : fs::directory_iterator(w.dir)) have += e.path().extension() == ".xml";
    if (have == kSensors && fs::exists(w.trust)) return w;
    const auto t0 = std::chrono::steady_clock::now();
    registries::dcc_init();
    const BenchLab lab = make_bench_lab();
    std::ofstream(base / "lab.pem") << lab.cert_pem;
    std::ofstream(w.trust) << "labs:\n  - lab_id: bench-lab\n    key_id: bench-lab-k1\n"
                              "    alg: X509\n    certificate_file: lab.pem\n";
    xmlSecKeyPtr key = xmlSecCryptoAppKeyLoadMemory(
        reinterpret_cast<const xmlSecByte*>(lab.key_pem.data()),
        static_cast<xmlSecSize>(lab.key_pem.size()), xmlSecKeyDataFormatPem, nullptr, nullptr,
        nullptr);
    if (key == nullptr ||
        xmlSecCryptoAppKeyCertLoadMemory(key, reinterpret_cast<const xmlSecByte*>(lab.cert_pem.data()),
                                         static_cast<xmlSecSize>(lab.cert_pem.size()),
                                         xmlSecKeyDataFormatPem) < 0)
      std::abort();
    tbb::parallel_for(uint32_t{0}, kSensors, [&](uint32_t i) {
      const std::string xml = bench_dcc(i);
      xmlDocPtr doc = xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr, 0);
      xmlNodePtr sig = xmlSecFindNode(xmlDocGetRootElement(doc), xmlSecNodeSignature, xmlSecDSigNs);
      xmlSecDSigCtxPtr ctx = xmlSecDSigCtxCreate(nullptr);
      ctx->signKey = xmlSecKeyDuplicate(key);
      if (sig == nullptr || xmlSecDSigCtxSign(ctx, sig) < 0) std::abort();
      xmlSecDSigCtxDestroy(ctx);
      xmlChar* out = nullptr;
      int len = 0;
      xmlDocDumpMemory(doc, &out, &len);
      std::ofstream(fs::path(w.dir) / ("dcc-" + std::to_string(i) + ".xml"), std::ios::binary)
          .write(reinterpret_cast<const char*>(out), len);
      xmlFree(out);
      xmlFreeDoc(doc);
    });
    xmlSecKeyDestroy(key);
    std::fprintf(stderr, "generated and signed %u DCC files in %.1f s\n", kSensors,
                 std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return w;
  }();
  return w;
}

void BM_LoadCertificates(benchmark::State& state) {
  const bool dcc = state.range(0) != 0;
  World& w = world();  // the YAML file (100k certificates) and its trust list
  std::string certs = (w.dir / "certs.yaml").string(), trust = (w.dir / "labs.yaml").string();
  if (dcc) {
    const DccWorld& d = dcc_world();
    certs = d.dir;
    trust = d.trust;
  }
  engine::set_log_level(engine::LogLevel::kError);
  size_t loaded = 0;
  for (auto _ : state) {
    registries::CalibrationStoreConfig cfg;
    cfg.certificates_path = certs;
    cfg.trust_path = trust;
    cfg.reload_interval_ms = 0;
    registries::CalibrationStore store(cfg);
    loaded = store.snapshot()->certificate_count();
    if (store.refused_total() != 0) std::abort();
  }
  if (loaded != kSensors) std::abort();
  state.counters["certificates"] = static_cast<double>(loaded);
  state.counters["certificates_per_s"] =
      benchmark::Counter(static_cast<double>(loaded) * static_cast<double>(state.iterations()),
                         benchmark::Counter::kIsRate);
}
// The whole load takes seconds: one load per iteration, wall time (it runs in parallel).
BENCHMARK(BM_LoadCertificates)
    ->Arg(0)
    ->Arg(1)
    ->ArgName("dcc")
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);


// One DCC import (parse, XMLDSig verification, mapping) on one core, from memory: the per-
// document cost inside BM_LoadCertificates/dcc:1 without the file system.
void BM_ImportDcc(benchmark::State& state) {
  const DccWorld& d = dcc_world();
  engine::set_log_level(engine::LogLevel::kError);
  std::vector<std::string> docs;
  for (uint32_t i = 0; i < 200; ++i) {
    std::ifstream in(fs::path(d.dir) / ("dcc-" + std::to_string(i) + ".xml"), std::ios::binary);
    docs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> refused;
  const auto trust = registries::load_trust_list(d.trust, refused);
  size_t n = 0;
  for (auto _ : state) {
    const auto o = registries::import_dcc(docs[n % docs.size()], "bench.xml", *trust);
    if (!o.import) std::abort();
    ++n;
  }
  state.counters["dcc_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
  state.counters["bytes"] = static_cast<double>(docs[0].size());
}
BENCHMARK(BM_ImportDcc)->Unit(benchmark::kMicrosecond);

// The same documents as a certificates directory imports them: runs of N (the argument), each
// document's ECDSA P-256 SignatureValue check and mapping deferred and the run's checks
// verified in one batch (complete_dcc_signatures). Time per run; items_per_second = documents
// per CPU second.
void BM_ImportDccBatch(benchmark::State& state) {
  const DccWorld& d = dcc_world();
  engine::set_log_level(engine::LogLevel::kError);
  std::vector<std::string> docs;
  for (uint32_t i = 0; i < 256; ++i) {
    std::ifstream in(fs::path(d.dir) / ("dcc-" + std::to_string(i) + ".xml"), std::ios::binary);
    docs.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  std::vector<std::string> refused;
  const auto trust = registries::load_trust_list(d.trust, refused);
  const size_t run = static_cast<size_t>(state.range(0));
  std::vector<registries::DccOutcome> outcomes;
  size_t n = 0;
  for (auto _ : state) {
    outcomes.clear();
    for (size_t i = 0; i < run; ++i)
      outcomes.push_back(registries::import_dcc(docs[(n + i) % docs.size()], "bench.xml", *trust,
                                                nullptr, false,
                                                registries::DccVerifyMode::kDeferred));
    registries::complete_dcc_signatures(outcomes);
    for (const auto& o : outcomes)
      if (!o.import) std::abort();
    n += run;
  }
  state.SetItemsProcessed(static_cast<int64_t>(n));
}
BENCHMARK(BM_ImportDccBatch)->Arg(16)->Arg(32)->Arg(64)->Arg(128)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
