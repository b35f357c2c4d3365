// ECDSA (P-256, P-384, brainpoolP256r1, brainpoolP384r1) and HMAC-SHA256 verification
// throughput on one core: OpenSSL one at a time (Backend::kOpenSSL) versus Assay's batch paths,
// per backend.
//
//   assay_bench_crypto_ecdsa_hmac --benchmark_min_time=1s
//
// P-256: a pool of 1,024 signatures under 1,024 distinct keys, taken in batches (1, 8, 64,
// 256). "hot_keys": every key already has its comb table (the fleet case: a key seen >= 8
// times); "cold_keys": fresh key objects for every batch, so every verification is a key's first
// use (after a restart or a rebalance every key is cold); "small_table": 256 keys forced onto
// the small per-key table. "table_build/*" = the one-off cost of a key's tables.
// ecdsa/openssl_single is the P-256 reference: per signature, SHA-256 of the message, then
// EVP_PKEY_CTX_new_from_pkey + EVP_PKEY_verify_init + EVP_PKEY_CTX_set_signature_md +
// EVP_PKEY_verify(DER(r, s), digest) with the key's EVP_PKEY parsed once.
// Other curves ("ecdsa_curve/<curve>/..."): 256 signatures (DER) under 256 keys, through
// crypto::ecdsa_verify_batch; openssl_evp_single = per signature EVP_MD_CTX_new +
// EVP_DigestVerifyInit(SHA-256/384, the key's EVP_PKEY parsed once) + EVP_DigestVerify(DER
// signature, message) + EVP_MD_CTX_free, after Assay's strict DER parse (kOpenSSL backend).
#include <benchmark/benchmark.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "crypto/ecdsa.hpp"
#include "crypto/ecdsa_p256.hpp"
#include "crypto/ecdsa_p256_internal.hpp"
#include "crypto/hmac_sha256.hpp"

namespace {

using namespace assay::crypto;

constexpr size_t kPool = 1024;  // P-256 signatures, one key each

struct EcdsaCorpus {
  std::vector<EcdsaP256PublicKey> keys;
  std::vector<std::vector<uint8_t>> msgs;
  std::vector<std::array<uint8_t, 64>> sigs;
  std::vector<EcdsaP256Job> jobs;
};

// n signatures over 128-byte messages, by `key_count` keys (round robin).
EcdsaCorpus make_ecdsa(size_t n, size_t key_count) {
  EcdsaCorpus c;
  std::vector<EcdsaP256KeyPair> pairs;
  for (size_t k = 0; k < key_count; ++k) {
    pairs.push_back(*ecdsa_p256_keypair());
    c.keys.push_back(*EcdsaP256PublicKey::parse(pairs.back().public_uncompressed));
  }
  std::mt19937_64 rng(7);
  c.msgs.resize(n);
  c.sigs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    c.msgs[i].resize(128);
    for (auto& x : c.msgs[i]) x = static_cast<uint8_t>(rng());
    ecdsa_p256_sign(pairs[i % key_count].private_der, c.msgs[i].data(), 128, c.sigs[i].data());
  }
  for (size_t i = 0; i < n; ++i) {
    c.jobs.push_back({&c.keys[i % key_count], c.sigs[i].data(), 64, c.msgs[i].data(), 128});
  }
  return c;
}

// The pool with every key's comb table built.
const EcdsaCorpus& hot_corpus() {
  static const EcdsaCorpus c = [] {
    EcdsaCorpus k = make_ecdsa(kPool, kPool);
    assay::crypto::detail::p256_set_table_policy(assay::crypto::detail::kSmallAfterUses, 0);
    std::vector<uint8_t> v(k.jobs.size());
    ecdsa_p256_verify_batch(k.jobs, v, Backend::kPortable);
    assay::crypto::detail::p256_set_table_policy(assay::crypto::detail::kSmallAfterUses,
                                                 assay::crypto::detail::kCombAfterUses);
    return k;
  }();
  return c;
}

// The same signatures under never-used key objects (parsed anew for each batch).
const EcdsaCorpus& cold_corpus() {
  static const EcdsaCorpus c = make_ecdsa(kPool, kPool);
  return c;
}

