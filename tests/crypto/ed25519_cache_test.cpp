// The process-wide Ed25519 key cache: same verdicts with and without it, bounded size under a
// flood of distinct keys, and many threads verifying (and evicting) at once.
#include <gtest/gtest.h>
#include <tbb/parallel_for.h>

#include <array>
#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include "crypto/ed25519.hpp"

namespace assay::crypto {
namespace {

struct Signed {
  uint8_t pk[32];
  uint8_t sig[64];
  std::vector<uint8_t> msg;
  Ed25519Job job() const { return Ed25519Job{pk, sig, msg.data(), msg.size()}; }
};

std::vector<Signed> make_signed(size_t n, size_t keys, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::array<uint8_t, 64>> kp(keys);
  for (auto& k : kp) EXPECT_TRUE(ed25519_keypair(k.data(), k.data() + 32));
  std::vector<Signed> out(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& k = kp[i % keys];
    std::memcpy(out[i].pk, k.data(), 32);
    out[i].msg.resize(1 + rng() % 64);
    for (auto& b : out[i].msg) b = (uint8_t)rng();
    EXPECT_TRUE(ed25519_sign(k.data() + 32, out[i].msg.data(), out[i].msg.size(), out[i].sig));
    if (i % 7 == 3) out[i].sig[rng() % 64] ^= 1;  // some forgeries
  }
  return out;
}

std::vector<Backend> backends() {
  std::vector<Backend> b = supported_backends();
  b.push_back(Backend::kAuto);
  return b;
}

struct CapacityGuard {
  explicit CapacityGuard(size_t n) { detail::ed25519_key_cache_set_capacity(n); }
  ~CapacityGuard() {
    detail::ed25519_key_cache_set_capacity(detail::kEd25519KeyCacheDefaultEntries);
  }
};

// Verdicts: cache off, cold cache, warm cache, a cache too small for the keys (evicting), on
// every backend, single and batch.
TEST(Ed25519Cache, SameVerdictsWithAndWithoutCache) {
#ifdef ASSAY_SANITIZED
  const std::vector<Signed> s = make_signed(120, 40, 1);
#else
  const std::vector<Signed> s = make_signed(300, 40, 1);
#endif
  std::vector<Ed25519Job> jobs;
  for (const Signed& x : s) jobs.push_back(x.job());
  std::vector<uint8_t> want(jobs.size());
  {
    CapacityGuard off(0);
    for (size_t i = 0; i < jobs.size(); ++i) want[i] = ed25519_verify(jobs[i], Backend::kPortable);
  }
  size_t valid = 0;
  for (uint8_t v : want) valid += v;
  EXPECT_GT(valid, s.size() * 2 / 3);
  EXPECT_LT(valid, s.size());
  for (size_t capacity : {size_t{0}, size_t{16}, size_t{4096}}) {
    CapacityGuard guard(capacity);
    for (int pass = 0; pass < 2; ++pass) {  // cold, then warm
      for (Backend b : backends()) {
        SCOPED_TRACE(std::string(backend_name(b)) + " capacity " + std::to_string(capacity) +
                     " pass " + std::to_string(pass));
        std::vector<uint8_t> v(jobs.size(), 2);
        ed25519_verify_batch(jobs, v, b);
        EXPECT_EQ(v, want);
        for (size_t i = 0; i < jobs.size(); i += 13)
          EXPECT_EQ(ed25519_verify(jobs[i], b), want[i] != 0);
      }
    }
    const auto st = detail::ed25519_key_cache_stats();
    EXPECT_LE(st.entries, st.capacity);
    if (capacity == 4096) {
      EXPECT_EQ(st.entries, 40u);  // every (valid) key, once
      EXPECT_GT(st.hits, 0u);
    }
  }
}

// A flood of distinct keys never grows the cache beyond its capacity.
TEST(Ed25519Cache, BoundedUnderManyKeys) {
  CapacityGuard guard(64);
  const std::vector<Signed> s = make_signed(600, 600, 2);
  std::vector<Ed25519Job> jobs;
  for (const Signed& x : s) jobs.push_back(x.job());
  std::vector<uint8_t> v(jobs.size());
  ed25519_verify_batch(jobs, v, Backend::kAuto);
  for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(v[i], i % 7 == 3 ? 0 : 1) << i;
  const auto st = detail::ed25519_key_cache_stats();
  EXPECT_LE(st.entries, st.capacity);
  EXPECT_LE(st.capacity, 64u + 16u);  // rounded up to whole shards
  EXPECT_GT(st.evictions, 0u);
  EXPECT_GT(st.bytes_per_entry, 0u);
  EXPECT_LT(st.bytes_per_entry, 8u * 1024);
}

// Many threads verify overlapping keys through a small cache (lookups, insertions and
// evictions race); every verdict must be right.
TEST(Ed25519Cache, ConcurrentVerifiersAgree) {
  CapacityGuard guard(32);
  const std::vector<Signed> s = make_signed(2000, 100, 3);
  std::atomic<size_t> wrong{0};
  tbb::parallel_for(size_t{0}, size_t{40}, [&](size_t t) {
    std::vector<Ed25519Job> jobs;
    std::vector<size_t> idx;
    for (size_t i = t; i < s.size(); i += 7) {
      jobs.push_back(s[i].job());
      idx.push_back(i);
      if (jobs.size() == 100) break;
    }
    std::vector<uint8_t> v(jobs.size());
    ed25519_verify_batch(jobs, v, t % 2 ? Backend::kAuto : Backend::kPortable);
    for (size_t k = 0; k < jobs.size(); ++k) wrong += v[k] != (idx[k] % 7 == 3 ? 0 : 1);
  });
  EXPECT_EQ(wrong.load(), 0u);
  const auto st = detail::ed25519_key_cache_stats();
  EXPECT_LE(st.entries, st.capacity);
}

}  // namespace
}  // namespace assay::crypto
