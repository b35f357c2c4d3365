// Differential test: Assay's single and batch Ed25519 verdicts against OpenSSL's EVP verifier on
// random keys and messages, valid signatures and signatures corrupted in every field (R, S, A,
// message, length), mixed into batches of every size 1..kEd25519MaxBatch. Single and batch
// verification rotate over every backend (each backend sees every batch size).
//
// ASSAY_DIFF_COUNT sets the number of signatures (default 250,000; 20,000 in sanitizer builds;
// ASSAY_DIFF_COUNT=1000000 is the deeper run, ~8 CPU-minutes on a 2-core AMD EPYC VM).
// ASSAY_DIFF_SEED sets the seed (default: random, printed).
#include <gtest/gtest.h>
#include <openssl/rand.h>
#include <tbb/parallel_for.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <vector>

#include "crypto/ed25519.hpp"

namespace assay::crypto {
namespace {

size_t diff_count() {
  if (const char* e = std::getenv("ASSAY_DIFF_COUNT")) return std::strtoull(e, nullptr, 10);
#ifdef ASSAY_SANITIZED
  return 20'000;
#else
  return 250'000;  // the suite's default; set ASSAY_DIFF_COUNT for a deeper run
#endif
}

uint64_t diff_seed() {
  if (const char* e = std::getenv("ASSAY_DIFF_SEED")) return std::strtoull(e, nullptr, 10);
  uint64_t s = 0;
  if (RAND_bytes(reinterpret_cast<uint8_t*>(&s), sizeof s) != 1) s = 12345;
  return s;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

enum Kind { kValid, kR, kS, kA, kMsg, kLen, kKinds };
const char* kKindName[kKinds] = {"valid", "R", "S", "A", "message", "length"};

struct Item {
  uint8_t pk[32];
  uint8_t sig[64];
  std::vector<uint8_t> msg;
  Kind kind;
  Ed25519Job job() const { return Ed25519Job{pk, sig, msg.data(), msg.size()}; }
};

TEST(Ed25519Differential, AgainstOpenSsl) {
  const size_t count = diff_count();
  const uint64_t seed = diff_seed();
  std::printf("differential: %zu signatures, ASSAY_DIFF_SEED=%llu\n", count,
              (unsigned long long)seed);
  constexpr size_t kKeys = 128;
  std::vector<std::array<uint8_t, 64>> keys(kKeys);  // pk || sk
  for (auto& k : keys) ASSERT_TRUE(ed25519_keypair(k.data(), k.data() + 32));

  std::vector<Backend> backends;  // every verifier backend (OpenSSL is the reference)
  for (Backend b : supported_backends())
    if (b != Backend::kOpenSSL) backends.push_back(b);
  backends.push_back(Backend::kAuto);

  // Round r verifies a batch of (r % kEd25519MaxBatch) + 1 signatures.
  std::vector<size_t> round_size;
  for (size_t total = 0; total < count;) {
    const size_t s = std::min(round_size.size() % kEd25519MaxBatch + 1, count - total);
    round_size.push_back(s);
    total += s;
  }

  std::mutex mu;
  std::vector<std::string> mismatches;
  std::atomic<size_t> per_kind[kKinds] = {};
  std::atomic<size_t> accepted{0};

  tbb::parallel_for(size_t{0}, round_size.size(), [&](size_t r) {
    std::mt19937_64 rng(seed ^ (0x9e3779b97f4a7c15ULL * (r + 1)));
    const size_t n = round_size[r];
    // Corruption rate varies per round so that batches see 0, few and many forgeries.
    static constexpr uint32_t kRatePer64[4] = {32, 8, 2, 0};
    const uint32_t rate = kRatePer64[r % 4];
    std::vector<Item> items(n);
    for (size_t i = 0; i < n; ++i) {
      Item& it = items[i];
      const size_t key_index = rng() % kKeys;
      const auto& key = keys[key_index];
      std::memcpy(it.pk, key.data(), 32);
      it.msg.resize(rng() % 128);
      for (auto& b : it.msg) b = (uint8_t)rng();
      if (!ed25519_sign(key.data() + 32, it.msg.data(), it.msg.size(), it.sig)) std::abort();
      it.kind = kValid;
      if (rng() % 64 < rate) {
        it.kind = static_cast<Kind>(1 + rng() % (kKinds - 1));
        switch (it.kind) {
          case kR: it.sig[rng() % 32] ^= (uint8_t)(1u << (rng() % 8)); break;
          case kS: it.sig[32 + rng() % 32] ^= (uint8_t)(1u << (rng() % 8)); break;
          case kA:
            if (rng() % 2) {
              it.pk[rng() % 32] ^= (uint8_t)(1u << (rng() % 8));
            } else {
              const auto& other = keys[(key_index + 1 + rng() % (kKeys - 1)) % kKeys];
              std::memcpy(it.pk, other.data(), 32);
            }
            break;
          case kMsg:
            if (it.msg.empty()) it.msg.push_back(0);
            else it.msg[rng() % it.msg.size()] ^= (uint8_t)(1u << (rng() % 8));
            break;
          default:  // kLen
            if (!it.msg.empty() && rng() % 2) it.msg.pop_back();
            else it.msg.push_back((uint8_t)rng());
            break;
        }
      }
      per_kind[it.kind]++;
    }
    std::vector<Ed25519Job> jobs;
    for (const Item& it : items) jobs.push_back(it.job());
    std::vector<uint8_t> ref(n);
    for (size_t i = 0; i < n; ++i) {
      ref[i] = detail::ed25519_verify_openssl_raw(jobs[i]) ? 1 : 0;
      accepted += ref[i];
    }
    auto report = [&](size_t i, const char* path, Backend b, int got) {
      std::lock_guard<std::mutex> lock(mu);
      if (mismatches.size() >= 20) return;
      const Item& it = items[i];
      mismatches.push_back(std::string(path) + " backend=" + std::string(backend_name(b)) +
                           " round=" + std::to_string(r) + " batch=" + std::to_string(n) +
                           " index=" + std::to_string(i) + " corruption=" + kKindName[it.kind] +
                           " openssl=" + std::to_string(ref[i]) + " assay=" +
                           std::to_string(got) + " pk=" + hex(it.pk, 32) +
                           " sig=" + hex(it.sig, 64) + " msg=" + hex(it.msg.data(), it.msg.size()));
    };
    // Single path: one backend per item, rotating (each backend sees ~1/|backends| of the items).
    for (size_t i = 0; i < n; ++i) {
      const Backend b = backends[(r + i) % backends.size()];
      const int got = ed25519_verify(jobs[i], b) ? 1 : 0;
      if (got != ref[i]) report(i, "single", b, got);
    }
    // Batch path: one backend per round, rotating (every backend sees every batch size).
    std::vector<uint8_t> verdicts(n, 7);
    const Backend b = backends[(r / kEd25519MaxBatch + r) % backends.size()];
    ed25519_verify_batch(jobs, verdicts, b);
    for (size_t i = 0; i < n; ++i)
      if (verdicts[i] != ref[i]) report(i, "batch", b, verdicts[i]);
  });

  std::printf("differential: rounds=%zu accepted=%zu", round_size.size(), accepted.load());
  for (int k = 0; k < kKinds; ++k) std::printf(" %s=%zu", kKindName[k], per_kind[k].load());
  std::printf("\n");
  EXPECT_EQ(accepted.load(), per_kind[kValid].load()) << "OpenSSL accepted a corrupted signature";
  for (const std::string& m : mismatches) ADD_FAILURE() << m;
  EXPECT_TRUE(mismatches.empty());
}

}  // namespace
}  // namespace assay::crypto
