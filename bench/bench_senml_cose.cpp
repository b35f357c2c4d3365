// SenML/COSE readings verified per second (issue 15): the same COSE_Sign1 messages, each with a
// one-record SenML pack (one signature per reading: the expensive case), of 100 sensors with
// known keys, 200 messages each,
//  - through the pipeline (Runner: decode with `format: senml-cose`, verify_signature batched),
//  - with OpenSSL one at a time (parse_cose, build the Sig_structure, EVP_DigestVerify with the
//    sensor's pre-parsed key: what a COSE library does per message),
// on one thread each, for EdDSA (Ed25519) and ES256 (P-256).
// Run: build/bench/assay_bench_senml_cose --benchmark_min_time=2 --benchmark_repetitions=5
#include <benchmark/benchmark.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "connectors/memory.hpp"
#include "connectors/senml_cose_format.hpp"
#include "engine/bytes.hpp"
#include "engine/log.hpp"
#include "engine/runner.hpp"
#include "formats/cose.hpp"
#include "operators/verify_signature.hpp"

namespace {

using namespace assay;
namespace fs = std::filesystem;

constexpr int kSensors = 100;
constexpr int kPerSensor = 200;

// Minimal CBOR writer (shortest heads).
void head(std::vector<uint8_t>& o, int major, uint64_t v) {
  const auto m = static_cast<uint8_t>(major << 5);
  if (v < 24) {
    o.push_back(m | static_cast<uint8_t>(v));
  } else if (v < 0x100) {
    o.push_back(m | 24);
    o.push_back(static_cast<uint8_t>(v));
  } else if (v < 0x10000) {
    o.push_back(m | 25);
    for (int s = 8; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(v >> s));
  } else if (v <= 0xFFFFFFFFu) {
    o.push_back(m | 26);
    for (int s = 24; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(v >> s));
  } else {
    o.push_back(m | 27);
    for (int s = 56; s >= 0; s -= 8) o.push_back(static_cast<uint8_t>(v >> s));
  }
}
void bytes(std::vector<uint8_t>& o, int major, const void* p, size_t n) {
  head(o, major, n);
  o.insert(o.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
}
void text(std::vector<uint8_t>& o, const std::string& s) {
  bytes(o, 3, s.data(), s.size());
}

struct Data {
  fs::path dir;
  std::vector<std::vector<uint8_t>> records;
  std::vector<EVP_PKEY*> keys;  // by sensor
  std::vector<int> sensor;      // by record
};

// ES256 signature: DER from OpenSSL -> r||s (COSE) and back.
std::vector<uint8_t> der_to_raw(const uint8_t* der, size_t n) {
  ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(n));
  std::vector<uint8_t> raw(64);
  BN_bn2binpad(ECDSA_SIG_get0_r(s), raw.data(), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(s), raw.data() + 32, 32);
  ECDSA_SIG_free(s);
  return raw;
}
std::vector<uint8_t> raw_to_der(std::span<const uint8_t> raw) {
  ECDSA_SIG* s = ECDSA_SIG_new();
  ECDSA_SIG_set0(s, BN_bin2bn(raw.data(), 32, nullptr), BN_bin2bn(raw.data() + 32, 32, nullptr));
  uint8_t* der = nullptr;
  const int n = i2d_ECDSA_SIG(s, &der);
  std::vector<uint8_t> out(der, der + n);
  OPENSSL_free(der);
  ECDSA_SIG_free(s);
  return out;
}

const Data& data(bool es256) {
  static Data cache[2];
  Data& x = cache[es256 ? 1 : 0];
  if (!x.records.empty()) return x;
  x.dir = fs::temp_directory_path() /
          ("assay-bench-senml-" + std::to_string(getpid()) + (es256 ? "-es256" : "-eddsa"));
  fs::create_directories(x.dir);
  std::string yaml = "sensors:\n";
  for (int m = 0; m < kSensors; ++m) {
    EVP_PKEY* k = es256 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "prime256v1")
                        : EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (k == nullptr) std::abort();
    x.keys.push_back(k);
    std::string pub;
    if (es256) {
      uint8_t* der = nullptr;
      const int dl = i2d_PUBKEY(k, &der);
      pub = engine::to_hex({der, static_cast<size_t>(dl)});
      OPENSSL_free(der);
    } else {
      uint8_t raw[32];
      size_t rl = sizeof raw;
      EVP_PKEY_get_raw_public_key(k, raw, &rl);
      pub = engine::to_hex({raw, rl});
    }
    const std::string id = "urn:dev:bench:" + std::to_string(1000 + m);
    yaml += "  - sensor_id: \"" + id + "\"\n    keys:\n      - key_id: k" + std::to_string(m) +
            "\n        alg: " + (es256 ? "EcdsaP256Sha256" : "Ed25519") +
            "\n        public_key: \"" + pub + "\"\n";
  }
  std::ofstream(x.dir / "sensors.yaml") << yaml;
  std::vector<uint8_t> prot;
  head(prot, 5, 2);
  head(prot, 0, 1);
  head(prot, 1, es256 ? 6 : 7);  // -7 ES256, -8 EdDSA
  head(prot, 0, 3);
  head(prot, 0, 112);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  for (int i = 0; i < kPerSensor; ++i)
    for (int m = 0; m < kSensors; ++m) {
      std::vector<uint8_t> pack;
      head(pack, 4, 1);
      head(pack, 5, 5);
      head(pack, 1, 1);  // bn (-2)
      text(pack, "urn:dev:bench:" + std::to_string(1000 + m) + ":");
      head(pack, 1, 2);  // bt (-3)
      head(pack, 0, 1767225600u + static_cast<uint64_t>(i) * 60);
      head(pack, 0, 0);  // n
      text(pack, "temp");
      head(pack, 0, 1);  // u
      text(pack, "Cel");
      head(pack, 0, 2);  // v
      head(pack, 0, 20 + static_cast<uint64_t>(i % 10));
      std::vector<uint8_t> tbs;
      head(tbs, 4, 4);
      text(tbs, "Signature1");
      bytes(tbs, 2, prot.data(), prot.size());
      bytes(tbs, 2, nullptr, 0);
      bytes(tbs, 2, pack.data(), pack.size());
      uint8_t sig[80];
      size_t sl = sizeof sig;
      EVP_MD_CTX_reset(ctx);
      if (EVP_DigestSignInit(ctx, nullptr, es256 ? EVP_sha256() : nullptr, nullptr, x.keys[m]) !=
              1 ||
          EVP_DigestSign(ctx, sig, &sl, tbs.data(), tbs.size()) != 1)
        std::abort();
      const std::vector<uint8_t> s =
          es256 ? der_to_raw(sig, sl) : std::vector<uint8_t>(sig, sig + sl);
      std::vector<uint8_t> msg;
      head(msg, 6, 18);
      head(msg, 4, 4);
      bytes(msg, 2, prot.data(), prot.size());
      head(msg, 5, 1);
      head(msg, 0, 4);
      const std::string kid = "k" + std::to_string(m);
      bytes(msg, 2, kid.data(), kid.size());
      bytes(msg, 2, pack.data(), pack.size());
      bytes(msg, 2, s.data(), s.size());
      x.records.push_back(std::move(msg));
      x.sensor.push_back(m);
    }
  EVP_MD_CTX_free(ctx);
  return x;
}

