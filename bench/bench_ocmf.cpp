// OCMF P-256 readings verified per second (issue 15): the same signed records
//  - through the pipeline (Runner: decode with `format: ocmf`, verify_signature batched), and
//  - with OpenSSL one at a time (parse_ocmf, then EVP_DigestVerify over the payload with the
//    meter's pre-parsed key: the offline verifiers' way),
// on one thread each. 100 meters with known keys (in the registry), 200 records each, one
// reading per record (one signature per reading: the expensive case).
// Run: build/bench/assay_bench_ocmf --benchmark_min_time=2 --benchmark_repetitions=5
// (ASSAY_BENCH_BACKEND=openssl|portable|avx512 picks verify_signature's backend; default auto.)
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "connectors/memory.hpp"
#include "connectors/ocmf_format.hpp"
#include "engine/bytes.hpp"
#include "engine/log.hpp"
#include "engine/runner.hpp"
#include "formats/ocmf.hpp"
#include "operators/verify_signature.hpp"

namespace {

using namespace assay;
namespace fs = std::filesystem;

constexpr int kMeters = 100;
constexpr int kPerMeter = 200;

std::string hex(const uint8_t* p, size_t n) {
  return engine::to_hex({p, n});
}

struct Data {
  fs::path dir;
  std::vector<std::vector<uint8_t>> records;
  std::vector<EVP_PKEY*> keys;  // by meter
  std::vector<int> meter;       // by record
};

const Data& data() {
  static Data d = [] {
    Data x;
    x.dir = fs::temp_directory_path() / ("assay-bench-ocmf-" + std::to_string(getpid()));
    fs::create_directories(x.dir);
    std::string yaml = "sensors:\n";
    for (int m = 0; m < kMeters; ++m) {
      EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "prime256v1");
      if (k == nullptr) std::abort();
      x.keys.push_back(k);
      uint8_t* der = nullptr;
      const int dl = i2d_PUBKEY(k, &der);
      const std::string id = "MTR" + std::to_string(1000 + m);
      yaml += "  - sensor_id: " + id + "\n    keys:\n      - key_id: " + id +
              "\n        alg: EcdsaP256Sha256\n        public_key: \"" + hex(der, dl) + "\"\n";
      OPENSSL_free(der);
    }
    std::ofstream(x.dir / "meters.yaml") << yaml;
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    for (int i = 0; i < kPerMeter; ++i)
      for (int m = 0; m < kMeters; ++m) {
        const std::string payload =
            R"({"FV":"1.0","GI":"BENCH","GS":"MTR)" + std::to_string(1000 + m) + R"(","PG":"T)" +
            std::to_string(i + 1) + R"(","MV":"Bench","MS":"MTR)" + std::to_string(1000 + m) +
            R"(","RD":[{"TM":"2026-01-01T10:)" + std::to_string(10 + i % 50) +
            R"(:00,000+0000 S","TX":"C","RV":)" + std::to_string(100 + i) +
            R"(.25,"RI":"1-b:1.8.0","RU":"kWh","ST":"G"}]})";
        uint8_t sig[80];
        size_t sl = sizeof sig;
        // (A context re-initialised for another key keeps using the first key's in OpenSSL 3
        // unless it is reset: reset before each use.)
        EVP_MD_CTX_reset(ctx);
        if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, x.keys[m]) != 1 ||
            EVP_DigestSign(ctx, sig, &sl, reinterpret_cast<const uint8_t*>(payload.data()),
                           payload.size()) != 1)
          std::abort();
        const std::string rec =
            "OCMF|" + payload + R"(|{"SA":"ECDSA-secp256r1-SHA256","SD":")" + hex(sig, sl) + "\"}";
        x.records.emplace_back(rec.begin(), rec.end());
        x.meter.push_back(m);
      }
    EVP_MD_CTX_free(ctx);
    return x;
  }();
  return d;
}

void BM_OcmfPipelineP256(benchmark::State& state) {
  engine::set_log_level(engine::LogLevel::kError);
  const Data& d = data();
  uint64_t trusted = 0;
  for (auto _ : state) {
    engine::Metrics metrics;
    engine::Pipeline p;
    p.info = {"bench", std::vector<uint8_t>(32, 0), "b"};
    p.engine.threads = static_cast<int>(state.range(0));
    p.source = std::make_unique<connectors::MemorySource>(d.records);
    p.format = std::make_unique<connectors::OcmfFormat>(connectors::OcmfFormatOptions{});
    p.sinks[0] = std::make_unique<connectors::MemorySink>(false);
    p.sinks[1] = std::make_unique<connectors::MemorySink>(false);
    operators::VerifySignatureConfig cfg;
    cfg.identity = registries::IdentityStore::open((d.dir / "meters.yaml").string());
    if (const char* b = std::getenv("ASSAY_BENCH_BACKEND")) crypto::parse_backend(b, cfg.backend);
    p.operators.push_back(std::make_unique<operators::VerifySignature>(cfg));
    p.stage_names = {"decode", "verify_signature"};
    engine::Runner runner(p, metrics);
    const auto s = runner.run();
    trusted += s.trusted;
  }
  if (trusted != state.iterations() * d.records.size()) state.SkipWithError("not all trusted");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}

void BM_OcmfOpenSslOneAtATimeP256(benchmark::State& state) {
  const Data& d = data();
  formats::OcmfRecord rec;
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  uint64_t ok = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < d.records.size(); ++i) {
      if (formats::parse_ocmf(d.records[i], {}, rec) != formats::OcmfError::kNone) continue;
      const auto der = rec.signature_der();
      EVP_MD_CTX_reset(ctx);
      ok += EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, d.keys[d.meter[i]]) == 1 &&
            EVP_DigestVerify(ctx, der.data(), der.size(), rec.payload.data(), rec.payload.size()) ==
                1;
    }
  }
  EVP_MD_CTX_free(ctx);
  if (ok != state.iterations() * d.records.size()) state.SkipWithError("not all valid");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}

BENCHMARK(BM_OcmfPipelineP256)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OcmfOpenSslOneAtATimeP256)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
