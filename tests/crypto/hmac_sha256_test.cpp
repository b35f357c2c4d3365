// HMAC-SHA256: Wycheproof vectors and differential tests against OpenSSL, every backend,
// single and batch.
#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "crypto/hmac_sha256.hpp"
#include "tests/crypto/json_mini.hpp"

namespace assay::crypto {
namespace {

struct HmacCase {
  std::vector<uint8_t> key, msg, tag;
  bool expect_valid;
  bool acceptable;
  std::string id;
};

std::vector<HmacCase> load_wycheproof_hmac() {
  const auto doc =
      json_mini::parse_file(std::string(ASSAY_TESTVECTORS) + "/wycheproof/hmac_sha256_test.json");
  std::vector<HmacCase> out;
  for (const auto& g : doc["testGroups"].array) {
    const size_t tag_bytes = static_cast<size_t>(g["tagSize"].integer() / 8);
    for (const auto& t : g["tests"].array) {
      HmacCase c;
      c.key = json_mini::hex_decode(t["key"].str());
      c.msg = json_mini::hex_decode(t["msg"].str());
      c.tag = json_mini::hex_decode(t["tag"].str());
      const std::string& r = t["result"].str();
      c.expect_valid = r == "valid";
      c.acceptable = r == "acceptable";
      c.id = "tcId " + std::to_string(t["tcId"].integer());
      // A tag whose length differs from the group's tag size is invalid by definition.
      if (c.tag.size() != tag_bytes) c.expect_valid = false;
      out.push_back(std::move(c));
    }
  }
  return out;
}

TEST(HmacSha256, WycheproofEveryBackendSingleAndBatch) {
  const auto cases = load_wycheproof_hmac();
  ASSERT_GT(cases.size(), 100u);
  std::vector<HmacSha256Key> keys;
  keys.reserve(cases.size());
  for (const auto& c : cases) keys.push_back(HmacSha256Key::from_secret(c.key));
  std::vector<HmacSha256Job> jobs;
  for (size_t i = 0; i < cases.size(); ++i) {
    jobs.push_back(HmacSha256Job{&keys[i], cases[i].tag.data(), cases[i].tag.size(),
                                 cases[i].msg.data(), cases[i].msg.size()});
  }
  std::vector<uint8_t> reference(cases.size());
  for (Backend b : supported_backends()) {
    SCOPED_TRACE(std::string(backend_name(b)));
    for (size_t i = 0; i < cases.size(); ++i) {
      const bool v = hmac_sha256_verify(jobs[i], b);
      if (!cases[i].acceptable) {
        EXPECT_EQ(v, cases[i].expect_valid) << cases[i].id;
      }
      if (b == Backend::kOpenSSL) reference[i] = v;
      EXPECT_EQ(v, reference[i] != 0) << cases[i].id;
    }
    for (size_t bs : {1u, 2u, 7u, 16u, 33u, 100u, 257u, 1000u}) {
      std::vector<uint8_t> verdicts(cases.size(), 2);
      for (size_t off = 0; off < cases.size(); off += bs) {
        const size_t n = std::min(bs, cases.size() - off);
        hmac_sha256_verify_batch(std::span(jobs).subspan(off, n),
                                 std::span(verdicts).subspan(off, n), b);
      }
      for (size_t i = 0; i < cases.size(); ++i) {
        ASSERT_EQ(verdicts[i], reference[i]) << cases[i].id << " batch size " << bs;
      }
    }
  }
}

TEST(HmacSha256, MalformedJobsAreInvalid) {
  const auto key = HmacSha256Key::from_secret(std::vector<uint8_t>{1, 2, 3});
  uint8_t msg[10] = {}, tag[32];
  hmac_sha256(key, msg, sizeof msg, tag);
  for (Backend b : supported_backends()) {
    EXPECT_TRUE(hmac_sha256_verify({&key, tag, 32, msg, sizeof msg}, b));
    EXPECT_TRUE(hmac_sha256_verify({&key, tag, 1, msg, sizeof msg}, b));
    EXPECT_FALSE(hmac_sha256_verify({&key, tag, 0, msg, sizeof msg}, b));
    EXPECT_FALSE(hmac_sha256_verify({&key, tag, 33, msg, sizeof msg}, b));
    EXPECT_FALSE(hmac_sha256_verify({nullptr, tag, 32, msg, sizeof msg}, b));
    EXPECT_FALSE(hmac_sha256_verify({&key, nullptr, 32, msg, sizeof msg}, b));
    EXPECT_FALSE(hmac_sha256_verify({&key, tag, 32, nullptr, sizeof msg}, b));
    std::vector<HmacSha256Job> jobs = {{&key, tag, 32, msg, sizeof msg},
                                       {&key, tag, 0, msg, sizeof msg},
                                       {nullptr, tag, 32, msg, sizeof msg},
                                       {&key, tag, 16, msg, sizeof msg}};
    std::vector<uint8_t> v(jobs.size());
    hmac_sha256_verify_batch(jobs, v, b);
    EXPECT_EQ(v, (std::vector<uint8_t>{1, 0, 0, 1}));
  }
  // Long messages (multi-block, 1 MiB) agree with OpenSSL on every backend.
  std::vector<uint8_t> big(1 << 20);
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>(i * 7);
  uint8_t ref[32];
  unsigned int ref_len = 32;
  const uint8_t secret[3] = {1, 2, 3};
  HMAC(EVP_sha256(), secret, 3, big.data(), big.size(), ref, &ref_len);
  for (Backend b : supported_backends()) {
    EXPECT_TRUE(hmac_sha256_verify({&key, ref, 32, big.data(), big.size()}, b));
    const HmacSha256Job j[2] = {{&key, ref, 32, big.data(), big.size()},
                                {&key, ref, 32, big.data(), big.size() - 1}};
    uint8_t v[2];
    hmac_sha256_verify_batch(j, v, b);
    EXPECT_EQ(v[0], 1);
    EXPECT_EQ(v[1], 0);
  }
  // Empty message with a null pointer is the empty message.
  uint8_t t0[32];
  hmac_sha256(key, nullptr, 0, t0);
  for (Backend b : supported_backends()) EXPECT_TRUE(hmac_sha256_verify({&key, t0, 32, nullptr, 0}, b));
}

// OpenSSL's one-shot HMAC() fails on a null data pointer even for length 0.
const uint8_t kDummy[1] = {0};

size_t diff_count(size_t normal, size_t sanitized) {
  if (const char* e = std::getenv("ASSAY_DIFF_COUNT")) return std::strtoull(e, nullptr, 10);
#ifdef ASSAY_SANITIZED
  (void)normal;
  return sanitized;
#else
  (void)sanitized;
  return normal;
#endif
}

// Differential: random keys (0..200 bytes), messages (0..300 bytes), tags valid or corrupted,
// compared against OpenSSL's HMAC() on every backend, in batches of every size 1..kMaxBatch.
TEST(HmacSha256, DifferentialVsOpenSsl) {
  const size_t total = diff_count(1'000'000, 20'000);
  constexpr size_t kMaxBatch = 300;
  const auto backends = supported_backends();
  std::atomic<size_t> failures{0};
  const size_t chunks = (total + 9999) / 10000;
  tbb::parallel_for(tbb::blocked_range<size_t>(0, chunks), [&](const tbb::blocked_range<size_t>& r) {
    for (size_t chunk = r.begin(); chunk != r.end(); ++chunk) {
      std::mt19937_64 rng(0x484d4143 + chunk);
      const size_t n = std::min<size_t>(10000, total - chunk * 10000);
      std::vector<HmacSha256Key> keys;
      std::vector<std::vector<uint8_t>> msgs(n), tags(n);
      std::vector<HmacSha256Job> jobs(n);
      std::vector<uint8_t> expect(n);
      keys.reserve(16);
      std::vector<std::vector<uint8_t>> secrets;
      for (int k = 0; k < 16; ++k) {
        std::vector<uint8_t> s(rng() % 200);
        for (auto& x : s) x = static_cast<uint8_t>(rng());
        keys.push_back(HmacSha256Key::from_secret(s));
        secrets.push_back(std::move(s));
      }
      for (size_t i = 0; i < n; ++i) {
        const size_t ki = rng() % keys.size();
        msgs[i].resize(rng() % 5 == 0 ? 128 : rng() % 300);
        for (auto& x : msgs[i]) x = static_cast<uint8_t>(rng());
        uint8_t full[32];
        unsigned int len = 32;
        HMAC(EVP_sha256(), secrets[ki].data(), static_cast<int>(secrets[ki].size()),
             msgs[i].empty() ? kDummy : msgs[i].data(), msgs[i].size(), full, &len);
        size_t tl = rng() % 4 == 0 ? 1 + rng() % 32 : 32;
        tags[i].assign(full, full + tl);
        size_t use_key = ki;
        switch (rng() % 6) {
          case 0: tags[i][rng() % tl] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
          case 1:
            if (!msgs[i].empty()) msgs[i][rng() % msgs[i].size()] ^= 0x01;
            else msgs[i].push_back(0);
            break;
          case 2: use_key = (ki + 1) % keys.size(); break;
          default: break;
        }
        jobs[i] = HmacSha256Job{&keys[use_key], tags[i].data(), tags[i].size(), msgs[i].data(),
                                msgs[i].size()};
        uint8_t ref[32];
        HMAC(EVP_sha256(), secrets[use_key].data(), static_cast<int>(secrets[use_key].size()),
             msgs[i].empty() ? kDummy : msgs[i].data(), msgs[i].size(), ref, &len);
        expect[i] = std::memcmp(ref, tags[i].data(), tl) == 0 ? 1 : 0;
      }
      for (Backend b : backends) {
        std::vector<uint8_t> v(n, 2);
        size_t off = 0, bs = 1 + chunk % kMaxBatch;
        while (off < n) {
          const size_t m = std::min(bs, n - off);
          hmac_sha256_verify_batch(std::span(jobs).subspan(off, m), std::span(v).subspan(off, m), b);
          off += m;
          bs = bs % kMaxBatch + 1;
        }
        for (size_t i = 0; i < n; ++i) {
          const bool single = i % 16 == 0 ? hmac_sha256_verify(jobs[i], b) : v[i] != 0;
          if (v[i] != expect[i] || single != (expect[i] != 0)) {
            if (failures.fetch_add(1) < 20) {
              ADD_FAILURE() << "backend " << backend_name(b) << " case " << chunk << "/" << i
                            << " msg_len " << msgs[i].size() << " tag_len " << tags[i].size()
                            << " expect " << int(expect[i]) << " batch " << int(v[i])
                            << " single " << single;
            }
          }
        }
      }
    }
  });
  EXPECT_EQ(failures.load(), 0u);
}

}  // namespace
}  // namespace assay::crypto