void BM_SenmlCosePipeline(benchmark::State& state) {
  engine::set_log_level(engine::LogLevel::kError);
  const bool es256 = state.range(0) != 0;
  const Data& d = data(es256);
  uint64_t trusted = 0;
  for (auto _ : state) {
    engine::Metrics metrics;
    engine::Pipeline p;
    p.info = {"bench", std::vector<uint8_t>(32, 0), "b"};
    p.engine.threads = 1;
    p.source = std::make_unique<connectors::MemorySource>(d.records);
    p.format = std::make_unique<connectors::SenmlCoseFormat>(connectors::SenmlCoseFormatOptions{});
    p.sinks[0] = std::make_unique<connectors::MemorySink>(false);
    p.sinks[1] = std::make_unique<connectors::MemorySink>(false);
    operators::VerifySignatureConfig cfg;
    cfg.identity = registries::IdentityStore::open((d.dir / "sensors.yaml").string());
    if (const char* b = std::getenv("ASSAY_BENCH_BACKEND")) crypto::parse_backend(b, cfg.backend);
    p.operators.push_back(std::make_unique<operators::VerifySignature>(cfg));
    p.stage_names = {"decode", "verify_signature"};
    engine::Runner runner(p, metrics);
    trusted += runner.run().trusted;
  }
  if (trusted != state.iterations() * d.records.size()) state.SkipWithError("not all trusted");
  state.SetLabel(es256 ? "ES256" : "EdDSA");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}

void BM_SenmlCoseOpenSslOneAtATime(benchmark::State& state) {
  const bool es256 = state.range(0) != 0;
  const Data& d = data(es256);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::vector<uint8_t> tbs;
  uint64_t ok = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < d.records.size(); ++i) {
      formats::CoseMessage m;
      if (formats::parse_cose(d.records[i], {}, m) != formats::CoseError::kNone) continue;
      tbs.resize(formats::cose_to_be_signed_size(m));
      formats::cose_build_to_be_signed(m, tbs);
      EVP_MD_CTX_reset(ctx);
      if (es256) {
        const auto der = raw_to_der(m.signature);
        ok += EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, d.keys[d.sensor[i]]) == 1 &&
              EVP_DigestVerify(ctx, der.data(), der.size(), tbs.data(), tbs.size()) == 1;
      } else {
        ok += EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, d.keys[d.sensor[i]]) == 1 &&
              EVP_DigestVerify(ctx, m.signature.data(), m.signature.size(), tbs.data(),
                               tbs.size()) == 1;
      }
    }
  }
  EVP_MD_CTX_free(ctx);
  if (ok != state.iterations() * d.records.size()) state.SkipWithError("not all valid");
  state.SetLabel(es256 ? "ES256" : "EdDSA");
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.records.size()));
}

// Arg: 0 = EdDSA, 1 = ES256.
BENCHMARK(BM_SenmlCosePipeline)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SenmlCoseOpenSslOneAtATime)
    ->Arg(0)
    ->Arg(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
