// SHA-256 as provenance uses it, one core, per message: OpenSSL EVP one message at a time;
// crypto::sha256_two (two messages together: intel-ipsec-mb's two-lane SHA-NI code where the
// CPU has SHA extensions); crypto::sha256_many (1,024 messages at once: the widest
// multi-buffer lanes). Message sizes: 65 bytes (an RFC 9162 tree node), 720 bytes (a
// TrustedReading with its chain prefix) and 10,240 bytes (a grouped TrustedReading of a
// SignedBatch of 64 readings, whose leaf provenance hashes). For the chain step (one 86-byte
// message at a time): crypto::sha256 (OpenSSL EVP, context reused) and intel-ipsec-mb's
// single-buffer IMB_SHA256.
//
//   assay_bench_crypto_sha256 --benchmark_min_time=1 --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <intel-ipsec-mb.h>
#include <openssl/evp.h>

#include <array>
#include <span>
#include <vector>

#include "crypto/sha256.hpp"
#include "crypto/sha256_many.hpp"

namespace {

using Digest = std::array<uint8_t, 32>;

std::vector<std::vector<uint8_t>> messages(size_t count, size_t len) {
  std::vector<std::vector<uint8_t>> m(count, std::vector<uint8_t>(len));
  for (size_t i = 0; i < count; ++i)
    for (size_t k = 0; k < len; ++k) m[i][k] = static_cast<uint8_t>(i * 31 + k);
  return m;
}

void BM_OpenSslOne(benchmark::State& state) {
  const auto m = messages(1024, static_cast<size_t>(state.range(0)));
  const EVP_MD* md = EVP_sha256();
  Digest d{};
  size_t i = 0;
  for (auto _ : state) {
    unsigned int n = 0;
    const auto& msg = m[i++ % m.size()];
    EVP_Digest(msg.data(), msg.size(), d.data(), &n, md, nullptr);
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_OpenSslOne)->Arg(65)->Arg(720)->Arg(10240);

// One message at a time, as the serial chain step hashes: crypto::sha256 (EVP, one context
// per thread reused).
void BM_Sha256One(benchmark::State& state) {
  const auto m = messages(1024, static_cast<size_t>(state.range(0)));
  size_t i = 0;
  for (auto _ : state) {
    Digest d = assay::crypto::sha256(std::span<const uint8_t>(m[i++ % m.size()]));
    benchmark::DoNotOptimize(d);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_Sha256One)->Arg(86);

// The same with intel-ipsec-mb's single-buffer one-shot (IMB_SHA256, the manager set up once).
void BM_ImbOne(benchmark::State& state) {
  const auto m = messages(1024, static_cast<size_t>(state.range(0)));
  IMB_MGR* mgr = alloc_mb_mgr(0);
  init_mb_mgr_auto(mgr, nullptr);
  Digest d{};
  size_t i = 0;
  for (auto _ : state) {
    const auto& msg = m[i++ % m.size()];
    IMB_SHA256(mgr, msg.data(), msg.size(), d.data());
    benchmark::DoNotOptimize(d);
  }
  free_mb_mgr(mgr);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}
BENCHMARK(BM_ImbOne)->Arg(86);

// Items are messages: one iteration hashes two.
void BM_Sha256Two(benchmark::State& state) {
  const auto m = messages(1024, static_cast<size_t>(state.range(0)));
  Digest a{}, b{};
  size_t i = 0;
  for (auto _ : state) {
    assay::crypto::sha256_two(m[i % m.size()], m[(i + 1) % m.size()], a, b);
    i += 2;
    benchmark::DoNotOptimize(a);
    benchmark::DoNotOptimize(b);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 2));
  state.SetLabel(assay::crypto::sha256_two_interleaved() ? "two SHA-NI lanes" : "not interleaved");
}
BENCHMARK(BM_Sha256Two)->Arg(65)->Arg(720);

// Items are messages: one iteration hashes 1,024.
void BM_Sha256Many(benchmark::State& state) {
  const auto m = messages(1024, static_cast<size_t>(state.range(0)));
  const std::vector<std::span<const uint8_t>> spans(m.begin(), m.end());
  std::vector<Digest> d(m.size());
  for (auto _ : state) {
    assay::crypto::sha256_many(spans, d);
    benchmark::DoNotOptimize(d.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * m.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * m.size()) * state.range(0));
}
BENCHMARK(BM_Sha256Many)->Arg(65)->Arg(720)->Arg(10240);

}  // namespace

BENCHMARK_MAIN();