void BM_Ecdsa(benchmark::State& state, Backend b, bool cold) {
  const size_t batch = static_cast<size_t>(state.range(0));
  const EcdsaCorpus& c = cold ? cold_corpus() : hot_corpus();
  std::vector<uint8_t> verdicts(batch);
  std::vector<std::optional<EcdsaP256PublicKey>> fresh;
  std::vector<EcdsaP256Job> jobs;
  size_t off = 0;
  for (auto _ : state) {
    state.PauseTiming();
    jobs.assign(batch, {});
    if (cold) {
      fresh.clear();
      fresh.reserve(batch);  // jobs point into it
    }
    for (size_t i = 0; i < batch; ++i) {
      jobs[i] = c.jobs[(off + i) % c.jobs.size()];
      if (cold) {
        fresh.push_back(EcdsaP256PublicKey::parse(jobs[i].key->uncompressed()));
        jobs[i].key = &*fresh.back();
      }
    }
    off += batch;
    state.ResumeTiming();
    ecdsa_p256_verify_batch(jobs, verdicts, b);
    benchmark::DoNotOptimize(verdicts.data());
  }
  for (uint8_t v : verdicts) {
    if (v != 1) state.SkipWithError("signature rejected");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

void BM_EcdsaSmallTable(benchmark::State& state, Backend b) {
  static const EcdsaCorpus corpus = make_ecdsa(256, 256);
  const size_t batch = static_cast<size_t>(state.range(0));
  assay::crypto::detail::p256_set_table_policy(0, UINT32_MAX);
  std::vector<uint8_t> verdicts(batch);
  std::vector<EcdsaP256Job> jobs(batch);
  size_t off = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < batch; ++i) jobs[i] = corpus.jobs[(off + i) % corpus.jobs.size()];
    off += batch;
    ecdsa_p256_verify_batch(jobs, verdicts, b);
    benchmark::DoNotOptimize(verdicts.data());
  }
  assay::crypto::detail::p256_set_table_policy(assay::crypto::detail::kSmallAfterUses,
                                               assay::crypto::detail::kCombAfterUses);
  for (uint8_t v : verdicts) {
    if (v != 1) state.SkipWithError("signature rejected");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

// One-off cost of a key's table: parse a fresh key and verify one signature with the policy
// forcing the table to be built (minus the verification itself, measured elsewhere).
void BM_EcdsaTableBuild(benchmark::State& state, bool comb) {
  const EcdsaCorpus& c = cold_corpus();
  assay::crypto::detail::p256_set_table_policy(comb ? UINT32_MAX : 0, comb ? 0 : UINT32_MAX);
  for (auto _ : state) {
    auto key = EcdsaP256PublicKey::parse(c.jobs[0].key->uncompressed());
    EcdsaP256Job job = c.jobs[0];
    job.key = &*key;
    benchmark::DoNotOptimize(ecdsa_p256_verify(job, Backend::kPortable));
  }
  assay::crypto::detail::p256_set_table_policy(assay::crypto::detail::kSmallAfterUses,
                                               assay::crypto::detail::kCombAfterUses);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_EcdsaOpenSslSingle(benchmark::State& state) {
  const EcdsaCorpus& c = hot_corpus();
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(ecdsa_p256_verify(c.jobs[i++ % c.jobs.size()], Backend::kOpenSSL));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// ---- the other curves, through the generic API ----------------------------------------------

struct CurveCorpus {
  std::vector<EcdsaPublicKey> keys;
  std::vector<std::vector<uint8_t>> msgs, sigs;
  std::vector<EcdsaJob> jobs;
};

const CurveCorpus& curve_corpus(EcdsaCurve curve) {
  static std::map<EcdsaCurve, CurveCorpus> cache;
  auto it = cache.find(curve);
  if (it != cache.end()) return it->second;
  CurveCorpus& c = cache[curve];
  const char* ossl = curve == EcdsaCurve::kP256              ? "P-256"
                     : curve == EcdsaCurve::kP384            ? "P-384"
                     : curve == EcdsaCurve::kBrainpoolP256r1 ? "brainpoolP256r1"
                                                             : "brainpoolP384r1";
  const size_t n = 256;
  std::mt19937_64 rng(11);
  c.msgs.resize(n);
  c.sigs.resize(n);
  for (size_t i = 0; i < n; ++i) {
    EVP_PKEY* pk = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", ossl);
    uint8_t pub[200];
    size_t pl = 0;
    EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pub, sizeof pub, &pl);
    c.keys.push_back(*EcdsaPublicKey::parse(curve, std::span<const uint8_t>(pub, pl)).key);
    c.msgs[i].resize(128);
    for (auto& x : c.msgs[i]) x = static_cast<uint8_t>(rng());
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t sl = 160;
    c.sigs[i].resize(sl);
    EVP_DigestSignInit(ctx, nullptr, ecdsa_field_bytes(curve) == 32 ? EVP_sha256() : EVP_sha384(),
                       nullptr, pk);
    EVP_DigestSign(ctx, c.sigs[i].data(), &sl, c.msgs[i].data(), 128);
    c.sigs[i].resize(sl);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pk);
  }
  for (size_t i = 0; i < n; ++i) {
    c.jobs.push_back({&c.keys[i], c.sigs[i].data(), c.sigs[i].size(), EcdsaSignatureFormat::kDer,
                      c.msgs[i].data(), 128});
  }
  return c;
}

void BM_EcdsaCurve(benchmark::State& state, EcdsaCurve curve, Backend b) {
  const CurveCorpus& c = curve_corpus(curve);
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> verdicts(batch);
  size_t off = 0;
  for (auto _ : state) {
    if (off + batch > c.jobs.size()) off = 0;
    ecdsa_verify_batch(curve, std::span(c.jobs).subspan(off, batch), verdicts, b);
    benchmark::DoNotOptimize(verdicts.data());
    off += batch;
  }
  for (uint8_t v : verdicts) {
    if (v != 1) state.SkipWithError("signature rejected");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

struct HmacCorpus {
  std::vector<HmacSha256Key> keys;
  std::vector<std::vector<uint8_t>> msgs;
  std::vector<std::array<uint8_t, 32>> tags;
  std::vector<HmacSha256Job> jobs;
};

const HmacCorpus& hmac_corpus() {
  static const HmacCorpus c = [] {
    HmacCorpus h;
    std::mt19937_64 rng(9);
    for (int k = 0; k < 16; ++k) {
      std::vector<uint8_t> s(32);
      for (auto& x : s) x = static_cast<uint8_t>(rng());
      h.keys.push_back(HmacSha256Key::from_secret(s));
    }
    const size_t n = 4096;
    h.msgs.resize(n);
    h.tags.resize(n);
    for (size_t i = 0; i < n; ++i) {
      h.msgs[i].resize(128);
      for (auto& x : h.msgs[i]) x = static_cast<uint8_t>(rng());
      hmac_sha256(h.keys[i % 16], h.msgs[i].data(), 128, h.tags[i].data());
    }
    for (size_t i = 0; i < n; ++i) {
      h.jobs.push_back({&h.keys[i % 16], h.tags[i].data(), 32, h.msgs[i].data(), 128});
    }
    return h;
  }();
  return c;
}

void BM_Hmac(benchmark::State& state, Backend b) {
  const HmacCorpus& c = hmac_corpus();
  const size_t batch = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> verdicts(batch);
  size_t off = 0;
  for (auto _ : state) {
    if (off + batch > c.jobs.size()) off = 0;
    hmac_sha256_verify_batch(std::span(c.jobs).subspan(off, batch), verdicts, b);
    benchmark::DoNotOptimize(verdicts.data());
    off += batch;
  }
  for (uint8_t v : verdicts) {
    if (v != 1) state.SkipWithError("tag rejected");
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * batch));
}

void BM_HmacSingle(benchmark::State& state, Backend b) {
  const HmacCorpus& c = hmac_corpus();
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(hmac_sha256_verify(c.jobs[i++ % c.jobs.size()], b));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

int register_all() {
  benchmark::RegisterBenchmark("ecdsa/openssl_single", BM_EcdsaOpenSslSingle);
  benchmark::RegisterBenchmark("ecdsa/table_build/small_plus_verify",
                               [](benchmark::State& s) { BM_EcdsaTableBuild(s, false); });
  benchmark::RegisterBenchmark("ecdsa/table_build/comb_plus_verify",
                               [](benchmark::State& s) { BM_EcdsaTableBuild(s, true); });
  benchmark::RegisterBenchmark("ecdsa/portable/small_table",
                               [](benchmark::State& s) { BM_EcdsaSmallTable(s, Backend::kPortable); })
      ->Arg(1)->Arg(8)->Arg(64)->Arg(256);
  for (Backend b : supported_backends()) {
    const std::string name(backend_name(b));
    for (bool cold : {false, true}) {
      if (b == Backend::kOpenSSL && cold) continue;  // OpenSSL has no per-key state
      benchmark::RegisterBenchmark(("ecdsa/" + name + (cold ? "/cold_keys" : "/hot_keys")).c_str(),
                                   [b, cold](benchmark::State& s) { BM_Ecdsa(s, b, cold); })
          ->Arg(1)->Arg(8)->Arg(64)->Arg(256);
    }
  }
  for (EcdsaCurve curve : kEcdsaCurves) {
    const std::string cname(ecdsa_curve_name(curve));
    for (Backend b : supported_backends()) {
      if (b == Backend::kAvx2) continue;  // the portable code
      const std::string name =
          b == Backend::kOpenSSL ? "openssl_evp_single" : std::string(backend_name(b));
      benchmark::RegisterBenchmark(("ecdsa_curve/" + cname + "/" + name).c_str(),
                                   [curve, b](benchmark::State& s) { BM_EcdsaCurve(s, curve, b); })
          ->Arg(256);
    }
  }
  std::vector<Backend> hmac_backends = supported_backends();
  hmac_backends.push_back(Backend::kAuto);
  for (Backend b : hmac_backends) {
    const std::string name(backend_name(b));
    benchmark::RegisterBenchmark(("hmac128/" + name + "/single").c_str(),
                                 [b](benchmark::State& s) { BM_HmacSingle(s, b); });
    benchmark::RegisterBenchmark(("hmac128/" + name + "/batch").c_str(),
                                 [b](benchmark::State& s) { BM_Hmac(s, b); })
        ->Arg(1)->Arg(8)->Arg(64)->Arg(256);
  }
  return 0;
}

const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
