// Ed25519 verification throughput on one core: OpenSSL EVP one at a time (the reference) vs
// Assay's single and batch verifiers, per backend. items/s = signatures verified per second.
//
//   assay_bench_crypto_ed25519 --benchmark_min_time=1
#include <benchmark/benchmark.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdio>
#include <string>
#include <vector>

#include "crypto/cpu.hpp"
#include "crypto/ed25519.hpp"
#include "crypto/signing.hpp"

namespace {

using namespace assay::crypto;

constexpr size_t kPool = 1024;   // signatures cycled through (distinct keys)
constexpr size_t kMsgLen = 64;   // a typical signed sensor reading

struct Pool {
  std::vector<uint8_t> pk, sig, msg;
  std::vector<Ed25519Job> jobs;          // kPool jobs, one key each
  std::vector<Ed25519Job> same_key_jobs;  // kPool jobs, all under one key
  std::vector<uint8_t> sk_sig, sk_msg;
};

const Pool& pool() {
  static const Pool p = [] {
    Pool q;
    q.pk.resize(32 * kPool);
    q.sig.resize(64 * kPool);
    q.msg.resize(kMsgLen * kPool);
    q.sk_sig.resize(64 * kPool);
    uint8_t sk[32];
    for (size_t i = 0; i < kPool; ++i) {
      for (size_t j = 0; j < kMsgLen; ++j) q.msg[i * kMsgLen + j] = (uint8_t)(i * 31 + j * 7);
      if (!ed25519_keypair(&q.pk[32 * i], sk) ||
          !ed25519_sign(sk, &q.msg[i * kMsgLen], kMsgLen, &q.sig[64 * i])) {
        std::fprintf(stderr, "key generation failed\n");
        std::abort();
      }
    }
    // Same-key pool: key 0 signs every message.
    uint8_t pk0[32];
    if (!ed25519_keypair(pk0, sk)) std::abort();
    static uint8_t same_pk[32];
    std::copy(pk0, pk0 + 32, same_pk);
    for (size_t i = 0; i < kPool; ++i) {
      if (!ed25519_sign(sk, &q.msg[i * kMsgLen], kMsgLen, &q.sk_sig[64 * i])) std::abort();
    }
    for (size_t i = 0; i < kPool; ++i) {
      q.jobs.push_back({&q.pk[32 * i], &q.sig[64 * i], &q.msg[i * kMsgLen], kMsgLen});
      q.same_key_jobs.push_back({same_pk, &q.sk_sig[64 * i], &q.msg[i * kMsgLen], kMsgLen});
    }
    return q;
  }();
  return p;
}

void BM_Single(benchmark::State& state, Backend backend) {
  const Pool& p = pool();
  size_t i = 0;
  for (auto _ : state) {
    const bool ok = ed25519_verify(p.jobs[i], backend);
    if (!ok) state.SkipWithError("verification failed");
    i = (i + 1) % kPool;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Batch(benchmark::State& state, Backend backend, bool same_key) {
  const Pool& p = pool();
  const size_t n = (size_t)state.range(0);
  const std::vector<Ed25519Job>& jobs = same_key ? p.same_key_jobs : p.jobs;
  std::vector<uint8_t> verdicts(n);
  size_t off = 0;
  for (auto _ : state) {
    ed25519_verify_batch(std::span<const Ed25519Job>(&jobs[off], n), verdicts, backend);
    for (uint8_t v : verdicts)
      if (v != 1) state.SkipWithError("verification failed");
    off = (off + n) % kPool;
    if (off + n > kPool) off = 0;
  }
  state.SetItemsProcessed(state.iterations() * (int64_t)n);
}

// Signing a 200-byte message (an intent or a checkpoint note is about that size) with one
// key: OpenSSL's EVP_DigestSign with a reused context (how crypto::SigningKey signed before
// libsodium), and crypto::SigningKey::sign (libsodium). The same signatures.
void BM_SignOpenSsl(benchmark::State& state) {
  const auto key = SigningKey::generate(SignatureAlgorithm::kEd25519);
  const std::string pem = key->private_key_pem();
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (pkey == nullptr || ctx == nullptr ||
      EVP_DigestSignInit(ctx, nullptr, nullptr, nullptr, pkey) != 1)
    state.SkipWithError("OpenSSL could not set up the key");
  std::vector<uint8_t> msg(200, 7), sig(64);
  for (auto _ : state) {
    ++msg[0];
    size_t len = sig.size();
    if (EVP_DigestSign(ctx, sig.data(), &len, msg.data(), msg.size()) != 1)
      state.SkipWithError("EVP_DigestSign failed");
    benchmark::DoNotOptimize(sig.data());
  }
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_SignAssay(benchmark::State& state) {
  const auto key = SigningKey::generate(SignatureAlgorithm::kEd25519);
  std::vector<uint8_t> msg(200, 7), sig;
  for (auto _ : state) {
    ++msg[0];
    if (!key->sign(msg, sig)) state.SkipWithError("sign failed");
    benchmark::DoNotOptimize(sig.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetLabel(std::string(key->signer()));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("ed25519/sign/openssl_evp", BM_SignOpenSsl);
  benchmark::RegisterBenchmark("ed25519/sign/assay", BM_SignAssay);
  pool();
  benchmark::RegisterBenchmark("ed25519/openssl_evp/single", BM_Single, Backend::kOpenSSL);
  for (Backend b : supported_backends()) {
    if (b == Backend::kOpenSSL) continue;
    const std::string name(backend_name(b));
    benchmark::RegisterBenchmark(("ed25519/" + name + "/single").c_str(), BM_Single, b);
    benchmark::RegisterBenchmark(("ed25519/" + name + "/batch").c_str(), BM_Batch, b, false)
        ->Arg(1)
        ->Arg(8)
        ->Arg(64)
        ->Arg(256);
    benchmark::RegisterBenchmark(("ed25519/" + name + "/batch_same_key").c_str(), BM_Batch, b,
                                 true)
        ->Arg(256);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
