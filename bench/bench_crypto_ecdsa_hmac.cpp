// ECDSA P-256 and HMAC-SHA256 verification throughput on one core: OpenSSL one at a time
// (Backend::kOpenSSL) versus Assay's batch paths, at batch sizes 1, 8, 64, 256, per backend.
//
//   assay_bench_crypto_ecdsa_hmac --benchmark_min_time=1s
//
// ECDSA key mixes: "hot_keys" = 4 keys that repeat (per-key comb tables get built, the fleet
// case); "cold_keys" = a freshly parsed key for every signature (first use: OpenSSL);
// "small_table" = 256 keys forced onto the small per-key table (keys used 2..7 times, or
// beyond the comb-table budget). "table_build/*" = the one-off cost of a key's tables.
#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "crypto/ecdsa_p256.hpp"
#include "crypto/ecdsa_p256_internal.hpp"
#include "crypto/hmac_sha256.hpp"

namespace {

using namespace assay::crypto;

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

const EcdsaCorpus& hot_corpus() {
  static const EcdsaCorpus c = make_ecdsa(1024, 4);
  return c;
}

void BM_Ecdsa(benchmark::State& state, Backend b, bool cold) {
  const size_t batch = static_cast<size_t>(state.range(0));
  // Cold keys: fresh key objects each round (a new key per job), so no tables are ever built.
  static const EcdsaCorpus cold_corpus = make_ecdsa(256, 256);
  const EcdsaCorpus& c = cold ? cold_corpus : hot_corpus();
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
  const EcdsaCorpus& c = hot_corpus();
  assay::crypto::detail::p256_set_table_policy(comb ? UINT32_MAX : 0, comb ? 0 : UINT32_MAX);
  for (auto _ : state) {
    auto key = EcdsaP256PublicKey::parse(c.keys[0].uncompressed());
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
