// Ed25519 batch behaviour: failure isolation (bisection), chunking, merged keys, key validity,
// and robustness against arbitrary bytes.
#include <gtest/gtest.h>
#include <openssl/err.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "crypto/ed25519.hpp"
#include "tests/crypto/json_mini.hpp"

namespace assay::crypto {
namespace {

struct Signed {
  uint8_t pk[32];
  uint8_t sig[64];
  std::vector<uint8_t> msg;
  Ed25519Job job() const { return Ed25519Job{pk, sig, msg.data(), msg.size()}; }
};

// n honest signatures under `keys` distinct keys.
std::vector<Signed> make_signed(size_t n, size_t keys, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<std::array<uint8_t, 64>> kp(keys);  // pk || sk
  for (auto& k : kp) EXPECT_TRUE(ed25519_keypair(k.data(), k.data() + 32));
  std::vector<Signed> out(n);
  for (size_t i = 0; i < n; ++i) {
    const auto& k = kp[i % keys];
    std::memcpy(out[i].pk, k.data(), 32);
    out[i].msg.resize(rng() % 100);
    for (auto& b : out[i].msg) b = (uint8_t)rng();
    EXPECT_TRUE(ed25519_sign(k.data() + 32, out[i].msg.data(), out[i].msg.size(), out[i].sig));
  }
  return out;
}

std::vector<Backend> verifier_backends() {
  std::vector<Backend> b;
  for (Backend x : supported_backends())
    if (x != Backend::kOpenSSL) b.push_back(x);
  b.push_back(Backend::kAuto);
  return b;
}

TEST(Ed25519Batch, BisectionIsolatesForgers) {
  const std::vector<Signed> base = make_signed(256, 32, 1);
  for (Backend backend : verifier_backends()) {
    SCOPED_TRACE(std::string(backend_name(backend)));
    for (size_t forgers : {size_t{0}, size_t{1}, size_t{2}, size_t{17}}) {
      std::vector<Signed> items = base;
      std::mt19937_64 rng(forgers * 977 + 3);
      std::set<size_t> bad;
      while (bad.size() < forgers) bad.insert(rng() % items.size());
      for (size_t i : bad) items[i].sig[32 + rng() % 28] ^= (uint8_t)(1u << (rng() % 8));
      std::vector<Ed25519Job> jobs;
      for (const auto& s : items) jobs.push_back(s.job());
      std::vector<uint8_t> verdicts(jobs.size(), 9);
      const detail::Ed25519Counters before = detail::ed25519_thread_counters();
      ed25519_verify_batch(jobs, verdicts, backend);
      const detail::Ed25519Counters after = detail::ed25519_thread_counters();
      for (size_t i = 0; i < jobs.size(); ++i) {
        EXPECT_EQ(verdicts[i], bad.count(i) ? 0 : 1) << "item " << i << " forgers " << forgers;
      }
      const uint64_t singles = after.single_verifications - before.single_verifications;
      const uint64_t equations = after.batch_equations - before.batch_equations;
      std::printf("[%s] forgers=%zu: %llu single verifications, %llu batch equations\n",
                  std::string(backend_name(backend)).c_str(), forgers,
                  (unsigned long long)singles, (unsigned long long)equations);
      // Each forger costs at most one equation per level (8 levels for 256) on each side and
      // at most two single verifications (itself and its sibling at the bottom).
      EXPECT_LE(singles, 2 * forgers);
      EXPECT_LE(equations, 1 + 16 * forgers);
      if (forgers == 0) {
        EXPECT_EQ(singles, 0u);
        EXPECT_EQ(equations, 1u);
      }
    }
  }
}

TEST(Ed25519Batch, ChunksMergedKeysAndOddSizes) {
  // 600 items (3 chunks of 200), 5 keys (merged A terms), forgers spread over chunks.
  const std::vector<Signed> base = make_signed(600, 5, 2);
  for (Backend backend : verifier_backends()) {
    SCOPED_TRACE(std::string(backend_name(backend)));
    std::vector<Signed> items = base;
    const std::set<size_t> bad = {0, 255, 256, 300, 511, 599};
    for (size_t i : bad) items[i].msg.push_back(1);  // message no longer matches
    std::vector<Ed25519Job> jobs;
    for (const auto& s : items) jobs.push_back(s.job());
    // Verdict span longer than jobs: the surplus is zeroed.
    std::vector<uint8_t> verdicts(jobs.size() + 3, 9);
    ed25519_verify_batch(jobs, verdicts, backend);
    for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(verdicts[i], bad.count(i) ? 0 : 1) << i;
    for (size_t i = jobs.size(); i < verdicts.size(); ++i) EXPECT_EQ(verdicts[i], 0);
    // 257 jobs (two chunks) and 1 job.
    for (size_t len : {size_t{257}, size_t{1}}) {
      std::vector<uint8_t> v(len, 9);
      ed25519_verify_batch(std::span<const Ed25519Job>(jobs.data(), len), v, backend);
      for (size_t i = 0; i < len; ++i) EXPECT_EQ(v[i], bad.count(i) ? 0 : 1) << len << ":" << i;
    }
    // Empty batch.
    ed25519_verify_batch({}, {}, backend);
    // Null pointers inside a batch.
    jobs[10].public_key = nullptr;
    jobs[11].signature = nullptr;
    jobs[12].message = nullptr;
    jobs[12].message_len = 5;
    std::vector<uint8_t> v2(jobs.size(), 9);
    ed25519_verify_batch(jobs, v2, backend);
    for (size_t i = 0; i < jobs.size(); ++i) {
      const bool want = !bad.count(i) && i != 10 && i != 11 && i != 12;
      EXPECT_EQ(v2[i], want ? 1 : 0) << i;
      EXPECT_EQ(ed25519_verify(jobs[i], backend), want) << i;
    }
  }
}

TEST(Ed25519Batch, SameSignatureRepeatedAndKeyReuse) {
  const std::vector<Signed> base = make_signed(40, 1, 3);
  for (Backend backend : verifier_backends()) {
    std::vector<Ed25519Job> jobs;
    for (int r = 0; r < 3; ++r)
      for (const auto& s : base) jobs.push_back(s.job());
    std::vector<uint8_t> v(jobs.size(), 9);
    ed25519_verify_batch(jobs, v, backend);
    for (uint8_t x : v) EXPECT_EQ(x, 1);
  }
}

TEST(Ed25519Batch, PublicKeyValidity) {
  const std::vector<Signed> base = make_signed(16, 16, 4);
  for (const auto& s : base) EXPECT_TRUE(ed25519_public_key_valid(s.pk));
  // Identity, small-order points, non-canonical encodings.
  uint8_t identity[32] = {1};
  EXPECT_FALSE(ed25519_public_key_valid(identity));
  uint8_t minus_one[32] = {0xec};  // y = -1 (order 2)
  std::memset(minus_one + 1, 0xff, 30);
  minus_one[31] = 0x7f;
  EXPECT_FALSE(ed25519_public_key_valid(minus_one));
  uint8_t y_is_p[32] = {0xed};  // y = p: non-canonical encoding of y = 0
  std::memset(y_is_p + 1, 0xff, 30);
  y_is_p[31] = 0x7f;
  EXPECT_FALSE(ed25519_public_key_valid(y_is_p));
  // speccheck: case 0 key has small order; cases 3/4 keys have mixed order (accepted by verify
  // but not torsion-free); case 10 key is non-canonical.
  const json_mini::Value doc =
      json_mini::parse_file(std::string(ASSAY_TESTVECTORS) + "/ed25519-speccheck/cases.json");
  for (int c : {0, 3, 4, 10, 11}) {
    const std::vector<uint8_t> pk = json_mini::hex_decode(doc[c]["pub_key"].str());
    EXPECT_FALSE(ed25519_public_key_valid(pk.data())) << "speccheck case " << c;
  }
  // Case 6/7 key is a regular full-order key.
  const std::vector<uint8_t> pk6 = json_mini::hex_decode(doc[6]["pub_key"].str());
  EXPECT_TRUE(ed25519_public_key_valid(pk6.data()));
  EXPECT_FALSE(ed25519_public_key_valid(nullptr));
}

TEST(Ed25519Batch, GarbageNeverCrashes) {
  std::mt19937_64 rng(5);
  const std::vector<Signed> honest = make_signed(8, 8, 6);
#ifdef ASSAY_SANITIZED
  const size_t n = 600;
#else
  const size_t n = 4000;
#endif
  std::vector<std::array<uint8_t, 32>> pks(n);
  std::vector<std::array<uint8_t, 64>> sigs(n);
  std::vector<std::vector<uint8_t>> msgs(n);
  for (size_t i = 0; i < n; ++i) {
    for (auto& b : pks[i]) b = (uint8_t)rng();
    for (auto& b : sigs[i]) b = (uint8_t)rng();
    switch (i % 8) {
      case 0: sigs[i][63] &= 0x0f; break;                              // S < L
      case 1: std::memcpy(pks[i].data(), honest[i % 8].pk, 32); break;  // real key
      case 2: pks[i].fill(0); break;
      case 3: pks[i].fill(0xff); sigs[i].fill(0xff); break;
      case 4: std::memcpy(sigs[i].data(), pks[i].data(), 32); sigs[i][63] &= 0x0f; break;
      case 5: pks[i].fill(0); pks[i][0] = 1; sigs[i].fill(0); sigs[i][0] = 1; break;
      default: break;
    }
    msgs[i].resize(rng() % 64);
    for (auto& b : msgs[i]) b = (uint8_t)rng();
  }
  std::vector<Ed25519Job> jobs;
  for (size_t i = 0; i < n; ++i)
    jobs.push_back({pks[i].data(), sigs[i].data(), msgs[i].data(), msgs[i].size()});
  for (const auto& h : honest) jobs.push_back(h.job());
  std::vector<uint8_t> single(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    single[i] = ed25519_verify(jobs[i], Backend::kPortable) ? 1 : 0;
    EXPECT_EQ(single[i], i >= n ? 1 : 0) << i;
    (void)ed25519_public_key_valid(jobs[i].public_key);
  }
  for (Backend backend : supported_backends()) {
    std::vector<uint8_t> v(jobs.size(), 9);
    ed25519_verify_batch(jobs, v, backend);
    // OpenSSL only runs for robustness here: it is cofactorless and accepts e.g. the identity
    // key with R = identity, S = 0 (case 5 above), which Assay rejects (small-order key).
    if (backend == Backend::kOpenSSL) {
      EXPECT_EQ(ERR_peek_error(), 0ul) << "rejections must not leave OpenSSL errors queued";
      continue;
    }
    for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(v[i], single[i]) << i;
    std::vector<uint8_t> e(jobs.size(), 9);
    ed25519_verify_each(jobs, e, backend);
    for (size_t i = 0; i < jobs.size(); ++i) EXPECT_EQ(e[i], single[i]) << "each " << i;
  }
  Ed25519Job null_job{nullptr, nullptr, nullptr, 0};
  EXPECT_FALSE(ed25519_verify(null_job));
  EXPECT_FALSE(ed25519_verify(null_job, Backend::kOpenSSL));
}

// Independent verification (the suspect path of verify_signature): each verdict equals the
// single verification's, with cached and uncached keys, for every size around the 8-lane
// passes, and no batch equation is ever evaluated (a forgery cannot slow another job).
TEST(Ed25519Each, SameVerdictsAsSingleAndNoBatchEquations) {
  const std::vector<Signed> base = make_signed(203, 23, 9);
  std::vector<Signed> items = base;
  std::mt19937_64 rng(21);
  std::vector<int> want(items.size(), 1);
  for (size_t i = 0; i < items.size(); ++i) {
    switch (rng() % 7) {
      case 0:
        items[i].sig[rng() % 32] ^= (uint8_t)(1u << (rng() % 8));
        break;  // R
      case 1:
        items[i].sig[32 + rng() % 28] ^= (uint8_t)(1u << (rng() % 8));
        break;  // S
      case 2:
        items[i].msg.push_back(0);
        break;
      case 3:
        std::memcpy(items[i].pk, base[(i + 1) % base.size()].pk, 32);
        break;  // other key
      case 4:
        items[i].sig[63] |= 0xf0;
        break;  // S >= L
      default:
        continue;  // honest
    }
    want[i] = -1;
  }
  std::vector<Ed25519Job> jobs;
  for (const auto& x : items) jobs.push_back(x.job());
  for (size_t cache : {size_t{0}, detail::kEd25519KeyCacheDefaultEntries}) {
    detail::ed25519_key_cache_set_capacity(cache);
    for (Backend backend : verifier_backends()) {
      SCOPED_TRACE(std::string(backend_name(backend)) + " cache " + std::to_string(cache));
      for (size_t n :
           {size_t{1}, size_t{7}, size_t{8}, size_t{9}, size_t{16}, size_t{17}, jobs.size()}) {
        std::vector<uint8_t> v(n, 9);
        const detail::Ed25519Counters before = detail::ed25519_thread_counters();
        ed25519_verify_each({jobs.data(), n}, v, backend);
        const detail::Ed25519Counters after = detail::ed25519_thread_counters();
        EXPECT_EQ(after.batch_equations, before.batch_equations);
        EXPECT_LE(after.single_verifications - before.single_verifications, n);
        for (size_t i = 0; i < n; ++i) {
          const uint8_t single = ed25519_verify(jobs[i], backend) ? 1 : 0;
          EXPECT_EQ(v[i], single) << "n=" << n << " item " << i;
          if (want[i] == 1) {
            EXPECT_EQ(v[i], 1) << "honest item " << i;
          }
        }
      }
      // Half the keys cached, half not (the cache is filled by the batch path).
      if (cache != 0) {
        std::vector<uint8_t> warm(40);
        ed25519_verify_batch({jobs.data(), 40}, warm, backend);
      }
    }
  }
  detail::ed25519_key_cache_set_capacity(detail::kEd25519KeyCacheDefaultEntries);
}

}  // namespace
}  // namespace assay::crypto
